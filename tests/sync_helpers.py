"""Steps the rating-sync tests of issue #5 share: acting on each side at a chosen moment,
and reading both sides back in one shape so they can be compared with each other.

Both sides are keyed by TMDB id (the sandbox's catalogue and the host's library agree on
it), so "host == Trakt" is a plain dict comparison. Times come from the sandbox's clock,
the only clock a Trakt removal can be dated by, so host and Trakt events share one
timeline.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import delete

from aperture_trakt_plugin import sync
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.storage import budgets as rate_limits
from aperture_trakt_plugin.storage.models import TraktConnection, TraktLedger, TraktOutbox
from aperture_trakt_plugin.sync import progress
from aperture_trakt_plugin.trakt.wire import trakt_time
from harness.trakt_sandbox.control_client import SandboxControl
from tests.connect_helpers import configure_trakt, connect_with_tokens, user_id

# Four movies the seeded library holds, and one it lacks (it can "arrive" later).
MATRIX, FIGHT_CLUB, INCEPTION, CASABLANCA = 603, 550, 27205, 289
RASHOMON = 548
LIBRARY_MOVIES = (MATRIX, FIGHT_CLUB, INCEPTION, CASABLANCA)


def services(host_app: Flask):
    return host_app.extensions["aperture_host"]


def item_id(host_app: Flask, tmdb: int) -> str:
    with host_app.app_context():
        ref = services(host_app).find_media("movie", ExternalIds(tmdb=tmdb))
    assert ref is not None, f"movie {tmdb} is not in the library"
    return ref.item_id


# --- reading both sides -------------------------------------------------------------------


def host_ratings(host_app: Flask, name: str) -> dict[int, tuple[int, datetime, str]]:
    """``{tmdb: (value, rated_at, source)}`` of a host user's movie ratings."""
    with host_app.app_context():
        return {
            r.media.ids.tmdb: (r.value, r.rated_at, r.source)
            for r in services(host_app).list_ratings(user_id(host_app, name))
            if r.media.kind == "movie"
        }


def trakt_ratings(sandbox: SandboxControl, username: str) -> dict[int, tuple[int, datetime]]:
    """``{tmdb: (value, rated_at)}`` of a Trakt user's movie ratings, read behind the API."""
    return {
        r["movie"]["ids"]["tmdb"]: (r["rating"], parse(r["rated_at"]))
        for r in sandbox.ratings(username)
        if r.get("type", "movie") == "movie"
    }


def values(ratings: dict[int, tuple]) -> dict[int, int]:
    """Just the values, for "both sides hold the same ratings"."""
    return {tmdb: rating[0] for tmdb, rating in ratings.items()}


def plugin_rows(host_app: Flask, name: str) -> tuple[dict[str, int], int]:
    """The ledger (``{item_key: value}``) and the number of outbox rows of a user."""
    uid = user_id(host_app, name)
    with host_app.app_context():
        session = services(host_app).db.session
        ledger = {
            row.item_key: row.value for row in session.query(TraktLedger).filter_by(user_id=uid)
        }
        return ledger, session.query(TraktOutbox).filter_by(user_id=uid).count()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- acting on each side ---------------------------------------------------------------------


def sandbox_now(sandbox: SandboxControl) -> datetime:
    """The sandbox's clock, to the millisecond Trakt stores."""
    now = datetime.fromtimestamp(sandbox.clock()["time"], UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def rate_on_trakt(sandbox: SandboxControl, token: str, tmdb: int, value: int, at: datetime) -> None:
    """What the user does on trakt.tv: one rating through the API, dated ``at``."""
    response = sandbox.api(
        "POST",
        "/sync/ratings",
        token=token,
        json={"movies": [{"rating": value, "rated_at": trakt_time(at), "ids": {"tmdb": tmdb}}]},
    )
    assert response.status_code == 201, response.text


def unrate_on_trakt(sandbox: SandboxControl, token: str, tmdb: int) -> None:
    response = sandbox.api(
        "POST", "/sync/ratings/remove", token=token, json={"movies": [{"ids": {"tmdb": tmdb}}]}
    )
    assert response.status_code == 200 and response.json()["deleted"]["movies"] == 1, response.text


def rate_on_host(host_app: Flask, name: str, tmdb: int, value: int, at: datetime) -> None:
    """What the user does on this server: the hooks see it, so it lands in the outbox."""
    with host_app.app_context():
        services(host_app).apply_rating(
            user_id(host_app, name), item_id(host_app, tmdb), value, at, "aperture"
        )


def unrate_on_host(host_app: Flask, name: str, tmdb: int, at: datetime) -> None:
    with host_app.app_context():
        services(host_app).remove_rating(
            user_id(host_app, name), item_id(host_app, tmdb), at, "aperture"
        )


# --- the world ----------------------------------------------------------------------------


def fresh_connection(host_app: Flask, sandbox: SandboxControl, name: str, trakt_user: str) -> int:
    """A clean start inside one test: an empty Trakt world, the user's host ratings and
    everything the plugin keeps for them forgotten, a new connection and its first sync.

    Hypothesis runs many examples on one set of fixtures, so each example rebuilds the
    world itself instead of relying on the per-test fixtures to do it.
    """
    sandbox.reset()
    configure_trakt(host_app, sandbox)
    from harness.reference_host.models import Rating

    uid = user_id(host_app, name)
    with host_app.app_context():
        db = services(host_app).db
        for model in (Rating, TraktLedger, TraktOutbox, TraktConnection):
            db.session.execute(delete(model).where(model.user_id == uid))
        db.session.commit()
        redis = services(host_app).redis
        redis.delete(sync.LOCK_KEY.format(user_id=uid))
        # The sandbox's counters were just reset; the plugin's shared budgets follow, as
        # the minutes a real test would have waited would have emptied them.
        for key in redis.scan_iter(f"{rate_limits.PREFIX}*"):
            redis.delete(key)
    connect_with_tokens(host_app, sandbox, name, trakt_user)
    with host_app.app_context():
        first = sync.sync_user_ratings(uid)
    assert first.status == "synced", first
    return uid


def set_not_found_shape(sandbox: SandboxControl, shape: str, seed: int = 0) -> None:
    """How the sandbox shapes ``not_found`` in its write answers (CONTRACT 6.3)."""
    sandbox.set_behaviour(not_found=shape, seed=seed)


def let_write_spacing_pass(host_app: Flask, uid: int) -> None:
    """The plugin spaces its writes a second apart on the real clock, counted in Redis.
    Tests that move the sandbox's clock on instead of sleeping forget that count, which
    is what the elapsed second would have done: the sandbox (whose clock has moved) would
    accept the write anyway."""
    with host_app.app_context():
        services(host_app).redis.delete(rate_limits.LAST_WRITE_KEY.format(key=str(uid)))


#: A line of a long sync's progress report (``sync.progress``), whatever its counts.
PROGRESS_LINE = re.compile(
    "|".join(
        re.escape(text).replace(r"\{done\}", r"[\d,]+").replace(r"\{total\}", r"[\d,?]+")
        for text in progress.TEXTS.values()
    )
)


def split_progress(lines: list[str], name: str) -> tuple[list[str], list[str]]:
    """``name``'s lines: (its progress reports, the rest), each in order."""
    own = [line for line in lines if line.startswith(f"{name}: ")]
    reports = [line for line in own if PROGRESS_LINE.fullmatch(line[len(name) + 2 :])]
    return reports, [line for line in own if line not in reports]
