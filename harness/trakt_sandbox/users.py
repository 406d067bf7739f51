"""``/users/settings`` (the token's owner and account limits) and ``/users/{id}/...``.

``/users/{id}`` lists are the same lists ``/sync`` serves, read by user name (``me`` is
the token's owner): third-party clients such as pytrakt read ratings this way. A private
profile answers 401 with ``X-Private-User: true`` to anyone but its owner.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort

from harness.trakt_sandbox.clock import iso
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.protocol import (
    current_user,
    error_response,
    json_response,
    user_required,
)
from harness.trakt_sandbox.state import User
from harness.trakt_sandbox.sync_history import history_response
from harness.trakt_sandbox.sync_ratings import ratings_response
from harness.trakt_sandbox.sync_watched import watched_response
from harness.trakt_sandbox.sync_watchlist import watchlist_response

bp = Blueprint("users", __name__)
CONNECTIONS = (
    "facebook",
    "twitter",
    "mastodon",
    "google",
    "tumblr",
    "medium",
    "slack",
    "apple",
    "dropbox",
    "microsoft",
)


def user_object(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "private": user.private,
        "deleted": False,
        "name": user.name,
        "vip": user.vip,
        "vip_ep": False,
        "ids": {"slug": user.slug, "uuid": f"sandbox-{user.slug}"},
        "joined_at": iso(user.joined_at),
        "location": "",
        "about": "",
        "gender": None,
        "age": None,
        "images": {"avatar": {"full": "https://example.com/avatar.png"}},
        "vip_og": False,
        "vip_years": 1 if user.vip else 0,
    }


@bp.get("/users/settings")
@user_required
def settings() -> Response:
    user = current_user()
    return json_response(
        {
            "user": user_object(user),
            "account": {
                "timezone": "UTC",
                "date_format": "dmy",
                "time_24hr": True,
                "cover_image": None,
                "display_ads": not user.vip,
            },
            "connections": dict.fromkeys(CONNECTIONS, False),
            "sharing_text": {
                "watching": "I'm watching [item]",
                "watched": "I just watched [item]",
                "rated": "[item] [stars]",
            },
            "limits": sandbox().account_limits.settings_limits(user),
            "permissions": {"commenting": True, "liking": True, "following": True},
        }
    )


def profile(user_id: str) -> User:
    """The user a ``/users/{id}`` call reads, or abort with Trakt's refusal."""
    me = current_user()
    if user_id == "me":
        if me is None:
            abort(error_response(401, "invalid_token", "OAuth authorization required"))
        return me
    user = sandbox().state.user(user_id)
    if user is None:
        abort(error_response(404, "not_found", f"no user {user_id!r}"))
    if user.private and user is not me:
        abort(error_response(401, "private", "this profile is private", {"X-Private-User": "true"}))
    return user


@bp.get("/users/<user_id>")
def user_profile(user_id: str) -> Response:
    return json_response(user_object(profile(user_id)))


@bp.get("/users/<user_id>/ratings")
@bp.get("/users/<user_id>/ratings/<type_>")
@bp.get("/users/<user_id>/ratings/<type_>/<rating>")
def user_ratings(user_id: str, type_: str = "all", rating: str | None = None) -> Response:
    return ratings_response(profile(user_id), type_, rating)


@bp.get("/users/<user_id>/watchlist")
@bp.get("/users/<user_id>/watchlist/<type_>")
@bp.get("/users/<user_id>/watchlist/<type_>/<sort_by>")
@bp.get("/users/<user_id>/watchlist/<type_>/<sort_by>/<sort_how>")
def user_watchlist(
    user_id: str, type_: str = "all", sort_by: str = "rank", sort_how: str = "asc"
) -> Response:
    return watchlist_response(profile(user_id), type_, sort_by, sort_how)


@bp.get("/users/<user_id>/history")
@bp.get("/users/<user_id>/history/<type_>")
@bp.get("/users/<user_id>/history/<type_>/<int:trakt_id>")
def user_history(user_id: str, type_: str | None = None, trakt_id: int | None = None) -> Response:
    return history_response(profile(user_id), type_, trakt_id)


@bp.get("/users/<user_id>/watched/<type_>")
def user_watched(user_id: str, type_: str) -> Response:
    return watched_response(profile(user_id), type_)
