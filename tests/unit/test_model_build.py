"""The numpy build of the discovery model against the pure-Python reference it replaced
(``reference_model.py``): the same items, the same neighbours in the same order (value
descending, then item key), the same similarities, on random small servers: ties, users
with one rating, items rated once, users above ``PAIR_BUDGET``, several product blocks."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aperture_trakt_plugin.discovery import ranking
from aperture_trakt_plugin.discovery.ranking import Model, Rated, build_model
from tests.unit import reference_model

ITEMS = [f"movie:tmdb:{n}" for n in range(12)]


def assert_same(built: Model, reference: Model) -> None:
    assert built.mean == reference.mean
    assert list(built.neighbours) == list(reference.neighbours)
    for item, similar in reference.neighbours.items():
        assert list(built.neighbours[item]) == list(similar), item  # the same order
        for other, value in similar.items():
            found = built.neighbours[item][other]
            assert type(found) is float
            assert math.isclose(found, value, rel_tol=1e-9, abs_tol=0.0), (item, other)


@contextmanager
def limits(pair_budget: int, neighbours: int, product_budget: int) -> Iterator[None]:
    with (
        mock.patch.object(ranking, "PAIR_BUDGET", pair_budget),
        mock.patch.object(ranking, "NEIGHBOURS", neighbours),
        mock.patch.object(ranking, "PRODUCT_BUDGET", product_budget),
    ):
        yield


servers = st.lists(
    st.builds(
        Rated,
        user=st.sampled_from([0, 1, 2, 3, 5, 8, 99, 10**12]),  # host ids: sorted as numbers
        item=st.sampled_from(ITEMS),
        value=st.sampled_from([1, 2, 5, 7, 8, 9, 10]),  # few values: many ties
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ratings=servers,
    pair_budget=st.integers(1, 6),
    neighbours=st.integers(1, 6),
    product_budget=st.sampled_from([1, 5, 40, 1_000_000]),
)
def test_the_same_neighbours_as_the_reference(ratings, pair_budget, neighbours, product_budget):
    with limits(pair_budget, neighbours, product_budget):
        assert_same(build_model(ratings), reference_model.build_model(ratings))


@settings(max_examples=100, deadline=None)
@given(ratings=servers, seed=st.integers(0, 2**32 - 1))
def test_the_order_of_the_ratings_does_not_matter(ratings, seed):
    # Duplicates of a (user, item) pair keep the last value: drop them so any order is fair.
    unique = list({(rating.user, rating.item): rating for rating in ratings}.values())
    shuffled = unique[:]
    random.Random(seed).shuffle(shuffled)
    with limits(3, 3, 5):
        first, second = build_model(unique), build_model(shuffled)
    assert first.mean == second.mean
    assert [(item, list(similar.items())) for item, similar in first.neighbours.items()] == [
        (item, list(similar.items())) for item, similar in second.neighbours.items()
    ]


def test_a_larger_server_with_the_real_limits():
    """Users above the real ``PAIR_BUDGET`` (100) and items with over 100 positive
    neighbours, so both cuts of the real constants are taken."""
    rng = random.Random(17)
    items = [f"movie:tmdb:{n}" for n in range(400)]
    ratings = []
    for user in range(60):
        taste = user % 3
        for n in rng.sample(range(len(items)), rng.randint(1, 220)):
            lift = 3 if n % 3 == taste else -2 if n % 3 == (taste + 1) % 3 else 0
            ratings.append(Rated(user, items[n], max(1, min(10, 5 + lift + rng.randint(-1, 1)))))
    reference = reference_model.build_model(ratings)
    assert max(len(similar) for similar in reference.neighbours.values()) == ranking.NEIGHBOURS
    assert_same(build_model(ratings), reference)
    with limits(ranking.PAIR_BUDGET, ranking.NEIGHBOURS, 3000):  # many blocks
        assert_same(build_model(ratings), reference)


def test_ties_go_by_item_key_and_the_item_is_not_its_own_neighbour():
    # b, c and d are rated exactly like a by the same users: three equal similarities.
    ratings = [
        Rated(user, item, value)
        for user, value in [(1, 9), (2, 2), (3, 9)]
        for item in ["d", "c", "a", "b"]
    ] + [Rated(4, "a", 5), Rated(4, "e", 10)]
    model = build_model(ratings)
    assert list(model.neighbours["a"]) == ["b", "c", "d"]
    assert len(set(model.neighbours["a"].values())) == 1
    assert all(item not in similar for item, similar in model.neighbours.items())
    with limits(ranking.PAIR_BUDGET, 2, ranking.PRODUCT_BUDGET):
        assert list(build_model(ratings).neighbours["a"]) == ["b", "c"]
        assert_same(build_model(ratings), reference_model.build_model(ratings))


def test_ties_at_the_pair_budget_keep_the_first_items():
    # Two users rate alike: deviations +1 (a, b, c), +3 (z) and -6 (y), so with a budget
    # of 3 each keeps y, z and, of the three tied ones, a.
    ratings = [
        Rated(user, item, value)
        for user in (1, 2)
        for item, value in [("c", 8), ("b", 8), ("a", 8), ("z", 10), ("y", 1)]
    ]
    with limits(3, ranking.NEIGHBOURS, ranking.PRODUCT_BUDGET):
        model = build_model(ratings)
        assert {item: list(similar) for item, similar in model.neighbours.items()} == {
            "a": ["z"],
            "z": ["a"],
        }
        assert_same(model, reference_model.build_model(ratings))


def test_edge_servers():
    assert build_model([]).neighbours == {} and build_model([]).mean == 0.0
    one = [Rated(1, "heat", 9)]  # one user, one rating: no pair at all
    assert build_model(one).neighbours == {} and build_model(one).mean == 9.0
    flat = [Rated(u, item, 7) for u in range(4) for item in ITEMS]  # no deviation anywhere
    assert build_model(flat).neighbours == {}
    singles = [Rated(u, ITEMS[u], 3 + u) for u in range(6)]  # one rating each, no co-rater
    assert build_model(singles).neighbours == {}
    for ratings in ([], one, flat, singles):
        assert_same(build_model(ratings), reference_model.build_model(ratings))
