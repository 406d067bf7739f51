"""Jinja templates of the plugin, under trakt/."""
