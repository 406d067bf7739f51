"""Plugin pages refuse to be framed by other sites and are never cached (issue 15).

Every answer of the plugin's own routes carries ``X-Frame-Options: DENY``, a CSP with
``frame-ancestors 'none'`` and ``Cache-Control: no-store``; a host page that shows one
of our cards (the profile, the admin integrations) gets ``no-store`` and is kept out of
other sites' frames (``SAMEORIGIN`` / ``frame-ancestors 'self'``), unless the host set
its own framing rule.
"""

from __future__ import annotations

import pytest

from tests.connect_helpers import (
    DEVICE_POLL,
    DEVICE_START,
    PROFILE,
    PROFILE_CARD,
    configure_trakt,
    profile_csrf,
)

pytestmark = [pytest.mark.trakt]


def frame_ancestors(response) -> list[str]:
    return [
        value
        for value in response.headers.getlist("Content-Security-Policy")
        if "frame-ancestors" in value
    ]


def assert_own_page(response) -> None:
    assert response.headers["X-Frame-Options"] == "DENY"
    assert frame_ancestors(response) == ["frame-ancestors 'none'"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture()
def alice(host_client, login, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    login(host_client, "alice")
    return host_client


def test_profile_card_and_device_flow_json_are_not_frameable_or_cached(alice):
    assert_own_page(alice.get(PROFILE_CARD))
    token = profile_csrf(alice)
    for path in (DEVICE_START, DEVICE_POLL):
        response = alice.post(path, headers={"X-CSRFToken": token})
        assert response.is_json
        assert_own_page(response)


def test_connect_result_and_redirects_are_not_frameable_or_cached(alice):
    # A callback with no sign-in under way renders the connect result page.
    response = alice.get("/plugins/trakt/callback?state=nothing&code=x")
    assert response.status_code == 200 and b'id="trakt-result"' in response.data
    assert_own_page(response)
    assert_own_page(alice.get("/plugins/trakt/connect"))  # the redirect to Trakt


def test_admin_status_pages_are_not_frameable_or_cached(host_client, login, host_app, sandbox):
    configure_trakt(host_app, sandbox)
    login(host_client, "admin")
    response = host_client.get("/plugins/trakt/admin/status")
    assert response.status_code == 200
    assert_own_page(response)


def test_host_pages_showing_a_card_are_kept_out_of_other_sites_frames(
    host_client, login, host_app, sandbox
):
    configure_trakt(host_app, sandbox)
    login(host_client, "admin")
    for path in (PROFILE, "/admin/settings/integrations"):
        response = host_client.get(path)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert frame_ancestors(response) == ["frame-ancestors 'self'"]


def test_a_host_page_without_our_card_is_left_alone(host_client, login):
    login(host_client, "alice")
    response = host_client.get("/login")
    assert "X-Frame-Options" not in response.headers
    assert frame_ancestors(response) == []


def test_the_stylesheet_and_script_are_served_and_may_be_cached(host_client):
    """trakt.css and trakt.js show no account: served to anyone, without no-store."""
    for name, mimetype in (("trakt.css", "text/css"), ("trakt.js", "text/javascript")):
        response = host_client.get(f"/plugins/trakt/static/trakt/{name}")
        assert response.status_code == 200 and response.mimetype == mimetype
        assert response.headers.get("Cache-Control") != "no-store"
        response.close()
