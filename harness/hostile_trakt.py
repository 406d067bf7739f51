"""A hostile Trakt for tests (issue 15): the sandbox behind a proxy that misbehaves on demand.

The plugin is pointed at :class:`HostileTrakt` for both its API and auth URLs. A request
no pattern is armed for is passed to the sandbox unchanged, so connecting, syncing and
refreshing work as usual; an armed pattern answers instead, as a compromised network path,
a broken proxy or CDN, or Trakt on a bad day would: a redirect to another host, absurd
waits, an endless or trickling body, deep JSON, huge numbers, wrong types, bad paging.

:class:`RecordingListener` is "another host": it records everything it receives, so a
test proves that no secret ever reaches it (the redirect patterns point there).

Both listen on free loopback ports, served from threads like the sandbox (``services``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.wrappers import Request, Response

from harness.services import WSGIServerThread

#: A pattern turns the request into the answer the hostile side sends.
Pattern = Callable[[Request], Response]
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "host",
}


@dataclass
class Seen:
    """One request as it arrived: enough to search it for a secret."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return " ".join(
            [
                self.method,
                self.path,
                self.query,
                json.dumps(self.headers),
                self.body.decode(errors="replace"),
            ]
        )


def _seen(request: Request) -> Seen:
    return Seen(
        request.method,
        request.path,
        request.query_string.decode(),
        dict(request.headers),
        request.get_data(),
    )


class RecordingListener:
    """Another host: answers 200 ``{}`` to anything and keeps what it was sent."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._server = WSGIServerThread(self._app)

    @property
    def url(self) -> str:
        return self._server.url

    def _app(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        self.requests.append(_seen(request))
        return Response("{}", 200, content_type="application/json")(environ, start_response)

    def start(self) -> RecordingListener:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


@dataclass
class Armed:
    method: str | None
    path: str
    pattern: Pattern
    times: int | None  # None: until disarmed
    hits: int = 0


@dataclass
class HostileTrakt:
    """A proxy to ``upstream`` (the sandbox) with patterns armed per path."""

    upstream: str
    armed: list[Armed] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = WSGIServerThread(self._app)
        self._http = requests.Session()

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> HostileTrakt:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._http.close()

    # --- arming ----------------------------------------------------------------------

    def arm(
        self, path: str, pattern: Pattern, *, method: str | None = None, times: int | None = None
    ) -> Armed:
        """Answers requests to ``path`` (a path prefix, ``*`` for any) with ``pattern``,
        ``times`` times (None: every time until :meth:`disarm`)."""
        armed = Armed(method, path, pattern, times)
        with self._lock:
            self.armed.append(armed)
        return armed

    def disarm(self) -> None:
        with self._lock:
            self.armed.clear()
            self.requests.clear()

    def _pattern_for(self, request: Request) -> Pattern | None:
        with self._lock:
            for armed in self.armed:
                if armed.times is not None and armed.hits >= armed.times:
                    continue
                if armed.method not in (None, request.method):
                    continue
                if armed.path == "*" or request.path.startswith(armed.path):
                    armed.hits += 1
                    return armed.pattern
        return None

    # --- serving ---------------------------------------------------------------------

    def _app(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        seen = _seen(request)
        self.requests.append(seen)
        pattern = self._pattern_for(request)
        response = pattern(request) if pattern is not None else self._forward(request, seen)
        return response(environ, start_response)

    def _forward(self, request: Request, seen: Seen, query: str | None = None) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        target = request.full_path if query is None else f"{request.path}?{query}"
        answer = self._http.request(
            request.method,
            self.upstream + target,
            headers=headers,
            data=seen.body,
            allow_redirects=False,
            timeout=30,
        )
        back = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS]
        return Response(answer.content, answer.status_code, headers=back)


# --- patterns ------------------------------------------------------------------------------


def redirect(to: str, status: int = 307) -> Pattern:
    """A redirect to the same path on another host (``to``: its base URL)."""
    return lambda request: Response("", status, headers={"Location": to + request.full_path})


def rate_limited(
    retry_after: str | None = None, until: str | None = None, name: str = "AUTHED_API_GET_LIMIT"
) -> Pattern:
    """A 429 with the given ``Retry-After`` and ``X-Ratelimit.until`` (any text)."""

    def answer(_: Request) -> Response:
        headers = {"Content-Type": "application/json"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if until is not None:
            headers["X-Ratelimit"] = json.dumps(
                {"name": name, "period": 300, "limit": 500, "remaining": 0, "until": until}
            )
        return Response("{}", 429, headers=headers)

    return answer


def endless_body(chunk: int = 64 * 1024) -> Pattern:
    """A 200 whose JSON list never ends (until the client hangs up)."""

    def body() -> Iterator[bytes]:
        yield b"["
        block = b"1," * (chunk // 2)
        while True:
            yield block

    return lambda _: Response(body(), 200, content_type="application/json", direct_passthrough=True)


def trickle(payload: bytes = b"[]", every: float = 0.5, total: float = 60.0) -> Pattern:
    """A 200 that sends one byte per ``every`` seconds: each read is within any per-read
    timeout, yet the whole answer takes ``total`` seconds (the payload is padded with
    whitespace in front, so it is valid JSON once complete)."""
    pad = max(0, int(total / every) - len(payload))

    def body() -> Iterator[bytes]:
        for byte in b" " * pad + payload:
            yield bytes([byte])
            time.sleep(every)

    return lambda _: Response(body(), 200, content_type="application/json", direct_passthrough=True)


def dropped(after: bytes = b'{"movies": ') -> Pattern:
    """A 200 whose connection drops mid-body (no final chunk): a lost answer."""

    def body() -> Iterator[bytes]:
        yield after
        raise ConnectionAbortedError("the hostile side hangs up")

    return lambda _: Response(body(), 200, content_type="application/json", direct_passthrough=True)


def json_answer(
    data: Any = None,
    status: int = 200,
    raw: str | None = None,
    headers: dict[str, str] | None = None,
) -> Pattern:
    """A fixed answer: ``data`` as JSON, or ``raw`` text as is (deep JSON, huge numbers)."""
    text = raw if raw is not None else json.dumps(data)
    return lambda _: Response(text, status, content_type="application/json", headers=headers or {})


def status(code: int, body: str = "") -> Pattern:
    """A bare status (a 502 from the edge, say)."""
    return lambda _: Response(body, code, content_type="text/html")


def deep_json(depth: int = 100_000) -> str:
    """JSON nested ``depth`` lists deep: Python's parser raises RecursionError on it."""
    return "[" * depth + "]" * depth


def huge_number(digits: int = 100_000) -> str:
    """An integer too long for ``int()`` (Python refuses to read more than 4,300 digits)."""
    return "9" * digits


def forwarded_as(hostile: HostileTrakt, query: str) -> Pattern:
    """The sandbox's answer to the same path with another query (Trakt deciding to page
    an answer it was asked for whole)."""
    return lambda request: hostile._forward(request, _seen(request), query)


def forwarded_with(hostile: HostileTrakt, headers: dict[str, str]) -> Pattern:
    """The sandbox's real answer, with some of its headers replaced (bad paging)."""

    def answer(request: Request) -> Response:
        response = hostile._forward(request, _seen(request))
        for key, value in headers.items():
            response.headers[key] = value
        return response

    return answer
