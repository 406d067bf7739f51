"""Trakt with this server's credentials: the app's Client ID and Secret as the admin
stored them, and each user's tokens, refreshed once across every process."""
