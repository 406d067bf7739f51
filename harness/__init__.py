"""Programs around the plugin, not part of its wheel: the reference host (an Aperture-style
Flask app), the Trakt sandbox (a local server speaking Trakt API v2), the hostile-Trakt
server, the title catalogue, the redis-server/PostgreSQL process managers and the
``make demo`` launcher. The tests, the benchmarks, the demo and docs/install.md use them.
"""
