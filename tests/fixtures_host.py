"""Fixtures for the reference host and the plugin inside it."""
