"""``/sync/history``: plays, one event per POSTed watch, newest first (CONTRACT 6.5).

Plays summed per title (``/sync/watched``) are ``sync_watched.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from harness.trakt_sandbox.clock import EPOCH, iso, parse_moment, truncate_ms
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.matching import resolve
from harness.trakt_sandbox.media import SINGULAR, Catalogue, Media, media_fields
from harness.trakt_sandbox.not_found import not_found_body
from harness.trakt_sandbox.paging import HISTORY, paginate
from harness.trakt_sandbox.protocol import (
    body,
    current_user,
    error_response,
    json_response,
    user_required,
    wants_full,
)
from harness.trakt_sandbox.state import Play, User
from harness.trakt_sandbox.sync_watchlist import drop_watched, touch_watchlist

bp = Blueprint("sync_history", __name__)
PLAY_COUNTS = ("movies", "episodes")


def play_time(play: Play) -> datetime:
    """Plays recorded as "unknown" show the epoch [unverified: Trakt does not document it]."""
    return play.watched_at or EPOCH


def history_item(play: Play, media: Media, full: bool) -> dict[str, Any]:
    return {
        "id": play.id,
        "watched_at": iso(play_time(play)),
        "action": play.action,
        "type": media.kind,
        **media_fields(media, full),
    }


def history_items(
    user: User, catalogue: Catalogue, scope: Media | str | None = None, full: bool = False
) -> list[dict[str, Any]]:
    """Plays newest first. ``scope``: a kind ("movie"/"episode") or a title to narrow to."""
    plays = sorted(user.history, key=lambda p: (play_time(p), p.id), reverse=True)
    items = []
    for play in plays:
        media = catalogue.get(*play.key)
        if media is None or not _in_scope(media, scope):
            continue
        items.append(history_item(play, media, full))
    return items


def _in_scope(media: Media, scope: Media | str | None) -> bool:
    if scope is None:
        return True
    if isinstance(scope, str):
        return media.kind == scope
    return scope is media or scope is media.season or scope is media.show


def _watched_at(media: Media, value: Any, now: datetime) -> tuple[bool, datetime | None]:
    """(valid, moment) for a POSTed ``watched_at``: ISO, "released", "unknown" or absent."""
    if value is None:
        return True, now
    if value == "unknown":
        return True, None
    if value == "released":
        return True, parse_moment(media.released) or now
    moment = parse_moment(value)
    return moment is not None, moment


def history_response(user: User, type_: str | None = None, trakt_id: int | None = None) -> Response:
    """A user's plays, for ``/sync/history/...`` and ``/users/{id}/history/...``."""
    sb = sandbox()
    scope: Media | str | None = None
    if type_ is not None:
        if type_ not in SINGULAR:
            return error_response(404, "not_found", f"unknown type {type_!r}")
        kind = SINGULAR[type_]
        scope = "movie" if kind == "movie" else "episode"
        if trakt_id is not None:
            scope = sb.catalogue.get(kind, trakt_id)
            if scope is None:
                return error_response(404, "not_found", f"no {kind} {trakt_id}")
    with sb.state.lock:
        items = history_items(user, sb.catalogue, scope, wants_full())
    start = parse_moment(request.args.get("start_at"))
    end = parse_moment(request.args.get("end_at"))
    if start or end:
        items = [
            item
            for item in items
            if (not start or parse_moment(item["watched_at"]) >= start)
            and (not end or parse_moment(item["watched_at"]) <= end)
        ]
    page, headers = paginate(items, HISTORY)
    return json_response(page, 200, headers)


@bp.get("/sync/history")
@bp.get("/sync/history/<type_>")
@bp.get("/sync/history/<type_>/<int:trakt_id>")
@user_required
def list_history(type_: str | None = None, trakt_id: int | None = None) -> Response:
    return history_response(current_user(), type_, trakt_id)


@bp.post("/sync/history")
@user_required
def add_history() -> Response:
    sb, user = sandbox(), current_user()
    resolution = resolve(sb.catalogue, body())
    now = truncate_ms(sb.clock.now())
    planned: list[tuple[Media, datetime | None]] = []
    for target in resolution.targets:
        # A show or a season stands for all of its episodes.
        for media in [target.media] if target.media.kind == "movie" else target.media.episodes():
            valid, moment = _watched_at(media, target.fields.get("watched_at"), now)
            if not valid:
                return error_response(422, "validation_failed", "watched_at is not a date")
            planned.append((media, truncate_ms(moment) if moment else None))
    added = dict.fromkeys(PLAY_COUNTS, 0)
    limits = sb.account_limits
    with sb.state.lock:
        # Trakt keeps every play: each one takes room in the watched-history cap.
        admitted, crossed = limits.admit("history", user, len(user.history), [True] * len(planned))
        planned = planned[:admitted]
        for media, moment in planned:
            user.history.append(Play(sb.state.next_id("history"), media.key, moment))
            added["movies" if media.kind == "movie" else "episodes"] += 1
        touched = [f"{plural}.watched_at" for plural, n in added.items() if n]
        if touched:
            user.activities.touch(sb.clock.now(), *touched)
        touch_watchlist(user, sb.clock.now(), drop_watched(user, [m for m, _ in planned]))
    if crossed:
        return limits.refusal("history", user)
    return json_response({"added": added, "not_found": not_found_body(resolution.misses)}, 201)


@bp.post("/sync/history/remove")
@user_required
def remove_history() -> Response:
    sb, user = sandbox(), current_user()
    payload = body()
    resolution = resolve(sb.catalogue, payload)
    wanted_ids = payload.get("ids") if isinstance(payload, dict) else None
    wanted_ids = (
        [i for i in wanted_ids if isinstance(i, int)] if isinstance(wanted_ids, list) else []
    )
    doomed_media: set[tuple[str, int]] = set()
    for target in resolution.targets:
        media = target.media
        items = [media] if media.kind == "movie" else media.episodes()
        doomed_media.update(item.key for item in items)
    deleted = dict.fromkeys(PLAY_COUNTS, 0)
    with sb.state.lock:
        known_ids = {play.id for play in user.history}
        kept = []
        for play in user.history:
            if play.key in doomed_media or play.id in wanted_ids:
                deleted["movies" if play.key[0] == "movie" else "episodes"] += 1
            else:
                kept.append(play)
        user.history = kept
        touched = [f"{plural}.watched_at" for plural, n in deleted.items() if n]
        if touched:
            user.activities.touch(sb.clock.now(), *touched)
    not_found: dict[str, list[Any]] = not_found_body(resolution.misses)
    not_found["ids"] = [i for i in wanted_ids if i not in known_ids]
    return json_response({"deleted": deleted, "not_found": not_found}, 200)
