"""The hide form's ids are checked and every id in a Trakt path is encoded (issue 15).

Before, ``imdb=../../checkin`` from the "Not interested" form was stored as is and sent
as ``DELETE /recommendations/movies/../../checkin``, which reached ``DELETE /checkin``.
"""

from __future__ import annotations

import html as htmllib

import pytest
from sqlalchemy import select

from aperture_trakt_plugin.discovery import hide
from aperture_trakt_plugin.discovery.keys import (
    MSG_BAD_ID,
    form_ids,
    parse_ids,
    path_segment,
)
from aperture_trakt_plugin.host import ExternalIds
from aperture_trakt_plugin.storage.models import TraktHidden, utcnow
from tests.connect_helpers import configure_trakt, connect_with_tokens, page, run_trakt_jobs
from tests.connect_helpers import user_id as user_id_of
from tests.fixtures_host import csrf_token_from

pytestmark = [pytest.mark.trakt]

HIDE = "/plugins/trakt/discover/hide"


@pytest.fixture()
def alice(host_app, sandbox):
    configure_trakt(host_app, sandbox)
    connect_with_tokens(host_app, sandbox, "alice", "alice_trakt")
    sandbox.clear_requests()
    return user_id_of(host_app, "alice")


def hidden_rows(host_app, user_id: int) -> list[TraktHidden]:
    with host_app.app_context():
        db = host_app.extensions["aperture_host"].db
        return list(db.session.scalars(select(TraktHidden).where(TraktHidden.user_id == user_id)))


@pytest.mark.parametrize(
    "field, value",
    [
        ("imdb", "../../checkin"),
        ("imdb", "tt123/../../checkin"),
        ("trakt", "12/../../x"),
        ("tmdb", "-5"),
        ("tvdb", "1e9"),
        ("trakt", "99999999999999999999"),
        ("tmdb", "²"),
    ],
)
def test_the_form_refuses_a_malformed_id_and_nothing_reaches_trakt(
    host_app, alice, sandbox, host_client, login, field, value
):
    login(host_client, "alice")
    html = page(host_client, "/discover")
    response = host_client.post(
        HIDE,
        data={
            "csrf_token": csrf_token_from(html),
            "next": "/discover",
            "kind": "movie",
            "title": "Anything",
            field: value,
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    shown = htmllib.unescape(response.get_data(as_text=True))
    assert "Could not hide that title" in shown and "is not a valid id" in shown
    assert hidden_rows(host_app, alice) == []
    run_trakt_jobs(host_app)
    assert [r for r in sandbox.requests() if r["method"] != "GET"] == []


def test_a_stored_row_with_a_bad_id_never_climbs_out_of_its_path(host_app, alice, sandbox):
    """A row written before ids were checked: its IMDB id is not used, the TMDB id is
    looked up instead, and nothing but the recommendations endpoint is called."""
    movie = next(m for m in sandbox.catalogue()["movies"] if m["ids"].get("tmdb"))
    with host_app.app_context():
        db = host_app.extensions["aperture_host"].db
        db.session.add(
            TraktHidden(
                user_id=alice,
                item_key="movie:imdb:../../checkin",
                kind="movie",
                imdb="../../checkin",
                tmdb=movie["ids"]["tmdb"],
                title="Old row",
                hidden_at=utcnow(),
                state=hide.PENDING,
            )
        )
        db.session.commit()
        result = hide.send_pending(alice)
    assert result.sent == 1, result
    paths = [(r["method"], r["path"]) for r in sandbox.requests()]
    assert paths == [
        ("GET", f"/search/tmdb/{movie['ids']['tmdb']}"),
        ("DELETE", f"/recommendations/movies/{movie['ids']['trakt']}"),
    ]


def test_ids_from_trakt_are_checked_as_well():
    assert parse_ids(
        {"imdb": "../../checkin", "trakt": "12", "tmdb": True, "tvdb": -3}
    ) == ExternalIds(trakt=12)
    assert parse_ids({"imdb": "tt0133093", "tmdb": 603}) == ExternalIds(tmdb=603, imdb="tt0133093")


def test_form_ids_and_path_segments():
    assert form_ids({"tmdb": "603", "imdb": "", "trakt": None}) == ExternalIds(tmdb=603)
    with pytest.raises(ValueError) as raised:
        form_ids({"imdb": "../x"})
    assert str(raised.value) == MSG_BAD_ID.format(name="imdb", value="../x")
    assert path_segment("../../checkin") == "..%2F..%2Fcheckin"
    assert path_segment("..") == "%2E%2E"
    assert path_segment(12) == "12"


def test_the_command_line_refuses_a_malformed_id(host_app, alice):
    with host_app.app_context(), pytest.raises(ValueError):
        hide.hide(alice, "movie", ExternalIds(tmdb=-1))
