"""One sync (pull or push) of a user at a time, across every process: a short Redis
lock renewed while its holder works."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import LockError, RedisError

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.trakt.errors import TraktError

log = logging.getLogger(__name__)

LOCK_KEY = "aperture-trakt:lock:sync:{user_id}"
# A killed holder blocks the user's next run at most LOCK_TIMEOUT seconds (less than
# LOCK_WAIT, so that run gets through); a live holder renews it every third of it.
LOCK_TIMEOUT = 10
LOCK_WAIT = 30
MSG_LOCK_NO_REDIS = "cannot take the sync lock: Redis is unreachable ({reason})"
MSG_BUSY = "another sync of this user is still running"


class SyncBusy(TraktError):
    """Another sync of this user is running."""

    retryable = True


@contextmanager
def user_lock(user_id: int) -> Iterator[None]:
    """One sync (pull or push) per user at a time, across every process.

    The lock is short-lived and renewed from a thread while its holder works, rather
    than long enough for any run: a worker killed mid-run (kill -9, OOM) cannot release
    it, and with a long expiry it blocked that user's syncs for fifteen minutes."""
    try:
        lock = extension.state().host.redis.lock(
            LOCK_KEY.format(user_id=user_id),
            timeout=LOCK_TIMEOUT,
            blocking_timeout=LOCK_WAIT,
            thread_local=False,
        )
        acquired = lock.acquire()
    except RedisError as exc:
        raise SyncBusy(MSG_LOCK_NO_REDIS.format(reason=exc)) from exc
    if not acquired:
        raise SyncBusy(MSG_BUSY)
    done = threading.Event()

    def renew() -> None:
        while not done.wait(LOCK_TIMEOUT / 3):
            try:
                lock.reacquire()
            except (LockError, RedisError) as exc:
                log.warning("could not renew the sync lock of user %s (%s)", user_id, exc)

    renewer = threading.Thread(target=renew, name=f"trakt-lock-{user_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
        try:
            lock.release()
        except (LockError, RedisError):  # expired: the next run takes it
            log.warning("the sync lock of user %s expired before it was released", user_id)
