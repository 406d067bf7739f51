"""``DemoHostServices``: the reference implementation of the contract's ``HostServices``.

One instance per app, kept at ``app.extensions["aperture_host"]``. Every method works
inside the app's context; called outside one (a script, a test) it opens one, so
plugins never need to know which they are in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import flask_login
from flask import Flask, has_app_context, has_request_context, request
from redis import Redis
from rq import Queue
from sqlalchemy import select

from aperture_trakt_plugin.host import (
    ExternalIds,
    HostRating,
    HostUser,
    JobRunContext,
    JobSchedule,
    MediaKind,
    MediaRef,
    RatingWrite,
    WatchEvent,
)
from harness.reference_host import auth, jobs, media, ratings
from harness.reference_host.db import db
from harness.reference_host.models import User, WatchRecord

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

DEFAULT_BASE_URL = "http://localhost:5000"


def to_host_user(user: User) -> HostUser:
    return HostUser(id=user.id, name=user.name, is_admin=bool(user.is_admin))


class DemoHostServices:
    """Everything a plugin may ask the host for. See ``HostServices`` for the contract."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._redis: Redis | None = None

    @contextmanager
    def _context(self) -> Iterator[None]:
        if has_app_context():
            yield
        else:
            with self._app.app_context():
                yield

    @property
    def db(self) -> SQLAlchemy:
        return db

    # users

    def get_user(self, user_id: int) -> HostUser | None:
        with self._context():
            user = db.session.get(User, user_id)
            return to_host_user(user) if user else None

    def get_user_by_name(self, name: str) -> HostUser | None:
        with self._context():
            user = db.session.scalar(select(User).where(User.name == name))
            return to_host_user(user) if user else None

    def list_users(self) -> list[HostUser]:
        with self._context():
            return [to_host_user(u) for u in db.session.scalars(select(User).order_by(User.id))]

    def current_user(self) -> HostUser | None:
        if not has_request_context():
            return None
        user = flask_login.current_user
        if not user or not user.is_authenticated:
            return None
        return to_host_user(user)

    def login_required(self, view: Callable[..., Any]) -> Callable[..., Any]:
        return flask_login.login_required(view)

    def admin_required(self, view: Callable[..., Any]) -> Callable[..., Any]:
        return auth.admin_required(view)

    # media

    def find_media(
        self,
        kind: MediaKind,
        ids: ExternalIds,
        season: int | None = None,
        episode: int | None = None,
    ) -> MediaRef | None:
        with self._context():
            return media.find_one(kind, ids, season, episode)

    def find_media_bulk(self, refs: Sequence[MediaRef]) -> list[MediaRef | None]:
        with self._context():
            return media.find_bulk(refs)

    def get_media(self, item_id: str) -> MediaRef | None:
        with self._context():
            item = media.get_item(item_id)
            return media.to_ref(item) if item else None

    def get_media_bulk(self, item_ids: Sequence[str]) -> list[MediaRef | None]:
        with self._context():
            return media.get_bulk(item_ids)

    # ratings and history

    def list_ratings(self, user_id: int) -> list[HostRating]:
        with self._context():
            sources: dict[str, str] = {}  # one string per source, not one per rating
            new, ref = tuple.__new__, media.row_to_ref  # (see ``row_to_ref``)
            return [
                new(
                    HostRating,
                    (row[-4], ref(row), row[-3], row[-2], sources.setdefault(row[-1], row[-1])),
                )
                for row in ratings.rating_rows(user_id)
            ]

    def apply_rating(
        self, user_id: int, item_id: str, value: int, rated_at: datetime, source: str
    ) -> None:
        with self._context():
            ratings.apply_rating(user_id, item_id, value, rated_at, source)

    def remove_rating(self, user_id: int, item_id: str, removed_at: datetime, source: str) -> None:
        with self._context():
            ratings.remove_rating(user_id, item_id, removed_at, source)

    def apply_ratings(self, user_id: int, writes: Sequence[RatingWrite], source: str) -> None:
        with self._context():
            ratings.apply_ratings(user_id, writes, source)

    def watch_history(self, user_id: int, since: datetime | None = None) -> list[WatchEvent]:
        with self._context():
            stmt = (
                select(WatchRecord)
                .where(WatchRecord.user_id == user_id)
                .order_by(WatchRecord.watched_at)
                .options(db.joinedload(WatchRecord.item))
            )
            if since is not None:
                stmt = stmt.where(WatchRecord.watched_at >= since)
            return [
                WatchEvent(user_id=w.user_id, media=media.to_ref(w.item), watched_at=w.watched_at)
                for w in db.session.scalars(stmt)
            ]

    # redis and jobs

    @property
    def redis(self) -> Redis:
        """Created on first use: pages that need no Redis keep working while it is down."""
        if self._redis is None:
            self._redis = Redis.from_url(self._app.config["REDIS_URL"])
        return self._redis

    def queue(self, name: str = "default") -> Queue:
        return Queue(name, connection=self.redis)

    def job_schedules(self) -> dict[str, JobSchedule]:
        with self._context():
            return jobs.schedules()

    def job_context(
        self, name: str, run_id: int | None = None
    ) -> AbstractContextManager[JobRunContext]:
        if has_app_context():
            return jobs.job_context(name, run_id)
        return self._job_context_in_app(name, run_id)

    @contextmanager
    def _job_context_in_app(self, name: str, run_id: int | None) -> Iterator[JobRunContext]:
        with self._app.app_context(), jobs.job_context(name, run_id) as context:
            yield context

    def page_layout(self) -> str | None:
        return self._app.config["DEMO_PAGE_LAYOUT"] or None

    def public_base_url(self) -> str:
        configured = self._app.config.get("PUBLIC_BASE_URL")
        if configured:
            return str(configured).rstrip("/")
        if has_request_context():
            return request.host_url.rstrip("/")
        return DEFAULT_BASE_URL
