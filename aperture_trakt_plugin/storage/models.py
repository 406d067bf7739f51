"""The plugin's own tables, all prefixed ``trakt_``, on a metadata of their own.

They live beside the host's tables and are used through the host's ``db.session``,
but the host's ``create_all`` never sees them: only this plugin's Alembic lineage
(``migrations/``) creates or changes them, so upgrades and uninstalls stay ours.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aperture_trakt_plugin.storage.crypto import EncryptedText, bind_rows
from aperture_trakt_plugin.storage.types import LongText, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = metadata


bind_rows(Base)  # encrypted columns are sealed to their row (see crypto.py)


class TraktSetting(Base):
    """One admin setting. Secrets go to ``secret`` (encrypted), everything else to ``value``."""

    __tablename__ = "trakt_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(LongText)
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[int | None] = mapped_column(Integer)


class TraktConnection(Base):
    """A host user's link to their Trakt account; the token pair is encrypted.

    ``needs_reconnect`` is set when Trakt declares the grant dead (``invalid_grant``):
    scheduled work skips the user until they connect again, instead of failing every run.
    """

    __tablename__ = "trakt_connections"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    trakt_username: Mapped[str] = mapped_column(String(255))
    trakt_slug: Mapped[str | None] = mapped_column(String(255))
    access_token: Mapped[str] = mapped_column(EncryptedText)
    refresh_token: Mapped[str | None] = mapped_column(EncryptedText)
    token_created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scope: Mapped[str | None] = mapped_column(String(255))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    needs_reconnect: Mapped[bool] = mapped_column(default=False)
    reconnect_reason: Mapped[str | None] = mapped_column(LongText)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(LongText)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activities: Mapped[str | None] = mapped_column(LongText)
    # The ratings timestamps of last_activities when both sides last agreed: unchanged
    # means Trakt has nothing new, and a sync stops after one call.
    ratings_marker: Mapped[str | None] = mapped_column(LongText)
    # Set when a pull would remove too much; cleared by --force or an admin's confirmation.
    blocked_reason: Mapped[str | None] = mapped_column(LongText)
    last_sync_summary: Mapped[str | None] = mapped_column(LongText)


class TraktDeviceGrant(Base):
    """A device-code connection in progress (one per user; the device code is a secret)."""

    __tablename__ = "trakt_device_grants"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    device_code: Mapped[str] = mapped_column(EncryptedText)
    user_code: Mapped[str] = mapped_column(String(32))
    verification_url: Mapped[str] = mapped_column(String(512))
    interval: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TraktLedger(Base):
    """Per user and item, the rating both sides last agreed on (no row: agreed "unrated").

    The three-way merge compares each side with this row, so a change on one side is told
    apart from a change on the other, and a removal from "never rated". ``item_key`` is
    ``h:<host item id>``, or ``t:<kind>:<trakt id>`` for a Trakt rating of something the
    library does not hold yet (``item_id`` is then empty; applied when the item arrives).
    Only those keep the item's external ids and title: for a library item the host has
    them, so a sync writes its row without them (half the cost for 100,000 rows).
    """

    __tablename__ = "trakt_ledger"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    item_id: Mapped[str | None] = mapped_column(String(64))
    trakt: Mapped[int | None] = mapped_column(Integer)
    tmdb: Mapped[int | None] = mapped_column(Integer)
    imdb: Mapped[str | None] = mapped_column(String(16))
    tvdb: Mapped[int | None] = mapped_column(Integer)
    season: Mapped[int | None] = mapped_column(Integer)
    episode: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[int] = mapped_column(Integer)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TraktOutbox(Base):
    """Host rating changes not yet on Trakt: the latest per user and item wins.

    Written by the rating hooks in the request that changed the rating, so a change made
    while Redis or Trakt is down waits here until a push or a sync takes it.
    """

    __tablename__ = "trakt_outbox"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int | None] = mapped_column(Integer)  # None: the rating was removed
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # or not_found, over_limit
    reason: Mapped[str | None] = mapped_column(LongText)


class TraktDiscoveryList(Base):
    """One cached Trakt list, as the jobs last fetched it: pages read these, never Trakt.

    ``scope`` names the list: ``global:trending:movies`` (one for the whole server),
    ``user:5:recommended:shows``, ``user:5:watchlist:movies``, ``user:5:watched`` (the
    user's Trakt watch history, as media keys) or ``user:5:ranked:movies`` (the order and
    reasons the last refresh computed). A failed fetch keeps the last good ``payload``
    and records why in ``error``, so a page shows the old list instead of nothing.
    """

    __tablename__ = "trakt_discovery_lists"

    scope: Mapped[str] = mapped_column(String(96), primary_key=True)
    payload: Mapped[str] = mapped_column(LongText, default="[]")
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(LongText)
    error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TraktHidden(Base):
    """A title the user said "not interested" to: hidden here at once, and on Trakt
    (its recommendations hide endpoint) by a job.

    ``state`` is ``pending`` until Trakt confirmed, then ``sent``; ``not_found`` when
    Trakt does not know the title (it stays hidden here). ``reason`` says why it is still
    pending or why Trakt refused, in words.
    """

    __tablename__ = "trakt_hidden"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    item_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    trakt: Mapped[int | None] = mapped_column(Integer)
    tmdb: Mapped[int | None] = mapped_column(Integer)
    imdb: Mapped[str | None] = mapped_column(String(16))
    tvdb: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(255))
    hidden_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(LongText)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
