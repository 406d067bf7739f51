"""Trakt's API and nothing else: the HTTP client and its errors, OAuth with the
credentials handed in, the wire formats and the ratings decoder. No Flask, no tables,
no Redis: what is here can be read and tested with plain values."""
