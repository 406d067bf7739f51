"""Not interested: a title hidden for the user here at once, and on Trakt by a job.

The local row is committed before anything else happens, so the title leaves the user's
discovery in the same request whatever Trakt or Redis are doing. Sending it to Trakt's
recommendations hide endpoint is a job of its own; a row stays ``pending`` (with the
reason in words) until Trakt answers, and every discovery refresh of the user sends what
is still pending, so a hide made while Trakt or Redis was down still arrives. Trakt's
path ids are its own id, slug or IMDB id; a title known only by TMDB or TVDB id is looked
up with Trakt's id search first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.discovery import calls
from aperture_trakt_plugin.discovery.cache import TYPE_OF, parse_entries
from aperture_trakt_plugin.discovery.candidates import build_pool, forget_memo
from aperture_trakt_plugin.discovery.keys import (
    alias_keys,
    form_ids,
    media_key,
    merge_ids,
    path_segment,
    valid_id,
)
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.queueing import enqueue, retries
from aperture_trakt_plugin.storage.models import TraktConnection, TraktHidden, utcnow
from aperture_trakt_plugin.trakt.errors import NotFound, TraktError

log = logging.getLogger(__name__)

PENDING, SENT, NOT_FOUND = "pending", "sent", "not_found"
MSG_QUEUED = "waiting to be sent to Trakt"
MSG_NO_QUEUE = "Redis is unreachable; sent to Trakt with the next discovery refresh"
MSG_NOT_CONNECTED = "hidden here; sent to Trakt once you connect your account"
MSG_NOT_A_TITLE = "only movies and shows can be hidden, not {kind!r}"
MSG_NO_IDS = "the title has no id to hide it by"
MSG_NOT_ON_TRAKT = "Trakt has no {kind} with the ids of {what}"
MSG_HIDDEN_HERE_ONLY = "hidden here only: {reason}"
MSG_NOT_SENT_YET = "not sent to Trakt yet: {reason}"


@dataclass
class SendResult:
    sent: int = 0
    not_found: int = 0
    failures: list[TraktError] = field(default_factory=list)


def _db() -> Any:
    return extension.state().host.db


def _known_ids(user_id: int, kind: str, ids: ExternalIds) -> tuple[ExternalIds, str]:
    """The ids (and title) the cached lists or the library know for this title, so a hide
    from the command line by TMDB id still reaches Trakt by Trakt id."""
    wanted = alias_keys(kind, ids)
    pool = build_pool(user_id, TYPE_OF[kind])
    for key, entry in pool.entries.items():
        if not pool.aliases(key).isdisjoint(wanted):
            return merge_ids(ids, entry.ids), entry.title
    return ids, ""


def hide(user_id: int, kind: str, ids: ExternalIds, title: str = "") -> TraktHidden:
    """Hides the title for the user now; queues the call to Trakt."""
    if kind not in TYPE_OF:
        raise ValueError(MSG_NOT_A_TITLE.format(kind=kind))
    ids = form_ids(ids._asdict())  # the command line's ids too: each must be well formed
    if not ids.any():
        raise ValueError(MSG_NO_IDS)
    ids, known_title = _known_ids(user_id, kind, ids)
    key = media_key(kind, ids)
    db = _db()
    row = db.session.get(TraktHidden, (user_id, key)) or TraktHidden(user_id=user_id, item_key=key)
    row.kind, row.trakt, row.tmdb, row.imdb, row.tvdb = (
        kind,
        ids.trakt,
        ids.tmdb,
        ids.imdb,
        ids.tvdb,
    )
    row.title = (title or known_title or row.title or "")[:255]
    row.hidden_at, row.state, row.sent_at = utcnow(), PENDING, None
    row.reason = MSG_QUEUED if db.session.get(TraktConnection, user_id) else MSG_NOT_CONNECTED
    db.session.add(row)
    db.session.commit()
    forget_memo()
    if row.reason == MSG_QUEUED and enqueue_send(user_id) is None:
        row.reason = MSG_NO_QUEUE
        db.session.commit()
    return row


def enqueue_send(user_id: int) -> str | None:
    return enqueue.enqueue_once(
        "aperture_trakt_plugin.discovery.hide.send_job",
        enqueue.user_job_id("hide", user_id),
        user_id,
        description=f"Trakt: send the titles user {user_id} hid",
    )


def hidden(user_id: int) -> list[TraktHidden]:
    return list(
        _db().session.scalars(
            select(TraktHidden)
            .where(TraktHidden.user_id == user_id)
            .order_by(TraktHidden.hidden_at.desc())
        )
    )


def _path_id(user_id: int, row: TraktHidden) -> str | None:
    """Trakt's id, else the IMDB id (both valid path ids), else Trakt's id found by search;
    each checked again here, since a row may predate the checks, and encoded for the path."""
    # ``valid_id`` is truthy only for an id that is there.
    if valid_id("trakt", row.trakt):
        assert row.trakt is not None
        return path_segment(row.trakt)
    if valid_id("imdb", row.imdb):
        assert row.imdb is not None
        return path_segment(row.imdb)
    for name in ("tmdb", "tvdb"):
        value = valid_id(name, getattr(row, name))
        if value:
            path = f"/search/{name}/{path_segment(value)}"
            data = calls.get_as_user(user_id, path, {"type": row.kind})
            found = parse_entries(data, row.kind, f"GET {path}")
            if found and found[0].ids.trakt:
                row.trakt = found[0].ids.trakt
                return path_segment(row.trakt)
    return None


def send_pending(user_id: int, report: Callable[[str], None] | None = None) -> SendResult:
    """Sends the user's pending hides, oldest first; stops at the first failure (Trakt is
    down or the user's access is gone: the rest would fail the same way)."""
    result = SendResult()
    db = _db()
    conn = db.session.get(TraktConnection, user_id)
    if conn is None or conn.needs_reconnect:
        return result
    rows = db.session.scalars(
        select(TraktHidden)
        .where(TraktHidden.user_id == user_id, TraktHidden.state == PENDING)
        .order_by(TraktHidden.hidden_at)
    )
    for row in list(rows):
        what = f"{row.kind} {row.title or row.item_key}"
        try:
            path_id = _path_id(user_id, row)
            if path_id is None:
                raise NotFound(MSG_NOT_ON_TRAKT.format(kind=row.kind, what=what))
            calls.as_user(user_id, "DELETE", f"/recommendations/{TYPE_OF[row.kind]}/{path_id}")
        except NotFound as exc:
            row.state, row.reason = NOT_FOUND, MSG_HIDDEN_HERE_ONLY.format(reason=exc)
            result.not_found += 1
        except TraktError as exc:
            row.reason = MSG_NOT_SENT_YET.format(reason=exc)
            result.failures.append(exc)
            db.session.commit()
            if report:
                report(f"user {user_id}: {what}: {row.reason}")
            break
        else:
            row.state, row.reason, row.sent_at = SENT, None, utcnow()
            result.sent += 1
        db.session.commit()
    return result


def send_job(user_id: int) -> dict[str, Any]:
    """The RQ entry point: a passing fault runs it again later (``retries``); anything
    else leaves the rows pending for the next discovery refresh of the user."""
    result = send_pending(user_id)
    passing = next((exc for exc in result.failures if exc.retryable), None)
    if passing is not None:
        retries.reschedule(passing)
    return {
        "sent": result.sent,
        "not_found": result.not_found,
        "failed": [str(exc) for exc in result.failures],
    }


def forget_user(user_id: int) -> None:
    """A deleted user's hidden titles go with them."""
    db = _db()
    db.session.execute(delete(TraktHidden).where(TraktHidden.user_id == user_id))
    db.session.commit()
