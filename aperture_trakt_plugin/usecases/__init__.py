"""What a user, an admin or the scheduler asks for: connecting and disconnecting, the
job entry points, the outbox a host rating enters, diagnosis, and the carrier that runs
many users' syncs in one worker."""
