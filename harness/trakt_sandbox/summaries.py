"""Single-title lookups: ``/movies/{id}``, ``/shows/{id}``, seasons, episodes and id search.

Not part of the rating sync itself, but third-party clients (pytrakt) and the plugin's
id matching call them, and the catalogue already holds everything they need.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from harness.trakt_sandbox.context import sandbox
from harness.trakt_sandbox.media import ID_KEYS, Media, media_fields
from harness.trakt_sandbox.protocol import error_response, json_response, wants_full

bp = Blueprint("summaries", __name__)
SEARCH_TYPES = ("movie", "show", "episode")


def _not_found(what: str) -> Response:
    return error_response(404, "not_found", f"no {what}")


def _show(show_id: str) -> Media | None:
    return sandbox().catalogue.from_path("show", show_id)


@bp.get("/movies/<movie_id>")
def movie(movie_id: str) -> Response:
    found = sandbox().catalogue.from_path("movie", movie_id)
    return json_response(found.obj(wants_full())) if found else _not_found("movie")


@bp.get("/shows/<show_id>")
def show(show_id: str) -> Response:
    found = _show(show_id)
    return json_response(found.obj(wants_full())) if found else _not_found("show")


@bp.get("/shows/<show_id>/seasons")
def seasons(show_id: str) -> Response:
    found = _show(show_id)
    if found is None:
        return _not_found("show")
    return json_response([season.obj(wants_full()) for season in found.children])


@bp.get("/shows/<show_id>/seasons/<int:number>")
def season_episodes(show_id: str, number: int) -> Response:
    found = _show(show_id)
    season = sandbox().catalogue.season_of(found, number) if found else None
    if season is None:
        return _not_found("season")
    return json_response([episode.obj(wants_full()) for episode in season.children])


@bp.get("/shows/<show_id>/seasons/<int:number>/episodes/<int:episode>")
def episode(show_id: str, number: int, episode: int) -> Response:
    found = _show(show_id)
    item = sandbox().catalogue.episode_of(found, number, episode) if found else None
    return json_response(item.obj(wants_full())) if item else _not_found("episode")


@bp.get("/search/<id_type>/<path:media_id>")
def search_by_id(id_type: str, media_id: str) -> Response:
    """``[{type, score, <media>}]`` for every kind that has the id (``?type=`` narrows)."""
    if id_type not in ("trakt", "imdb", "tmdb", "tvdb"):
        return _not_found("id type")
    wanted = request.args.get("type")
    kinds = [k for k in SEARCH_TYPES if not wanted or k in wanted.split(",")]
    catalogue, full = sandbox().catalogue, wants_full()
    results = []
    for kind in kinds:
        if id_type in ID_KEYS[kind]:
            found = catalogue.by_external(kind, id_type, media_id)
            if found is not None:
                results.append({"type": kind, "score": None, **media_fields(found, full)})
    return json_response(results)
