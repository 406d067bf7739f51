"""Discovery's calls to Trakt, each through the plugin's client and shared budgets.

Calls for a user carry the user's token (refreshed once on a 401) and spend from that
user's budget (``user_key``); calls without a token spend from the app's budget, the one
trending and popular belong to. Lists Trakt pages are read through
``trakt.paging.read_pages``: every page of a user's watchlist or watch history, or as many
pages of trending and popular as the wanted number of titles needs.
"""

from __future__ import annotations

from typing import Any

from requests import Response

from aperture_trakt_plugin.accounts import oauth, tokens
from aperture_trakt_plugin.trakt.paging import read_pages


def as_user(user_id: int, method: str, path: str, params: dict[str, Any] | None = None) -> Response:
    client = oauth.api_client()
    return tokens.call_as_user(
        user_id,
        lambda token: client.api(method, path, token=token, user_key=str(user_id), params=params),
    )


def get_as_user(user_id: int, path: str, params: dict[str, Any] | None = None) -> Any:
    client = oauth.api_client()
    return tokens.call_as_user(
        user_id,
        lambda token: client.get_json(path, token=token, user_key=str(user_id), params=params),
    )


def all_pages_as_user(user_id: int, path: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Every item of a paged list of the user's; each page is one call with the token."""
    return read_pages(lambda page: as_user(user_id, "GET", path, page), f"GET {path}", params)


def get_as_app(path: str, params: dict[str, Any] | None = None) -> Any:
    """Without a token: the app's unauthenticated budget, shared by the whole server."""
    return oauth.api_client().get_json(path, params=params)


def top_as_app(path: str, most: int, params: dict[str, Any] | None = None) -> list[Any]:
    """The first ``most`` items of a paged list, without a token (the app's budget)."""
    client = oauth.api_client()
    return read_pages(
        lambda page: client.api("GET", path, params=page), f"GET {path}", params, most=most
    )
