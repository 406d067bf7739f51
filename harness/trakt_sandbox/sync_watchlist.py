"""``/sync/watchlist``: the user's watchlist with ranks, sorting, notes and account limits.

Adding past the tier's watchlist cap is 420 (``account_limits.py``, CONTRACT 6.6).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response

from harness.trakt_sandbox.account_limits import fresh_flags
from harness.trakt_sandbox.clock import iso, parse_moment, truncate_ms
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.matching import counts, resolve
from harness.trakt_sandbox.media import PLURAL, SINGULAR, Catalogue, Media, media_fields
from harness.trakt_sandbox.not_found import not_found_body
from harness.trakt_sandbox.paging import WATCHLIST, paginate
from harness.trakt_sandbox.protocol import (
    body,
    current_user,
    error_response,
    images_host,
    json_response,
    user_required,
    wants_full,
)
from harness.trakt_sandbox.state import Listed, User

bp = Blueprint("sync_watchlist", __name__)
TYPES = {"all": None, **{plural: kind for plural, kind in SINGULAR.items()}}
NOTES_MAX = 500
UPGRADE_URL = "https://app.trakt.tv/vip"
# Sort keys the sandbox applies; anything else Trakt knows falls back to rank.
SORTS = {
    "rank": lambda item: item["rank"],
    "added": lambda item: item["listed_at"],
    "title": lambda item: _title(item).lower(),
    "released": lambda item: _media_of(item).get("released") or "",
    "runtime": lambda item: item["_media"].runtime,
    "popularity": lambda item: item["_media"].watchers,
    "percentage": lambda item: item["_media"].rating,
    "votes": lambda item: item["_media"].votes,
}


def _media_of(item: dict[str, Any]) -> dict[str, Any]:
    return item[item["type"]]


def _title(item: dict[str, Any]) -> str:
    media: Media = item["_media"]
    return media.show.title if media.show is not None else media.title


def watchlist_items(
    user: User,
    catalogue: Catalogue,
    kind: str | None = None,
    full: bool = False,
    images: str | None = None,
) -> list[dict[str, Any]]:
    """Items in rank order; ``_media`` is kept for sorting and stripped before answering."""
    items = []
    for rank, ((media_kind, trakt), listed) in enumerate(user.watchlist.items(), start=1):
        media = catalogue.get(media_kind, trakt)
        if media is None or (kind and media_kind != kind):
            continue
        items.append(
            {
                "rank": rank,
                "id": listed.id,
                "listed_at": iso(listed.listed_at),
                "notes": listed.notes,
                "type": media_kind,
                **media_fields(media, full, images),
                "_media": media,
            }
        )
    return items


def public(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "_media"} for item in items]


def list_summary(user: User) -> dict[str, Any]:
    return {
        "updated_at": iso(user.activities.values["watchlist"]["updated_at"]),
        "item_count": len(user.watchlist),
    }


def touch_watchlist(user: User, now: datetime, kinds: Iterable[str]) -> None:
    paths = {f"{PLURAL[kind]}.watchlisted_at" for kind in kinds}
    if paths:
        user.activities.touch(now, *sorted(paths), "watchlist.updated_at")


def drop_watched(user: User, watched: Iterable[Media]) -> set[str]:
    """Auto-removal: watching an item removes it, its season and its show (CONTRACT 6.6)."""
    removed: set[str] = set()
    for media in watched:
        for item in (media, media.season, media.show):
            if item is not None and user.watchlist.pop(item.key, None) is not None:
                removed.add(item.kind)
    return removed


def watchlist_response(
    user: User, type_: str = "all", sort_by: str = "rank", sort_how: str = "asc"
) -> Response:
    """A user's watchlist, for ``/sync/watchlist/...`` and ``/users/{id}/watchlist/...``."""
    if type_ not in TYPES:
        return error_response(404, "not_found", f"unknown type {type_!r}")
    sb = sandbox()
    with sb.state.lock:
        items = watchlist_items(user, sb.catalogue, TYPES[type_], wants_full(), images_host())
    applied_by = sort_by if sort_by in SORTS else "rank"
    applied_how = "desc" if sort_how == "desc" else "asc"
    items.sort(key=SORTS[applied_by], reverse=applied_how == "desc")
    page, headers = paginate(items, WATCHLIST)
    headers.update(
        {
            "X-Sort-By": "rank",
            "X-Sort-How": "asc",
            "X-Applied-Sort-By": applied_by,
            "X-Applied-Sort-How": applied_how,
        }
    )
    return json_response(public(page), 200, headers)


@bp.get("/sync/watchlist")
@bp.get("/sync/watchlist/<type_>")
@bp.get("/sync/watchlist/<type_>/<sort_by>")
@bp.get("/sync/watchlist/<type_>/<sort_by>/<sort_how>")
@user_required
def list_watchlist(type_: str = "all", sort_by: str = "rank", sort_how: str = "asc") -> Response:
    return watchlist_response(current_user(), type_, sort_by, sort_how)


@bp.post("/sync/watchlist")
@user_required
def add_to_watchlist() -> Response:
    sb, user = sandbox(), current_user()
    resolution = resolve(sb.catalogue, body())
    now = truncate_ms(sb.clock.now())
    for target in resolution.targets:
        notes = target.fields.get("notes")
        if notes and not user.vip:
            return error_response(
                426, "vip_only", "notes are a VIP feature", {"X-Upgrade-URL": UPGRADE_URL}
            )
        if notes is not None and (not isinstance(notes, str) or len(notes) > NOTES_MAX):
            return error_response(
                422,
                "validation_failed",
                f"notes must be a string of at most {NOTES_MAX} characters",
            )
    added, existing = counts(), counts()
    limits = sb.account_limits
    with sb.state.lock:
        fresh = fresh_flags((t.media.key for t in resolution.targets), user.watchlist)
        admitted, crossed = limits.admit("watchlist", user, len(user.watchlist), fresh)
        for target in resolution.targets[:admitted]:
            plural = PLURAL[target.media.kind]
            if target.media.key in user.watchlist:
                existing[plural] += 1
                continue
            listed_at = parse_moment(target.fields.get("listed_at")) or now
            user.watchlist[target.media.key] = Listed(
                sb.state.next_id("list"), truncate_ms(listed_at), target.fields.get("notes")
            )
            added[plural] += 1
        touch_watchlist(user, sb.clock.now(), [SINGULAR[p] for p, n in added.items() if n])
        summary = list_summary(user)
    if crossed:
        return limits.refusal("watchlist", user)
    return json_response(
        {
            "added": added,
            "existing": existing,
            "not_found": not_found_body(resolution.misses),
            "list": summary,
        },
        201,
    )


@bp.post("/sync/watchlist/remove")
@user_required
def remove_from_watchlist() -> Response:
    sb, user = sandbox(), current_user()
    resolution = resolve(sb.catalogue, body())
    deleted = counts()
    with sb.state.lock:
        for target in resolution.targets:
            if user.watchlist.pop(target.media.key, None) is not None:
                deleted[PLURAL[target.media.kind]] += 1
        touch_watchlist(user, sb.clock.now(), [SINGULAR[p] for p, n in deleted.items() if n])
        summary = list_summary(user)
    return json_response(
        {"deleted": deleted, "not_found": not_found_body(resolution.misses), "list": summary}, 200
    )
