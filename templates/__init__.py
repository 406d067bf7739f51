"""Jinja templates of the plugin, under trakt/ (installed as aperture_trakt_plugin.templates)."""
