"""The jobs that fill discovery's caches; the only part of discovery that calls Trakt.

Trending and popular are the same for every user, so they are fetched once for the
server without a token (the app's budget, not any user's). Each connected user's
recommendations (with Trakt's ``ignore_*`` parameters), watchlist and watch history
are fetched with their own token and budget; watchlist and watch history page by page to
the end, since Trakt answers only the first 100 of them when not asked for pages
(CONTRACT 6.6, 6.7). Then, with one model of every rating on
the server built for the whole run, each user's lists are ranked and the order and
reasons cached. A list that cannot be fetched keeps its last good copy, with the error
beside it, and a passing fault has the job run again later (``retries``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.discovery import cache, calls, hide, keys
from aperture_trakt_plugin.discovery.cache import (
    KIND_OF,
    MEDIA_TYPES,
    Entry,
    parse_entries,
    user_scope,
)
from aperture_trakt_plugin.discovery.candidates import (
    RANKED,
    WATCHED,
    build_pool,
    excluded_keys,
    forget_memo,
    unseen,
)
from aperture_trakt_plugin.discovery.lists import ALL, GLOBAL_LISTS, LISTS, RECOMMENDED, WATCHLIST
from aperture_trakt_plugin.discovery.ranking import Model, Rated, build_model, rank
from aperture_trakt_plugin.discovery.reasons import Reasons
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.queueing import enqueue, retries, runlog, scheduling
from aperture_trakt_plugin.storage.models import TraktConnection, TraktLedger
from aperture_trakt_plugin.trakt.errors import TraktError

log = logging.getLogger(__name__)

JOB_NAME = scheduling.REFRESH_JOB
RECOMMENDATIONS_MAX = 100  # Trakt's cap (CONTRACT 7.2)
#: The lists a page shows ask for image URLs too (CONTRACT, "extended"): the posters.
WITH_POSTERS = {"extended": "images"}

# The refresh's lines in its run log and on `flask trakt discovery refresh`; a failed
# list's line is "{scope}: {error}" with the Trakt error (docs/troubleshooting.md).
MSG_SUMMARY = (
    "{lists} list(s) fetched, {users} user(s) refreshed, {ranked} user(s) ranked, "
    "{hides} hide(s) sent to Trakt"
)
MSG_PROBLEMS = "; {count} problem(s)"
MSG_USER_NOT_CONNECTED = "user {user_id}: not connected to Trakt; only the server's lists apply"
MSG_RUNS_AGAIN = "runs again at {when} UTC to fetch what failed"
Report = Callable[[str], None]


@dataclass
class RefreshResult:
    lists: int = 0
    users: int = 0
    ranked: int = 0
    hides_sent: int = 0
    errors: list[str] = field(default_factory=list)
    failures: list[TraktError] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        text = MSG_SUMMARY.format(
            lists=self.lists, users=self.users, ranked=self.ranked, hides=self.hides_sent
        )
        return text + (MSG_PROBLEMS.format(count=len(self.errors)) if self.errors else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "lists": self.lists,
            "users": self.users,
            "ranked": self.ranked,
            "hides_sent": self.hides_sent,
            "errors": self.errors,
        }

    def failed(self, scope: str, exc: TraktError, report: Report) -> None:
        message = f"{scope}: {exc}"
        self.errors.append(message)
        self.failures.append(exc)
        report(message)
        cache.record_error(scope, str(exc))


# --- the fetches ------------------------------------------------------------------------------


def list_size() -> int:
    return max(1, int(current_app.config["APERTURE_TRAKT_DISCOVERY_LIST_SIZE"]))


def refresh_global(result: RefreshResult, report: Report) -> None:
    """Trending and popular, movies and shows: four calls on the app's budget."""
    for trakt_list in GLOBAL_LISTS:
        for media_type in MEDIA_TYPES:
            scope = cache.global_scope(trakt_list.name, media_type)
            path = f"/{media_type}/{trakt_list.name}"
            try:
                data = calls.top_as_app(path, list_size(), WITH_POSTERS)
                items = parse_entries(data, KIND_OF[media_type], f"GET {path}", api_url())
            except TraktError as exc:
                result.failed(scope, exc, report)
                continue
            cache.save_entries(scope, items)
            result.lists += 1
            report(f"{trakt_list.label} {media_type}: {len(items)} title(s)")


def recommendation_params() -> dict[str, Any]:
    limit = min(RECOMMENDATIONS_MAX, list_size())
    ignore = current_app.config["APERTURE_TRAKT_RECOMMENDATIONS_IGNORE"]
    return {"limit": limit, **{f"ignore_{name}": "true" for name in ignore}, **WITH_POSTERS}


def api_url() -> str:
    """The API the lists come from, whose own origin may serve posters (the sandbox)."""
    return str(current_app.config["APERTURE_TRAKT_API_URL"])


def _user_list(
    user_id: int,
    path: str,
    media_type: str,
    params: dict[str, Any] | None = None,
    paged: bool = True,
) -> list[Entry]:
    """One of the user's lists: every page of it, or (``paged=False``, recommendations,
    which Trakt does not page: CONTRACT 7.2) the one answer to ``params``' limit."""
    data = (
        calls.all_pages_as_user(user_id, path, params)
        if paged
        else calls.get_as_user(user_id, path, params)
    )
    return parse_entries(data, KIND_OF[media_type], f"GET {path}", api_url())


def refresh_user_lists(user_id: int, result: RefreshResult, report: Report) -> bool:
    """The user's recommendations, watchlist and watch history. False: not connected."""
    conn = extension.state().host.db.session.get(TraktConnection, user_id)
    if conn is None or conn.needs_reconnect:
        return False
    fetches: list[tuple[str, str, dict[str, Any] | None, str, bool]] = [
        (
            user_scope(user_id, RECOMMENDED.name, mt),
            f"/recommendations/{mt}",
            recommendation_params(),
            mt,
            False,
        )
        for mt in MEDIA_TYPES
    ]
    fetches += [
        (user_scope(user_id, WATCHLIST.name, mt), f"/sync/watchlist/{mt}", WITH_POSTERS, mt, True)
        for mt in MEDIA_TYPES
    ]
    for scope, path, params, media_type, paged in fetches:
        try:
            items = _user_list(user_id, path, media_type, params, paged)
        except TraktError as exc:
            result.failed(scope, exc, report)
            continue
        cache.save_entries(scope, items)
        result.lists += 1
    watched_scope = user_scope(user_id, WATCHED)
    try:  # shows without their seasons: any play of a show counts as having seen it
        watched = [
            entry
            for mt in MEDIA_TYPES
            for entry in _user_list(
                user_id,
                f"/sync/watched/{mt}",
                mt,
                {"extended": "noseasons"} if mt == "shows" else None,
            )
        ]
    except TraktError as exc:
        result.failed(watched_scope, exc, report)
    else:
        cache.save(watched_scope, sorted(keys.union((e.kind, e.ids) for e in watched)))
        result.lists += 1
    result.users += 1
    report(f"user {user_id}: recommendations, watchlist and watch history read")
    return True


# --- ranking --------------------------------------------------------------------------------


@dataclass
class Ratings:
    """Every rating on the server as media keys: the model's input, each user's own, and
    each title's raters (the reasons' "people here" counts)."""

    all: list[Rated] = field(default_factory=list)
    by_user: dict[int, dict[str, int]] = field(default_factory=dict)
    by_item: dict[str, dict[int, int]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    #: user → the titles they rated on Trakt that the library lacks (the sync's ledger)
    on_trakt: dict[int, set[str]] = field(default_factory=dict)

    def add(self, user_id: int, kind: str, ids: ExternalIds, value: int, title: str) -> str | None:
        key = keys.media_key(kind, ids)
        if key is None or kind not in ("movie", "show"):
            return None
        self.all.append(Rated(user_id, key, value))
        self.by_user.setdefault(user_id, {})[key] = value
        self.by_item.setdefault(key, {})[user_id] = value
        if title:
            self.titles.setdefault(key, title)
        return key


def collect_ratings(user_ids: Iterable[int]) -> Ratings:
    """The host's ratings of every user, plus the Trakt ratings the sync keeps for titles
    the library lacks (the rest of a user's Trakt ratings are host ratings already)."""
    host = extension.state().host
    ratings = Ratings()
    for user_id in user_ids:
        for rating in host.list_ratings(user_id):
            ratings.add(
                user_id, rating.media.kind, rating.media.ids, rating.value, rating.media.title
            )
    orphans = host.db.session.scalars(
        select(TraktLedger).where(
            TraktLedger.item_id.is_(None), TraktLedger.kind.in_(("movie", "show"))
        )
    )
    for row in orphans:
        ids = ExternalIds(row.tmdb, row.imdb, row.tvdb, row.trakt)
        key = ratings.add(row.user_id, row.kind, ids, row.value, row.title or "")
        if key is not None:
            ratings.on_trakt.setdefault(row.user_id, set()).add(key)
    return ratings


def watched_titles(model: Model, user_id: int, rated: Collection[str]) -> set[str]:
    """The model's titles the user played (here or on Trakt) without rating them.

    A play is named by every id of its title (``alias_keys``), the model by each title's
    first id, so the plays are looked up in the model rather than the other way round."""
    host = extension.state().host
    played: set[str] = set()
    for event in host.watch_history(user_id):
        played |= keys.alias_keys(event.media.kind, event.media.ids)  # an episode: its show
    on_trakt = cache.load(user_scope(user_id, WATCHED))
    if on_trakt is not None and isinstance(on_trakt.payload, list):
        played.update(key for key in on_trakt.payload if isinstance(key, str))
    return {key for key in played if key in model.neighbours and key not in rated}


def rank_user(model: Model, user_id: int, ratings: Ratings) -> None:
    """Caches, per media type, each list's order for the user with scores and reasons."""
    excluded = excluded_keys(user_id)
    own = ratings.by_user.get(user_id, {})
    watched = watched_titles(model, user_id, own)
    for media_type in MEDIA_TYPES:
        pool = build_pool(user_id, media_type)
        titles = {**{key: e.title for key, e in pool.entries.items()}, **ratings.titles}
        explain = Reasons(
            titles,
            own,
            user=user_id,
            by_item=ratings.by_item,
            on_trakt=ratings.on_trakt.get(user_id, set()),
        )
        orders: dict[str, list[str]] = {}
        scores: dict[str, list[Any]] = {}
        for list_id in [*(t.id for t in LISTS), ALL]:
            candidates = unseen(pool, pool.keys_of(list_id), excluded)
            ranked = rank(model, own, candidates, titles, watched=watched, explain=explain)
            orders[list_id] = [r.item for r in ranked]
            scores.update({r.item: [r.score, r.reason] for r in ranked})
        cache.save(
            user_scope(user_id, RANKED, media_type),
            {"order": orders, "scores": scores, "rated": len(own)},
        )


def rank_users(user_ids: Sequence[int], result: RefreshResult, report: Report) -> None:
    """One model for the run, from the ratings of every user on the server."""
    host = extension.state().host
    ratings = collect_ratings([user.id for user in host.list_users()])
    model = build_model(ratings.all)
    for user_id in user_ids:
        rank_user(model, user_id, ratings)
        result.ranked += 1
    report(f"ranked for {len(user_ids)} user(s) from {len(ratings.all)} rating(s)")


# --- runs -----------------------------------------------------------------------------------


def refresh(
    user_ids: Sequence[int] | None = None, report: Report | None = None, global_lists: bool = True
) -> RefreshResult:
    """A refresh in the foreground: the global lists, then each connected user's (or just
    ``user_ids``), then the ranking of those users (every user when ``user_ids`` is None:
    the global lists concern everyone)."""
    report = report or (lambda line: log.info("%s", line))
    result = RefreshResult()
    host = extension.state().host
    try:
        if global_lists:
            refresh_global(result, report)
        everyone = [user.id for user in host.list_users()]
        for user_id in user_ids if user_ids is not None else everyone:
            started, lists, errors = time.monotonic(), result.lists, len(result.errors)
            sent = hide.send_pending(user_id, report)
            result.hides_sent += sent.sent
            result.failures.extend(sent.failures)
            if refresh_user_lists(user_id, result, report):
                failed = len(result.errors) - errors
                runlog.user_run(
                    "discovery",
                    user_id,
                    "partial" if failed else "refreshed",
                    started,
                    lists=result.lists - lists,
                    hides_sent=sent.sent,
                    failed_lists=failed,
                )
            elif user_ids is not None:
                report(MSG_USER_NOT_CONNECTED.format(user_id=user_id))
        rank_users(list(user_ids) if user_ids is not None else everyone, result, report)
    finally:
        forget_memo()
    report(result.summary())
    return result


def _retry_later(result: RefreshResult, report: Report) -> None:
    """A passing fault (Trakt down, a rate limit) has the whole job run again later; what
    was fetched meanwhile is kept."""
    passing = next((exc for exc in result.failures if exc.retryable), None)
    if passing is None:
        return
    when = retries.reschedule(passing)
    if when is not None:
        report(MSG_RUNS_AGAIN.format(when=f"{when:%Y-%m-%d %H:%M:%S}"))


def run_refresh(run_id: int | None = None) -> dict[str, Any]:
    """The ``refresh-trakt-discovery`` job, with its lines in the host's run log."""
    host = extension.state().host
    with host.job_context(JOB_NAME, run_id) as run:
        result = refresh(report=run.log)
        _retry_later(result, run.log)
    return result.as_dict()


def refresh_user_job(user_id: int) -> dict[str, Any]:
    """One user's lists and ranking (queued when they connect). The server's lists are
    fetched too when they never have been, so a first user sees them at once."""
    missing = cache.load(cache.global_scope(GLOBAL_LISTS[0].name, MEDIA_TYPES[0])) is None
    result = refresh([user_id], global_lists=missing)
    _retry_later(result, lambda line: log.info("user %s: %s", user_id, line))
    return result.as_dict()


def after_pulled_ratings(user_id: int) -> None:
    """A sync brought Trakt's ratings here: when the user's last ranking had none of
    theirs, their discovery is refreshed again. Right after connecting, the refresh
    queued then can run before the first sync has brought the ratings (another worker
    took it), and the user would see no reason of their own until the next scheduled
    refresh. A ranking not made yet (None) is queued too: it may be running now, on the
    ratings as they were (``enqueue_once`` then queues one follow-up)."""
    ranked = cache.load(user_scope(user_id, RANKED, MEDIA_TYPES[0]))
    payload = ranked.payload if ranked is not None else None
    if payload is None or (isinstance(payload, dict) and payload.get("rated") == 0):
        enqueue_user_refresh(user_id)


def enqueue_user_refresh(user_id: int) -> str | None:
    """Queued once per user (a fixed job id, as the sync's), with one follow-up while it
    runs; Redis down: the next scheduled run does it."""
    return enqueue.enqueue_once(
        "aperture_trakt_plugin.discovery.refresh.refresh_user_job",
        enqueue.user_job_id("discovery", user_id),
        user_id,
        description=f"Trakt discovery of user {user_id}",
    )
