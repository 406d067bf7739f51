"""Which page a device code may link to (``trakt.device_flow.trusted_verification_url``),
over plain values: Trakt's own pages, or the configured auth host; nothing else."""

from __future__ import annotations

import pytest

from aperture_trakt_plugin.trakt.device_flow import trusted_verification_url

AUTH = "https://auth.trakt.tv"
SANDBOX = "http://127.0.0.1:5001"


@pytest.mark.parametrize(
    "url",
    [
        "https://trakt.tv/activate",
        "https://www.trakt.tv/activate",
        "https://trakt.tv:443/activate",
        "https://auth.trakt.tv/activate",
    ],
)
def test_trakts_pages_are_links(url):
    assert trusted_verification_url(url, AUTH) == url


def test_the_configured_auth_host_is_trusted_as_it_is():
    assert trusted_verification_url(SANDBOX + "/activate", SANDBOX) == SANDBOX + "/activate"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "http://trakt.tv/activate",
        "https://trakt.tv.example.com/activate",
        "https://trakt.tv@example.com/activate",
        "https://trakt.tv:8443/activate",
        "https://trakt.tv/activate now",
        "https://trakt.tv/" + "a" * 600,
        "https://trakt.tv/\nactivate",
        "https://[::1/activate",
        None,
        42,
    ],
)
def test_anything_else_is_shown_without_a_link(url):
    assert trusted_verification_url(url, AUTH) == ""
