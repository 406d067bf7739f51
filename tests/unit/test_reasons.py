"""The reason lines of ranked candidates (``discovery.reasons``): pure, so unit tests."""

from __future__ import annotations

from aperture_trakt_plugin.discovery import reasons
from aperture_trakt_plugin.discovery.reasons import Reasons, span

TITLES = {"heat": "Heat", "ronin": "Ronin"}
ME = 1


def server(*pairs: tuple[int, int, int]) -> dict[str, dict[int, int]]:
    """(user, their Heat, their Ronin) → every rating by item, the viewer's own included."""
    by_item: dict[str, dict[int, int]] = {"heat": {ME: 9}, "ronin": {}}
    for user, heat, ronin in pairs:
        by_item["heat"][user] = heat
        by_item["ronin"][user] = ronin
    return by_item


def test_span_gives_the_floor():
    assert span([9, 9]) == "9"
    assert span([8, 10, 9]) == "8+"


def test_people_who_rated_the_users_title_alike_are_counted():
    by_item = server((2, 9, 9), (3, 8, 10), (4, 10, 9), (5, 3, 2))  # 5 rated Heat unlike me
    explain = Reasons(TITLES, {"heat": 9}, user=ME, by_item=by_item)
    assert (
        explain("ronin", "heat") == "You rated Heat 9; 3 people here who rated it 8+ rated this 9+"
    )


def test_fewer_than_min_peers_gives_no_count():
    # Two neighbours: a count would all but name them (docs/privacy.md).
    by_item = server((2, 9, 9), (3, 9, 10))
    assert reasons.MIN_PEERS == 3
    explain = Reasons(TITLES, {"heat": 9}, user=ME, by_item=by_item)
    assert explain("ronin", "heat") == "You rated Heat 9; people here who liked it liked this too"


def test_peers_who_did_not_rate_it_well_give_no_count():
    by_item = server((2, 9, 6), (3, 9, 9), (4, 9, 8))
    explain = Reasons(TITLES, {"heat": 9}, user=ME, by_item=by_item)
    assert "people here who liked it" in explain("ronin", "heat")


def test_the_viewer_is_not_their_own_peer():
    by_item = server((2, 9, 9), (3, 9, 9))
    by_item["ronin"][ME] = 10  # the viewer rated the candidate too (a hidden-then-shown case)
    explain = Reasons(TITLES, {"heat": 9}, user=ME, by_item=by_item)
    assert "people here who liked it" in explain("ronin", "heat")


def test_a_trakt_only_rating_and_a_play_say_so():
    by_item = server((2, 9, 9), (3, 8, 9), (4, 9, 9))
    on_trakt = Reasons(TITLES, {"heat": 9}, user=ME, by_item=by_item, on_trakt={"heat"})
    assert on_trakt("ronin", "heat") == (
        "You rated Heat 9 on Trakt; 3 people here who rated it 8+ rated this 9"
    )
    del by_item["heat"][ME]
    watched = Reasons(TITLES, {}, user=ME, by_item=by_item)  # played, not rated
    assert (
        watched("ronin", "heat") == "You watched Heat; 3 people here who rated it 8+ rated this 9"
    )


def test_an_unnamed_title_gives_no_reason():
    assert Reasons({}, {"heat": 9})("ronin", "heat") == ""


def test_peers_examined_are_bounded():
    many = server(*((user, 9, 9) for user in range(2, 2 + reasons.PEERS_EXAMINED * 2)))
    explain = Reasons(TITLES, {"heat": 9}, user=ME, by_item=many)
    assert explain("ronin", "heat").endswith(
        f"; {reasons.PEERS_EXAMINED}+ people here who rated it 9 rated this 9"
    )
