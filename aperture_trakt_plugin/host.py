"""The host contract: everything the host and this plugin say to each other.

One file on purpose. The hookspecs are what the host calls; `HostServices` is what the
host hands to the plugin at setup; the dataclasses are the values that cross between
them. A host (the reference host in ``harness/reference_host`` or a real Aperture) loads the
spec with ``pm.add_hookspecs(AperturePluginSpec)`` and registers plugins found under
the ``aperture.plugins`` entry point group. Everything here is plain data or a
Protocol, so a host can implement it without importing the rest of the plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint, Flask
    from markupsafe import Markup
    from redis import Redis
    from rq import Queue

PROJECT = "aperture"
ENTRY_POINT_GROUP = "aperture.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

MediaKind = Literal["movie", "show", "season", "episode"]


# --- values that cross the boundary -------------------------------------------------
# The per-item values are named tuples: a sync of a heavy Trakt user makes several hundred
# thousand of them, and a named tuple is built about eight times faster than a frozen
# dataclass (2.1 µs against 0.27 µs for a ``MediaRef`` with its ids) in less memory.
# Their fields are read by name; nothing should rely on them being tuples.


class ExternalIds(NamedTuple):
    """Ids a media item is known by outside the host. Any of them may be missing."""

    tmdb: int | None = None
    imdb: str | None = None
    tvdb: int | None = None
    trakt: int | None = None

    def any(self) -> bool:
        return any(v is not None and v != "" for v in self)


class MediaRef(NamedTuple):
    """A media item as the host knows it.

    ``item_id`` is the host's own key; it is ``None`` for something the host does not
    hold. Seasons and episodes carry the ids of their show in ``ids`` and their position
    in ``season``/``episode``, because that is how they are matched (never by title).
    """

    kind: MediaKind
    ids: ExternalIds
    item_id: str | None = None
    title: str = ""
    year: int | None = None
    season: int | None = None
    episode: int | None = None


@dataclass(frozen=True)
class HostUser:
    id: int
    name: str
    is_admin: bool = False


class HostRating(NamedTuple):
    """A 1-10 rating in the host. ``rated_at`` is timezone-aware UTC."""

    user_id: int
    media: MediaRef
    value: int
    rated_at: datetime
    source: str


class RatingWrite(NamedTuple):
    """One change of a bulk write: ``value`` None removes the rating; ``at`` is the
    change's own time (kept as ``rated_at``), not the time it is written."""

    item_id: str
    value: int | None
    at: datetime


class RatingChange(NamedTuple):
    """One rating a bulk write changed, as ``aperture_ratings_changed`` reports it:
    ``value`` None is a removal, ``previous`` None a new rating. The item by its host id
    only (``get_media`` has the rest): most listeners need no more, and building a
    ``MediaRef`` for each of 100,000 changes cost the host a second."""

    item_id: str
    value: int | None
    previous: int | None
    at: datetime


@dataclass(frozen=True)
class WatchEvent:
    user_id: int
    media: MediaRef
    watched_at: datetime


@dataclass(frozen=True)
class JobDefinition:
    """A job the host's Admin -> Jobs screen lists, schedules and can run now.

    ``func`` is the dotted path of an RQ entry point taking ``run_id`` (an ``int`` the
    host's run log knows, or ``None`` for a scheduled run, which opens its own run).
    """

    name: str
    label: str
    description: str
    func: str
    default_cron: str | None = None
    queue: str = "default"
    timeout: int = 3600


@dataclass(frozen=True)
class JobSchedule:
    name: str
    cron: str | None
    enabled: bool


@dataclass
class DiscoveryCandidate:
    kind: MediaKind
    title: str
    year: int | None
    ids: ExternalIds
    sources: list[str] = field(default_factory=list)
    reason: str = ""
    score: float = 0.0
    in_library: MediaRef | None = None
    #: An https URL of a small poster (Trakt's ``images``, checked before it is kept) or
    #: None: the page then shows a placeholder. Load it with ``referrerpolicy=no-referrer``.
    poster: str | None = None


@dataclass(frozen=True)
class DiscoverySource:
    """A discovery source. ``scope`` is ``global`` (same for every user) or ``user``.

    ``fetch(user_id, media_type, limit)`` must not call the network: sources read
    caches that jobs fill, so a page never waits on a third party.
    """

    id: str
    label: str
    scope: Literal["global", "user"]
    fetch: Callable[[int | None, str, int], list[DiscoveryCandidate]]
    #: Where a page POSTs a candidate the signed-in user is not interested in (form
    #: fields ``kind``, ``title``, its ids ``tmdb``/``imdb``/``tvdb``/``trakt``, ``next``
    #: and ``csrf_token``); the plugin hides it and redirects to ``next``. None: this
    #: source cannot hide titles, and the page shows no button.
    hide_url: str | None = None


class JobRunContext(Protocol):
    """What a running job reports to the host's run log."""

    run_id: int

    def log(self, message: str) -> None: ...

    def progress(self, done: int, total: int | None = None) -> None: ...


# --- what the host provides ------------------------------------------------------------


@runtime_checkable
class HostServices(Protocol):
    """Services the host hands to plugins in ``aperture_plugin_setup``.

    All times are timezone-aware UTC. Methods that write (``apply_rating``,
    ``remove_rating``) commit and then fire the rating hooks with the ``source`` given,
    so a plugin can recognise and ignore its own writes.
    """

    @property
    def db(self) -> Any:
        """The host's Flask-SQLAlchemy instance; plugins use ``db.session`` and ``db.engine``."""

    def get_user(self, user_id: int) -> HostUser | None: ...

    def get_user_by_name(self, name: str) -> HostUser | None: ...

    def list_users(self) -> list[HostUser]: ...

    def current_user(self) -> HostUser | None:
        """The user of the current request, or ``None`` outside a logged-in request."""

    def login_required(self, view: Callable[..., Any]) -> Callable[..., Any]: ...

    def admin_required(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Wraps a view so that anyone but an admin gets 403."""

    def find_media(
        self,
        kind: MediaKind,
        ids: ExternalIds,
        season: int | None = None,
        episode: int | None = None,
    ) -> MediaRef | None:
        """The library item with any of these ids (for seasons/episodes: of the show)."""

    def find_media_bulk(self, refs: Sequence[MediaRef]) -> list[MediaRef | None]:
        """``find_media`` for many at once, in order; hosts answer it in a few queries."""

    def get_media(self, item_id: str) -> MediaRef | None: ...

    def get_media_bulk(self, item_ids: Sequence[str]) -> list[MediaRef | None]:
        """``get_media`` for many at once, in order (None: not in the library). A push
        after a host import looks up thousands of items; one query per item took most
        of its time."""

    def list_ratings(self, user_id: int) -> list[HostRating]: ...

    def apply_rating(
        self, user_id: int, item_id: str, value: int, rated_at: datetime, source: str
    ) -> None: ...

    def remove_rating(
        self, user_id: int, item_id: str, removed_at: datetime, source: str
    ) -> None: ...

    def apply_ratings(self, user_id: int, writes: Sequence[RatingWrite], source: str) -> None:
        """Many sets and removals in one transaction, then one ``aperture_ratings_changed``
        event listing what changed (removing an unrated item is no change). A sync of a
        large Trakt account needs this: one commit per rating would take minutes."""

    def watch_history(self, user_id: int, since: datetime | None = None) -> list[WatchEvent]: ...

    @property
    def redis(self) -> Redis: ...

    def queue(self, name: str = "default") -> Queue: ...

    def job_schedules(self) -> dict[str, JobSchedule]:
        """The schedules saved on the jobs screen, by job name."""

    def job_context(
        self, name: str, run_id: int | None = None
    ) -> AbstractContextManager[JobRunContext]:
        """Opens (or continues) a run in the host's run log; records the outcome on exit."""

    def public_base_url(self) -> str:
        """The URL users reach the server at, without a trailing slash."""

    def page_layout(self) -> str | None:
        """The host's page template that the plugin's own pages (the sync status pages)
        extend, so they appear inside the host's pages with its menus; it defines the
        blocks ``title``, ``head`` and ``content``. ``None``: the pages stand alone."""


# --- the hooks ---------------------------------------------------------------------------


class AperturePluginSpec:
    """Hook specifications. Hosts call these; plugins implement the ones they need."""

    # The bodies never run: pluggy reads only the signatures. A hook that returns a value
    # raises NotImplementedError, mypy's word for a body that is only a specification.

    # lifecycle
    @hookspec(historic=True)
    def aperture_plugin_setup(self, app: Flask, host: HostServices) -> None:
        """Called once per app after the host is ready. Plugins keep ``host`` in
        ``app.extensions``, set their config defaults and register what they need."""

    @hookspec
    def aperture_blueprints(self, app: Flask) -> Sequence[Blueprint]:
        """Blueprints the host registers on ``app``."""
        raise NotImplementedError

    @hookspec
    def aperture_migration_locations(self) -> Sequence[tuple[str, str, str]]:
        """``(name, script_location, version_table)`` of each Alembic lineage a plugin
        owns. The host upgrades each to head with its own engine."""
        raise NotImplementedError

    @hookspec
    def aperture_cli_commands(self) -> Sequence[click.Command]:
        """Click commands or groups the host adds to its ``flask`` command line."""
        raise NotImplementedError

    # UI slots
    @hookspec
    def aperture_tpl_admin_integrations(self, user: HostUser) -> Markup | None:
        """HTML for Admin -> Settings -> Setup -> Integrations."""

    @hookspec
    def aperture_tpl_profile_sections(self, user: HostUser) -> Markup | None:
        """HTML for User Settings -> Profile."""

    @hookspec
    def aperture_tpl_admin_jobs(self, user: HostUser) -> Markup | None:
        """HTML for Admin -> Jobs, above the job list (e.g. runs waiting for a decision)."""

    # jobs screen
    @hookspec
    def aperture_job_definitions(self) -> Sequence[JobDefinition]:
        """Jobs the Admin -> Jobs screen lists."""
        raise NotImplementedError

    @hookspec
    def aperture_job_schedule_changed(self, name: str, cron: str | None, enabled: bool) -> None:
        """An admin saved a schedule; the owner of the job reschedules it."""

    # domain events: called after commit; implementations only record and enqueue
    @hookspec
    def aperture_rating_changed(
        self,
        user_id: int,
        media: MediaRef,
        value: int,
        previous: int | None,
        rated_at: datetime,
        source: str,
    ) -> None:
        """A rating was set or changed in the host."""

    @hookspec
    def aperture_rating_removed(
        self, user_id: int, media: MediaRef, previous: int | None, removed_at: datetime, source: str
    ) -> None:
        """A rating was removed in the host."""

    @hookspec
    def aperture_ratings_changed(
        self, user_id: int, changes: Sequence[RatingChange], source: str
    ) -> None:
        """Many ratings changed in one write (``apply_ratings``: an import, a sync).

        One event for the whole write instead of one per rating: a first sync writes
        100,000 ratings, and an event each cost more than writing them."""

    @hookspec
    def aperture_library_changed(
        self, added: Sequence[MediaRef], removed: Sequence[MediaRef]
    ) -> None:
        """Items arrived in or left the library."""

    @hookspec
    def aperture_user_deleted(self, user_id: int) -> None:
        """A user was deleted; plugins drop what they hold for that user."""

    # discovery
    @hookspec
    def aperture_discovery_sources(self) -> Sequence[DiscoverySource]:
        """Discovery sources this plugin offers."""
        raise NotImplementedError


def iter_hook_names() -> Iterator[str]:
    """Names of all hookspecs, for manifest and documentation checks."""
    return (name for name in vars(AperturePluginSpec) if name.startswith("aperture_"))
