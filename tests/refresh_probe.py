"""One contender in a token-refresh race, run as its own OS process by the race tests.

``python -m tests.refresh_probe --user-id N --name a --ready-key K --go-key G [--unlocked]``

The host app comes from environment variables, exactly as the RQ worker builds it
(``worker_env`` in ``tests/fixtures_host.py``), so the probe is a real second process with
its own database connection and Redis client, not a thread sharing the test's objects.
Building the app takes far longer than a refresh, so each probe first says "ready" on a
Redis list and then blocks on a "go" list: the test releases every probe with one push,
and their calls start within milliseconds of each other instead of whenever Python
happened to finish importing.

The probe prints one JSON line with the SHA-256 of the token it got (a token never
leaves the process), whether *this* process did the refresh (seen through the plugin's
own "refreshed" log record), and wall-clock times, so the test can tell who waited for
whom. ``--unlocked`` skips :func:`tokens.access_token` and calls ``oauth.refresh`` on the
stored refresh token directly: the same race without the lock, which the negative-control
test uses to show the harness really makes two processes collide.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from typing import Any

GO_TIMEOUT = 30  # seconds; the test pushes "go" within a few seconds of both being ready


class RefreshSeen(logging.Handler):
    """Notes the plugin's "refreshed the Trakt token" record: proof of who called Trakt."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("refreshed the Trakt token"):
            self.seen = True


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def contend(user_id: int, unlocked: bool) -> dict[str, Any]:
    """The timed call itself; errors are reported by class name, never with their text."""
    from aperture_trakt_plugin.accounts import oauth, tokens  # imported by the plugin already
    from aperture_trakt_plugin.trakt.errors import TraktError

    started = time.time()
    try:
        if unlocked:
            conn = tokens.store().get(user_id)
            token = oauth.refresh(conn.refresh_token).access_token
        else:
            token = tokens.access_token(user_id)
        outcome: dict[str, Any] = {"sha256": digest(token), "error": None}
    except TraktError as exc:
        outcome = {"sha256": None, "error": type(exc).__name__}
    finished = time.time()
    return {**outcome, "started": started, "finished": finished, "elapsed": finished - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user-id", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--ready-key", required=True)
    parser.add_argument("--go-key", required=True)
    parser.add_argument("--unlocked", action="store_true")
    args = parser.parse_args(argv)

    from sqlalchemy import text

    from harness.reference_host import create_app

    app = create_app()
    seen = RefreshSeen()
    logging.getLogger("aperture_trakt_plugin.accounts.tokens").addHandler(seen)
    logging.getLogger("aperture_trakt_plugin.accounts.tokens").setLevel(logging.INFO)
    with app.app_context():
        host = app.extensions["aperture_host"]
        host.db.session.execute(text("SELECT 1"))  # connect now, not inside the timed call
        redis = host.redis
        redis.rpush(args.ready_key, args.name)
        if redis.blpop([args.go_key], timeout=GO_TIMEOUT) is None:
            print(json.dumps({"name": args.name, "error": "no go signal"}), flush=True)
            return 2
        result = contend(args.user_id, args.unlocked)
    print(json.dumps({"name": args.name, "refreshed": seen.seen, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
