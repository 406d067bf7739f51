"""A thin ``requests`` client for the sandbox's ``/_sandbox/`` control API.

Tests, benchmarks and the demo use it to set the world up and to look behind the API:
``SandboxControl(url).issue_tokens("alice")`` and ``api_headers(token)`` are all a test
needs to call the API the way a Trakt client would.
"""

from __future__ import annotations

from typing import Any

import requests

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
USER_AGENT = "trakt-sandbox-tests/1.0"


def api_headers(token: str | None = None, client_id: str = DEFAULT_CLIENT_ID) -> dict[str, str]:
    """The headers Trakt requires on every API call, plus the Bearer token if given."""
    headers = {
        "Content-Type": "application/json",
        "trakt-api-version": "2",
        "trakt-api-key": client_id,
        "User-Agent": USER_AGENT,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class SandboxError(RuntimeError):
    """The control API refused a call (bad input); the message is its answer."""


class SandboxControl:
    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/")
        self.http = session or requests.Session()

    # -- plumbing ------------------------------------------------------------------------
    def _call(
        self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = self.http.request(
            method, f"{self.url}/_sandbox{path}", json=json, params=params, timeout=10
        )
        if response.status_code >= 400:
            raise SandboxError(f"{method} /_sandbox{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def api(
        self,
        method: str,
        path: str,
        token: str | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        **kwargs: Any,
    ) -> requests.Response:
        """Call the Trakt API itself (not the control API) with the required headers."""
        headers = {**api_headers(token, client_id), **kwargs.pop("headers", {})}
        return self.http.request(
            method,
            f"{self.url}{path}",
            headers=headers,
            timeout=kwargs.pop("timeout", 10),
            **kwargs,
        )

    # -- world ---------------------------------------------------------------------------
    def reset(self) -> None:
        self._call("POST", "/reset")

    def add_app(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str | list[str],
        community: bool = True,
    ) -> dict[str, Any]:
        """Register an app; a community app counts against its users' app cap."""
        return self._call(
            "POST",
            "/apps",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "community": community,
            },
        )

    def delete_app(self, client_id: str) -> None:
        """Delete an app as Trakt does: its key gets 403, its token calls invalid_client."""
        self._call("DELETE", f"/apps/{client_id}")

    def add_user(self, username: str, **flags: Any) -> dict[str, Any]:
        """Create or update a user; flags: vip, locked, deactivated, private, name."""
        return self._call("POST", "/users", {"username": username, **flags})

    def update_user(self, username: str, **flags: Any) -> dict[str, Any]:
        """Change an existing user's flags (``vip`` moves it between limit tiers)."""
        return self._call("PUT", f"/users/{username}", flags)

    def issue_tokens(
        self, username: str, client_id: str = DEFAULT_CLIENT_ID, expires_in: int | None = None
    ) -> dict[str, Any]:
        """A token pair shaped like ``/oauth/token``'s answer (the user is created if new)."""
        body: dict[str, Any] = {"client_id": client_id}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self._call("POST", f"/users/{username}/tokens", body)

    def issued_secrets(self) -> list[dict[str, str]]:
        """``[{"kind": ..., "value": ...}]``: every secret the sandbox process issued or was
        shown since it started; ``reset()`` keeps them (for the end-of-run log scan)."""
        return self._call("GET", "/issued-secrets")

    def catalogue(self) -> dict[str, Any]:
        """``{"movies": [...], "shows": [...]}`` with the sandbox's Trakt ids."""
        return self._call("GET", "/catalogue")

    # -- a user's lists (Trakt's own GET shapes) ------------------------------------------
    def ratings(self, username: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/users/{username}/ratings")

    def set_ratings(self, username: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("PUT", f"/users/{username}/ratings", items)

    def history(self, username: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/users/{username}/history")

    def set_history(self, username: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("PUT", f"/users/{username}/history", items)

    def watchlist(self, username: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/users/{username}/watchlist")

    def set_watchlist(self, username: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("PUT", f"/users/{username}/watchlist", items)

    def collection(self, username: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/users/{username}/collection")

    def set_collection(self, username: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("PUT", f"/users/{username}/collection", items)

    def hidden(self, username: str) -> list[dict[str, Any]]:
        """Recommendations the user hid (``DELETE /recommendations/...``)."""
        return self._call("GET", f"/users/{username}/hidden")

    def last_activities(self, username: str) -> dict[str, Any]:
        return self._call("GET", f"/users/{username}/last_activities")

    # -- device flow ---------------------------------------------------------------------
    def approve_device(self, user_code: str, username: str) -> None:
        self._call("POST", "/device/approve", {"user_code": user_code, "username": username})

    def deny_device(self, user_code: str) -> None:
        self._call("POST", "/device/deny", {"user_code": user_code})

    def expire_device(self, user_code: str) -> None:
        self._call("POST", "/device/expire", {"user_code": user_code})

    # -- observation and mischief ----------------------------------------------------------
    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The call log, oldest first; filters: method, path, path_prefix, status, user."""
        return self._call("GET", "/requests", params=filters)

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def fault(
        self,
        method: str,
        path: str,
        status: int | None = None,
        count: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay_ms: int | None = None,
        **preset: Any,
    ) -> dict[str, Any]:
        """The next ``count`` calls (negative: all) matching get this answer and/or delay;
        ``preset="cloudflare-403"`` (or ``-429`` with ``retry_after``) builds the answer."""
        return self._call(
            "POST",
            "/faults",
            {
                "method": method,
                "path": path,
                "status": status,
                "count": count,
                "body": body,
                "headers": headers,
                "delay_ms": delay_ms,
                **preset,
            },
        )

    def cloudflare_403(self, method: str, path: str, count: int = 1) -> dict[str, Any]:
        """Cloudflare's HTML block page: ``Server: cloudflare``, ``CF-RAY``, no
        ``x-request-id``/``x-runtime``."""
        return self.fault(method, path, count=count, preset="cloudflare-403")

    def cloudflare_429(
        self, method: str, path: str, count: int = 1, retry_after: int | None = 300
    ) -> dict[str, Any]:
        """A 429 from "Cloudflare": HTML body, ``Retry-After``, no ``X-Ratelimit``."""
        return self.fault(
            method, path, count=count, preset="cloudflare-429", retry_after=retry_after
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_behaviour(self, **values: Any) -> dict[str, Any]:
        """Switch how answers vary, e.g. ``not_found="nested"``, ``seed=7``
        (``harness/trakt_sandbox/behaviour.py``); answers the whole behaviour."""
        return self._call("PUT", "/behaviour", values)

    def behaviour(self) -> dict[str, Any]:
        return self._call("GET", "/behaviour")

    def set_account_limits(self, **config: Any) -> dict[str, Any]:
        """Caps per tier and how a cap is enforced, e.g. ``ratings={"free": 3, "vip": 5}``,
        ``mode="partial"``, ``body="json"`` (``harness/trakt_sandbox/account_limits.py``)."""
        return self._call("PUT", "/account-limits", config)

    def account_limits(self) -> dict[str, Any]:
        return self._call("GET", "/account-limits")

    def set_limits(self, **limits: int) -> dict[str, int]:
        """``get_per_5min``, ``unauthed_get_per_5min``, ``writes_per_second``."""
        return self._call("PUT", "/limits", limits)

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "/clock", {"seconds": seconds})

    def clock(self) -> dict[str, Any]:
        return self._call("GET", "/clock")
