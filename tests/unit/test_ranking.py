"""The discovery ranking (``discovery.ranking``): pure logic, so plain unit tests."""

from __future__ import annotations

import random

from aperture_trakt_plugin.discovery.ranking import Ranked, Rated, build_model, rank

TITLES = {
    "heat": "Heat",
    "ronin": "Ronin",
    "thief": "Thief",
    "notebook": "The Notebook",
    "titanic": "Titanic",
    "amelie": "Amélie",
}


def two_tastes(users: int = 10) -> list[Rated]:
    """Half the users love crime films and dislike romances, the other half the reverse."""
    crime, romance = ["heat", "ronin", "thief"], ["notebook", "titanic", "amelie"]
    ratings = []
    for user in range(users):
        loved, disliked = (crime, romance) if user % 2 else (romance, crime)
        ratings += [Rated(user, item, 9 + user % 2) for item in loved]
        ratings += [Rated(user, item, 2 + user % 3) for item in disliked]
    return ratings


def items(ranked: list[Ranked]) -> list[str]:
    return [r.item for r in ranked]


def test_similar_users_tastes_surface():
    model = build_model(two_tastes())
    ranked = rank(
        model, {"heat": 9, "notebook": 2}, ["titanic", "amelie", "ronin", "thief"], TITLES
    )
    # The crime films the user's liked Heat points to pass the more popular romances.
    assert items(ranked) == ["ronin", "thief", "titanic", "amelie"]
    assert ranked[0].score > 0.0 and ranked[1].score > 0.0
    # Disliking The Notebook is no evidence for anything: the romances keep score 0.0.
    assert ranked[2:] == [Ranked("titanic", 0.0, ""), Ranked("amelie", 0.0, "")]


def test_weak_evidence_only_reorders_titles_of_similar_popularity():
    model = build_model(two_tastes())
    user = {"heat": 9, "notebook": 2}
    popular = [f"popular-{n}" for n in range(2000)]
    # Ronin 2,000 places down the sources' order: its evidence lifts it, but not to the top.
    ranked = items(rank(model, user, [*popular, "ronin"], TITLES))
    assert 0 < ranked.index("ronin") < 2000
    assert [item for item in ranked if item != "ronin"] == popular
    # Right behind a popular title, the same evidence puts it first.
    assert items(rank(model, user, ["popular-0", "ronin"], TITLES)) == ["ronin", "popular-0"]


def test_reason_names_the_strongest_rating():
    model = build_model(two_tastes())
    ranked = rank(model, {"heat": 9, "notebook": 2}, ["ronin"], TITLES)
    assert ranked == [
        Ranked(
            "ronin", ranked[0].score, "You rated Heat 9; people here who liked it liked this too"
        )
    ]
    # Without the title's name, no reason: the page then shows the source's, not an id.
    untitled = rank(model, {"heat": 9}, ["ronin"], {})
    assert untitled[0].score > 0.0 and untitled[0].reason == ""


def test_no_ratings_keeps_the_sources_order():
    model = build_model(two_tastes())
    candidates = ["thief", "amelie", "heat", "unknown"]
    assert rank(model, {}, candidates, TITLES) == [Ranked(c, 0.0, "") for c in candidates]


def test_every_candidate_once_unknown_ones_in_given_order():
    model = build_model(two_tastes())
    candidates = ["new-b", "titanic", "ronin", "new-a", "ronin", "thief", "new-c"]
    ranked = rank(model, {"heat": 10, "notebook": 3}, candidates, TITLES)
    assert sorted(items(ranked)) == sorted(set(candidates))
    assert items(ranked)[:2] == ["ronin", "thief"]
    # Without evidence: score 0.0, no reason, and the sources' order among themselves.
    assert ranked[2:] == [Ranked(c, 0.0, "") for c in ["new-b", "titanic", "new-a", "new-c"]]
    assert all(r.score > 0.0 and r.reason for r in ranked[:2])


def test_deterministic_whatever_the_order_of_the_ratings():
    ratings = two_tastes(12)
    shuffled = ratings[:]
    random.Random(3).shuffle(shuffled)
    candidates = ["titanic", "ronin", "amelie", "thief"]
    user = {"heat": 8, "amelie": 6}
    first = rank(build_model(ratings), user, candidates, TITLES)
    assert rank(build_model(shuffled), user, candidates, TITLES) == first
    assert rank(build_model(ratings), user, candidates, TITLES) == first


def test_a_later_rating_of_the_same_item_replaces_the_earlier():
    doubled = [*two_tastes(), *(Rated(u, "heat", 1) for u in range(10))]
    model = build_model(doubled)
    # Everyone now rates Heat 1: it no longer goes with the other crime films.
    assert "heat" not in model.neighbours.get("ronin", {})


def test_empty_server_and_single_user():
    assert rank(build_model([]), {"heat": 9}, ["ronin", "heat"], TITLES) == [
        Ranked("ronin", 0.0, ""),
        Ranked("heat", 0.0, ""),
    ]
    single = build_model([Rated(1, "heat", 9), Rated(1, "ronin", 8), Rated(1, "notebook", 2)])
    ranked = rank(single, {"heat": 10}, ["notebook", "ronin"], TITLES)
    assert items(ranked) == ["ronin", "notebook"]
    assert ranked[0].reason == "You rated Heat 10; people here who liked it liked this too"
    assert ranked[1] == Ranked("notebook", 0.0, "")


def test_items_with_one_rater_are_weak_neighbours():
    ratings = [*two_tastes(), Rated(0, "obscure", 10), Rated(0, "rare", 10)]
    model = build_model(ratings)
    ranked = rank(model, {"notebook": 10, "rare": 10}, ["obscure", "titanic"], TITLES)
    assert items(ranked) == ["titanic", "obscure"]  # the shared taste beats one person
    assert ranked[1].score > 0.0


def test_all_same_rating_gives_no_signal():
    flat = build_model([Rated(u, item, 7) for u in range(5) for item in TITLES])
    # The server's mean is 7 and so is every user's: no deviation, no similarity.
    assert flat.neighbours == {}
    candidates = ["ronin", "thief"]
    assert rank(flat, {"heat": 7}, candidates, TITLES) == [Ranked(c, 0.0, "") for c in candidates]


def test_watched_titles_count_as_mild_likes():
    model = build_model(two_tastes())
    candidates = ["titanic", "ronin"]
    # Played Heat without rating it: the crime film it goes with moves up, with a reason.
    ranked = rank(model, {}, candidates, TITLES, watched={"heat"})
    assert items(ranked) == ["ronin", "titanic"]
    assert ranked[0].reason == "You watched Heat; people here who liked it liked this too"
    # Less than a 9 says.
    rated = rank(model, {"heat": 9, "notebook": 2}, ["ronin"], TITLES)
    assert 0.0 < ranked[0].score < rated[0].score
    # A rated title is counted by its rating, not again as watched.
    both = rank(model, {"heat": 9, "notebook": 2}, ["ronin"], TITLES, watched={"heat"})
    assert both == rated
