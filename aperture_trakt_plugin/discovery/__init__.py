"""Discovery: Trakt's lists as sources, ranked for each user."""
