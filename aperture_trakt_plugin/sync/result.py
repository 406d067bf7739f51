"""What a sync says: its result with the counts and the first lines of its plan, the
one-line summary (CLI, run log, the last sync on the status view) and the reasons it
stopped, quoted in docs/troubleshooting.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aperture_trakt_plugin.sync.merge import Action, Change, removed_from_host

# What a sync says: its one-line summary (CLI, run log, last sync on the status view) and
# the reasons it stopped (docs/troubleshooting.md).
MSG_SUMMARY = (
    "{status}: {pushed} pushed, {pushed_removals} removed on Trakt, {pulled} pulled, "
    "{pulled_removals} removed here, {conflicts} conflicts, {not_found} not found "
    "on Trakt, {waiting} waiting for the library ({calls} calls){deferred}"
)
MSG_DEFERRED = (
    ", {count} more go out with the next push (Trakt takes one write per second; "
    "the worker did other users' work meanwhile)"
)
MSG_SKIPPED_NOT_CONNECTED = "not connected"
MSG_SKIPPED_RECONNECT = "needs reconnecting"
MSG_UNCHANGED = "nothing changed on Trakt"
MSG_MORE_CHANGES = "… and {count} more changes"
MSG_OVER_LIMIT = (
    "a {tier} Trakt account holds at most {limit:,} ratings; remove some on "
    "Trakt{upgrade} and it goes with the next sync"
)
MSG_UPGRADE = " or upgrade to VIP"
MSG_OVER_LIMIT_SUMMARY = ", {count} {waits} for room on Trakt (its {limit:,}-rating limit)"
MSG_MASS_REMOVAL = (
    "this sync would remove {removals} of the {held} ratings on this server; "
    "it waits for an admin's confirmation (Admin → Jobs) or `flask trakt sync "
    "--force`"
)
MASS_REMOVAL_SHARE, MASS_REMOVAL_MIN = 0.5, 20


@dataclass
class SyncResult:
    user_id: int
    # synced | unchanged | pushed | blocked | skipped | dry-run | failed | rescheduled
    status: str = "synced"
    api_calls: int = 0
    pushed: int = 0
    pushed_removals: int = 0
    pulled: int = 0
    pulled_removals: int = 0
    agreed: int = 0
    not_found: int = 0
    waiting_for_library: int = 0
    conflicts: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    changes: int = 0  # totals; the lists above keep at most LOG_LINES lines outside dry runs
    conflict_count: int = 0
    deferred: int = 0  # writes left in the outbox for the push queued behind this run
    over_limit: int = 0  # changes the account's ratings cap refused (outbox: OVER_LIMIT)
    ratings_limit: int = 0  # that cap, when one refused
    message: str = ""

    def summary(self) -> str:
        if self.status in ("unchanged", "skipped", "blocked", "failed", "rescheduled"):
            return f"{self.status}: {self.message}" if self.message else self.status
        later = MSG_DEFERRED.format(count=self.deferred) if self.deferred else ""
        if self.over_limit:
            later += MSG_OVER_LIMIT_SUMMARY.format(
                count=self.over_limit,
                waits="waits" if self.over_limit == 1 else "wait",
                limit=self.ratings_limit,
            )
        return MSG_SUMMARY.format(
            status=self.status,
            pushed=self.pushed,
            pushed_removals=self.pushed_removals,
            pulled=self.pulled,
            pulled_removals=self.pulled_removals,
            conflicts=self.conflict_count,
            not_found=self.not_found,
            waiting=self.waiting_for_library,
            calls=self.api_calls,
            deferred=later,
        )


def describe(change: Change) -> str:
    d = change.decision
    what = f"{change.ref.kind} {change.ref.title or change.key}"
    where = {
        Action.TO_TRAKT: "Trakt",
        Action.TO_HOST: "this server",
        Action.AGREE: "the ledger",
        Action.NONE: "nothing",
        Action.LET_GO: "the ledger",
    }[d.action]
    verb = f"set to {d.value}" if d.value is not None else "removed"
    if d.action is Action.LET_GO:
        verb = "let go (it left the library; its Trakt rating stays)"
    reason = f" (both changed; {d.winner}'s is newer)" if d.conflict else ""
    return f"{where}: {what} {verb}{reason}"


#: Lines of plan and of conflicts a run keeps (in its log, its result and the connection's
#: summary): a first sync of 100,000 ratings must not write 100,000 log lines.
LOG_LINES = 50


def tally(changes: list[Change], result: SyncResult, keep_all: bool = False) -> list[Change]:
    """Counts the plan into ``result`` and keeps its first lines (all with ``keep_all``).
    Counted with local tallies, not the result's attributes: a first sync tallies
    100,000 changes."""
    limit = len(changes) if keep_all else LOG_LINES
    to_host, agree = Action.TO_HOST, Action.AGREE
    pulled = pulled_removals = waiting = agreed = conflicts = 0
    for change in changes:
        d = change.decision
        if len(result.plan) < limit:
            result.plan.append(describe(change))
        if d.conflict:
            conflicts += 1
            if len(result.conflicts) < limit:
                result.conflicts.append(describe(change))
        if d.action is to_host:
            if not change.ref.item_id:
                waiting += d.value is not None
            elif d.value is None:
                pulled_removals += 1
            else:
                pulled += 1
        elif d.action is agree:
            agreed += 1
    result.changes += len(changes)
    result.pulled += pulled
    result.pulled_removals += pulled_removals
    result.waiting_for_library += waiting
    result.agreed += agreed
    result.conflict_count += conflicts
    return changes


def mass_removal(changes: Sequence[Change], held: int) -> str | None:
    """Why the plan waits for an admin, when it would take most of the host's ratings
    away (a Trakt account emptied by mistake, or another account's). ``held``: how many
    ratings the host holds (counted by the caller, which read them for the merge:
    reading 100,000 ratings twice cost seconds)."""
    removals = removed_from_host(changes)
    if removals >= MASS_REMOVAL_MIN and removals > held * MASS_REMOVAL_SHARE:
        return MSG_MASS_REMOVAL.format(removals=removals, held=held)
    return None
