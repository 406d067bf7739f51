"""Recording the host's rating changes for Trakt, inside the request that made them.

Only a database write and an enqueue: no network. The latest change per user and item
wins (the row is overwritten and its version bumped, so a push that read an older
version leaves the newer one in place). Changes the plugin itself wrote
(``source == "trakt"``) are never recorded, so nothing echoes back to Trakt.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.storage.models import TraktConnection, TraktOutbox
from aperture_trakt_plugin.sync import SOURCE
from aperture_trakt_plugin.usecases import jobs


def record_many(
    user_id: int, changes: Iterable[tuple[str | None, int | None, datetime]], source: str
) -> int:
    """Records changes (host item id, value or None for removed, time) in one commit and
    queues one push; returns how many it kept. Nothing the plugin wrote itself (checked
    before ``changes`` is read, so a sync's 100,000 writes cost nothing here), nothing
    outside the library, nothing for a user who is not connected."""
    if source == SOURCE:
        return 0
    kept = [(item_id, value, at) for item_id, value, at in changes if item_id]
    db = extension.state().host.db
    if not kept or db.session.get(TraktConnection, user_id) is None:
        return 0
    for item_id, value, at in kept:  # a host import is the largest case: thousands
        row = db.session.get(TraktOutbox, (user_id, item_id))
        if row is None:
            row = TraktOutbox(user_id=user_id, item_id=item_id, version=0)
            db.session.add(row)
        row.value, row.at = value, at
        row.version = (row.version or 0) + 1
        row.state, row.reason = "pending", None
    db.session.commit()
    jobs.enqueue_user_push(user_id)  # Redis down: the rows wait for the next run
    return len(kept)


def forget_user(user_id: int) -> None:
    """Drops what the plugin keeps for a user (disconnect, user deleted); host ratings stay."""
    from sqlalchemy import delete

    from aperture_trakt_plugin.storage.models import TraktLedger

    db = extension.state().host.db
    for model in (TraktOutbox, TraktLedger):
        db.session.execute(delete(model).where(model.user_id == user_id))
    db.session.commit()
