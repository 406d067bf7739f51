"""Reading what Trakt answered: its JSON (never trusted to be JSON), and a non-2xx
answer turned into the error that means something (Trakt's own 403 told apart from
Cloudflare's, ``invalid_grant`` from a plain 400, a 429's wait clamped)."""

from __future__ import annotations

import re
from typing import Any

import requests

from aperture_trakt_plugin.trakt.errors import (
    MSG_ACCOUNT_LIMIT,
    MSG_ACCOUNT_LOCKED,
    MSG_CLIENT_ID_REFUSED,
    MSG_FIREWALL_BLOCKED,
    MSG_INVALID_CLIENT,
    MSG_INVALID_GRANT,
    MSG_NOT_FOUND,
    MSG_OTHER_STATUS,
    MSG_RATE_LIMITED,
    MSG_REDIRECTED,
    MSG_RETRY_AFTER,
    MSG_RETRY_LATER,
    MSG_SERVER_ERROR,
    MSG_UNAUTHORIZED,
    MSG_VIP_REQUIRED,
    AccountLimit,
    AccountLocked,
    FirewallBlocked,
    InvalidClient,
    InvalidGrant,
    NotFound,
    RateLimited,
    Redirected,
    TraktError,
    TraktServerError,
    Unauthorized,
    VipRequired,
    ray_note,
)
from aperture_trakt_plugin.trakt.rate_limits import (
    DEFAULT_WAIT_RANGE,
    ratelimit_header,
    wait_seconds,
)

#: What reading an answer's JSON can raise: not JSON, not UTF-8, a number of more digits
#: than Python reads (ValueError), or nesting deeper than Python's stack (RecursionError:
#: ``[[[[…`` a hundred thousand deep). Either way the answer is unreadable, not a crash.
UNREADABLE_JSON = (ValueError, RecursionError)


def json_or_none(response: requests.Response) -> Any:
    """The answer's JSON, or None when it has no body or one that is not readable JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except UNREADABLE_JSON:
        return None


def _retry_after(
    response: requests.Response, wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE
) -> float | None:
    value = response.headers.get("Retry-After")
    return wait_seconds(value.strip(), wait_range) if value is not None else None


_RAY_HEADER = re.compile(r"([0-9a-f]{8,32})(?:-[A-Z]{3})?", re.IGNORECASE)
_RAY_IN_PAGE = re.compile(r"Ray ID:?\s*(?:<[^>]*>\s*)*([0-9a-f]{8,32})", re.IGNORECASE)


def _ray_id(response: requests.Response) -> str | None:
    """The Ray ID Cloudflare's page shows (its ``CF-RAY`` header without the data-centre
    suffix), for the admin who asks Trakt why. Only a hex id is taken, never page text."""
    header = _RAY_HEADER.fullmatch(response.headers.get("CF-RAY", "").strip())
    if header is not None:
        return header.group(1)
    found = _RAY_IN_PAGE.search(response.text[:20_000]) if response.content else None
    return found.group(1) if found else None


def is_firewall_block(response: requests.Response) -> bool:
    """A 403 from Cloudflare rather than from Trakt's application.

    Every Trakt answer passes Cloudflare and carries ``CF-RAY``, so that header alone
    proves nothing. Cloudflare's own block is a page: HTML, or (its "error code: 1020"
    form) other non-JSON text without the ``x-request-id``/``x-runtime`` that Trakt's
    application adds. Trakt's own 403 is JSON or empty: that one refuses the app."""
    if response.status_code != 403:
        return False
    headers = response.headers
    if "html" in headers.get("Content-Type", "").lower():
        return True
    if not response.content or json_or_none(response) is not None:
        return False
    from_edge = "CF-RAY" in headers or headers.get("Server", "").lower() == "cloudflare"
    from_app = "x-request-id" in headers or "x-runtime" in headers
    return from_edge and not from_app


def firewall_error(response: requests.Response, what: str) -> FirewallBlocked | None:
    """The :class:`FirewallBlocked` for Cloudflare's 403, None for any other answer."""
    if not is_firewall_block(response):
        return None
    ray_id = _ray_id(response)
    return FirewallBlocked(
        MSG_FIREWALL_BLOCKED.format(what=what, ray=ray_note(ray_id)),
        ray_id,
        status=403,
        headers=response.headers,
    )


def redirect_error(response: requests.Response, what: str) -> Redirected | None:
    """The :class:`Redirected` for a 3xx answer (one with a ``Location``), else None."""
    if not 300 <= response.status_code < 400:
        return None
    return Redirected(
        MSG_REDIRECTED.format(what=what, status=response.status_code),
        status=response.status_code,
        headers=response.headers,
    )


def error_for(
    response: requests.Response, what: str, wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE
) -> TraktError:
    """Maps a non-2xx answer to the error that says what to do about it (a 429's wait
    clamped into ``wait_range``)."""
    status = response.status_code
    body = json_or_none(response)
    kw = {"status": status, "body": body, "headers": response.headers}
    oauth_error = body.get("error") if isinstance(body, dict) else None
    if oauth_error == "invalid_grant":
        return InvalidGrant(MSG_INVALID_GRANT.format(what=what), **kw)
    if oauth_error == "invalid_client":
        return InvalidClient(MSG_INVALID_CLIENT.format(what=what), **kw)
    if status == 429:
        retry_after = _retry_after(response, wait_range)
        wait = (
            MSG_RETRY_AFTER.format(seconds=retry_after)
            if retry_after is not None
            else MSG_RETRY_LATER
        )
        return RateLimited(
            MSG_RATE_LIMITED.format(what=what, wait=wait),
            retry_after,
            ratelimit_header(response.headers),
            **kw,
        )
    if status == 401:
        return Unauthorized(MSG_UNAUTHORIZED.format(what=what), **kw)
    if status == 403:
        return firewall_error(response, what) or InvalidClient(
            MSG_CLIENT_ID_REFUSED.format(what=what), **kw
        )
    if status == 404:
        return NotFound(MSG_NOT_FOUND.format(what=what), **kw)
    if status == 420:
        return AccountLimit(MSG_ACCOUNT_LIMIT.format(what=what), **kw)
    if status == 423:
        return AccountLocked(MSG_ACCOUNT_LOCKED.format(what=what), **kw)
    if status == 426:
        upgrade = response.headers.get("X-Upgrade-URL", "https://app.trakt.tv/vip")
        return VipRequired(MSG_VIP_REQUIRED.format(what=what, upgrade_url=upgrade), **kw)
    if status >= 500:
        return TraktServerError(MSG_SERVER_ERROR.format(what=what, status=status), **kw)
    return TraktError(MSG_OTHER_STATUS.format(what=what, status=status), **kw)
