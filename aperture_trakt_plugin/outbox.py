"""Recording the host's rating changes for Trakt, inside the request that made them.

Only a database write and an enqueue: no network. The latest change per user and item
wins (the row is overwritten and its version bumped, so a push that read an older
version leaves the newer one in place). Changes the plugin itself wrote
(``source == "trakt"``) are never recorded, so nothing echoes back to Trakt.
"""

from __future__ import annotations

from datetime import datetime

from aperture_trakt_plugin import extension, jobs
from aperture_trakt_plugin.host import MediaRef
from aperture_trakt_plugin.models import TraktConnection, TraktOutbox
from aperture_trakt_plugin.sync import SOURCE


def record(user_id: int, media: MediaRef, value: int | None, at: datetime,
           source: str) -> bool:
    if source == SOURCE or media.item_id is None:
        return False
    db = extension.state().host.db
    if db.session.get(TraktConnection, user_id) is None:
        return False  # not connected: nothing syncs, nothing to keep
    row = db.session.get(TraktOutbox, (user_id, media.item_id))
    if row is None:
        row = TraktOutbox(user_id=user_id, item_id=media.item_id, version=0)
        db.session.add(row)
    row.value, row.at = value, at
    row.version = (row.version or 0) + 1
    row.state, row.reason = "pending", None
    db.session.commit()
    jobs.enqueue_user_push(user_id)  # Redis down: the row waits for the next run
    return True


def forget_user(user_id: int) -> None:
    """Drops what the plugin keeps for a user (disconnect, user deleted); host ratings stay."""
    from sqlalchemy import delete

    from aperture_trakt_plugin.models import TraktLedger

    db = extension.state().host.db
    for model in (TraktOutbox, TraktLedger):
        db.session.execute(delete(model).where(model.user_id == user_id))
    db.session.commit()
