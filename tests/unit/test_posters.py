"""Which poster URLs from Trakt's ``images`` may reach a page's ``<img src>``."""

from __future__ import annotations

import pytest

from aperture_trakt_plugin.discovery.cache import Entry, parse_entries
from aperture_trakt_plugin.discovery.posters import first_poster, image_origins, poster_url
from aperture_trakt_plugin.host import ExternalIds

TRAKT_API = "https://api.trakt.tv"
SANDBOX = "http://127.0.0.1:5055"
REAL = "media.trakt.tv/images/movies/000/001/234/posters/thumb/9d1e2f.jpg.webp"


def test_trakts_scheme_less_urls_become_https():
    assert poster_url([REAL], TRAKT_API) == f"https://{REAL}"
    assert poster_url(f"https://{REAL}") == f"https://{REAL}"
    assert poster_url(["walter-r2.trakt.tv/images/shows/1/posters/medium/x.jpg"]) == (
        "https://walter-r2.trakt.tv/images/shows/1/posters/medium/x.jpg"
    )


def test_the_configured_apis_own_origin_serves_posters_with_its_scheme():
    """The sandbox on loopback speaks http and serves its generated posters itself."""
    assert poster_url(["127.0.0.1:5055/images/movies/7/poster.svg"], SANDBOX) == (
        "http://127.0.0.1:5055/images/movies/7/poster.svg"
    )
    assert poster_url("http://127.0.0.1:5055/images/movies/7/poster.svg", SANDBOX)
    # Not without that configuration: a loopback URL from "Trakt" is no poster.
    assert poster_url(["127.0.0.1:5055/images/movies/7/poster.svg"], TRAKT_API) is None


@pytest.mark.parametrize(
    "value",
    [
        f"http://{REAL}",  # not https
        "javascript:alert(1)",
        "javascript:void",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "evil.example/images/p.jpg",
        "https://media.trakt.tv.evil.example/p.jpg",
        "https://user:pw@media.trakt.tv/p.jpg",
        "https://media.trakt.tv@evil.example/p.jpg",
        'media.trakt.tv/p.jpg" onerror="alert(1)',
        "media.trakt.tv/p .jpg",
        "media.trakt.tv/<p>.jpg",
        "https://media.trakt.tv:8443/p.jpg",
        "media.trakt.tv/" + "a" * 500,
        "",
        [],
        None,
        42,
        {"url": REAL},
    ],
)
def test_anything_else_is_no_poster(value):
    assert poster_url(value, TRAKT_API) is None


def test_first_poster_reads_the_images_object_and_tolerates_its_absence():
    assert first_poster({"images": {"poster": [REAL, "media.trakt.tv/other.jpg"]}}) == (
        f"https://{REAL}"
    )
    assert first_poster({"images": {"poster": []}}) is None
    assert first_poster({"images": None}) is None
    assert first_poster({"title": "Heat"}) is None  # no extended=images (#784)


def test_entries_keep_their_poster_through_the_cache_and_read_older_rows():
    data = [
        {
            "watchers": 3,
            "movie": {
                "title": "Heat",
                "year": 1995,
                "ids": {"tmdb": 949},
                "images": {"poster": [REAL]},
            },
        },
        {"title": "Alien", "year": 1979, "ids": {"tmdb": 348}},
    ]
    heat, alien = parse_entries(data, "movie", "GET /movies/trending", TRAKT_API)
    assert heat.poster == f"https://{REAL}" and alien.poster is None
    assert Entry.from_json(heat.to_json()) == heat
    assert "poster" not in alien.to_json()  # rows stay as small as before
    older = {"kind": "movie", "title": "Heat", "year": 1995, "ids": ExternalIds(tmdb=949)._asdict()}
    assert Entry.from_json(older) == Entry("movie", "Heat", 1995, ExternalIds(tmdb=949))


def test_the_origins_a_hosts_csp_must_allow():
    assert image_origins(TRAKT_API) == [
        "https://media.trakt.tv",
        "https://walter-r2.trakt.tv",
        "https://walter.trakt.tv",
        "https://api.trakt.tv",
    ]
    assert image_origins(SANDBOX)[-1] == SANDBOX
