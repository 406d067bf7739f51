"""Queueing primitives: job ids and enqueueing once, retries with their waits, the one
table of job definitions and the per-run log. Nothing here knows what a job does."""
