"""The plugin's hook implementations (entry point ``aperture.plugins: trakt``).

Thin on purpose: each hook hands over to the module that owns the work, so the host
contract can be read here in one screen. Hooks that render use ``current_app``; the
host calls them inside a request.

Each hook imports what it hands over to when it is called, not here: every web worker,
RQ worker, scheduler and ``flask`` command of the host imports this module, and most
use a few of the hooks (``bench/import_time.py`` measures what that costs).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import click
from flask import Blueprint, Flask
from markupsafe import Markup

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.host import (
    DiscoverySource,
    HostServices,
    HostUser,
    JobDefinition,
    MediaRef,
    RatingChange,
    hookimpl,
)


@hookimpl
def aperture_plugin_setup(app: Flask, host: HostServices) -> None:
    from aperture_trakt_plugin.queueing import scheduling
    from aperture_trakt_plugin.web.blueprint import create_blueprint

    extension.init_app(app, host).blueprint = create_blueprint(host)
    with app.app_context():
        scheduling.reconcile()  # a fresh install gets the default schedule


@hookimpl
def aperture_blueprints(app: Flask) -> Sequence[Blueprint]:
    blueprint = extension.state(app).blueprint
    return [blueprint] if blueprint is not None else []


@hookimpl
def aperture_migration_locations() -> Sequence[tuple[str, str, str]]:
    from aperture_trakt_plugin.storage import migrate

    return [migrate.location()]


@hookimpl
def aperture_cli_commands() -> Sequence[click.Command]:
    from aperture_trakt_plugin.cli import commands

    return commands()


@hookimpl
def aperture_tpl_admin_integrations(user: HostUser) -> Markup | None:
    if not user.is_admin:
        return None
    from aperture_trakt_plugin.web.admin import render_admin_card

    return render_admin_card(user)


@hookimpl
def aperture_tpl_profile_sections(user: HostUser) -> Markup | None:
    from aperture_trakt_plugin.web.profile import render_profile_card

    return render_profile_card(user)


@hookimpl
def aperture_rating_changed(
    user_id: int, media: MediaRef, value: int, previous: int | None, rated_at: datetime, source: str
) -> None:
    from aperture_trakt_plugin.usecases import outbox

    outbox.record_many(user_id, [(media.item_id, value, rated_at)], source)


@hookimpl
def aperture_rating_removed(
    user_id: int, media: MediaRef, previous: int | None, removed_at: datetime, source: str
) -> None:
    from aperture_trakt_plugin.usecases import outbox

    outbox.record_many(user_id, [(media.item_id, None, removed_at)], source)


@hookimpl
def aperture_ratings_changed(user_id: int, changes: Sequence[RatingChange], source: str) -> None:
    from aperture_trakt_plugin.usecases import outbox

    outbox.record_many(user_id, ((c.item_id, c.value, c.at) for c in changes), source)


@hookimpl
def aperture_library_changed(added: Sequence[MediaRef], removed: Sequence[MediaRef]) -> None:
    if added:
        from aperture_trakt_plugin.usecases import jobs

        jobs.enqueue_library_arrivals()


@hookimpl
def aperture_user_deleted(user_id: int) -> None:
    """Forgets the user's tokens and sync state; revoking would need the network, and
    Trakt lists the app under the user's own connected apps to remove."""
    from aperture_trakt_plugin.accounts import tokens
    from aperture_trakt_plugin.discovery import cache as discovery_cache
    from aperture_trakt_plugin.discovery import hide as discovery_hide
    from aperture_trakt_plugin.usecases import jobs, outbox

    tokens.store().delete(user_id)
    outbox.forget_user(user_id)
    discovery_cache.forget_user(user_id)
    discovery_hide.forget_user(user_id)
    jobs.cancel_user_jobs(user_id)


@hookimpl
def aperture_job_definitions() -> Sequence[JobDefinition]:
    from aperture_trakt_plugin.queueing import scheduling

    return scheduling.definitions()


@hookimpl
def aperture_job_schedule_changed(name: str, cron: str | None, enabled: bool) -> None:
    from aperture_trakt_plugin.queueing import scheduling

    scheduling.reconcile(name, cron, enabled)


@hookimpl
def aperture_tpl_admin_jobs(user: HostUser) -> Markup | None:
    if not user.is_admin:
        return None
    from aperture_trakt_plugin.web.status import render_blocked_syncs

    return render_blocked_syncs()


@hookimpl
def aperture_discovery_sources() -> Sequence[DiscoverySource]:
    """Trakt Recommended, your Trakt watchlist, Trakt Trending and Trakt Popular; they
    read the caches the ``refresh-trakt-discovery`` job fills, never Trakt itself."""
    from aperture_trakt_plugin.discovery.sources import discovery_sources

    return discovery_sources()
