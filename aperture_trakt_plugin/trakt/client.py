"""The Trakt HTTP client: the headers Trakt requires, its two hosts, a budget asked
before each call, and a passing fault retried briefly.

It holds no state but a pooled session and the client id, so one is made wherever it
is needed; what a failure means lives in ``errors`` and ``answers``, the HTTP
underneath in ``transport``, paged lists in ``paging``."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests

from aperture_trakt_plugin.trakt.answers import error_for, json_or_none, redirect_error
from aperture_trakt_plugin.trakt.endpoints import TraktEndpoints
from aperture_trakt_plugin.trakt.errors import (
    MSG_NOT_JSON,
    MSG_TIMEOUT,
    MSG_UNREACHABLE,
    MalformedResponse,
    TraktError,
    TraktServerError,
    TraktUnreachable,
    Unbounded,
)

log = logging.getLogger(__name__)


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


class CallBudget(Protocol):
    """Rate budgets the client spends from (``storage.budgets.Budgets``): asked before each
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
