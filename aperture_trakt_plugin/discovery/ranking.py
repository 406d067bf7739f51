"""Ranking discovery candidates for one user: item-to-item collaborative filtering.

The model is built once per refresh from every rating on the server (host ratings and the
Trakt-synced ones) and then used for every user, so the costly part (which items are
rated alike) is shared and ranking a user's candidates is a few dictionary look-ups.

Why these choices:

* **Item-to-item, not user-to-user.** Item neighbourhoods are stable between refreshes,
  are computed once for all users, and give a reason a person can check: "You rated Heat 9; 4
  people here who rated it 8+ rated this 9+" names one of the user's own ratings
  (``reasons``).
* **Adjusted cosine on centred ratings.** People use the scale differently (one rates
  everything 7-9, another 3-8), so each rating is taken as its distance from the rater's
  own mean. That mean is *damped* towards the server's mean by ``MEAN_DAMPING`` phantom
  ratings: a user with a single rating of 9 is then read as liking that item rather than
  as exactly average (in the similarities, and in which of their titles they liked).
* **Cosine over all of an item's raters, with a prior in the norm.** The numerator sums
  over co-raters only while each norm spans all of the item's raters, so two items sharing
  2 of their 50 raters cannot look alike; ``NORM_PRIOR`` (added to each squared norm)
  shrinks items with few raters towards 0, so two items rated once by the same person are
  not perfect neighbours. This is the shrinkage for small support without a second
  accumulator per item pair (a co-rating count would be a second product over every
  pair).
* **Bounded work and memory.** The build is the sum, over users, of the square of the
  ratings they contribute. Each user contributes at most ``PAIR_BUDGET`` ratings to it,
  the ones farthest from their mean (a rating at the mean adds almost nothing to any
  similarity), and each item keeps only its ``NEIGHBOURS`` most similar items with a
  positive similarity (negative neighbours make predictions unstable and never make a
  good reason). The similarities are sparse matrix products (numpy and scipy: users by
  items, deviation over norm) made a block of items at a time, each block about
  ``PRODUCT_BUDGET`` entries at most, so memory never holds every pair.
* **Scores add up evidence from liked titles, not a predicted rating.** A candidate's
  score is the sum, over its neighbours the user liked (rated above their own damped
  mean), of similarity times how far above. A predicted rating (the user's mean plus the
  similarity-weighted mean of their deviations) puts obscure titles with one weak
  neighbour on top; summing over *every* rating (a 3 still counting a little) made a
  title near many mediocre ratings look wanted. Both lost to plain popularity in
  ``bench/discovery_recall.py``. What a person goes on to rate highly is what several of
  their liked titles point to; a disliked title is evidence for nothing. The score is
  0.0, with no reason, when the user liked none of a candidate's neighbours.
* **The order is evidence times popularity.** Ranking on evidence alone put obscure
  titles with a little evidence above the popular ones a person mostly watches, and
  lost to the popularity order on most seeds of the bench. The order multiplies the
  evidence (as ``exp(EVIDENCE_WEIGHT * score)``) by a Zipf-like prior from the
  candidate's place in the sources' order (see :func:`order_key`), so the score itself
  stays the same in every list an item appears in, titles without evidence keep their
  popular place, and a user without ratings gets the sources' order. With 100
  neighbours per item (50 left too many candidates without evidence) it beats the best
  popularity order on every seed of the bench by 25-53% (bench/README.md).

No I/O. numpy and scipy are imported by :func:`build_model` only, so importing this
module (and the plugin) stays cheap. Deterministic for the same ratings whatever their
order: users and items go in sorted order, and every sum is made in the order a loop over
them would make it (``tests/unit/reference_model.py``, the pure-Python build this
replaced, gives the same neighbours bit for bit).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

from aperture_trakt_plugin.discovery.reasons import Reasons

MEAN_DAMPING = 3.0  # phantom ratings at the server mean in each user's mean
NORM_PRIOR = 20.0  # added to each item's squared norm (about 4 raters' typical deviation)
PAIR_BUDGET = 100  # ratings per user that take part in the item-pair sums
NEIGHBOURS = 100  # similar items kept per item
EVIDENCE_WEIGHT = 1.0  # evidence against log(position): see order_key
PRIOR_OFFSET = 30.0  # added to a candidate's position in the popularity prior
PRODUCT_BUDGET = 1_000_000  # similarities computed at once in the build (about 12 bytes each)
WATCHED_LIFT = 0.5  # a title played and not rated, as a deviation above the user's mean

#: ``explain(candidate, strongest)``: the reason line (``reasons.Reasons``).
Explain = Callable[[str, str], str]


class Rated(NamedTuple):
    user: int  # a host user id
    item: str  # a media key, e.g. "movie:tmdb:603" (opaque here)
    value: int  # 1..10


class Ranked(NamedTuple):
    item: str
    score: float  # evidence, higher is stronger; 0.0 when there is no signal for this item
    reason: str  # "" when there is no signal (the caller then uses the source's own reason)


class Model:
    """Each item's most similar items, and the server's mean rating.

    Built by :func:`build_model`; read-only afterwards, so one model serves every user
    (and every thread) until the next refresh."""

    __slots__ = ("mean", "neighbours")

    def __init__(self, mean: float, neighbours: dict[str, dict[str, float]]) -> None:
        self.mean = mean
        self.neighbours = neighbours  # item → {similar item: similarity in (0, 1]}

    def user_mean(self, values: Iterable[int]) -> float:
        """The user's mean rating, damped towards the server's mean."""
        total = count = 0
        for value in values:
            total += value
            count += 1
        return (total + MEAN_DAMPING * self.mean) / (count + MEAN_DAMPING)


def build_model(ratings: Iterable[Rated]) -> Model:
    """The item-to-item model of all the server's ratings (a user's later rating of the
    same item replaces the earlier one)."""
    users: list[int] = []
    items: list[str] = []
    values: list[int] = []
    add_user, add_item, add_value = users.append, items.append, values.append
    for user, item, value in ratings:
        add_user(user)
        add_item(item)
        add_value(value)
    if not users:
        return Model(0.0, {})
    keys = sorted(set(items))
    rows, cols, scores = _columns(users, items, values, keys)
    del users, items, values
    model = Model(int(scores.sum()) / scores.size, {})
    model.neighbours = _neighbours(rows, cols, scores, keys, model.mean)
    return model


def _columns(
    users: list[int], items: list[str], values: list[int], keys: list[str]
) -> tuple[Any, Any, Any]:
    """The ratings as numpy arrays in (user, item) order, one per pair (the last one
    given): each rating's user index (users in sorted order), item index in ``keys``, and
    value (as integers)."""
    import numpy as np  # here, not at the top: importing the plugin stays cheap

    index = {item: n for n, item in enumerate(keys)}
    cols = np.fromiter(map(index.__getitem__, items), np.int64, len(items))
    rows = np.unique(np.array(users, dtype=np.int64), return_inverse=True)[1].reshape(-1)
    pair = rows * len(keys) + cols
    order = np.argsort(pair, kind="stable")  # the same pair in the order given
    pair = pair[order]
    last = np.flatnonzero(np.append(pair[1:] != pair[:-1], True))
    del pair
    order = order[last]
    return (
        rows[order].astype(np.int32),
        cols[order].astype(np.int32),
        np.array(values, dtype=np.int64)[order],
    )


def _neighbours(
    rows: Any, cols: Any, scores: Any, keys: list[str], mean: float
) -> dict[str, dict[str, float]]:
    """Each item's ``NEIGHBOURS`` most similar items with a positive similarity, best first
    (ties by item key), as sparse matrix products over users and items in sorted order.

    Every step is the same arithmetic on the same values in the same order as a loop over
    the ratings would do it (user means, then squared norms summed user by user from
    ``NORM_PRIOR``, then each item pair's sum over its co-raters in user order: scipy's
    sparse product accumulates a row that way), so the similarities, and their ties, do
    not depend on the order of the input."""
    import numpy as np
    from scipy import sparse

    users, count = int(rows[-1]) + 1, len(keys)
    # Each rating's deviation from its user's damped mean, and each item's norm.
    per_user = np.bincount(rows, minlength=users)
    means = (np.bincount(rows, weights=scores, minlength=users) + MEAN_DAMPING * mean) / (
        per_user + MEAN_DAMPING
    )
    deviations = scores - means[rows]
    squares = np.bincount(  # NORM_PRIOR first, then each deviation in (user, item) order
        np.concatenate((np.arange(count, dtype=np.int32), cols)),
        weights=np.concatenate((np.full(count, NORM_PRIOR), deviations * deviations)),
        minlength=count,
    )
    rated = np.flatnonzero(deviations)
    rows, cols = rows[rated], cols[rated]
    weights = deviations[rated] / np.sqrt(squares)[cols]
    del deviations, rated
    if not rows.size:
        return {}

    # Each user's PAIR_BUDGET ratings farthest from their mean (ties: the first items).
    per_user = np.bincount(rows, minlength=users)
    if per_user.max() > PAIR_BUDGET:
        farthest = np.lexsort((cols, -np.abs(weights), rows))
        place = np.arange(rows.size) - (np.cumsum(per_user) - per_user)[rows]  # rows sorted
        kept = np.sort(farthest[place < PAIR_BUDGET])
        del farthest, place
        rows, cols, weights = rows[kept], cols[kept], weights[kept]
        per_user = np.minimum(per_user, PAIR_BUDGET)

    # W[user, item] = deviation / norm: W^T W holds the similarities, made a block of item
    # rows at a time so that memory never holds every pair.
    indptr = np.concatenate(([0], np.cumsum(per_user)))
    by_user = sparse.csr_matrix((weights, cols, indptr), shape=(users, count))
    by_item = by_user.T.tocsr()  # each item's raters in user order
    # An item's row of W^T W has at most as many entries as its raters rated, or items.
    bound = np.minimum(np.bincount(cols, weights=per_user[rows], minlength=count), count)
    del rows, cols, weights
    neighbours: dict[str, dict[str, float]] = {}
    for start, stop in _blocks(bound.tolist(), PRODUCT_BUDGET):
        product = by_item[start:stop] @ by_user
        sums, others, bounds = product.data, product.indices, product.indptr
        owner = np.repeat(np.arange(start, stop, dtype=np.int32), np.diff(bounds))
        positive = (sums > 0.0) & (others != owner)
        sums, others, owner = sums[positive], others[positive], owner[positive] - start
        del product, positive
        bounds = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=stop - start))))
        for row, (low, high) in enumerate(pairwise(bounds.tolist())):
            if low == high:
                continue
            row_sums, row_others = sums[low:high], others[low:high]
            if high - low > NEIGHBOURS:  # only the values at or above the NEIGHBOURS-th
                cut = np.partition(row_sums, high - low - NEIGHBOURS)[high - low - NEIGHBOURS]
                near = row_sums >= cut
                row_sums, row_others = row_sums[near], row_others[near]
            best = np.lexsort((row_others, -row_sums))[:NEIGHBOURS]
            neighbours[keys[start + row]] = dict(
                zip(
                    map(keys.__getitem__, row_others[best].tolist()),
                    row_sums[best].tolist(),
                    strict=True,
                )
            )
    return neighbours


def _blocks(bound: list[float], budget: int) -> Iterator[tuple[int, int]]:
    """Consecutive (start, stop) item ranges whose products hold about ``budget`` entries
    at most (an item whose row alone is larger goes in a block of its own)."""
    start, total = 0, 0.0
    for item, entries in enumerate(bound):
        if total and total + entries > budget:
            yield start, item
            start, total = item, 0.0
        total += entries
    yield start, len(bound)


def rank(
    model: Model,
    user_ratings: Mapping[str, int],
    candidates: Sequence[str],
    titles: Mapping[str, str],
    *,
    watched: Collection[str] = (),
    explain: Explain | None = None,
) -> list[Ranked]:
    """Every candidate exactly once, best first, with the score and reason of its evidence.

    The order weighs each candidate's evidence against its place in ``candidates`` (the
    sources' own order, most popular first): see :func:`order_key`. A user with no
    ratings and no plays, or with no liked title near any candidate, therefore gets the
    sources' order. ``watched``: titles the user played without rating them, each
    counted as a mild like (``WATCHED_LIFT``): a play says less than a 9 but more than
    nothing. ``explain(candidate, strongest)`` words the reason from the user's title
    that adds most to the evidence (``reasons.Reasons`` of ``titles`` by default)."""
    unique = list(dict.fromkeys(candidates))
    if not user_ratings and not watched:
        return [Ranked(item, 0.0, "") for item in unique]
    mean = model.user_mean(user_ratings.values())
    # Sorted: the same sums, and the same strongest title on ties, in every process.
    liked = {item: value - mean for item, value in user_ratings.items() if value > mean}
    liked.update({item: WATCHED_LIFT for item in watched if item not in user_ratings})
    liked = dict(sorted(liked.items()))
    explain = explain or Reasons(titles, user_ratings)
    keyed: list[tuple[float, int, Ranked]] = []
    for position, item in enumerate(unique):
        score, strongest = evidence(model.neighbours.get(item), liked)
        found = Ranked(item, score, explain(item, strongest) if strongest else "")
        keyed.append((order_key(score, position), position, found))
    keyed.sort(key=lambda entry: (-entry[0], entry[1]))
    return [found for _, _, found in keyed]


def evidence(similar: Mapping[str, float] | None, liked: Mapping[str, float]) -> tuple[float, str]:
    """How much the user's liked titles point to a candidate (the sum, over the liked
    titles among its neighbours, of similarity times how far the rating is above the
    user's mean), and the liked title that adds most ("" with no evidence)."""
    if not similar or not liked:
        return 0.0, ""
    # Walk the smaller side: a user likes a few dozen titles, an item keeps up to 100.
    if len(liked) > len(similar):
        common = sorted(similar.keys() & liked.keys())
    else:
        common = [rated for rated in liked if rated in similar]
    total = strongest = 0.0
    strongest_item = ""
    for rated in common:  # in key order (liked is sorted): the same sums in every process
        contribution = similar[rated] * liked[rated]
        total += contribution
        if contribution > strongest:
            strongest, strongest_item = contribution, rated
    return total, strongest_item


def order_key(score: float, position: int) -> float:
    """Where a candidate goes: its evidence plus a popularity prior from its position in
    the sources' order, on a log scale (a Zipf-like prior: the 10th title is watched
    about twice as often as the 50th; ``PRIOR_OFFSET`` flattens the very top).

    Multiplying likelihoods, not adding ranks: what a person goes on to rate highly is
    what they are likely to watch (popularity) *and* to like (the evidence), so a strong
    pointer from their liked titles lifts an obscure title past popular ones, while a weak
    pointer only reorders titles of similar popularity and titles without evidence keep
    their popular place instead of falling below every weakly pointed-to one."""
    return EVIDENCE_WEIGHT * score - math.log(position + PRIOR_OFFSET)
