"""``/sync/ratings``: read, add or update, and remove a user's 1-10 ratings (CONTRACT 6.2-6.4).

Adding is capped per account tier (``account_limits.py``): a new rating past the cap is
420; re-rating a rated title takes no room.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response

from harness.trakt_sandbox.account_limits import fresh_flags
from harness.trakt_sandbox.clock import iso, parse_moment, truncate_ms
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.matching import counts, resolve
from harness.trakt_sandbox.media import PLURAL, SINGULAR, Catalogue, Media, media_fields
from harness.trakt_sandbox.not_found import not_found_body
from harness.trakt_sandbox.paging import RATINGS, paginate
from harness.trakt_sandbox.protocol import (
    body,
    current_user,
    error_response,
    json_response,
    user_required,
    wants_full,
)
from harness.trakt_sandbox.state import Rated, User

bp = Blueprint("sync_ratings", __name__)
TYPES = {"all": None, **{plural: kind for plural, kind in SINGULAR.items()}}


def rating_items(
    user: User,
    catalogue: Catalogue,
    kind: str | None = None,
    values: frozenset[int] | None = None,
    full: bool = False,
) -> list[dict]:
    """The user's ratings as Trakt lists them: newest first, each with its ``type``."""
    entries = sorted(user.ratings.items(), key=lambda kv: (kv[1].rated_at, kv[0]), reverse=True)
    items = []
    for (media_kind, trakt), rated in entries:
        if (kind and media_kind != kind) or (values and rated.rating not in values):
            continue
        media = catalogue.get(media_kind, trakt)
        if media is not None:
            items.append(
                {
                    "rated_at": iso(rated.rated_at),
                    "rating": rated.rating,
                    "type": media_kind,
                    **media_fields(media, full),
                }
            )
    return items


def valid_rating(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10


def ratings_response(user: User, type_: str = "all", rating: str | None = None) -> Response:
    """A user's ratings, for ``/sync/ratings/...`` and ``/users/{id}/ratings/...`` alike."""
    if type_ not in TYPES:
        return error_response(404, "not_found", f"unknown type {type_!r}")
    values = None
    if rating is not None:
        try:
            values = frozenset(int(part) for part in rating.split(","))
        except ValueError:
            return error_response(404, "not_found", "ratings are 1 to 10")
    sb = sandbox()
    with sb.state.lock:
        items = rating_items(user, sb.catalogue, TYPES[type_], values, wants_full())
    page, headers = paginate(items, RATINGS)
    return json_response(page, 200, headers)


@bp.get("/sync/ratings")
@bp.get("/sync/ratings/<type_>")
@bp.get("/sync/ratings/<type_>/<rating>")
@user_required
def list_ratings(type_: str = "all", rating: str | None = None) -> Response:
    return ratings_response(current_user(), type_, rating)


@bp.post("/sync/ratings")
@user_required
def add_ratings() -> Response:
    sb, user = sandbox(), current_user()
    resolution = resolve(sb.catalogue, body(), own_key="rating")
    now = truncate_ms(sb.clock.now())
    planned = []
    for target in resolution.targets:
        if not valid_rating(target.fields.get("rating")):
            return error_response(422, "validation_failed", "rating must be an integer 1-10")
        rated_at = now
        if target.fields.get("rated_at") is not None:
            rated_at = parse_moment(target.fields["rated_at"])
            if rated_at is None:
                return error_response(422, "validation_failed", "rated_at is not a date")
        planned.append((target.media, Rated(target.fields["rating"], truncate_ms(rated_at))))
    added, crossed = store_ratings(user, planned)
    if crossed:
        return sb.account_limits.refusal("ratings", user)
    return json_response({"added": added, "not_found": not_found_body(resolution.misses)}, 201)


def store_ratings(user: User, planned: list[tuple[Media, Rated]]) -> tuple[dict[str, int], bool]:
    """Adds or updates ratings within the account's cap, and marks the activity the sync
    reads; the API and the sandbox's own ratings page (``site.py``) both rate through it.
    Returns the counts added per type and whether the batch crossed the cap."""
    sb = sandbox()
    added = counts()
    limits = sb.account_limits
    with sb.state.lock:
        fresh = fresh_flags((media.key for media, _ in planned), user.ratings)
        admitted, crossed = limits.admit("ratings", user, len(user.ratings), fresh)
        for media, rated in planned[:admitted]:
            user.ratings[media.key] = rated
            added[PLURAL[media.kind]] += 1
        touched = [f"{plural}.rated_at" for plural, n in added.items() if n]
        if touched:
            user.activities.touch(sb.clock.now(), *touched)
    return added, crossed


def drop_ratings(user: User, medias: Iterable[Media]) -> dict[str, int]:
    """Removes ratings (the API's ``/sync/ratings/remove`` and the ratings page)."""
    sb = sandbox()
    deleted = counts()
    with sb.state.lock:
        for media in medias:
            # An item that exists but was never rated is neither deleted nor not_found.
            if user.ratings.pop(media.key, None) is not None:
                deleted[PLURAL[media.kind]] += 1
        touched = [f"{plural}.rated_at" for plural, n in deleted.items() if n]
        if touched:
            user.activities.touch(sb.clock.now(), *touched)
    return deleted


@bp.post("/sync/ratings/remove")
@user_required
def remove_ratings() -> Response:
    sb, user = sandbox(), current_user()
    resolution = resolve(sb.catalogue, body())
    deleted = drop_ratings(user, (target.media for target in resolution.targets))
    return json_response({"deleted": deleted, "not_found": not_found_body(resolution.misses)}, 200)
