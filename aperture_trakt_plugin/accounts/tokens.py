"""Users' Trakt tokens: where they live and how they stay fresh.

Trakt's refresh tokens are single-use and rotate, so two processes that refresh the
same pair at once leave one of them with a dead grant. Every refresh therefore runs
under a per-user lock in Redis (shared by web and worker processes on every machine),
re-reads the pair after taking the lock (someone else may have refreshed already), and
commits the new pair before anyone uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import current_app
from redis.exceptions import LockError, RedisError

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import oauth
from aperture_trakt_plugin.storage.models import TraktConnection, TraktDeviceGrant, utcnow
from aperture_trakt_plugin.trakt.errors import InvalidGrant, TraktError
from aperture_trakt_plugin.trakt.oauth import TokenPair

log = logging.getLogger(__name__)
_T = TypeVar("_T")

LOCK_KEY = "aperture-trakt:lock:token:{user_id}"
LOCK_TIMEOUT = 60  # seconds a crashed holder can block others; a refresh takes one call

MSG_NEEDS_RECONNECT = (
    "Trakt no longer accepts this server's access to your account. "
    "Reconnect Trakt to resume syncing."
)
MSG_NOT_CONNECTED = "This user has not connected Trakt."
MSG_LOCK_NO_REDIS = (
    "The Trakt token needs refreshing, but Redis (which keeps the refresh "
    "safe across processes) is unreachable."
)
MSG_LOCK_BUSY = (
    "Another process has been refreshing this user's Trakt token for too long; "
    "will try again later."
)


class NotConnected(TraktError):
    """The user has no Trakt connection."""


class NeedsReconnect(TraktError):
    """The grant is dead; only the user can fix it, by connecting again."""


class TokenLockUnavailable(TraktError):
    """The refresh lock could not be taken (Redis down, or another refresh hung)."""

    retryable = True


class TokenStore:
    """Storage of token pairs, in the shape of Flask-Dance's ``BaseStorage``."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def get(self, user_id: int) -> TraktConnection | None:
        conn: TraktConnection | None = self.db.session.get(TraktConnection, user_id)
        return conn

    def set(
        self, user_id: int, pair: TokenPair, username: str, slug: str | None
    ) -> TraktConnection:
        """A new connection (or a reconnection): clears any earlier trouble."""
        conn = self.get(user_id) or TraktConnection(user_id=user_id, connected_at=utcnow())
        conn.trakt_username, conn.trakt_slug = username, slug
        self._apply(conn, pair)
        conn.needs_reconnect, conn.reconnect_reason = False, None
        conn.last_error = conn.last_error_at = None
        self.db.session.add(conn)
        self.db.session.commit()
        return conn

    def update_tokens(self, conn: TraktConnection, pair: TokenPair) -> None:
        self._apply(conn, pair)
        self.db.session.commit()

    @staticmethod
    def _apply(conn: TraktConnection, pair: TokenPair) -> None:
        conn.access_token = pair.access_token
        conn.refresh_token = pair.refresh_token
        conn.token_created_at = pair.created_at
        conn.expires_at = pair.expires_at
        conn.scope = pair.scope

    def delete(self, user_id: int) -> bool:
        found = False
        for model in (TraktConnection, TraktDeviceGrant):
            row = self.db.session.get(model, user_id)
            if row is not None:
                self.db.session.delete(row)
                found = found or model is TraktConnection
        self.db.session.commit()
        return found

    def mark_needs_reauth(self, user_id: int, reason: str) -> None:
        conn = self.get(user_id)
        if conn is not None:
            conn.needs_reconnect, conn.reconnect_reason = True, reason
            conn.last_error, conn.last_error_at = reason, utcnow()
            self.db.session.commit()


def store() -> TokenStore:
    return TokenStore(extension.state().host.db)


def refresh_margin(conn: TraktConnection) -> timedelta:
    """How long before expiry a token is refreshed: the configured margin, but at most a
    quarter of the token's lifetime. Trakt's tokens have lasted 24 hours since March 2025
    (CONTRACT 4.3); with the one-day margin meant for the old 90-day tokens, every call
    refreshed, spending a single-use refresh token each time."""
    configured = timedelta(seconds=float(current_app.config["APERTURE_TRAKT_TOKEN_REFRESH_MARGIN"]))
    return min(configured, (conn.expires_at - conn.token_created_at) / 4)


def lock_seconds() -> float:
    """How long the refresh lock lives: :data:`LOCK_TIMEOUT`, or longer when the refresh
    call itself may take longer (connecting, then an answer read to its deadline), with
    room to spare. The lock must outlive the slowest refresh: expiring while the call is
    under way would let a second process spend the same single-use refresh token."""
    config = current_app.config
    slowest = float(config["APERTURE_TRAKT_HTTP_TIMEOUT"]) + max(
        extension.answer_deadline(), float(config["APERTURE_TRAKT_HTTP_TIMEOUT"])
    )
    return max(float(LOCK_TIMEOUT), 2 * slowest)


def _usable(conn: TraktConnection, rejected: str | None, now: datetime) -> bool:
    return conn.access_token != rejected and conn.expires_at - now > refresh_margin(conn)


def access_token(user_id: int, rejected: str | None = None) -> str:
    """A token for the user that is good for at least the refresh margin.

    ``rejected`` is a token Trakt just answered 401 to: it is refreshed even if it looks
    fresh, unless another process already replaced it.
    """
    tokens = store()
    conn = tokens.get(user_id)
    if conn is None:
        raise NotConnected(MSG_NOT_CONNECTED)
    if conn.needs_reconnect:
        raise NeedsReconnect(conn.reconnect_reason or MSG_NEEDS_RECONNECT)
    if _usable(conn, rejected, datetime.now(UTC)):
        return conn.access_token

    redis = extension.state().host.redis
    try:
        seconds = lock_seconds()
        lock = redis.lock(
            LOCK_KEY.format(user_id=user_id), timeout=seconds, blocking_timeout=seconds
        )
        acquired = lock.acquire()
    except RedisError as exc:
        raise TokenLockUnavailable(MSG_LOCK_NO_REDIS) from exc
    if not acquired:
        raise TokenLockUnavailable(MSG_LOCK_BUSY)
    try:
        tokens.db.session.refresh(conn)  # another process may have refreshed meanwhile
        if conn.needs_reconnect:
            raise NeedsReconnect(conn.reconnect_reason or MSG_NEEDS_RECONNECT)
        if _usable(conn, rejected, datetime.now(UTC)):
            return conn.access_token
        if not conn.refresh_token:
            tokens.mark_needs_reauth(user_id, MSG_NEEDS_RECONNECT)
            raise NeedsReconnect(MSG_NEEDS_RECONNECT)
        try:
            pair = oauth.refresh(conn.refresh_token)
        except InvalidGrant:
            tokens.mark_needs_reauth(user_id, MSG_NEEDS_RECONNECT)
            raise NeedsReconnect(MSG_NEEDS_RECONNECT) from None
        tokens.update_tokens(conn, pair)  # stored before anyone uses it
        log.info(
            "refreshed the Trakt token of user %s (valid until %s)",
            user_id,
            pair.expires_at.isoformat(),
        )
        return pair.access_token
    finally:
        try:
            lock.release()
        except (LockError, RedisError):
            log.warning("the token lock of user %s expired before it was released", user_id)


def call_as_user(user_id: int, call: Callable[[str], _T]) -> _T:
    """Runs ``call(token)``; on a 401 refreshes once and retries, as Trakt advises.

    A second 401 with a fresh token means the grant is dead: the connection is marked
    "needs reconnecting" and scheduled work skips the user until they reconnect.
    """
    from aperture_trakt_plugin.trakt.errors import Unauthorized

    token = access_token(user_id)
    try:
        return call(token)
    except Unauthorized:
        token = access_token(user_id, rejected=token)
    try:
        return call(token)
    except Unauthorized:
        store().mark_needs_reauth(user_id, MSG_NEEDS_RECONNECT)
        raise NeedsReconnect(MSG_NEEDS_RECONNECT) from None
