"""The run's writes to Trakt: batches of adds then removals, spaced as Trakt allows,
and what Trakt's answers leave in doubt settled by reading back what it holds."""

from __future__ import annotations

from collections.abc import Generator

from aperture_trakt_plugin.sync.merge import Change
from aperture_trakt_plugin.sync.progress import WAITING, WRITING
from aperture_trakt_plugin.sync.result import MSG_OVER_LIMIT, MSG_UPGRADE
from aperture_trakt_plugin.sync.settlement import settle
from aperture_trakt_plugin.sync.steps import DEFER_OVER, WriteWait
from aperture_trakt_plugin.sync.trakt_side import TraktSide
from aperture_trakt_plugin.trakt.errors import AccountLimit
from aperture_trakt_plugin.trakt.wire import PLURAL, HeldRatings, short_types

BATCH = 500  # items per sync POST


def write_trakt(trakt: TraktSide, to_trakt: list[Change]) -> Generator[WriteWait, bool, set[str]]:
    """POSTs the changes in batches (adds, then removals); returns the keys left for a
    later push (see ``DEFER_OVER``): before a batch that would wait, it yields a
    ``WriteWait`` and the driver decides. The first batch always goes, so every run
    moves on.

    Only a change Trakt had not made itself may wait: after this run the marker says
    Trakt holds what the ledger holds, which is true of such an item (Trakt still has
    the agreed value) but not of one where the host won a conflict (Trakt holds its own,
    newer-than-agreed value): that one goes now, so conflicts are put first.

    Nothing counts as taken that Trakt's answer does not confirm (``settle_doubts``). A 420,
    the account's ratings cap, ends the adds: the adds after it are not sent, and the
    removals still go (they make room)."""
    trakt.refused = {}
    deferred: set[str] = set()
    doubtful: list[Change] = []  # sent, but not accounted for by the answer's counts
    capped: list[Change] = []  # sent in the batch the cap refused: Trakt may hold part
    unsent: list[Change] = []  # adds after the cap refused one
    posted = False
    sent = 0  # items in the batches sent, for the progress report
    for remove in (False, True):
        batch = sorted(
            (c for c in to_trakt if (c.decision.value is None) is remove),
            key=lambda c: not c.decision.conflict,
        )
        for start in range(0, len(batch), BATCH):
            part = batch[start : start + BATCH]
            if capped and not remove:
                unsent += part
                continue
            may_wait = not any(c.decision.conflict for c in part)
            if posted and may_wait and not deferred:
                wait = trakt.write_wait()
                if wait > DEFER_OVER:
                    trakt.progress(WAITING, sent, len(to_trakt))
                if wait > DEFER_OVER and not (yield WriteWait(wait, len(to_trakt), trakt)):
                    deferred.update(c.key for c in part)
                    continue
            elif posted and may_wait:
                deferred.update(c.key for c in part)
                continue
            posted = True
            try:
                answer = trakt.write(
                    [(c.ref, c.decision.value, c.decision.at) for c in part], remove
                )
            except AccountLimit:
                if remove:
                    raise
                capped += part
                continue
            sent += len(part)
            trakt.progress(WRITING, sent, len(to_trakt))
            short = short_types(
                (c.ref.kind for c in part), answer, "deleted" if remove else "added"
            )
            doubtful += (c for c in part if PLURAL[c.ref.kind] in short)
    if doubtful or capped or unsent:
        settle_doubts(trakt, doubtful, capped, unsent)
    return deferred


def settle_doubts(
    trakt: TraktSide, doubtful: list[Change], capped: list[Change], unsent: list[Change]
) -> None:
    """Reads what Trakt now holds of the types its answers left in doubt and puts what
    it did not take in ``trakt.refused`` (``settlement.settle``). A cap's refusal names
    the cap and holds its changes back (``OVER_LIMIT``)."""
    checked = doubtful + capped
    held = HeldRatings(
        trakt.rated_items(sorted({PLURAL[c.ref.kind] for c in checked})) if checked else []
    )
    limit_reason = ""
    if capped or unsent:
        limit, vip = trakt.ratings_limit()
        trakt.result.ratings_limit = limit
        limit_reason = MSG_OVER_LIMIT.format(
            tier="VIP" if vip else "free", limit=limit, upgrade="" if vip else MSG_UPGRADE
        )
        trakt.hold_over_limit()
    trakt.refused = settle(checked, held.value, {c.key for c in capped}, unsent, limit_reason)
