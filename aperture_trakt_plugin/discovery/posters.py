"""A title's poster from Trakt's ``images`` (``extended=images``), made safe to put in a page.

The URL ends up in an ``<img src>`` on the host's Discovery page, so it is untrusted
input with a browser behind it: a ``javascript:`` or ``data:`` value, a tracker's host, a
URL with credentials or quotes in it must never get there. Only an ``https`` URL on one
of Trakt's image hosts passes (``TRAKT_IMAGE_HOSTS``), or one on the configured API's own
origin (the local sandbox, which serves its generated posters itself); anything else is
no poster, and the page shows its placeholder. No message: a missing poster is normal
(Trakt has none for many titles, and its images-only level once broke for a while,
trakt/trakt-api#784, May 2026).

Trakt sends the URLs without a scheme (``media.trakt.tv/images/movies/…/thumb/….jpg.webp``)
and each kind of image as a list (CONTRACT, "extended"); the first poster is taken.

Pure: no I/O, no framework.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

#: Where Trakt's images live (its CDN and the storage behind it).
TRAKT_IMAGE_HOSTS = frozenset({"media.trakt.tv", "walter-r2.trakt.tv", "walter.trakt.tv"})
MAX_LENGTH = 500
#: A host, a path and maybe a query of plain URL characters: no quotes, spaces, angle
#: brackets, backslashes or anything a template or a browser could read another way, and
#: no "@", so no user name or password can come before the host.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~/%+=&?:]+")


def _origin(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


def poster_url(value: Any, api_url: str | None = None) -> str | None:
    """The poster's URL with its scheme, or None when it is not one to show.

    ``api_url`` is the Trakt API the plugin talks to: its own origin is allowed too, and a
    scheme-less URL on its host takes its scheme (the sandbox speaks http on loopback)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LENGTH:
        return None
    return _checked(value, api_url)


def _checked(value: str, api_url: str | None) -> str | None:
    if not _URL_CHARS.fullmatch(value):
        return None
    api = _origin(api_url) if api_url else None
    if "://" not in value:
        named = value.split("/", 1)[0].lower()
        scheme = api[0] if api is not None and named == api[1] else "https"
        value = f"{scheme}://{value}"
    parts = urlsplit(value)
    scheme, host = parts.scheme.lower(), parts.netloc.lower()
    if (scheme, host) == api or (scheme == "https" and host in TRAKT_IMAGE_HOSTS):
        return value
    return None


def first_poster(media: dict[str, Any], api_url: str | None = None) -> str | None:
    """The poster of a Trakt media object (a movie or a show), if it has a usable one."""
    images = media.get("images")
    if not isinstance(images, dict):
        return None
    return poster_url(images.get("poster"), api_url)


def image_origins(api_url: str | None) -> list[str]:
    """The origins posters may come from, for a host's Content-Security-Policy
    (``img-src``): Trakt's image hosts and the configured API's own origin."""
    found = [f"https://{host}" for host in sorted(TRAKT_IMAGE_HOSTS)]
    api = _origin(api_url) if api_url else None
    if api is not None and f"{api[0]}://{api[1]}" not in found:
        found.append(f"{api[0]}://{api[1]}")
    return found
