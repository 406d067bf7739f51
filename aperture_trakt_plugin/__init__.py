"""Trakt.tv for Aperture-style media servers: a Flask plugin.

Nothing happens at import time; a host loads :mod:`aperture_trakt_plugin.hooks`
through the ``aperture.plugins`` entry point, and a plain Flask app may call
:func:`aperture_trakt_plugin.extension.init_app` itself.
"""

__version__ = "0.1.0"
