"""The posters the sandbox's ``images`` URLs point to (media.trakt.tv's part in Trakt).

Generated, small and offline: a coloured card with the title's initials and its year,
so the demo and the browser tests show real images without the internet. SVG where
Trakt serves WebP: a browser shows either in an ``<img>``, and SVG is text we can
generate. Titles without a poster (``media.has_poster``) answer 404, as a
missing image does on a CDN.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort
from markupsafe import escape

from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.media import SINGULAR, Media, has_poster

bp = Blueprint("images", __name__)
CACHE_FOR = 86_400  # a poster does not change; a day, as a CDN would


def initials(title: str) -> str:
    words = [w for w in title.replace(":", " ").split() if w[:1].isalnum()]
    return "".join(w[0].upper() for w in words[:3]) or "?"


def poster_svg(media: Media) -> str:
    hue = media.trakt * 47 % 360
    year = escape(str(media.year)) if media.year else ""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300" viewBox="0 0 200 300">'
        f'<rect width="200" height="300" fill="hsl({hue},45%,32%)"/>'
        f'<rect x="12" y="12" width="176" height="276" fill="none" '
        f'stroke="hsl({hue},60%,70%)" stroke-width="2"/>'
        '<text x="100" y="160" font-family="sans-serif" font-size="56" font-weight="700" '
        f'fill="#fff" text-anchor="middle">{escape(initials(media.title))}</text>'
        '<text x="100" y="250" font-family="sans-serif" font-size="22" fill="#fff" '
        f'fill-opacity="0.8" text-anchor="middle">{year}</text>'
        "</svg>"
    )


@bp.get("/images/<any(movies,shows):plural>/<int:trakt>/poster.svg")
def poster(plural: str, trakt: int) -> Response:
    media = sandbox().catalogue.get(SINGULAR[plural], trakt)
    if media is None or not has_poster(media):
        abort(404)
    return Response(
        poster_svg(media),
        200,
        {"Cache-Control": f"public, max-age={CACHE_FOR}"},
        content_type="image/svg+xml",
    )
