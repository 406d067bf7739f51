"""The rating sync, both ways. Its modules, from the rules up:

- ``merge``: whose rating stands and the plan, over plain values (pure);
- ``settlement``: what Trakt did not take, and what the outbox and ledger become (pure);
- ``result``: the run's result, its summary and messages;
- ``steps``: a run as steps, so its driver decides what a wait for Trakt is spent on;
- ``progress``: how far a long run has come, for whoever watches it;
- ``lock``: one run per user across every process;
- ``trakt_side``: the user's Trakt as the sync calls it;
- ``writes``: the batched writes and the read-back that settles them;
- ``store``: the ledger, outbox and marker in the plugin's tables;
- ``run``: a sync and a push, in crash-safe order.

The names below are what the rest of the plugin uses.
"""

from aperture_trakt_plugin.sync.lock import LOCK_KEY, SyncBusy, user_lock
from aperture_trakt_plugin.sync.merge import NOT_FOUND, OVER_LIMIT, PENDING
from aperture_trakt_plugin.sync.progress import Progress, Throttle, describe, no_progress
from aperture_trakt_plugin.sync.result import SyncResult
from aperture_trakt_plugin.sync.run import (
    push_steps,
    push_user,
    sync_steps,
    sync_user_ratings,
)
from aperture_trakt_plugin.sync.steps import Steps, WriteWait, collector_paused, run_steps
from aperture_trakt_plugin.sync.store import SOURCE, resolve_orphans, start_afresh
from aperture_trakt_plugin.sync.trakt_side import TraktSide

__all__ = [
    "LOCK_KEY",
    "NOT_FOUND",
    "OVER_LIMIT",
    "PENDING",
    "SOURCE",
    "Progress",
    "Steps",
    "SyncBusy",
    "SyncResult",
    "Throttle",
    "TraktSide",
    "WriteWait",
    "collector_paused",
    "describe",
    "no_progress",
    "push_steps",
    "push_user",
    "resolve_orphans",
    "run_steps",
    "start_afresh",
    "sync_steps",
    "sync_user_ratings",
    "user_lock",
]
