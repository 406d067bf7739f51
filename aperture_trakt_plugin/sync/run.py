"""One user's two-way sync as a run: the pull with its three-way merge, and the push.

Order of effects, chosen so a killed worker never leaves anything the next run gets
wrong: host writes, then Trakt writes, then the ledger, the outbox and the marker in one
transaction. Until that commits, the next run reads Trakt again, sees both sides
holding the same value and simply agrees.

A push is a sync with a fast path: when Trakt's ratings timestamps still equal the
marker, Trakt has nothing the ledger does not know, so the outbox is sent as it is;
otherwise the full merge runs, and a newer rating made on Trakt is never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import cast

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.host import HostRating, RatingWrite
from aperture_trakt_plugin.storage.models import TraktOutbox, utcnow
from aperture_trakt_plugin.sync import merge, settlement, store
from aperture_trakt_plugin.sync.lock import user_lock
from aperture_trakt_plugin.sync.merge import NOT_FOUND, OVER_LIMIT, PENDING, Action, Change
from aperture_trakt_plugin.sync.progress import MERGING, Progress, no_progress
from aperture_trakt_plugin.sync.result import (
    MSG_MORE_CHANGES,
    MSG_SKIPPED_NOT_CONNECTED,
    MSG_SKIPPED_RECONNECT,
    MSG_UNCHANGED,
    SyncResult,
    mass_removal,
    tally,
)
from aperture_trakt_plugin.sync.steps import Steps, WriteWait, collector_paused, run_steps
from aperture_trakt_plugin.sync.trakt_side import TraktSide
from aperture_trakt_plugin.sync.writes import write_trakt
from aperture_trakt_plugin.trakt.wire import PLURAL, TraktRating, moved_types, parse_time

_new = tuple.__new__


def plan(
    user_id: int,
    trakt_items: list[TraktRating],
    read_types: list[str],
    marker: dict[str, str | None],
    held: list[HostRating] | None = None,
) -> list[Change]:
    """The merge (``merge.plan``) over what the host and the tables hold now.
    ``held``: the host's ratings of the user, when the caller has read them already."""
    host = extension.state().host
    ledger, outbox = store.ledger(user_id), store.outbox(user_id)
    # A host rating is of a library item, which always carries its id.
    host_ratings = {
        cast(str, r.media.item_id): r
        for r in (held if held is not None else host.list_ratings(user_id))
    }
    on_trakt = merge.pair(trakt_items, host.find_media_bulk, host_ratings)
    removed_at = {t: parse_time(marker.get(t)) or datetime.now(UTC) for t in read_types}
    return merge.plan(ledger, outbox, host_ratings, on_trakt, removed_at, host.get_media)


def apply(
    user_id: int,
    trakt: TraktSide,
    changes: list[Change],
    result: SyncResult,
    marker: dict[str, str | None] | None,
    *,
    outbox: dict[str, TraktOutbox] | None = None,
    ledger_keys: set[str] | None = None,
    unblock: bool = False,
) -> Generator[WriteWait, bool, None]:
    """Writes a plan in the crash-safe order described in the module docstring (steps:
    see ``WriteWait``). ``outbox`` and ``ledger_keys``: the user's, when the caller has
    just read them and nothing has committed since (the push path, which is never paused;
    under the user's lock). ``unblock``: clear the mass-removal block in the same commit.

    While the steps are paused, the driver may run other users' steps in the same
    database session, and their commits must not carry half of this run: nothing is
    written to the session here before the last write has gone."""
    to_host = Action.TO_HOST
    host_writes = [
        _new(RatingWrite, (c.ref.item_id, c.decision.value, c.decision.at))
        for c in changes
        if c.decision.action is to_host and c.ref.item_id
    ]
    if host_writes:
        extension.state().host.apply_ratings(user_id, host_writes, store.SOURCE)
    to_trakt = [c for c in changes if c.decision.action is Action.TO_TRAKT]
    deferred = yield from write_trakt(trakt, to_trakt)
    conn = store.connection(user_id)
    if conn is None:  # disconnected while the run was paused: nothing of it is kept
        result.status, result.message = "skipped", MSG_SKIPPED_NOT_CONNECTED
        return
    refused = trakt.refused
    if any(c.key not in deferred for c in to_trakt):
        marker = trakt.marker()  # our own writes moved Trakt's timestamps

    if outbox is None:
        outbox = store.outbox(user_id)
    store.write_outbox(user_id, settlement.outbox_after(changes, outbox, deferred, refused))
    store.record(user_id, settlement.recorded(changes, refused, deferred), ledger_keys)
    _count_sent(result, to_trakt, deferred, refused)

    let_go = {PLURAL[c.ref.kind] for c in changes if c.decision.action is Action.LET_GO}
    if marker is not None and let_go:
        # The next run reads these types from Trakt again, so a rating Trakt still holds
        # for a title that left is kept to wait for the library like any other.
        marker = {plural: None if plural in let_go else at for plural, at in marker.items()}
    if unblock:
        conn.blocked_reason = None
    if marker is not None:
        conn.ratings_marker = json.dumps(marker)
    conn.last_sync_at, conn.last_error, conn.last_error_at = utcnow(), None, None
    conn.last_sync_summary = json.dumps(asdict(result))
    extension.state().host.db.session.commit()


def _count_sent(
    result: SyncResult,
    to_trakt: list[Change],
    deferred: set[str],
    refused: settlement.Refusals,
) -> None:
    taken = [c for c in to_trakt if c.key not in deferred and c.key not in refused]
    removals = sum(1 for c in taken if c.decision.value is None)
    result.pushed += len(taken) - removals
    result.pushed_removals += removals
    states = [state for state, _ in refused.values()]
    result.not_found += states.count(NOT_FOUND)
    result.over_limit += states.count(OVER_LIMIT)
    result.deferred += len(deferred)


@collector_paused()
def sync_user_ratings(
    user_id: int,
    *,
    dry_run: bool = False,
    force: bool = False,
    report: Callable[[str], None] | None = None,
    others_waiting: Callable[[], bool] | None = None,
    progress: Progress = no_progress,
) -> SyncResult:
    """One user's two-way sync (the pull); the outbox goes along. ``others_waiting``: see
    ``TraktSide`` (the caller queues the push that sends ``result.deferred``)."""
    return run_steps(
        sync_steps(
            user_id,
            dry_run=dry_run,
            force=force,
            report=report,
            others_waiting=others_waiting,
            progress=progress,
        )
    )


def sync_steps(
    user_id: int,
    *,
    dry_run: bool = False,
    force: bool = False,
    report: Callable[[str], None] | None = None,
    others_waiting: Callable[[], bool] | None = None,
    progress: Progress = no_progress,
) -> Steps:
    """``sync_user_ratings`` as steps (``WriteWait``), for a driver that fills a wait
    for Trakt's write spacing with other work. The user's lock is held while paused.
    ``progress`` is told of each page read, the merge and each batch of writes."""
    result = SyncResult(user_id)
    conn = store.connection(user_id)
    if conn is None or conn.needs_reconnect:
        result.status = "skipped"
        result.message = MSG_SKIPPED_NOT_CONNECTED if conn is None else MSG_SKIPPED_RECONNECT
        return result
    session = extension.state().host.db.session
    with user_lock(user_id):
        if not dry_run:
            store.resolve_orphans(user_id)
        trakt = TraktSide(user_id, result, others_waiting, progress)
        marker = trakt.marker()
        known = json.loads(conn.ratings_marker) if conn.ratings_marker else None
        read_types = moved_types(known, marker)
        if not dry_run:
            store.release_over_limit(user_id, bool(read_types or force), trakt.over_limit_held)
        if not read_types and not store.has_pending(user_id) and not force:
            result.status, result.message = "unchanged", MSG_UNCHANGED
            conn.last_sync_at = utcnow()
            session.commit()
            return result
        items = trakt.rated_items(read_types)
        held = extension.state().host.list_ratings(user_id)
        held_count = len(held)
        planned = plan(user_id, items, read_types, marker, held)
        progress(MERGING, len(planned), len(planned))
        changes = tally(planned, result, keep_all=dry_run)
        del planned
        del items, held  # the plan keeps what it needs; the writes need the memory
        if dry_run:
            result.status = "dry-run"
            return result
        blocked = None if force else mass_removal(changes, held_count)
        if blocked:
            conn.blocked_reason = blocked
            session.commit()
            result.status, result.message = "blocked", blocked
            return result
        yield from apply(user_id, trakt, changes, result, marker, unblock=True)
    if report:
        for line in result.plan:
            report(line)
        if result.changes > len(result.plan):
            report(MSG_MORE_CHANGES.format(count=result.changes - len(result.plan)))
    return result


def push_user(user_id: int, others_waiting: Callable[[], bool] | None = None) -> SyncResult:
    """Sends the outbox. Trakt unchanged since the last agreement: straight out (one read,
    the writes, one read for the new marker); otherwise the full sync decides."""
    return run_steps(push_steps(user_id, others_waiting))


def push_steps(user_id: int, others_waiting: Callable[[], bool] | None = None) -> Steps:
    """``push_user`` as steps. Only ``run_steps`` drives them: the fast path keeps the
    outbox rows it read across the writes, which another run's commit would expire."""
    result = SyncResult(user_id, status="pushed")
    conn = store.connection(user_id)
    if conn is None or conn.needs_reconnect:
        result.status = "skipped"
        return result
    with user_lock(user_id):
        # A write could not go out sooner anyway: waiting before reading the outbox lets
        # this push take every change made meanwhile (a burst of ratings costs two POSTs,
        # not one per job that happens to run), and leaves the job queued since then
        # an empty outbox.
        extension.budgets().wait_for_write(str(user_id), "push")
        extension.state().host.db.session.refresh(conn)
        held_outbox = store.outbox(user_id)
        pending = [row for row in held_outbox.values() if row.state == PENDING]
        if not pending:
            result.status = "unchanged"
            return result
        trakt = TraktSide(user_id, result, others_waiting)
        marker = trakt.marker()
        known = json.loads(conn.ratings_marker) if conn.ratings_marker else None
        fall_back = bool(moved_types(known, marker))
        if not fall_back:
            ledger = store.ledger(user_id)
            refs = extension.state().host.get_media_bulk([row.item_id for row in pending])
            changes = merge.push_plan(pending, refs, ledger)
            yield from apply(
                user_id,
                trakt,
                changes,  # NONE ones leave the outbox
                result,
                marker,
                outbox=held_outbox,
                ledger_keys=set(ledger),
            )
            return result
    if fall_back:
        with collector_paused():
            return (yield from sync_steps(user_id, others_waiting=others_waiting))
    return result
