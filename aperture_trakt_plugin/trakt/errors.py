"""What can go wrong in a call to Trakt, as types that say what to do about it.

Callers branch on the type (reconnect, wait, tell the admin, retry later) rather than
on status codes, and ``str(error)`` is a sentence fit for the person who sees it:
every text here is listed with its cause and fix in docs/troubleshooting.md. No
secret ever goes into one of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
        self, message: str, retry_after: float | None, ratelimit: dict[str, Any] | None, **kw: Any
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
