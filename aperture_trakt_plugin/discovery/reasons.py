"""The line a discovery card shows under a ranked title: why it is there for this user.

The ranking (``ranking.rank``) finds, for each candidate, the title of the user's that
points to it most: one they rated above their own mean, or one they watched without
rating it. This module turns that pair into a sentence a person can check against what
they know: their own rating ("You rated Heat 9", "on Trakt" for a title the library
lacks) or play ("You watched Heat"), and what people on this server who rated that title
alike went on to give the candidate ("4 people here who rated it 8+ rated this 9+").

Why the sentence is built this way:

* **Counts and floors, never a person.** The "people here" part is said only when at
  least ``MIN_PEERS`` other users back it, and it gives the lowest of their ratings
  ("8+"), never a name or a single value that could only be one neighbour's. With fewer
  such people, or when they did not rate the candidate at least ``LIKED`` (a harsh
  rater's positive deviation can be a 6), the line says only that people who liked the
  user's title liked this one too (docs/privacy.md, "Within the server").
* **Alike means within one point.** "People who rated Heat 9" counts those who gave it 8
  to 10: a strict 9 would leave most servers without a count at all.
* **Bounded.** A popular title has thousands of raters; the peers are looked for among
  the smaller of the two titles' rater sets, and ``PEERS_EXAMINED`` of them at most.
  Each (candidate, title) pair is worked out once per user, since the same candidate
  is ranked in several lists. A count cut short says so ("500+ people").

Pure: no I/O, deterministic for the same ratings (raters are walked in the order given).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

MIN_PEERS = 3  # other users behind a "people here" count
LIKED = 7  # the lowest rating of the candidate that reads as "rated it well"
ALIKE = 1  # how far from the user's own rating a peer's rating of the same title may be
PEERS_EXAMINED = 500  # co-raters looked at for one sentence

#: Item key → rater (a host user id) → rating 1..10: every rating on the server.
ByItem = Mapping[str, Mapping[int, int]]


def span(values: Collection[int]) -> str:
    """``9`` when everyone gave 9, else the floor and a plus: ``8+``."""
    low = min(values)
    return str(low) if low == max(values) else f"{low}+"


class Reasons:
    """The reasons for one user's candidates, each pair worked out once."""

    __slots__ = ("_by_item", "_memo", "_on_trakt", "_ratings", "_titles", "_user")

    def __init__(
        self,
        titles: Mapping[str, str],
        user_ratings: Mapping[str, int],
        *,
        user: int | None = None,
        by_item: ByItem | None = None,
        on_trakt: Collection[str] = frozenset(),
    ) -> None:
        self._titles = titles
        self._ratings = user_ratings
        self._user = user
        self._by_item: ByItem = by_item or {}
        self._on_trakt = on_trakt  # titles the user rated on Trakt that the library lacks
        self._memo: dict[tuple[str, str], str] = {}

    def __call__(self, candidate: str, strongest: str) -> str:
        """Why ``candidate`` is there, from the user's title that points to it most;
        "" when that title has no name (the caller then shows the source's reason: a
        raw id is no reason)."""
        pair = (candidate, strongest)
        found = self._memo.get(pair)
        if found is None:
            found = self._memo[pair] = self._sentence(candidate, strongest)
        return found

    def _sentence(self, candidate: str, strongest: str) -> str:
        title = self._titles.get(strongest)
        if not title:
            return ""
        value = self._ratings.get(strongest)
        if value is None:
            own = f"You watched {title}"
        else:
            where = " on Trakt" if strongest in self._on_trakt else ""
            own = f"You rated {title} {value}{where}"
        peers, more = self._peers(candidate, strongest, value)
        if len(peers) >= MIN_PEERS and min(c for _, c in peers) >= LIKED:
            count = f"{len(peers)}+" if more else str(len(peers))
            theirs, given = span([s for s, _ in peers]), span([c for _, c in peers])
            return f"{own}; {count} people here who rated it {theirs} rated this {given}"
        return f"{own}; people here who liked it liked this too"

    def _peers(
        self, candidate: str, strongest: str, value: int | None
    ) -> tuple[list[tuple[int, int]], bool]:
        """(their rating of the user's title, their rating of the candidate) of each other
        user who rated the user's title alike (or, for a watched title, well), and
        whether more raters were left unexamined."""
        of_title = self._by_item.get(strongest) or {}
        of_candidate = self._by_item.get(candidate) or {}
        smaller, other = (
            (of_title, of_candidate)
            if len(of_title) <= len(of_candidate)
            else (of_candidate, of_title)
        )
        found: list[tuple[int, int]] = []
        for examined, rater in enumerate(smaller):
            if examined >= PEERS_EXAMINED:
                return found, True
            if rater == self._user or rater not in other:
                continue
            theirs, given = of_title[rater], of_candidate[rater]
            alike = abs(theirs - value) <= ALIKE if value is not None else theirs >= LIKED
            if alike:
                found.append((theirs, given))
        return found, False
