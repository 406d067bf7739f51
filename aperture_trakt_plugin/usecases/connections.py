"""Connecting, disconnecting and describing users' Trakt accounts.

One place for what the profile page, the device-flow poll and ``flask trakt`` commands
all do, so a connection made in a terminal is exactly one made in a browser. Every
function takes the acting user's id from its caller, which takes it from the login
session, never from a request parameter: nobody can act on another user's connection.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from sqlalchemy import select, update

from aperture_trakt_plugin import extension, sync
from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.discovery import cache as discovery_cache
from aperture_trakt_plugin.discovery import refresh as discovery_refresh
from aperture_trakt_plugin.storage.models import TraktConnection, TraktDeviceGrant, TraktOutbox
from aperture_trakt_plugin.trakt import device_flow
from aperture_trakt_plugin.trakt.errors import MalformedResponse, TraktError
from aperture_trakt_plugin.trakt.oauth import TokenPair
from aperture_trakt_plugin.usecases import jobs, outbox

log = logging.getLogger(__name__)

SLOW_DOWN_STEP = 5  # seconds added to the polling interval when Trakt says "slow down"
NAME_MOST = 255  # characters: the columns that keep a username and a slug

MSG_NO_USERNAME = "Reading your Trakt profile: Trakt's answer had no username"
MSG_BAD_PROFILE = "Reading your Trakt profile: Trakt's answer named the account oddly"
MSG_ENTER_CODE = "Enter the code on Trakt to connect."
MSG_NO_DEVICE_FLOW = "No device connection is under way."
MSG_CONNECTED = "Connected as {username}."


def _now() -> datetime:
    return datetime.now(UTC)


def _db() -> Any:
    return extension.state().host.db


def finish_connection(user_id: int, pair: TokenPair) -> TraktConnection:
    """Stores a new token pair with the Trakt username, then queues the first sync."""
    username, slug = account_of(
        oauth.api_client().get_json(
            "/users/settings", token=pair.access_token, what="Reading your Trakt profile"
        )
    )
    previous = tokens.store().get(user_id)
    if previous is None or same_account(previous, username, slug):
        conn = tokens.store().set(user_id, pair, username, slug)
    else:
        # Another account: what the ledger says was agreed, was agreed with the old one,
        # and its marker would make the first sync say "unchanged". No run of the old
        # account's sync may commit after the new start, so it happens under their lock.
        with sync.user_lock(user_id):
            sync.start_afresh(user_id)
            conn = tokens.store().set(user_id, pair, username, slug)
        discovery_cache.forget_user(user_id)  # the old account's lists and history
    jobs.enqueue_user_sync(user_id, "first sync after connecting")
    discovery_refresh.enqueue_user_refresh(user_id)
    return conn


def account_of(settings: Any) -> tuple[str, str | None]:
    """The username and slug of a ``/users/settings`` answer, checked before anything is
    stored: both name the account in every later comparison (``same_account``) and on
    the user's pages, so a wrong type or a name longer than its column is refused with
    one clear message rather than stored, compared as something else, or failing in
    the database."""
    user = settings.get("user") if isinstance(settings, dict) else None
    username = user.get("username") if isinstance(user, dict) else None
    if not _account_name(username):
        raise MalformedResponse(MSG_NO_USERNAME)
    assert isinstance(user, dict)  # the username came from it
    ids = user.get("ids")
    if ids is None:  # no ids at all: the account is known by its username alone
        return username, None
    slug = ids.get("slug") if isinstance(ids, dict) else None
    if not isinstance(ids, dict) or (slug is not None and not _account_name(slug)):
        raise MalformedResponse(MSG_BAD_PROFILE)
    return username, slug


def _account_name(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= NAME_MOST


def same_account(conn: TraktConnection, username: str, slug: str | None) -> bool:
    """Whether a new grant is for the account already connected (a reconnection after
    "needs reconnecting", say) rather than another one: by slug, Trakt's id for a user,
    where both have one, else by username."""
    if conn.trakt_slug and slug:
        return conn.trakt_slug == slug
    return conn.trakt_username.casefold() == username.casefold()


def disconnect(user_id: int) -> bool:
    """Revokes (best effort), forgets the tokens, the pending pushes and the sync ledger,
    and cancels queued work; every rating on the server stays."""
    token_store = tokens.store()
    conn = token_store.get(user_id)
    if conn is not None:
        try:
            oauth.revoke(conn.access_token)
        except TraktError as exc:  # messages never carry the token
            log.warning(
                "revoking the Trakt token of user %s failed (%s); forgetting it anyway",
                user_id,
                exc,
            )
    removed = token_store.delete(user_id)
    outbox.forget_user(user_id)
    discovery_cache.forget_user(user_id)  # titles the user hid stay hidden
    jobs.cancel_user_jobs(user_id)
    return removed


# --- device flow ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceState:
    """What the profile (or the terminal) shows while a device connection is under way."""

    status: str  # pending | connected | expired | denied | used | invalid | none
    message: str = ""
    user_code: str | None = None
    verification_url: str | None = None
    expires_at: datetime | None = None
    interval: int | None = None
    username: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != device_flow.DEVICE_PENDING

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "user_code": self.user_code,
            "verification_url": self.verification_url or None,
            "interval": self.interval,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "username": self.username,
        }


def _pending(grant: TraktDeviceGrant, message: str) -> DeviceState:
    return DeviceState(
        device_flow.DEVICE_PENDING,
        message,
        grant.user_code,
        grant.verification_url,
        grant.expires_at,
        grant.interval,
    )


def start_device(user_id: int) -> DeviceState:
    code = oauth.start_device_flow()
    db = _db()
    grant = db.session.get(TraktDeviceGrant, user_id) or TraktDeviceGrant(user_id=user_id)
    now = _now()
    grant.device_code, grant.user_code = code.device_code, code.user_code
    grant.verification_url, grant.interval = code.verification_url, code.interval
    grant.expires_at = now + timedelta(seconds=code.expires_in)
    grant.next_poll_at = now + timedelta(seconds=code.interval)
    db.session.add(grant)
    db.session.commit()
    return _pending(grant, MSG_ENTER_CODE)


def _claim_poll(grant: TraktDeviceGrant, now: datetime) -> bool:
    """Takes this interval's one poll, or says another request already has. A read then a
    write would let two pages polling at once both ask Trakt (and earn a "slow down"), so
    it is one conditional UPDATE that only one request can win, on any database;
    committed at once, so no lock is held while Trakt answers."""
    db = _db()
    claimed: bool = (
        db.session.execute(
            update(TraktDeviceGrant)
            .where(TraktDeviceGrant.user_id == grant.user_id, TraktDeviceGrant.next_poll_at <= now)
            .values(next_poll_at=now + timedelta(seconds=grant.interval))
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    db.session.commit()
    return claimed


def poll_device(user_id: int) -> DeviceState:
    """Asks Trakt at most once per interval, however often the page polls us."""
    db = _db()
    grant = db.session.get(TraktDeviceGrant, user_id)
    if grant is None:
        return DeviceState("none", MSG_NO_DEVICE_FLOW)
    now = _now()
    if now >= grant.expires_at:
        db.session.delete(grant)
        db.session.commit()
        return DeviceState("expired", device_flow.DEVICE_FINAL[410][1])
    if not _claim_poll(grant, now):
        # Re-read: the winner's interval, or no grant at all if its poll just finished.
        grant = db.session.get(TraktDeviceGrant, user_id)
        if grant is None:
            return DeviceState("none", MSG_NO_DEVICE_FLOW)
        return _pending(grant, device_flow.MSG_DEVICE_WAITING)
    poll = oauth.poll_device_token(grant.device_code)
    if poll.status in (device_flow.DEVICE_PENDING, device_flow.DEVICE_SLOW_DOWN):
        if poll.status == device_flow.DEVICE_SLOW_DOWN:
            grant.interval += SLOW_DOWN_STEP
        grant.next_poll_at = now + timedelta(seconds=grant.interval)
        db.session.commit()
        return _pending(grant, poll.message)
    db.session.delete(grant)
    db.session.commit()
    if poll.tokens is None:
        return DeviceState(poll.status, poll.message)
    conn = finish_connection(user_id, poll.tokens)
    return DeviceState(
        "connected",
        MSG_CONNECTED.format(username=conn.trakt_username),
        username=conn.trakt_username,
    )


# --- status --------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def not_found_on_trakt(
    user_id: int, limit: int | None = None, state: str = sync.NOT_FOUND
) -> list[dict[str, Any]]:
    """Ratings Trakt did not take, with the reason: not found (kept until the user
    changes them) or, with ``state`` ``OVER_LIMIT``, waiting for room under the account's
    ratings cap. ``limit`` bounds the host look-ups a page makes for a user with many."""
    host = extension.state().host
    rows = _db().session.scalars(
        select(TraktOutbox)
        .where(TraktOutbox.user_id == user_id, TraktOutbox.state == state)
        .order_by(TraktOutbox.at.desc(), TraktOutbox.item_id)
        .limit(limit)
    )
    rows = list(rows)
    found = []
    for row, ref in zip(rows, host.get_media_bulk([row.item_id for row in rows]), strict=True):
        found.append(
            {
                "item_id": row.item_id,
                "title": ref.title if ref else None,
                "kind": ref.kind if ref else None,
                "ids": {"tmdb": ref.ids.tmdb, "imdb": ref.ids.imdb, "tvdb": ref.ids.tvdb}
                if ref
                else None,
                "value": row.value,
                "reason": row.reason,
            }
        )
    return found


def describe(conn: TraktConnection, user_name: str) -> dict[str, Any]:
    """A connection as people and scripts see it: never a token."""
    return {
        "user": user_name,
        "user_id": conn.user_id,
        "trakt_username": conn.trakt_username,
        "connected_since": _iso(conn.connected_at),
        "token_expires_at": _iso(conn.expires_at),
        "needs_reconnect": conn.needs_reconnect,
        "last_sync_at": _iso(conn.last_sync_at),
        "last_error": conn.last_error,
        "last_error_at": _iso(conn.last_error_at),
        "blocked": conn.blocked_reason,
        "last_sync": json.loads(conn.last_sync_summary) if conn.last_sync_summary else None,
        "not_found_on_trakt": not_found_on_trakt(conn.user_id),
        "waiting_for_room_on_trakt": not_found_on_trakt(conn.user_id, state=sync.OVER_LIMIT),
    }


def status(user_id: int | None = None) -> list[dict[str, Any]]:
    host = extension.state().host
    query = _db().session.query(TraktConnection)
    if user_id is not None:
        query = query.filter(TraktConnection.user_id == user_id)
    rows = []
    for conn in query.order_by(TraktConnection.user_id):
        user = host.get_user(conn.user_id)
        rows.append(describe(conn, user.name if user else f"#{conn.user_id}"))
    return rows
