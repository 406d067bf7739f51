"""Small plugins the host's own tests register, so the host is tested without Trakt.

They live in the package (not in a test file) because the worker process imports them by
dotted path: ``APERTURE_PLUGINS=harness.reference_host.testplugins:jobs_plugin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from markupsafe import Markup

from aperture_trakt_plugin.host import (
    DiscoveryCandidate,
    DiscoverySource,
    ExternalIds,
    HostServices,
    HostUser,
    JobDefinition,
    MediaRef,
    RatingChange,
    hookimpl,
)

COUNT_JOB = "demo-count"
FAILING_JOB = "demo-fail"


class Recorder:
    """Records every event the host fires, in order, with its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.host: HostServices | None = None

    def named(self, hook: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == hook]

    @hookimpl
    def aperture_plugin_setup(self, app: Flask, host: HostServices) -> None:
        self.host = host
        self.calls.append(("aperture_plugin_setup", {"app": app, "host": host}))

    @hookimpl
    def aperture_rating_changed(
        self,
        user_id: int,
        media: MediaRef,
        value: int,
        previous: int | None,
        rated_at: datetime,
        source: str,
    ) -> None:
        self.calls.append(
            (
                "aperture_rating_changed",
                {
                    "user_id": user_id,
                    "media": media,
                    "value": value,
                    "previous": previous,
                    "rated_at": rated_at,
                    "source": source,
                },
            )
        )

    @hookimpl
    def aperture_rating_removed(
        self, user_id: int, media: MediaRef, previous: int | None, removed_at: datetime, source: str
    ) -> None:
        self.calls.append(
            (
                "aperture_rating_removed",
                {
                    "user_id": user_id,
                    "media": media,
                    "previous": previous,
                    "removed_at": removed_at,
                    "source": source,
                },
            )
        )

    @hookimpl
    def aperture_ratings_changed(
        self, user_id: int, changes: Sequence[RatingChange], source: str
    ) -> None:
        self.calls.append(
            (
                "aperture_ratings_changed",
                {"user_id": user_id, "changes": list(changes), "source": source},
            )
        )

    @hookimpl
    def aperture_job_schedule_changed(self, name: str, cron: str | None, enabled: bool) -> None:
        self.calls.append(
            ("aperture_job_schedule_changed", {"name": name, "cron": cron, "enabled": enabled})
        )

    @hookimpl
    def aperture_library_changed(
        self, added: Sequence[MediaRef], removed: Sequence[MediaRef]
    ) -> None:
        self.calls.append(
            ("aperture_library_changed", {"added": list(added), "removed": list(removed)})
        )

    @hookimpl
    def aperture_user_deleted(self, user_id: int) -> None:
        self.calls.append(("aperture_user_deleted", {"user_id": user_id}))


class BrokenRatingPlugin:
    """Fails on every rating event, as a buggy plugin would."""

    @hookimpl
    def aperture_rating_changed(
        self,
        user_id: int,
        media: MediaRef,
        value: int,
        previous: int | None,
        rated_at: datetime,
        source: str,
    ) -> None:
        raise RuntimeError("plugin bug")


class SlotsPlugin:
    @hookimpl
    def aperture_tpl_profile_sections(self, user: HostUser) -> Markup:
        return Markup('<p id="test-profile-slot">Profile slot for {}</p>').format(user.name)

    @hookimpl
    def aperture_tpl_admin_integrations(self, user: HostUser) -> Markup:
        return Markup('<p id="test-admin-slot">Integrations slot for {}</p>').format(user.name)


def count_job(run_id: int | None = None, upto: int = 3) -> int:
    """Logs and reports progress the way a sync job does."""
    host = current_app.extensions["aperture_host"]
    with host.job_context(COUNT_JOB, run_id) as run:
        run.log(f"counting to {upto}")
        for n in range(1, upto + 1):
            run.progress(n, upto)
            run.log(f"counted {n}")
        run.log("done counting")
    return upto


def failing_job(run_id: int | None = None) -> None:
    host = current_app.extensions["aperture_host"]
    with host.job_context(FAILING_JOB, run_id) as run:
        run.log("about to fail")
        raise RuntimeError("the job broke on purpose")


class JobsPlugin:
    @hookimpl
    def aperture_job_definitions(self) -> Sequence[JobDefinition]:
        return [
            JobDefinition(
                name=COUNT_JOB,
                label="Count to three",
                description="Logs three steps.",
                func=f"{__name__}.count_job",
                default_cron="*/30 * * * *",
                queue="default",
            ),
            JobDefinition(
                name=FAILING_JOB,
                label="Always fails",
                description="Raises on purpose.",
                func=f"{__name__}.failing_job",
                queue="default",
            ),
        ]


def _static_candidates(
    user_id: int | None, media_type: str, limit: int
) -> list[DiscoveryCandidate]:
    host: HostServices = current_app.extensions["aperture_host"]
    if media_type != "movies":
        return []
    wanted = [
        ("The Matrix", 1999, ExternalIds(tmdb=603, imdb="tt0133093")),
        ("Not In Any Library", 2031, ExternalIds(tmdb=999_999_901)),
    ]
    found = host.find_media_bulk([MediaRef(kind="movie", ids=ids) for _, _, ids in wanted])
    return [
        DiscoveryCandidate(
            kind="movie",
            title=title,
            year=year,
            ids=ids,
            sources=["static"],
            reason=f"picked for user {user_id}",
            in_library=ref,
        )
        for (title, year, ids), ref in zip(wanted, found, strict=True)
    ][:limit]


class DiscoveryPlugin:
    @hookimpl
    def aperture_discovery_sources(self) -> Sequence[DiscoverySource]:
        return [
            DiscoverySource(
                id="static", label="Static picks", scope="user", fetch=_static_candidates
            )
        ]


jobs_plugin = JobsPlugin()


class CommitProbe:
    """Reads the rating back over its own connection while handling the event: it sees
    the new value only if the host committed before calling the hook."""

    def __init__(self) -> None:
        self.seen: list[int | None] = []

    @hookimpl
    def aperture_rating_changed(
        self,
        user_id: int,
        media: MediaRef,
        value: int,
        previous: int | None,
        rated_at: datetime,
        source: str,
    ) -> None:
        from sqlalchemy import text

        engine = current_app.extensions["aperture_host"].db.engine
        with engine.connect() as connection:
            self.seen.append(
                connection.execute(
                    text("SELECT value FROM ratings WHERE user_id = :u AND item_id = :i"),
                    {"u": user_id, "i": int(media.item_id)},
                ).scalar()
            )


class MigratingPlugin:
    """Owns a one-step Alembic lineage with its own version table."""

    @hookimpl
    def aperture_migration_locations(self) -> Sequence[tuple[str, str, str]]:
        from pathlib import Path

        return [("probe", str(Path(__file__).parent / "testmigrations"), "alembic_version_probe")]
