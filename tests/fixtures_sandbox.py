"""Fixtures for the Trakt sandbox."""
