"""Library lookups by external ids, one item or thousands at a time.

Sync jobs match whole Trakt histories against the library, so the bulk path answers in a
handful of queries (one per id kind and level) instead of one per item. The bulk paths read
plain rows of the table, not ORM objects: a 100,000-item match would otherwise spend most
of its time and memory building and tracking objects nobody modifies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from aperture_trakt_plugin.host import ExternalIds, MediaKind, MediaRef
from harness.reference_host.db import db
from harness.reference_host.models import MediaItem

CHUNK = 500
FETCH = 5000  # rows per fetch when reading thousands
MEDIA = MediaItem.__table__
# Which id decides first when several are given: the one each kind is catalogued by.
ID_PRIORITY: dict[str, tuple[str, ...]] = {
    "movie": ("tmdb", "imdb", "tvdb"),
    "show": ("tvdb", "tmdb", "imdb"),
}


def to_ref(item: MediaItem) -> MediaRef:
    """From an ORM item (plain rows: ``row_to_ref``)."""
    return MediaRef(
        item.kind,
        ExternalIds(item.tmdb, item.imdb, item.tvdb),  # type: ignore[arg-type]
        str(item.id),
        item.title,
        item.year,
        item.season_number,
        item.episode_number,
    )


#: The columns a ``MediaRef`` is made of, in ``row_to_ref``'s order (``parent_id`` is not one).
REF_COLUMNS = (
    MEDIA.c.id,
    MEDIA.c.kind,
    MEDIA.c.title,
    MEDIA.c.year,
    MEDIA.c.tmdb,
    MEDIA.c.imdb,
    MEDIA.c.tvdb,
    MEDIA.c.season_number,
    MEDIA.c.episode_number,
)
#: One string object per kind: the driver returns a new one per row, 50 bytes each.
_KINDS = {kind: kind for kind in ("movie", "show", "season", "episode")}
_new = tuple.__new__


def row_to_ref(row: Sequence[Any]) -> MediaRef:
    """A row that begins with ``REF_COLUMNS``, as a ``MediaRef``: unpacked by position,
    because the bulk paths turn 100,000 rows into refs."""
    item_id, kind, title, year, tmdb, imdb, tvdb, season, episode = row[:9]
    # ``tuple.__new__`` with every field: the named tuples' own constructors are Python
    # lambdas, twice the cost for 100,000 rows.
    return _new(
        MediaRef,
        (
            _KINDS.get(kind, kind),
            _new(ExternalIds, (tmdb, imdb, tvdb, None)),
            str(item_id),
            title,
            year,
            season,
            episode,
        ),
    )


def get_item(item_id: str | int) -> MediaItem | None:
    try:
        key = int(item_id)
    except (TypeError, ValueError):
        return None
    return db.session.get(MediaItem, key)


def get_bulk(item_ids: Sequence[str]) -> list[MediaRef | None]:
    """``get_item`` and ``to_ref`` for many ids, in a query or two."""
    keys = [int(item_id) if str(item_id).isdigit() else None for item_id in item_ids]
    found: dict[int, MediaRef] = {}
    for condition in where_in(MEDIA.c.id, sorted({key for key in keys if key is not None})):
        found.update(
            (row[0], row_to_ref(row))
            for row in db.session.execute(select(*REF_COLUMNS).where(condition))
        )
    return [found.get(key) if key is not None else None for key in keys]


def chunks(values: list[Any]) -> Iterable[list[Any]]:
    """Slices that stay under SQLite's limit of bound parameters in ``IN (...)``."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def where_in(column: ColumnElement[Any], values: list[Any]) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select ``column IN values``, for any number of values.

    On SQLite and PostgreSQL one condition takes the whole list as a single parameter (a
    JSON array read by ``json_each``, a PostgreSQL array with ``= ANY``): an ``IN`` of
    thousands of bound parameters costs SQLAlchemy about 10 µs per parameter to render,
    which made matching 100,000 ratings take seconds. Elsewhere: ``IN`` chunks.
    """
    if not values:
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        listed = func.json_each(json.dumps(values)).table_valued("value")
        yield column.in_(select(listed.c.value))
    elif dialect == "postgresql":
        yield column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    else:
        for part in chunks(values):
            yield column.in_(part)


def known_ids(item_ids: list[int]) -> set[int]:
    """Which of these items exist (ids only: a bulk write checks 100,000 of them)."""
    found: set[int] = set()
    for condition in where_in(MEDIA.c.id, item_ids):
        found.update(db.session.scalars(select(MEDIA.c.id).where(condition)))
    return found


def _top_level(kind: str, wanted: Sequence[ExternalIds]) -> list[MediaRef | None]:
    """Movies or shows for each ids, in order: one query per id kind, in the order of
    ``ID_PRIORITY``, each asking only for the ids the kinds before it left unmatched.
    Each row becomes its ``MediaRef`` as it is read (the rows themselves are not kept:
    100,000 of them next to their refs were the peak of a sync's memory)."""
    result: list[MediaRef | None] = [None] * len(wanted)
    pending = range(len(wanted))
    for key in ID_PRIORITY[kind]:
        field = ExternalIds._fields.index(key)
        values = {wanted[i][field] for i in pending} - {None, ""}
        if not values:
            continue
        column = MEDIA.c[key]
        index: dict[Any, MediaRef] = {}
        for condition in where_in(column, list(values)):
            rows = db.session.execute(
                select(*REF_COLUMNS, column).where(MEDIA.c.kind == kind, condition)
            )
            for part in rows.partitions(FETCH):  # fetchmany: a row at a time costs more
                for row in part:
                    if row[-1] not in index:
                        index[row[-1]] = row_to_ref(row)
        unmatched = []
        for i in pending:
            value = wanted[i][field]
            match = index.get(value) if value is not None else None
            if match is None:
                unmatched.append(i)
            else:
                result[i] = match
        pending = unmatched
    return result


def _children(parent_ids: set[int], kind: str) -> dict[tuple[int, int], MediaRef]:
    """Children of the given parents keyed by (parent id, number)."""
    number = MEDIA.c.season_number if kind == "season" else MEDIA.c.episode_number
    index: dict[tuple[int, int], MediaRef] = {}
    for condition in where_in(MEDIA.c.parent_id, sorted(parent_ids)):
        rows = db.session.execute(
            select(*REF_COLUMNS, MEDIA.c.parent_id, number).where(MEDIA.c.kind == kind, condition)
        )
        for row in rows:
            index[(row[-2], row[-1])] = row_to_ref(row)
    return index


def find_bulk(refs: Sequence[MediaRef]) -> list[MediaRef | None]:
    """Matches refs by ids only (never titles): movies directly, the rest via their show."""
    movies = [i for i, r in enumerate(refs) if r.kind == "movie"]
    show_level = [i for i, r in enumerate(refs) if r.kind != "movie"]
    found: list[MediaRef | None] = [None] * len(refs)
    for i, item in zip(movies, _top_level("movie", [refs[i].ids for i in movies]), strict=True):
        found[i] = item
    shows = _top_level("show", [refs[i].ids for i in show_level])
    needs_season = {
        i: show
        for i, show in zip(show_level, shows, strict=True)
        if show is not None and refs[i].kind in ("season", "episode")
    }
    for i, show in zip(show_level, shows, strict=True):
        if refs[i].kind == "show":
            found[i] = show
    if needs_season:
        seasons = _children({int(s.item_id) for s in needs_season.values()}, "season")
        episodes_wanted = {}
        for i, show in needs_season.items():
            season = seasons.get((int(show.item_id), refs[i].season))
            if refs[i].kind == "season":
                found[i] = season
            elif season is not None:
                episodes_wanted[i] = season
        if episodes_wanted:
            episodes = _children({int(s.item_id) for s in episodes_wanted.values()}, "episode")
            for i, season in episodes_wanted.items():
                found[i] = episodes.get((int(season.item_id), refs[i].episode))
    return found


def find_one(
    kind: MediaKind, ids: ExternalIds, season: int | None = None, episode: int | None = None
) -> MediaRef | None:
    return find_bulk([MediaRef(kind=kind, ids=ids, season=season, episode=episode)])[0]


def search_items(
    query: str, kind: str | None, page: int, per_page: int
) -> tuple[list[MediaItem], int]:
    """A page of top-level library items for the library screen, and the total."""
    stmt = select(MediaItem).where(MediaItem.kind.in_([kind] if kind else ["movie", "show"]))
    if query:
        like = f"%{query}%"
        conditions = [MediaItem.title.ilike(like), MediaItem.imdb == query]
        if query.isdigit():
            conditions += [MediaItem.tmdb == int(query), MediaItem.tvdb == int(query)]
        stmt = stmt.where(or_(*conditions))
    total = db.session.scalar(select(db.func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.order_by(MediaItem.title, MediaItem.year).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def children_of(item: MediaItem) -> list[MediaItem]:
    order = MediaItem.season_number if item.kind == "show" else MediaItem.episode_number
    return list(
        db.session.scalars(select(MediaItem).where(MediaItem.parent_id == item.id).order_by(order))
    )
