"""The Trakt HTTP client: required headers, two hosts, and errors with meaning.

Every failure becomes a :class:`TraktError` subclass that says what a person or a job
should do about it (reconnect, wait, tell the admin, retry later), so callers branch
on types instead of status codes. Secrets never appear in messages or logs.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions

from aperture_trakt_plugin import __version__

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.trakt.tv"
DEFAULT_AUTH_URL = "https://auth.trakt.tv"
DEFAULT_USER_AGENT = f"aperture-trakt-plugin/{__version__}"

# What a failed call says to the person who sees it (a profile card, the jobs screen, the
# CLI). ``{what}`` is the action that failed ("Reading your Trakt profile"); every text is
# listed with its cause and fix in docs/troubleshooting.md.
MSG_INVALID_GRANT = (
    "{what}: Trakt no longer accepts this authorization (invalid_grant); "
    "the user must connect again"
)
MSG_INVALID_CLIENT = "{what}: Trakt rejected the app's Client ID or Client Secret (invalid_client)"
MSG_RATE_LIMITED = "{what}: Trakt's rate limit was reached ({wait})"
MSG_RETRY_AFTER = "retry after {seconds:.0f} s"
MSG_RETRY_LATER = "retry later"
MSG_UNAUTHORIZED = "{what}: Trakt did not accept the user's token (401)"
MSG_CLIENT_ID_REFUSED = (
    "{what}: Trakt refused the app's Client ID (403); Trakt may have "
    "deleted the app (its owner's VIP lapsed, or nobody was connected to "
    "it), or its credentials changed"
)
MSG_FIREWALL_BLOCKED = (
    "{what}: Trakt's firewall (Cloudflare) blocked this request{ray}; the "
    "app's credentials were not refused, and such blocks usually lift by "
    "themselves"
)
MSG_RAY_ID = " (Ray ID {ray_id})"
MSG_NOT_FOUND = "{what}: Trakt has no such item (404)"
MSG_ACCOUNT_LIMIT = "{what}: the Trakt account reached one of its limits (420)"
MSG_ACCOUNT_LOCKED = (
    "{what}: the Trakt account is locked or deactivated (423); its owner must contact Trakt support"
)
MSG_VIP_REQUIRED = "{what}: this needs Trakt VIP (426): {upgrade_url}"
MSG_SERVER_ERROR = "{what}: Trakt is having trouble ({status})"
MSG_OTHER_STATUS = "{what}: Trakt answered {status}"
MSG_TIMEOUT = "{what}: Trakt did not answer within {seconds:g} s"
MSG_UNREACHABLE = "{what}: could not reach Trakt at {url} ({reason})"
MSG_NOT_JSON = (
    "GET {path}: Trakt's answer was not readable JSON (not JSON at all, nested too "
    "deep, or a number too long)"
)
MSG_REDIRECTED = (
    "{what}: Trakt's address answered with a redirect ({status}), which is not "
    "followed, so no credentials leave for another host; check "
    "APERTURE_TRAKT_API_URL and APERTURE_TRAKT_AUTH_URL (they must be Trakt's "
    "https addresses) and any proxy in between"
)
#: ``{what}`` for a redirect refused where the call's own wording is unknown.
MSG_A_TRAKT_CALL = "A call to Trakt"
MSG_TOO_LARGE = (
    "{what}: Trakt's answer was larger than {limit} bytes; it was not read "
    "(see APERTURE_TRAKT_MAX_ANSWER_BYTES)"
)
MSG_TOO_SLOW = (
    "{what}: Trakt's answer took longer than {seconds:g} s to arrive; it was "
    "not read (see APERTURE_TRAKT_ANSWER_DEADLINE)"
)
MSG_PAGE_NOT_A_LIST = "{what}: page {page} of Trakt's answer was not a list"
MSG_NO_PAGING = (
    "{what}: Trakt sent a full page ({count} items) without its paging headers, "
    "so whether more follow is unknown; the list was not read"
)
MSG_PAGING_MISSING = (
    "{what}: page {page} came without Trakt's paging headers; the list was not read whole"
)
MSG_PAGING_CHANGED = (
    "{what}: Trakt's paging headers changed while the list was read "
    "(expected {expected}, got {found}); it was not read whole"
)
MSG_PAGING_STATE = "page {page} of {pages}, {limit} per page"
MSG_PAGING_BAD = (
    "{what}: Trakt's paging headers do not add up (page {page}); the list "
    "was not read, and nothing was changed because of it"
)
MSG_TOO_MANY_PAGES = (
    "{what}: Trakt has {pages} pages of {limit} items here, more than the "
    "{most} items read at most; the list was not read"
)


class TraktError(Exception):
    """A Trakt call failed; ``str(error)`` is fit to show a person."""

    status: int | None = None
    retryable = False

    def __init__(
        self,
        message: str,
        status: int | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status if status is not None else self.status
        self.body = body
        self.headers = dict(headers or {})


class TraktUnreachable(TraktError):
    """No answer: DNS, refused connection, TLS failure or timeout."""

    retryable = True


class TraktServerError(TraktError):
    """5xx and Cloudflare's 520-522: Trakt or its edge is having trouble."""

    retryable = True


class RateLimited(TraktError):
    """429. ``retry_after`` is in seconds (None when the edge sent none)."""

    status = 429
    retryable = True

    def __init__(
        self, message: str, retry_after: float | None, ratelimit: dict | None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.ratelimit = ratelimit


class Unauthorized(TraktError):
    status = 401


class InvalidClient(TraktError):
    """403 from the API itself, or ``invalid_client`` from OAuth: the app's credentials are
    wrong (or the app was deleted). Not Cloudflare's 403: see :class:`FirewallBlocked`."""

    status = 403


class FirewallBlocked(TraktError):
    """Cloudflare's HTML 403 in front of Trakt (CONTRACT 10, "Telling the two 403s apart").

    The firewall answers before Trakt sees the request, so it says nothing about the
    credentials: calling them invalid would send an admin to fix what is not broken. Blocks
    have hit valid clients on whole networks and lifted by themselves, so it is a passing
    fault, retried after a long pause (``retries.FIREWALL_PAUSE``)."""

    status = 403
    retryable = True

    def __init__(self, message: str, ray_id: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.ray_id = ray_id

    @property
    def ray(self) -> str:
        return ray_note(self.ray_id)


def ray_note(ray_id: str | None) -> str:
    """`` (Ray ID …)`` for a message, or nothing when Cloudflare gave none."""
    return MSG_RAY_ID.format(ray_id=ray_id) if ray_id else ""


class InvalidGrant(TraktError):
    """``invalid_grant`` (400 now, 401 from the old auth host): the grant is dead."""


class NotFound(TraktError):
    status = 404


class AccountLimit(TraktError):
    status = 420


class AccountLocked(TraktError):
    status = 423


class VipRequired(TraktError):
    status = 426


class Redirected(TraktError):
    """A 3xx from Trakt's side. Trakt's API and auth hosts never redirect a call; a
    redirect means a wrong base URL (http for https), a proxy, or someone on the path.
    Following it would send the client secret, refresh token, code or PKCE verifier to
    whatever host ``Location`` names, so it is refused, and not retried: it will say the
    same next time, and an admin has to look."""


def redirect_error(response: requests.Response, what: str) -> Redirected | None:
    """The :class:`Redirected` for a 3xx answer (one with a ``Location``), else None."""
    if not 300 <= response.status_code < 400:
        return None
    return Redirected(
        MSG_REDIRECTED.format(what=what, status=response.status_code),
        status=response.status_code,
        headers=response.headers,
    )


def refuse_redirects(response: requests.Response, **_: Any) -> requests.Response:
    """A session response hook: runs before requests would follow a redirect (it resolves
    redirects after the hooks), so raising here means nothing is sent to ``Location``.
    Every session the plugin talks to Trakt with carries it (``extension.http_session``),
    Authlib's included, whose token calls cannot be told ``allow_redirects=False``."""
    error = redirect_error(response, MSG_A_TRAKT_CALL)
    if error is not None:
        raise error
    return response


class MalformedResponse(TraktError):
    """Trakt answered 2xx with something that is not the JSON we expect (a cut-off
    answer is the usual cause: worth a bounded retry)."""

    retryable = True


class Unbounded(TraktError):
    """An answer cut off for its size or its time: raised while the body is read, deep
    in a session's adapter where the step's own words are not known, so the client says
    the step again (:meth:`restated`) where it knows them."""

    template: str
    facts: dict[str, Any]

    def restated(self, what: str) -> TraktError:
        return type(self)(self.template.format(what=what, **self.facts), **self.facts)


class AnswerTooLarge(Unbounded, MalformedResponse):
    """The body passed ``APERTURE_TRAKT_MAX_ANSWER_BYTES`` (an endless body reached 1 GB
    in 5 s before): read no further, keep nothing of it."""

    template = MSG_TOO_LARGE

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.facts = {"limit": limit}


class AnswerTooSlow(Unbounded, TraktUnreachable):
    """The body did not arrive whole within the call's deadline, though each read was
    within ``requests``' per-read timeout (a trickle held an OAuth callback for 40 s)."""

    template = MSG_TOO_SLOW

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.facts = {"seconds": seconds}


#: How much of a body is asked for per read: ``read1`` returns what has arrived, so a
#: trickle is seen byte by byte and the deadline checked between reads.
READ_CHUNK = 64 * 1024


def read_bounded(
    response: requests.Response, max_bytes: int, deadline: float, seconds: float
) -> None:
    """Reads a streamed answer's body into ``response`` (as if it had not been streamed),
    raising :class:`AnswerTooLarge` past ``max_bytes`` or :class:`AnswerTooSlow` past the
    monotonic ``deadline`` (``seconds`` after the call began). Either way the connection
    is closed, so the rest of the body is never read."""
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # read1: urllib3 >= 2.3
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise AnswerTooSlow(
                    MSG_TOO_SLOW.format(what=MSG_A_TRAKT_CALL, seconds=seconds), seconds
                )
            chunk = _read_chunk(read)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise AnswerTooLarge(
                    MSG_TOO_LARGE.format(what=MSG_A_TRAKT_CALL, limit=max_bytes), max_bytes
                )
            chunks.append(chunk)
    except TraktError:
        response.close()
        raise
    response._content = b"".join(chunks)
    response._content_consumed = True


def _read_chunk(read: Callable[..., bytes]) -> bytes:
    """One read of a streamed body, urllib3's failures turned into requests' own (as
    ``iter_content`` would), so a connection dropped mid-answer is a
    ``requests.RequestException`` like any other for the callers."""
    try:
        return read(READ_CHUNK, decode_content=True)
    except urllib3_exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc) from exc
    except urllib3_exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except (urllib3_exceptions.ProtocolError, urllib3_exceptions.SSLError, OSError) as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc


class BoundedAdapter(HTTPAdapter):
    """requests' adapter, with every answer read under a size cap and an overall
    deadline (the larger of ``deadline`` and the call's own read timeout, so a big write
    keeps the time its timeout gives it). Mounted on every session the plugin talks to
    Trakt with (``extension.http_session``), so Authlib's token calls are bounded too."""

    def __init__(self, max_bytes: int, deadline: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_bytes = max_bytes
        self.deadline = deadline

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        **kw: Any,
    ) -> requests.Response:
        started = time.monotonic()
        response = super().send(request, stream=True, timeout=timeout, **kw)
        read_timeout = timeout[-1] if isinstance(timeout, tuple) else timeout
        seconds = max(self.deadline, float(read_timeout or 0))
        if not stream:
            read_bounded(response, self.max_bytes, started + seconds, seconds)
        return response


#: Extra seconds a write may take per item it carries. Trakt checks each rating it is
#: sent against the account's own before storing it: an 800-rating POST took 45 s
#: (trakt/trakt-api#448, 2024), so a 500-item batch needs far more than a read's timeout.
#: Twice the observed 56 ms: a write that times out is retried, and sent again.
WRITE_SECONDS_PER_ITEM = 0.1


def body_entries(body: Any) -> int:
    """How many items a sync body carries: its objects inside lists, at any depth (a
    show's seasons and their episodes each count)."""
    if isinstance(body, dict):
        return sum(body_entries(value) for value in body.values())
    if isinstance(body, list):
        return sum(1 + body_entries(entry) for entry in body if isinstance(entry, dict))
    return 0


#: The shortest and longest wait (seconds) Trakt's side may ask for, ``Retry-After`` or
#: ``X-Ratelimit.until``. Trakt's longest seen is 2,852 s; beyond an hour a wait is a broken
#: or hostile answer (one ``Retry-After: 999999999`` closed the server's budget for 31
#: years), and below a second it asks for a retry loop. ``APERTURE_TRAKT_WAIT_RANGE``.
DEFAULT_WAIT_RANGE: tuple[float, float] = (1.0, 3600.0)


def bounded_wait(seconds: float, wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE) -> float:
    """``seconds`` clamped into ``wait_range``; callers pass only finite numbers."""
    low, high = wait_range
    return min(max(seconds, low), high)


def wait_seconds(value: Any, wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE) -> float | None:
    """A wait Trakt's side sent (a number or its text), clamped; None when it is not a
    finite number (``inf``, ``nan``, text, a date): read as "no wait given", whose own
    default applies, rather than as forever or as a crash."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return bounded_wait(seconds, wait_range) if math.isfinite(seconds) else None


@dataclass(frozen=True)
class TraktEndpoints:
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL
    user_agent: str = DEFAULT_USER_AGENT
    timeout: float = 10.0
    wait_range: tuple[float, float] = DEFAULT_WAIT_RANGE
    #: Pauses (seconds, each jittered ±50 %) before retrying a read in the same run after
    #: a passing fault; after the last, the fault goes to the caller (a job reschedules).
    quick_retries: tuple[float, ...] = (1.0, 3.0)


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


def ratelimit_header(headers: Mapping[str, str]) -> dict | None:
    """``X-Ratelimit`` as a dict (name, period, limit, remaining, until), if well formed."""
    raw = headers.get("X-Ratelimit")
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


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


# --- paged lists ------------------------------------------------------------------------

#: Items asked per page: Trakt's maximum on most endpoints since 2026-06-15 (CONTRACT 8);
#: a larger limit is clamped, so ``X-Pagination-Limit`` says what was applied.
PAGE_LIMIT = 250
#: The most items a list is read to: Trakt's cap on a watch history (CONTRACT 10), the
#: largest of the lists it keeps. A list said to be longer is refused, not cut short.
MOST_ITEMS = 100_000


@dataclass(frozen=True)
class Paging:
    """A page's ``X-Pagination-*`` headers."""

    page: int
    limit: int
    pages: int

    def __str__(self) -> str:
        return MSG_PAGING_STATE.format(page=self.page, pages=self.pages, limit=self.limit)


def paging_of(response: requests.Response) -> Paging | None:
    """The page's paging headers; None when it has none, or unusable ones."""
    return paging_in(response.headers)


def paging_in(headers: Mapping[str, str]) -> Paging | None:
    """``paging_of`` for the headers alone (kept after the body was let go)."""
    values = [_header_int(headers, name) for name in PAGING_HEADERS[:3]]
    if None in values:
        return None
    paging = Paging(*values)
    return paging if min(paging.page, paging.limit, paging.pages) >= 1 else None


PAGING_HEADERS = (
    "X-Pagination-Page",
    "X-Pagination-Limit",
    "X-Pagination-Page-Count",
    "X-Pagination-Item-Count",
)
#: A header value longer than this is no number Trakt sends (and ``int()`` of 100,000
#: digits is refused anyway): unusable, not parsed.
HEADER_DIGITS = 12


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None or len(value) > HEADER_DIGITS:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def checked_paging(
    headers: Mapping[str, str], what: str, page: int, count: int, first: Paging | None = None
) -> Paging | None:
    """The page's paging, checked; None for an answer with no paging headers at all (an
    unparameterised call Trakt answered whole). A page whose headers are partly there,
    not numbers, below 1, not the page asked for, inconsistent with the item count and
    limit (``X-Pagination-Item-Count``), with more items than the limit, with more pages
    than :data:`MOST_ITEMS` allows, or different from page 1's, is
    :class:`MalformedResponse`: a list read from it would look complete and be wrong.
    ``count``: the items read from the page."""
    if page == 1 and not any(name in headers for name in PAGING_HEADERS):
        return None
    paging = paging_in(headers)
    bad = MalformedResponse(MSG_PAGING_BAD.format(what=what, page=page))
    if paging is None or paging.page != page or count > paging.limit:
        raise bad
    total = _header_int(headers, "X-Pagination-Item-Count")
    if "X-Pagination-Item-Count" in headers and (
        total is None or total < 0 or paging.pages != max(1, math.ceil(total / paging.limit))
    ):
        raise bad
    if paging.pages > math.ceil(MOST_ITEMS / paging.limit):
        raise MalformedResponse(
            MSG_TOO_MANY_PAGES.format(
                what=what, pages=paging.pages, limit=paging.limit, most=MOST_ITEMS
            )
        )
    if first is not None and (paging.limit, paging.pages) != (first.limit, first.pages):
        raise MalformedResponse(
            MSG_PAGING_CHANGED.format(
                what=what, found=paging, expected=Paging(page, first.limit, first.pages)
            )
        )
    return paging


def read_pages(
    fetch: Callable[[dict[str, Any]], requests.Response],
    what: str,
    params: Mapping[str, Any] | None = None,
    most: int | None = None,
) -> list[Any]:
    """Every item of a paged list, or its first ``most``, one call per page.

    Trakt's defaults keep moving (watchlist and watched went from "everything" to the
    first 100 in 2026), so ``page`` and ``limit`` are always sent and the loop follows
    the headers, never its own arithmetic (CONTRACT 8). A list that cannot be read whole
    is an error (retryable: its cache keeps the last good copy) rather than a short list
    that would look complete: a later page without the headers, headers that change
    between pages, more than :data:`MOST_ITEMS`. A first page without headers is taken as
    an unpaged answer, the whole list, unless it holds exactly a full page.

    ``fetch(params)`` makes one call (with the user's token, budget and refresh)."""
    limit = PAGE_LIMIT if most is None else max(1, min(PAGE_LIMIT, most))
    items: list[Any] = []
    first: Paging | None = None
    page = 1
    while True:
        response = fetch({**(params or {}), "page": page, "limit": limit})
        data = json_or_none(response)
        if not isinstance(data, list):
            raise MalformedResponse(
                MSG_PAGE_NOT_A_LIST.format(what=what, page=page), status=response.status_code
            )
        paging = paging_of(response)
        if paging is None and page == 1:
            if len(data) == limit and (most is None or len(data) < most):
                raise MalformedResponse(MSG_NO_PAGING.format(what=what, count=len(data)))
            return data if most is None else data[:most]
        if paging is None:
            raise MalformedResponse(MSG_PAGING_MISSING.format(what=what, page=page))
        if first is None:
            first = paging
            if most is None and paging.pages > math.ceil(MOST_ITEMS / paging.limit):
                raise MalformedResponse(
                    MSG_TOO_MANY_PAGES.format(
                        what=what, pages=paging.pages, limit=paging.limit, most=MOST_ITEMS
                    )
                )
        expected = Paging(page, first.limit, first.pages)
        if paging != expected:
            raise MalformedResponse(
                MSG_PAGING_CHANGED.format(what=what, found=paging, expected=expected)
            )
        items += data
        if page >= first.pages or (most is not None and len(items) >= most):
            return items if most is None else items[:most]
        page += 1


class CallBudget(Protocol):
    """Rate budgets the client spends from (``rate_limits.Budgets``): asked before each
    API call, told what Trakt answered."""

    def before(
        self, method: str, token: str | None, user_key: str | None, client_id: str, what: str
    ) -> Any: ...

    def after(
        self, ticket: Any, headers: Mapping[str, str] | None, error: TraktError | None
    ) -> None: ...


class TraktClient:
    """One app's view of Trakt. Stateless apart from a pooled HTTP session (and the
    shared budgets, which live in Redis)."""

    def __init__(
        self,
        client_id: str,
        endpoints: TraktEndpoints | None = None,
        session: requests.Session | None = None,
        budget: CallBudget | None = None,
    ) -> None:
        self.client_id = client_id
        self.endpoints = endpoints or TraktEndpoints()
        self.session = session or requests.Session()
        self.budget = budget

    def _send(
        self, method: str, url: str, what: str, timeout: float | None = None, **kw: Any
    ) -> requests.Response:
        timeout = timeout or self.endpoints.timeout
        try:
            response = self.session.request(
                method, url, timeout=timeout, allow_redirects=False, **kw
            )
        except Unbounded as exc:
            raise exc.restated(what) from None
        except requests.Timeout as exc:
            raise TraktUnreachable(MSG_TIMEOUT.format(what=what, seconds=timeout)) from exc
        except requests.RequestException as exc:
            raise TraktUnreachable(
                MSG_UNREACHABLE.format(what=what, url=url.split("?")[0], reason=type(exc).__name__)
            ) from exc
        log.debug("trakt %s %s -> %s", method, url.split("?")[0], response.status_code)
        redirected = redirect_error(response, what)
        if redirected is not None:
            raise redirected
        if response.status_code >= 400:
            raise error_for(response, what, self.endpoints.wait_range)
        return response

    def api_headers(self, token: str | None = None) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "trakt-api-version": "2",
            "trakt-api-key": self.client_id,
            "User-Agent": self.endpoints.user_agent,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        what: str | None = None,
        user_key: str | None = None,
    ) -> requests.Response:
        """A call to the API host; raises a :class:`TraktError` on any non-2xx answer.
        ``user_key`` names whose budget a call with ``token`` spends (the token itself,
        anonymised, when not given).

        A read that meets a passing fault (a 5xx or 52x, a timeout, a dropped connection)
        is tried again after each of ``quick_retries``, spending from the budgets each
        time, before the fault goes to the caller: a blip of a few seconds should not
        cost a job a reschedule of minutes, nor fail ``flask trakt sync``. Only reads:
        a write whose answer was lost may have landed, which the sync's unconfirmed-write
        handling sorts out on its next run, and sending it again blindly would not."""
        what = what or f"{method} {path}"
        pauses = self.endpoints.quick_retries if method == "GET" else ()
        for pause in pauses:
            try:
                return self._api_once(method, path, token, params, body, what, user_key)
            except (TraktServerError, TraktUnreachable) as exc:
                if isinstance(exc, Unbounded):
                    raise
                log.info("%s: %s; trying again in about %.0f s", what, type(exc).__name__, pause)
                time.sleep(pause * random.uniform(0.5, 1.5))
        return self._api_once(method, path, token, params, body, what, user_key)

    def _api_once(
        self,
        method: str,
        path: str,
        token: str | None,
        params: Mapping[str, Any] | None,
        body: Any,
        what: str,
        user_key: str | None,
    ) -> requests.Response:
        ticket = (
            self.budget.before(method, token, user_key, self.client_id, what)
            if self.budget is not None
            else None
        )
        timeout = self.endpoints.timeout
        if method != "GET" and body is not None:
            timeout += WRITE_SECONDS_PER_ITEM * body_entries(body)
        try:
            response = self._send(
                method,
                self.endpoints.api_url.rstrip("/") + path,
                what,
                timeout,
                headers=self.api_headers(token),
                params=params,
                json=body,
            )
        except TraktError as exc:
            if self.budget is not None:
                self.budget.after(ticket, exc.headers, exc)
            raise
        if self.budget is not None:
            self.budget.after(ticket, response.headers, None)
        return response

    def oauth(self, path: str, body: Mapping[str, Any], what: str | None = None) -> Any:
        """A POST to the auth host. Credentials travel in the JSON body, never in headers."""
        response = self._send(
            "POST",
            self.endpoints.auth_url.rstrip("/") + path,
            what or f"POST {path}",
            json=dict(body),
            headers={"Content-Type": "application/json", "User-Agent": self.endpoints.user_agent},
        )
        return json_or_none(response)

    def get_json(self, path: str, **kw: Any) -> Any:
        response = self.api("GET", path, **kw)
        data = json_or_none(response)
        if data is None:
            raise MalformedResponse(MSG_NOT_JSON.format(path=path), status=response.status_code)
        return data
