"""Answers from "Cloudflare", the security layer in front of Trakt (CONTRACT 2, 9, 10).

They are HTML, carry ``Server: cloudflare`` and a ``CF-RAY`` header, name the Ray ID in
the page, and lack the ``x-request-id``/``x-runtime`` headers Trakt's application adds to
everything it answers (#939): that difference is how a client tells a Cloudflare block
from Trakt's own 403 for a bad key (a JSON answer from the application). The sandbox
serves them on a missing User-Agent (#670), through fault presets
(``{"preset": "cloudflare-403" | "cloudflare-429"}`` on ``POST /_sandbox/faults``) and
behind the ``firewall`` behaviour switch (``block-all``: every API and auth call is
blocked, valid headers or not, as for some networks in September 2026).
"""

from __future__ import annotations

import secrets

from flask import Response

HTML_TYPE = "text/html; charset=UTF-8"
COLO = "FRA"  # the data centre in the Ray ID; any IATA code would do
BLOCK_PAGE = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1>"
    "<h2>You are unable to access trakt.tv</h2>"
    "<p>Cloudflare Ray ID: <strong>{ray}</strong></p></body></html>"
)
RATE_LIMIT_PAGE = (
    "<!DOCTYPE html><html><head><title>Rate limited | Cloudflare</title></head>"
    "<body><h1>Error 1015</h1><p>You are being rate limited.</p>"
    "<p>The owner of this website (trakt.tv) has banned you temporarily from accessing "
    "this website.</p><p>Cloudflare Ray ID: <strong>{ray}</strong></p></body></html>"
)
PRESETS = ("cloudflare-403", "cloudflare-429")


def ray_id() -> str:
    """Sixteen hex digits and the data centre, e.g. ``8f1c2d3e4a5b6c7d-FRA``."""
    return f"{secrets.token_hex(8)}-{COLO}"


def is_cloudflare(response: Response) -> bool:
    return response.headers.get("Server") == "cloudflare"


def _page(template: str, status: int, extra: dict[str, str] | None = None) -> Response:
    ray = ray_id()
    headers = {"Server": "cloudflare", "CF-RAY": ray, **(extra or {})}
    return Response(template.format(ray=ray), status, headers, content_type=HTML_TYPE)


def blocked() -> Response:
    """The WAF's 403 "Sorry, you have been blocked" page."""
    return _page(BLOCK_PAGE, 403)


def rate_limited(retry_after: int | None = 300) -> Response:
    """The security layer's 429: HTML, ``Retry-After`` (300 s as observed), no
    ``X-Ratelimit`` (#909, #922)."""
    extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return _page(RATE_LIMIT_PAGE, 429, extra)


def preset_response(preset: str, retry_after: int | None = 300) -> Response:
    if preset == "cloudflare-403":
        return blocked()
    if preset == "cloudflare-429":
        return rate_limited(retry_after)
    raise ValueError(f"unknown preset {preset!r}; known: {list(PRESETS)}")
