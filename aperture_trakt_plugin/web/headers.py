"""Anti-framing and no-store headers on every page that shows someone's Trakt account.

A module of its own because the rule reaches past our routes: a host page a card of ours
was rendered into shows account state too, so the cards mark the request and an
app-wide hook protects the page, whichever blueprint answered it.
"""

from __future__ import annotations

from flask import Response, g, request

from aperture_trakt_plugin.web.pages import BLUEPRINT_NAME, STATIC_ENDPOINT

#: Headers every page of the plugin's own sends. Nothing of ours is meant to sit in a
#: frame (the card is fetched, the connect result is a pop-up window), so a page showing
#: a Disconnect button or a device code can never be clickjacked from another site; and
#: no copy of a page about someone's account may stay in a shared or back-button cache.
OWN_PAGE_HEADERS = {"X-Frame-Options": "DENY", "Cache-Control": "no-store"}
OWN_FRAME_ANCESTORS = "frame-ancestors 'none'"
#: For the host's pages a card of ours was rendered into: the host may frame its own
#: pages, so only other sites are kept out; the account state still must not be cached.
HOST_PAGE_HEADERS = {"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"}
HOST_FRAME_ANCESTORS = "frame-ancestors 'self'"
CARD_RENDERED = "aperture_trakt_card_rendered"


def _add_frame_ancestors(response: Response, directive: str) -> None:
    """Adds a CSP of its own unless the page already has a ``frame-ancestors`` rule:
    browsers enforce every CSP header a page has, so a host's policy is left intact."""
    if not any(
        "frame-ancestors" in value for value in response.headers.getlist("Content-Security-Policy")
    ):
        response.headers.add("Content-Security-Policy", directive)


def protect_own_page(response: Response) -> Response:
    """``after_request`` of the blueprint: anti-framing and no-store on every answer but
    the stylesheet and script, which show no account and may be cached."""
    if request.endpoint == STATIC_ENDPOINT:
        return response
    response.headers.update(OWN_PAGE_HEADERS)
    _add_frame_ancestors(response, OWN_FRAME_ANCESTORS)
    return response


def protect_host_page(response: Response) -> Response:
    """``after_app_request``: a host page that shows a card of ours (profile, admin
    integrations, jobs) shows account state, so it gets the same protection. A framing
    rule the host set itself is kept (it may be stricter)."""
    if g.get(CARD_RENDERED) and request.blueprint != BLUEPRINT_NAME:  # ours: DENY above
        response.headers["Cache-Control"] = HOST_PAGE_HEADERS["Cache-Control"]
        response.headers.setdefault("X-Frame-Options", HOST_PAGE_HEADERS["X-Frame-Options"])
        _add_frame_ancestors(response, HOST_FRAME_ANCESTORS)
    return response


def card_rendered() -> None:
    """Marks this request's page as showing a card of ours, for ``protect_host_page``."""
    g.setdefault(CARD_RENDERED, True)
