"""A ``GET /sync/ratings`` answer read into ``TraktRating``s: strict and fast, or tolerant.

A heavy user's first sync reads 100,000 ratings, and reading them was the largest share
of the merge's CPU time: the stdlib decoder builds a dict per item, a dict per object and
ids, a string per key, and ``wire.trakt_rating`` then checks each of them in Python.
The strict road decodes the answer with msgspec straight into small typed structs that
hold only the fields the sync uses (the rest is skipped inside the decoder), times
included, and checks types and ranges as it goes: about a third of the time.

msgspec is strict about shape: one item out of it (a rating of 11, an id as a string, a
time without its zone, a type Trakt does not have) fails the whole decode. Then the same
bytes are read again by the tolerant road, one item at a time with the stdlib decoder
and ``trakt_rating``, which leaves out only the items it cannot use. So a well-formed
answer takes the fast road, and an odd one still loses nothing it did not lose before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from aperture_trakt_plugin.host import ExternalIds, MediaRef
from aperture_trakt_plugin.trakt.answers import UNREADABLE_JSON
from aperture_trakt_plugin.trakt.errors import MalformedResponse
from aperture_trakt_plugin.trakt.wire import TraktRating, trakt_rating

MSG_NOT_A_LIST = "{what}: Trakt's answer was not a JSON list"


# --- the strict road -------------------------------------------------------------------------
# ``gc=False``: structs the cyclic collector never tracks (they hold no cycles), which
# also makes each one 16 bytes smaller; 300,000 of them live for a moment per 100,000.


class _Ids(msgspec.Struct, frozen=True, gc=False):
    trakt: int | None = None
    tmdb: int | None = None
    imdb: str | None = None
    tvdb: int | None = None


_NO_IDS = _Ids()


class _Rated(msgspec.Struct, frozen=True, gc=False):
    """A movie, show, season or episode as a rating item holds it."""

    ids: _Ids = _NO_IDS
    title: str | None = None
    year: int | None = None
    season: int | None = None  # an episode's
    number: int | None = None  # a season's or an episode's


class _Item(msgspec.Struct, frozen=True, gc=False):
    rating: Annotated[int, msgspec.Meta(ge=1, le=10)]
    rated_at: Annotated[datetime, msgspec.Meta(tz=True)]
    type: Literal["movie", "show", "season", "episode"] | None = None
    movie: _Rated | None = None
    show: _Rated | None = None
    season: _Rated | None = None
    episode: _Rated | None = None


_STRICT = msgspec.json.Decoder(list[_Item] | None)
#: A named tuple's own constructor is a Python lambda; ``tuple.__new__`` makes the same
#: instance in C (every field given, in order), at half the cost, 300,000 times here.
_new = tuple.__new__


def _from_struct(item: _Item) -> TraktRating | None:
    """``wire.trakt_rating`` for an item already checked by type: the same answers."""
    kind = item.type or (
        "episode"
        if item.episode
        else "season"
        if item.season
        else "movie"
        if item.movie
        else "show"
        if item.show
        else None
    )
    own = getattr(item, kind) if kind else None
    if own is None:
        return None
    season = episode = None
    if kind == "movie" or kind == "show":
        top = own
    else:
        top = item.show or _Rated()
        season = own.season if kind == "episode" else own.number
        episode = own.number if kind == "episode" else None
        if season is None or (kind == "episode" and episode is None):
            return None
    ids = top.ids
    if ids.trakt is None and ids.tmdb is None and not ids.imdb and ids.tvdb is None:
        return None  # no ids at all: never guessed by title
    external = _new(ExternalIds, (ids.tmdb, ids.imdb or None, ids.tvdb, ids.trakt))
    ref = _new(MediaRef, (kind, external, None, top.title or "", own.year, season, episode))
    trakt_id = ids.trakt if top is own else own.ids.trakt
    return _new(TraktRating, (ref, trakt_id, item.rating, item.rated_at))


def read_ratings(content: bytes, what: str) -> list[TraktRating]:
    """The usable ratings of one answer, in its order; ``MalformedResponse`` if it is not
    a JSON list (``null`` is an empty one)."""
    try:
        items = _STRICT.decode(content)
    except msgspec.DecodeError:  # ValidationError included: read it the tolerant way
        return [
            rating for rating in map(trakt_rating, _json_items(content, what)) if rating is not None
        ]
    if not items:
        return []
    # Taken from the end, so each struct goes as soon as its rating is made: the structs
    # and the ratings of 100,000 items are never all alive at once.
    items.reverse()
    ratings = []
    while items:
        rating = _from_struct(items.pop())
        if rating is not None:
            ratings.append(rating)
    return ratings


# --- the tolerant road -----------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_NOT_SPACE = re.compile(r"[ \t\n\r]*")


def _json_items(content: bytes, what: str) -> Iterator[object]:
    """The elements of a JSON array answer, decoded one at a time (``null``: none), so a
    malformed answer of 100,000 items never has all of them as dicts at once."""
    try:
        text = content.decode("utf-8")  # JSON is UTF-8; no charset guessing
        end, index = len(text), _skip_space(text, 0)
        if text.startswith("null", index):
            return
        if index >= end or text[index] != "[":
            raise ValueError("not an array")
        index = _skip_space(text, index + 1)
        if index < end and text[index] == "]":
            return
        while True:
            item, index = _DECODER.raw_decode(text, index)
            yield item
            index = _skip_space(text, index)
            if index < end and text[index] == ",":
                index = _skip_space(text, index + 1)
            elif index < end and text[index] == "]":
                return
            else:
                raise ValueError("unterminated array")
    except UNREADABLE_JSON:  # UnicodeDecodeError, JSONDecodeError, too deep
        raise MalformedResponse(MSG_NOT_A_LIST.format(what=what)) from None


def _skip_space(text: str, index: int) -> int:
    if index < len(text) and text[index] not in " \t\n\r":
        return index  # compact JSON, Trakt's own: no regex for each item
    match = _NOT_SPACE.match(text, index)
    assert match is not None  # ``[ \t\n\r]*`` matches anywhere, if only the empty string
    return match.end()
