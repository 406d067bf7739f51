"""Tables the host owns: users, the library, ratings, watch history and the job log.

They mirror what an Aperture-style server keeps; plugins never add columns here, they
reach this data through ``HostServices``.
"""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from harness.reference_host.db import UTCDateTime, db, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaItem(db.Model):
    """A movie, show, season or episode.

    Seasons and episodes carry their show's external ids (and their numbers), because the
    contract matches them by show ids plus position; ``parent_id`` links episode → season
    → show for browsing.
    """

    __tablename__ = "media_items"
    __table_args__ = (
        Index("ix_media_items_kind_tmdb", "kind", "tmdb"),
        Index("ix_media_items_kind_imdb", "kind", "imdb"),
        Index("ix_media_items_kind_tvdb", "kind", "tvdb"),
        Index("ix_media_items_parent", "parent_id", "season_number", "episode_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None]
    tmdb: Mapped[int | None]
    imdb: Mapped[str | None] = mapped_column(String(20))
    tvdb: Mapped[int | None]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("media_items.id"))
    season_number: Mapped[int | None]
    episode_number: Mapped[int | None]

    parent: Mapped[MediaItem | None] = relationship(remote_side=[id])


class Rating(db.Model):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("user_id", "item_id", name="uq_ratings_user_item"),
        CheckConstraint("value BETWEEN 1 AND 10", name="ck_ratings_value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own on user_id: the unique (user_id, item_id) one serves it.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id"), index=True)
    value: Mapped[int]
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(40))

    item: Mapped[MediaItem] = relationship()


class WatchRecord(db.Model):
    """One play. Named apart from the contract's ``WatchEvent`` value it is turned into."""

    __tablename__ = "watch_events"
    __table_args__ = (Index("ix_watch_events_user_time", "user_id", "watched_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("media_items.id"))
    watched_at: Mapped[datetime] = mapped_column(UTCDateTime)

    item: Mapped[MediaItem] = relationship()


class JobScheduleRow(db.Model):
    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cron: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(default=True)


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_name", "name", "id"),)

    STATUSES = ("queued", "running", "succeeded", "failed")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    log: Mapped[str] = mapped_column(Text, default="")
    progress_done: Mapped[int | None]
    progress_total: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")


HOST_TABLES = [m.__table__ for m in (User, MediaItem, Rating, WatchRecord, JobScheduleRow, JobRun)]


def create_host_tables() -> None:
    """Creates the host's tables only: plugin tables come from their own migrations."""
    db.metadata.create_all(db.engine, tables=HOST_TABLES)
