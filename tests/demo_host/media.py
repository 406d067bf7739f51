"""Library lookups by external ids, one item or thousands at a time.

Sync jobs match whole Trakt histories against the library, so the bulk path answers in a
handful of queries (one per id kind and level) instead of one per item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select

from aperture_trakt_plugin.host import ExternalIds, MediaKind, MediaRef
from tests.demo_host.db import db
from tests.demo_host.models import MediaItem

CHUNK = 500
# Which id decides first when several are given: the one each kind is catalogued by.
ID_PRIORITY: dict[str, tuple[str, ...]] = {
    "movie": ("tmdb", "imdb", "tvdb"),
    "show": ("tvdb", "tmdb", "imdb"),
}


def to_ref(item: MediaItem) -> MediaRef:
    return MediaRef(
        kind=item.kind,  # type: ignore[arg-type]
        ids=ExternalIds(tmdb=item.tmdb, imdb=item.imdb, tvdb=item.tvdb),
        item_id=str(item.id),
        title=item.title,
        year=item.year,
        season=item.season_number,
        episode=item.episode_number,
    )


def get_item(item_id: str | int) -> MediaItem | None:
    try:
        key = int(item_id)
    except (TypeError, ValueError):
        return None
    return db.session.get(MediaItem, key)


def chunks(values: list[Any]) -> Iterable[list[Any]]:
    """Slices that stay under SQLite's limit of bound parameters in ``IN (...)``."""
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def items_by_id(item_ids: list[int]) -> dict[int, MediaItem]:
    found: dict[int, MediaItem] = {}
    for part in chunks(item_ids):
        found.update((item.id, item) for item in db.session.scalars(
            select(MediaItem).where(MediaItem.id.in_(part))))
    return found


def _top_level(kind: str, wanted: Sequence[ExternalIds]) -> list[MediaItem | None]:
    """Movies or shows for each ids, in order, found in one query per chunk of ids."""
    values: dict[str, set[Any]] = {"tmdb": set(), "imdb": set(), "tvdb": set()}
    for ids in wanted:
        for key in values:
            value = getattr(ids, key)
            if value is not None and value != "":
                values[key].add(value)
    index: dict[tuple[str, Any], MediaItem] = {}
    for key, found in values.items():
        column = getattr(MediaItem, key)
        for chunk in chunks(sorted(found, key=str)):
            rows = db.session.scalars(
                select(MediaItem).where(MediaItem.kind == kind, column.in_(chunk)))
            for row in rows:
                index.setdefault((key, getattr(row, key)), row)
    result: list[MediaItem | None] = []
    for ids in wanted:
        match = None
        for key in ID_PRIORITY[kind]:
            value = getattr(ids, key)
            if value is not None and (key, value) in index:
                match = index[(key, value)]
                break
        result.append(match)
    return result


def _children(parent_ids: set[int], kind: str) -> dict[tuple[int, int], MediaItem]:
    """Children of the given parents keyed by (parent id, number)."""
    number = MediaItem.season_number if kind == "season" else MediaItem.episode_number
    index: dict[tuple[int, int], MediaItem] = {}
    for chunk in chunks(sorted(parent_ids)):
        rows = db.session.scalars(select(MediaItem).where(
            MediaItem.kind == kind, MediaItem.parent_id.in_(chunk)))
        for row in rows:
            index[(row.parent_id, getattr(row, number.key))] = row
    return index


def find_bulk(refs: Sequence[MediaRef]) -> list[MediaRef | None]:
    """Matches refs by ids only (never titles): movies directly, the rest via their show."""
    movies = [i for i, r in enumerate(refs) if r.kind == "movie"]
    show_level = [i for i, r in enumerate(refs) if r.kind != "movie"]
    found: list[MediaItem | None] = [None] * len(refs)
    for i, item in zip(movies, _top_level("movie", [refs[i].ids for i in movies]), strict=True):
        found[i] = item
    shows = _top_level("show", [refs[i].ids for i in show_level])
    needs_season = {i: show for i, show in zip(show_level, shows, strict=True)
                    if show is not None and refs[i].kind in ("season", "episode")}
    for i, show in zip(show_level, shows, strict=True):
        if refs[i].kind == "show":
            found[i] = show
    if needs_season:
        seasons = _children({s.id for s in needs_season.values()}, "season")
        episodes_wanted = {}
        for i, show in needs_season.items():
            season = seasons.get((show.id, refs[i].season))
            if refs[i].kind == "season":
                found[i] = season
            elif season is not None:
                episodes_wanted[i] = season
        if episodes_wanted:
            episodes = _children({s.id for s in episodes_wanted.values()}, "episode")
            for i, season in episodes_wanted.items():
                found[i] = episodes.get((season.id, refs[i].episode))
    return [to_ref(item) if item is not None else None for item in found]


def find_one(kind: MediaKind, ids: ExternalIds, season: int | None = None,
             episode: int | None = None) -> MediaRef | None:
    return find_bulk([MediaRef(kind=kind, ids=ids, season=season, episode=episode)])[0]


def search_items(query: str, kind: str | None, page: int, per_page: int
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
    rows = db.session.scalars(stmt.order_by(MediaItem.title, MediaItem.year)
                              .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def children_of(item: MediaItem) -> list[MediaItem]:
    order = MediaItem.season_number if item.kind == "show" else MediaItem.episode_number
    return list(db.session.scalars(
        select(MediaItem).where(MediaItem.parent_id == item.id).order_by(order)))
