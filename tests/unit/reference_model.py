"""The pure-Python item-to-item build that ``discovery.ranking.build_model`` replaced.

Kept here, and only here, as the reference the numpy build is compared with
(``test_model_build.py``) and as the "before" of ``bench/model_build.py --builder
tests.unit.reference_model:build_model``. It follows the rules of the ranking module's
docstring one rating at a time; it reads the constants from ``ranking`` when called, so a
test that lowers ``PAIR_BUDGET`` or ``NEIGHBOURS`` there lowers them here too. This is
the code the package had until the numpy build (git history: ``build_model`` before
issue 17), unchanged but for that.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

from aperture_trakt_plugin.discovery import ranking
from aperture_trakt_plugin.discovery.ranking import Model, Rated


def build_model(ratings: Iterable[Rated]) -> Model:
    """The item-to-item model of all the server's ratings (a user's later rating of the
    same item replaces the earlier one)."""
    by_user: dict[int, dict[str, int]] = {}
    for user, item, value in ratings:
        by_user.setdefault(user, {})[item] = value
    count = sum(len(items) for items in by_user.values())
    if not count:
        return Model(0.0, {})
    model = Model(sum(sum(items.values()) for items in by_user.values()) / count, {})

    keys = sorted({item for items in by_user.values() for item in items})
    index = {item: n for n, item in enumerate(keys)}
    # Each user's ratings as (item index, deviation from the user's damped mean).
    centred = []
    for user in sorted(by_user):
        items = by_user[user]
        mean = model.user_mean(items.values())
        centred.append([(index[item], value - mean) for item, value in sorted(items.items())])

    squares = [ranking.NORM_PRIOR] * len(keys)
    for row in centred:
        for item, deviation in row:
            squares[item] += deviation * deviation
    norms = [math.sqrt(square) for square in squares]

    # Deviations divided by their item's norm: a row's sums are then the similarities.
    rows: list[list[tuple[int, float]]] = []
    raters: list[list[tuple[int, float]]] = [[] for _ in keys]
    for row in centred:
        scaled = [(item, deviation / norms[item]) for item, deviation in row if deviation]
        if len(scaled) > ranking.PAIR_BUDGET:
            scaled = sorted(heapq.nlargest(ranking.PAIR_BUDGET, scaled, key=lambda p: abs(p[1])))
        user = len(rows)
        rows.append(scaled)
        for item, weight in scaled:
            raters[item].append((user, weight))
    row_items = [{item for item, _ in row} for row in rows]

    for item, its_raters in enumerate(raters):
        if not its_raters:
            continue
        sums = [0.0] * len(keys)
        for user, weight in its_raters:
            for other, other_weight in rows[user]:
                sums[other] += weight * other_weight
        touched = set().union(*(row_items[user] for user, _ in its_raters))
        touched.discard(item)
        best = heapq.nlargest(ranking.NEIGHBOURS, sorted(touched), key=sums.__getitem__)
        similar = {keys[other]: sums[other] for other in best if sums[other] > 0.0}
        if similar:
            model.neighbours[keys[item]] = similar
    return model
