"""The reference host: seed, login, permissions, CSRF, ratings and their hooks, CLI."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from aperture_trakt_plugin.host import ExternalIds, HostServices, MediaRef, RatingWrite
from harness.reference_host.db import db
from harness.reference_host.models import MediaItem, Rating
from harness.reference_host.testplugins import (
    BrokenRatingPlugin,
    CommitProbe,
    Recorder,
    SlotsPlugin,
)
from tests.fixtures_host import csrf_token_from

NAMED_MOVIES = {
    "The Matrix": 603,
    "Fight Club": 550,
    "Inception": 27205,
    "Pulp Fiction": 680,
    "Forrest Gump": 13,
    "The Shawshank Redemption": 278,
}


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture()
def host_config(request, recorder):
    """This module's plugins; a test may parametrise it (indirect) to replace them."""
    return getattr(request, "param", None) or {
        "APERTURE_LOAD_ENTRY_POINTS": False,
        "APERTURE_PLUGINS": [recorder, SlotsPlugin()],
    }


def host(app) -> HostServices:
    return app.extensions["aperture_host"]


def matrix_id(app) -> str:
    ref = host(app).find_media("movie", ExternalIds(tmdb=603))
    assert ref is not None
    return ref.item_id


def rate_via_page(client, item_id: str, value: int | None, action: str = "rate"):
    token = csrf_token_from(client.get("/library?q=Matrix").get_data(as_text=True))
    return client.post(
        "/library/rate",
        data={
            "csrf_token": token,
            "item_id": item_id,
            "value": value or "",
            "action": action,
            "next": "/library?q=Matrix",
        },
        follow_redirects=True,
    )


def library_row(html: str, item_id: str) -> str:
    match = re.search(rf'<tr id="item-{item_id}".*?</tr>', html, re.DOTALL)
    assert match, f"no row for item {item_id}"
    return match.group(0)


# --- seed -----------------------------------------------------------------------------


def test_seed_holds_the_named_titles_with_their_real_ids(host_app):
    services = host(host_app)
    for title, tmdb in NAMED_MOVIES.items():
        ref = services.find_media("movie", ExternalIds(tmdb=tmdb))
        assert ref is not None and ref.title == title, title
        assert ref.ids.imdb and ref.ids.imdb.startswith("tt")
    with host_app.app_context():
        movies = db.session.scalar(select(func.count()).where(MediaItem.kind == "movie"))
        shows = db.session.scalar(select(func.count()).where(MediaItem.kind == "show"))
        episodes = db.session.scalar(select(func.count()).where(MediaItem.kind == "episode"))
    assert movies >= 200
    assert shows > 0 and episodes > shows
    users = {u.name: u.is_admin for u in services.list_users()}
    assert users == {"admin": True, "alice": False, "bob": False}


def test_seed_command_is_idempotent(host_app):
    with host_app.app_context():
        before = db.session.scalar(select(func.count()).select_from(MediaItem))
    result = host_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "seeded 0 users, 0 media items, 0 watch events" in result.output
    with host_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MediaItem)) == before


def test_seasons_and_episodes_are_found_by_show_ids_and_numbers(host_app):
    services = host(host_app)
    with host_app.app_context():
        episode = db.session.scalars(
            select(MediaItem).where(
                MediaItem.kind == "episode",
                MediaItem.season_number == 1,
                MediaItem.episode_number == 2,
            )
        ).first()
        show = episode.parent.parent
        show_ids = ExternalIds(tmdb=show.tmdb, imdb=show.imdb, tvdb=show.tvdb)
    by_tvdb = ExternalIds(tvdb=show_ids.tvdb)
    found = services.find_media_bulk(
        [
            MediaRef(kind="episode", ids=by_tvdb, season=1, episode=2),
            MediaRef(kind="season", ids=ExternalIds(imdb=show_ids.imdb), season=1),
            MediaRef(kind="show", ids=ExternalIds(tmdb=show_ids.tmdb)),
            MediaRef(kind="episode", ids=by_tvdb, season=1, episode=999),
            MediaRef(kind="movie", ids=ExternalIds(tmdb=show_ids.tmdb or -1, imdb="tt0000000")),
        ]
    )
    assert found[0].item_id == str(episode.id) and (found[0].season, found[0].episode) == (1, 2)
    assert found[0].ids == show_ids
    assert found[1].kind == "season" and found[1].item_id == str(episode.parent_id)
    assert found[2].item_id == str(show.id)
    assert found[3] is None
    assert found[4] is None or found[4].kind == "movie"


def test_bulk_lookup_of_thousands_takes_a_few_queries(host_app):
    services = host(host_app)
    with host_app.app_context():
        movies = db.session.scalars(select(MediaItem).where(MediaItem.kind == "movie")).all()
        episodes = db.session.scalars(
            select(MediaItem).where(MediaItem.kind == "episode").limit(1500)
        ).all()
        refs = [MediaRef(kind="movie", ids=ExternalIds(imdb=m.imdb)) for m in movies]
        refs += [
            MediaRef(
                kind="episode",
                ids=ExternalIds(tvdb=e.tvdb),
                season=e.season_number,
                episode=e.episode_number,
            )
            for e in episodes
        ]
        refs += [MediaRef(kind="movie", ids=ExternalIds(tmdb=10**9 + n)) for n in range(1000)]
        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        found = services.find_media_bulk(refs)
    assert [f.item_id for f in found[: len(movies)]] == [str(m.id) for m in movies]
    assert [f.item_id for f in found[len(movies) : len(movies) + len(episodes)]] == [
        str(e.id) for e in episodes
    ]
    assert found[-1000:] == [None] * 1000
    assert len(statements) <= 20, len(statements)


# --- login, permissions, CSRF ----------------------------------------------------------


def test_pick_a_user_login_and_logout(host_client, login):
    assert host_client.get("/library").status_code == 302
    page = host_client.get("/login").get_data(as_text=True)
    assert 'value="alice"' in page and 'value="admin"' in page
    login(host_client, "alice")
    html = host_client.get("/").get_data(as_text=True)
    assert '<span id="current-user">alice</span>' in html
    assert "/admin/jobs" not in html  # no admin links for ordinary users
    token = csrf_token_from(html)
    response = host_client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert host_client.get("/library").headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/admin/settings/integrations", "/admin/jobs"])
def test_only_admins_see_admin_pages(host_client, login, path):
    assert host_client.get(path).status_code == 302  # anonymous: to the login page
    login(host_client, "bob")
    assert host_client.get(path).status_code == 403
    login(host_client, "admin")
    assert host_client.get(path).status_code == 200


def test_post_without_csrf_token_is_refused(host_app, host_client, login):
    login(host_client, "alice")
    response = host_client.post(
        "/library/rate", data={"item_id": matrix_id(host_app), "value": 7, "action": "rate"}
    )
    assert response.status_code == 400
    assert host(host_app).list_ratings(2) == []


# --- ratings -----------------------------------------------------------------------------


def test_rating_on_the_library_page_is_committed_then_announced(
    host_app, host_client, login, recorder
):
    probe = CommitProbe()
    host_app.extensions["aperture_plugins"].register(probe)
    login(host_client, "alice")
    item_id = matrix_id(host_app)
    html = rate_via_page(host_client, item_id, 9).get_data(as_text=True)
    assert "Rated The Matrix 9/10." in html
    assert '<span class="current-rating">9/10</span>' in library_row(html, item_id)
    alice = host(host_app).get_user_by_name("alice")
    (saved,) = host(host_app).list_ratings(alice.id)
    assert (saved.media.item_id, saved.value, saved.source) == (item_id, 9, "aperture")
    assert saved.rated_at.tzinfo is not None
    (call,) = recorder.named("aperture_rating_changed")
    assert call["user_id"] == alice.id and call["media"].ids.tmdb == 603
    assert (call["value"], call["previous"], call["source"]) == (9, None, "aperture")
    assert call["rated_at"] == saved.rated_at
    assert probe.seen == [9]  # the hook saw the committed row

    rate_via_page(host_client, item_id, 6)
    assert recorder.named("aperture_rating_changed")[-1]["previous"] == 9
    html = rate_via_page(host_client, item_id, None, action="remove").get_data(as_text=True)
    assert "Removed your rating of The Matrix." in html
    assert host(host_app).list_ratings(alice.id) == []
    (removed,) = recorder.named("aperture_rating_removed")
    assert (removed["previous"], removed["source"]) == (6, "aperture")


@pytest.mark.parametrize("host_config", [{"APERTURE_LOAD_ENTRY_POINTS": False}], indirect=True)
def test_a_failing_plugin_never_loses_the_rating(host_app, host_client, login):
    recorder = Recorder()
    plugins = host_app.extensions["aperture_plugins"]
    plugins.register(BrokenRatingPlugin())
    plugins.register(recorder)
    login(host_client, "alice")
    response = rate_via_page(host_client, matrix_id(host_app), 8)
    assert response.status_code == 200
    assert [r.value for r in host(host_app).list_ratings(2)] == [8]
    assert len(recorder.named("aperture_rating_changed")) == 1  # others still hear it


def test_apply_rating_keeps_the_given_time_and_source(host_app, recorder):
    services = host(host_app)
    when = datetime(2023, 5, 17, 8, 30, 15, 123000, tzinfo=UTC)
    item_id = matrix_id(host_app)
    services.apply_rating(3, item_id, 7, when, "trakt")
    (rating,) = services.list_ratings(3)
    assert (rating.value, rating.rated_at, rating.source) == (7, when, "trakt")
    assert recorder.named("aperture_rating_changed")[-1]["source"] == "trakt"
    with pytest.raises(ValueError):
        services.apply_rating(3, item_id, 11, when, "trakt")
    with pytest.raises(ValueError):
        services.apply_rating(3, item_id, 5, datetime(2023, 1, 1), "trakt")  # naive
    with pytest.raises(LookupError):
        services.apply_rating(3, "999999999", 5, when, "trakt")
    later = when + timedelta(days=1)
    services.remove_rating(3, item_id, later, "trakt")
    assert services.list_ratings(3) == []
    assert recorder.named("aperture_rating_removed")[-1]["removed_at"] == later
    services.remove_rating(3, item_id, later, "trakt")  # nothing left: no second event
    assert len(recorder.named("aperture_rating_removed")) == 1
    with host_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Rating)) == 0


def test_a_bulk_write_is_one_transaction_and_one_event(host_app, recorder):
    services = host(host_app)
    when = datetime(2023, 5, 17, 8, 30, tzinfo=UTC)
    matrix = matrix_id(host_app)
    fight_club = services.find_media("movie", ExternalIds(tmdb=550)).item_id
    services.apply_rating(3, matrix, 4, when, "aperture")
    services.apply_ratings(
        3,
        [
            RatingWrite(matrix, 9, when),
            RatingWrite(fight_club, 7, when),
            RatingWrite(fight_club, 8, when),
        ],
        "trakt",
    )
    assert sorted((r.media.item_id, r.value, r.source) for r in services.list_ratings(3)) == sorted(
        [(matrix, 9, "trakt"), (fight_club, 8, "trakt")]
    )  # the last write wins
    (event,) = recorder.named("aperture_ratings_changed")
    assert event["source"] == "trakt"
    assert sorted((c.item_id, c.value, c.previous) for c in event["changes"]) == sorted(
        [(matrix, 9, 4), (fight_club, 8, None)]
    )
    services.apply_ratings(
        3, [RatingWrite(matrix, None, when), RatingWrite("1", None, when)], "aperture"
    )  # "1": unrated
    (removed,) = recorder.named("aperture_ratings_changed")[1]["changes"]
    assert (removed.item_id, removed.value, removed.previous) == (matrix, None, 9)
    assert len(recorder.named("aperture_rating_changed")) == 1  # only the single write's
    with pytest.raises(LookupError, match="no media items \\[999999999\\]"):
        services.apply_ratings(
            3, [RatingWrite(fight_club, 2, when), RatingWrite("999999999", 5, when)], "trakt"
        )
    assert [r.value for r in services.list_ratings(3)] == [8]  # nothing of it was written


def test_cli_rates_and_lists_ratings_as_json(host_app, recorder):
    runner = host_app.test_cli_runner()
    result = runner.invoke(
        args=["demo", "rate", "--user", "alice", "--tmdb", "603", "--value", "8"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "demo",
            "rate",
            "--user",
            "alice",
            "--imdb",
            "tt0137523",
            "--value",
            "10",
            "--at",
            "2024-01-02T03:04:05Z",
        ]
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(args=["demo", "ratings", "--user", "alice", "--json"]).output)
    assert [(r["title"], r["value"], r["source"]) for r in listed] == [
        ("The Matrix", 8, "aperture"),
        ("Fight Club", 10, "aperture"),
    ]
    assert listed[1]["rated_at"] == "2024-01-02T03:04:05Z"
    assert listed[0]["ids"] == {"tmdb": 603, "imdb": "tt0133093", "tvdb": None}
    assert listed[0]["kind"] == "movie" and listed[0]["year"] == 1999
    assert listed[0]["rated_at"].endswith("Z")
    assert [c["source"] for c in recorder.named("aperture_rating_changed")] == ["aperture"] * 2

    result = runner.invoke(args=["demo", "rate", "--user", "alice", "--tmdb", "603", "--remove"])
    assert result.exit_code == 0, result.output
    listed = json.loads(runner.invoke(args=["demo", "ratings", "--user", "alice", "--json"]).output)
    assert [r["title"] for r in listed] == ["Fight Club"]
    assert recorder.named("aperture_rating_removed")[0]["media"].ids.tmdb == 603

    missing = runner.invoke(args=["demo", "rate", "--user", "alice", "--tmdb", "1", "--value", "5"])
    assert missing.exit_code != 0 and "no movie" in missing.output
    nobody = runner.invoke(args=["demo", "ratings", "--user", "mallory", "--json"])
    assert nobody.exit_code != 0


def test_library_changes_and_user_deletion_reach_the_plugins(host_app, recorder):
    from harness import catalogue

    runner, services = host_app.test_cli_runner(), host(host_app)
    outside = next(m for m in catalogue.movies() if not m["in_library"])
    tmdb = outside["ids"]["tmdb"]
    assert services.find_media("movie", ExternalIds(tmdb=tmdb)) is None
    result = runner.invoke(args=["demo", "library", "add", "--tmdb", str(tmdb)])
    assert result.exit_code == 0, result.output
    added = services.find_media("movie", ExternalIds(tmdb=tmdb))
    assert added is not None and added.title == outside["title"]
    assert recorder.named("aperture_library_changed") == [{"added": [added], "removed": []}]

    services.apply_rating(2, added.item_id, 6, datetime.now(UTC), "aperture")
    result = runner.invoke(args=["demo", "library", "remove", "--tmdb", str(tmdb)])
    assert result.exit_code == 0, result.output
    assert services.find_media("movie", ExternalIds(tmdb=tmdb)) is None
    assert services.list_ratings(2) == []
    assert recorder.named("aperture_library_changed")[-1] == {"added": [], "removed": [added]}

    with host_app.app_context():
        show = db.session.scalars(select(MediaItem).where(MediaItem.kind == "show")).first()
        show_tvdb = show.tvdb
    result = runner.invoke(
        args=["demo", "library", "remove", "--kind", "show", "--tvdb", str(show_tvdb)]
    )
    assert result.exit_code == 0, result.output
    with host_app.app_context():  # seasons and episodes went with it
        assert not db.session.scalars(select(MediaItem).where(MediaItem.tvdb == show_tvdb)).all()

    result = runner.invoke(args=["demo", "delete-user", "bob"])
    assert result.exit_code == 0, result.output
    assert services.get_user_by_name("bob") is None
    assert recorder.named("aperture_user_deleted") == [{"user_id": 3}]


# --- pages that render plugin slots ------------------------------------------------------


def test_profile_and_integrations_render_plugin_slots(host_client, login):
    login(host_client, "admin")
    profile = host_client.get("/settings/profile").get_data(as_text=True)
    assert (
        '<section class="plugin-section"><p id="test-profile-slot">'
        "Profile slot for admin</p></section>"
    ) in profile
    admin = host_client.get("/admin/settings/integrations").get_data(as_text=True)
    assert '<p id="test-admin-slot">Integrations slot for admin</p>' in admin


def test_setup_hook_receives_the_host_services(host_app, recorder):
    (setup,) = recorder.named("aperture_plugin_setup")
    assert setup["app"] is host_app
    assert isinstance(setup["host"], HostServices)
    assert setup["host"] is host_app.extensions["aperture_host"]


def test_public_base_url(host_app):
    services = host(host_app)
    assert services.public_base_url() == "http://localhost:5000"
    with host_app.test_request_context("/", base_url="http://media.example:8096/"):
        assert services.public_base_url() == "http://media.example:8096"
    host_app.config["PUBLIC_BASE_URL"] = "https://watch.example/aperture/"
    assert services.public_base_url() == "https://watch.example/aperture"


@pytest.mark.parametrize(
    ("configured", "cookie", "expected"),
    [
        (None, None, None),
        ("dark", None, "dark"),
        (None, "light", "light"),
        ("light", "dark", "dark"),
    ],
)
def test_the_theme_is_the_cookie_then_demo_theme(
    host_app, host_client, configured, cookie, expected
):
    """<html data-theme>: the visitor's toggle (a "theme" cookie) over DEMO_THEME; none
    leaves the CSS to prefers-color-scheme."""
    host_app.config["DEMO_THEME"] = configured
    if cookie:
        host_client.set_cookie("theme", cookie)
    html = host_client.get("/login").get_data(as_text=True)
    found = re.search(r'<html lang="en"(?: data-theme="(\w+)")?>', html)
    assert found is not None and found.group(1) == expected


def test_an_unknown_theme_is_ignored(host_client):
    host_client.set_cookie("theme", 'dark" onload="x')
    assert "data-theme" not in host_client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("host_config", [{"DEMO_STRICT_CSP": True}], indirect=True)
def test_demo_strict_csp_puts_every_page_under_the_policy(host_client):
    from harness.reference_host.app import strict_csp

    policy = strict_csp(host_client.application.config.get("APERTURE_TRAKT_API_URL"))
    # Images from this host and from where the plugin's posters come, nothing else.
    assert "img-src 'self' data: https://media.trakt.tv https://walter-r2.trakt.tv" in policy
    for path in ("/login", "/static/host.css", "/nowhere"):
        assert policy in host_client.get(path).headers.getlist("Content-Security-Policy")


def test_without_demo_strict_csp_there_is_no_policy(host_client):
    assert host_client.get("/login").headers.get("Content-Security-Policy") is None


@pytest.mark.parametrize("host_config", [{"DEMO_SEED_RATINGS": True}], indirect=True)
def test_the_demo_seeds_other_people_with_ratings_once(host_app):
    """The demo's Discovery counts similar users from the first visit: carol … grace have
    rated what alice watched and what Trakt lists; seeding again adds nothing."""
    from harness.reference_host.seed import DEMO_RATERS, seed

    host = host_app.extensions["aperture_host"]
    with host_app.app_context():
        for name, rated in DEMO_RATERS.items():
            user = host.get_user_by_name(name)
            assert user is not None and not user.is_admin
            values = {r.media.ids.tmdb: r.value for r in host.list_ratings(user.id)}
            assert values == rated
        assert seed(raters=True).ratings == 0
        assert host.get_user_by_name("alice") is not None
