"""What the plugin stores comes back whole on every database: long texts and times to
the microsecond.

MariaDB and MySQL lose both quietly where SQLite and PostgreSQL do not: a ``TEXT``
column holds 64 KiB (a 1,500-title watch history's cached list is past that: "Data too
long"), and ``DATETIME`` keeps whole seconds, while the merge compares rating times to
the microsecond, so a rating read back a fraction of a second earlier looked changed.
These run on SQLite, PostgreSQL and MariaDB (``both_databases``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from aperture_trakt_plugin.discovery import cache
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.storage import migrate
from aperture_trakt_plugin.storage.models import TraktOutbox
from tests.connect_helpers import user_id

pytestmark = [pytest.mark.both_databases]

AT = datetime(2026, 11, 30, 21, 14, 5, 123456, tzinfo=UTC)
MATRIX = 603


def test_a_long_cached_list_is_stored_whole(host_app):
    titles = [
        {
            "type": "movie",
            "movie": {
                "title": f"A title long enough to count {n}",
                "year": 1990 + n % 30,
                "ids": {"trakt": n, "slug": f"a-title-{n}", "tmdb": 100_000 + n},
            },
            "watched_at": "2026-11-30T21:14:05.000Z",
        }
        for n in range(1500)
    ]
    with host_app.app_context():
        cache.save("user:1:history", titles)
        host_app.extensions["aperture_host"].db.session.remove()
        stored = cache.load("user:1:history")
    assert stored is not None and stored.payload == titles  # > 64 KiB of JSON


def test_rating_times_keep_their_microseconds(host_app):
    alice = user_id(host_app, "alice")
    with host_app.app_context():
        host = host_app.extensions["aperture_host"]
        item = host.find_media("movie", ExternalIds(tmdb=MATRIX)).item_id
        host.db.session.add(TraktOutbox(user_id=alice, item_id=item, value=8, at=AT))
        host.db.session.commit()
        host.apply_rating(alice, item, 8, AT, "aperture")  # the host's own table, too
        host.db.session.remove()
        row = host.db.session.get(TraktOutbox, (alice, item))
        (rating,) = [r for r in host.list_ratings(alice) if r.media.item_id == item]
    assert row is not None and row.at == AT
    assert rating.rated_at == AT


def test_the_migrations_go_down_to_base_and_up_again(host_app, database):
    """On each database, including the widening of 0005 on MariaDB and back."""
    runner = host_app.test_cli_runner()
    steps = ("downgrade base", "upgrade 0004_discovery", "upgrade head", "downgrade 0004_discovery")
    for step in steps:
        done = runner.invoke(args=["trakt", "db", *step.split()])
        assert done.exit_code == 0, (step, done.output)
    assert runner.invoke(args=["trakt", "db", "upgrade"]).exit_code == 0
    with host_app.app_context():
        engine = host_app.extensions["aperture_host"].db.engine
        assert migrate.current(engine) == migrate.head()
        columns = {
            (table, c["name"]): c["type"]
            for table in ("trakt_discovery_lists", "trakt_outbox")
            for c in inspect(engine).get_columns(table)
        }
    if database == "mariadb":
        assert columns["trakt_discovery_lists", "payload"].__visit_name__ == "LONGTEXT"
        assert columns["trakt_outbox", "at"].fsp == 6
