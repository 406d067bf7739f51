"""The HTTP underneath every call to Trakt: answers read under a size cap and a
deadline, and redirects refused before anything is sent to where they point.

Both are mounted on the session itself (``extension.http_session``) rather than done
per call, because Authlib's token calls go through the same session and cannot be
told either."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions

from aperture_trakt_plugin.trakt.answers import redirect_error
from aperture_trakt_plugin.trakt.errors import (
    MSG_A_TRAKT_CALL,
    MSG_TOO_LARGE,
    MSG_TOO_SLOW,
    AnswerTooLarge,
    AnswerTooSlow,
    TraktError,
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
    # A private flag of requests' (what ``iter_content`` checks), absent from its stubs.
    response._content_consumed = True  # type: ignore[attr-defined]


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
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # HTTPAdapter.send's own parameters and defaults, passed on as they came.
        started = time.monotonic()
        response = super().send(
            request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )
        read_timeout = timeout[-1] if isinstance(timeout, tuple) else timeout
        seconds = max(self.deadline, float(read_timeout or 0))
        if not stream:
            read_bounded(response, self.max_bytes, started + seconds, seconds)
        return response


def borrow_transport(session: requests.Session, source: requests.Session) -> requests.Session:
    """``session`` (one Authlib made) talking over ``source``'s transport: its adapters
    (the size cap and deadline, a test's recorder), its response hooks (the refusal of
    redirects) and its ``max_redirects``, so no call to Trakt escapes them."""
    session.max_redirects = source.max_redirects
    for prefix, adapter in source.adapters.items():
        session.mount(prefix, adapter)
    for hook in source.hooks["response"]:
        if hook not in session.hooks["response"]:
            session.hooks["response"].append(hook)
    return session
