"""A user's ratings as a page, the sandbox's stand-in for ``trakt.tv/users/<slug>/ratings``.

The demo needs a place to see a rating made in the host arrive on "Trakt", and to rate
on "Trakt" and watch the sync bring it back. Reading is open to anyone (a public Trakt
profile); rating and removing need the sandbox's sign-in as that user (the one the
Connect popup uses), and go through the same code as ``POST /sync/ratings`` and
``/sync/ratings/remove``, so the account cap and the last-activities times the sync
reads move exactly as they would through the API.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from harness.trakt_sandbox.clock import truncate_ms
from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.media import Media
from harness.trakt_sandbox.oauth import logged_in_user, login_page
from harness.trakt_sandbox.state import Rated, User
from harness.trakt_sandbox.sync_ratings import drop_ratings, store_ratings, valid_rating

bp = Blueprint("site_ratings", __name__)
SHOWN = 200  # ratings on the page, newest first
FOUND = 20  # titles a search lists


def label(media: Media) -> str:
    """A title a person recognises: an episode or season names its show."""
    if media.kind == "episode" and media.show is not None:
        season = media.season.number if media.season is not None else 0
        return f"{media.show.title} S{season:02d}E{media.number or 0:02d}"
    if media.kind == "season" and media.show is not None:
        return f"{media.show.title}: Season {media.number}"
    return f"{media.title} ({media.year})" if media.year else media.title


def _user(username: str) -> User:
    user = sandbox().state.user(username)
    if user is None:
        abort(404)
    return user


def _search(query: str) -> list[Media]:
    wanted = query.strip().lower()
    if not wanted:
        return []
    catalogue = sandbox().catalogue
    found = [m for m in (*catalogue.movies, *catalogue.shows) if wanted in m.title.lower()]
    return found[:FOUND]


@bp.get("/site/users/<username>/ratings")
def ratings_page(username: str) -> str:
    sb, user = sandbox(), _user(username)
    with sb.state.lock:
        newest = sorted(user.ratings.items(), key=lambda kv: kv[1].rated_at, reverse=True)
    rows: list[tuple[Media, Rated]] = []
    for key, rated in newest[:SHOWN]:
        media = sb.catalogue.get(*key)
        if media is not None:
            rows.append((media, rated))
    query = request.args.get("q", "")
    signed_in = logged_in_user()
    return render_template(
        "sandbox_ratings.html",
        user=user,
        rows=rows,
        total=len(newest),
        query=query,
        found=_search(query),
        label=label,
        can_edit=signed_in is not None and signed_in.username == user.username,
        rated_by_key=dict(newest),
    )


@bp.get("/site/users/<username>/sign-in")
def sign_in(username: str) -> str:
    user = _user(username)
    return login_page(url_for("site_ratings.ratings_page", username=user.username))


@bp.post("/site/users/<username>/ratings")
def change_rating(username: str) -> str | Response:
    """One rating set or removed from the page, then back to it (post/redirect/get)."""
    sb, user = sandbox(), _user(username)
    here = url_for("site_ratings.ratings_page", username=user.username)
    signed_in = logged_in_user()
    if signed_in is None or signed_in.username != user.username:
        return login_page(here)
    media = sb.catalogue.get(request.form.get("kind", ""), request.form.get("trakt", 0, type=int))
    if media is None:
        abort(400)
    if request.form.get("action") == "remove":
        drop_ratings(user, [media])
        flash(f"Removed your rating of {label(media)}.")
        return redirect(here)
    value = request.form.get("rating", type=int)
    if not valid_rating(value):
        abort(400)
    now: datetime = truncate_ms(sb.clock.now())
    _, crossed = store_ratings(user, [(media, Rated(value, now))])
    if crossed:
        flash("Your account's ratings are full: this one was not added.")
    else:
        flash(f"Rated {label(media)} {value}/10.")
    return redirect(here)
