"""Shared steps of the connect/disconnect tests (issue #4), so each test reads as a story.

Everything here drives real code over real sockets: the host through Flask's test client,
Trakt through the sandbox (its OAuth pages with a ``requests`` session standing in for
the user's browser, its control API for what a person would do on trakt.tv), and the
plugin through its own functions inside an app context. Nothing is replaced by a fake.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import MetaData, inspect, text

from aperture_trakt_plugin.accounts import credentials, tokens
from aperture_trakt_plugin.storage.models import TraktConnection, TraktDeviceGrant, utcnow
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI
from aperture_trakt_plugin.trakt.oauth import TokenPair
from aperture_trakt_plugin.usecases import connections
from harness.services import ManagedProcess, python_module
from harness.trakt_sandbox.control_client import SandboxControl
from tests.fixtures_host import login_as

CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
PUBLIC_BASE_URL = "http://host.test"
CALLBACK_URL = PUBLIC_BASE_URL + "/plugins/trakt/callback"

PROFILE = "/settings/profile"
CONNECT = "/plugins/trakt/connect"
CALLBACK = "/plugins/trakt/callback"
DEVICE_START = "/plugins/trakt/device/start"
DEVICE_POLL = "/plugins/trakt/device/poll"
DISCONNECT = "/plugins/trakt/disconnect"
PROFILE_CARD = "/plugins/trakt/profile-card"

_STATE = re.compile(r'id="trakt-profile"\s+data-state="([^"]+)"')
_CSRF = re.compile(r'data-csrf="([^"]+)"')
_TAGS = re.compile(r"<[^>]+>")


def trakt_host_config(sandbox_server: Any, **extra: Any) -> dict[str, Any]:
    """Host config pointing the plugin at the sandbox, with a fixed public URL so the
    callback registered at the sandbox is known before the host serves anything."""
    return {
        "APERTURE_TRAKT_API_URL": sandbox_server.url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_server.url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        # Quick in-run retries as the code makes them, but not seconds long: tests
        # of passing faults arm one more fault than there are pauses.
        "APERTURE_TRAKT_QUICK_RETRIES": "[0.05, 0.05]",
        **extra,
    }


def configure_trakt(
    host_app: Flask, sandbox: SandboxControl, redirect_uri: str | None = None
) -> None:
    """Registers the host's callback at the sandbox's app (a reset forgets it) and saves the
    credentials through the same checked path as the admin form; then empties the request
    log so tests see only their own calls."""
    sandbox.add_app(CLIENT_ID, CLIENT_SECRET, [CALLBACK_URL, OOB_REDIRECT_URI])
    with host_app.app_context():
        outcome = credentials.save_app_credentials(
            CLIENT_ID, CLIENT_SECRET, redirect_uri, user_id=None
        )
    assert outcome.saved, outcome.message
    sandbox.clear_requests()


@contextmanager
def sandbox_settings(sandbox_server: Any, **values: Any) -> Iterator[None]:
    """Changes ``SANDBOX_*`` settings of the session's sandbox for one test, then restores
    them, so a test can have the legacy auth host or a short device interval without a
    second server."""
    config = sandbox_server.app.extensions["trakt_sandbox"].config
    saved = {key: config[key] for key in values}
    config.update(values)
    try:
        yield
    finally:
        config.update(saved)


# --- reading the host ------------------------------------------------------------------


def user_id(host_app: Flask, name: str) -> int:
    user = host_app.extensions["aperture_host"].get_user_by_name(name)
    assert user is not None, name
    return user.id


def page(client: FlaskClient, path: str = PROFILE) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return htmllib.unescape(response.get_data(as_text=True))


def card_state(html: str) -> str:
    match = _STATE.search(html)
    assert match, "the page has no Trakt profile card"
    return match.group(1)


def text_of(html: str, element_id: str) -> str | None:
    """The text inside the element with that id (our templates never nest the same tag)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    if match is None:
        return None
    return " ".join(_TAGS.sub(" ", match.group(2)).split())


def profile_csrf(client: FlaskClient) -> str:
    match = _CSRF.search(page(client))
    assert match, "the profile card carries no CSRF token"
    return match.group(1)


def post_json(
    client: FlaskClient, path: str, csrf: str | None = None
) -> tuple[int, dict[str, Any]]:
    """A POST as the profile's script sends it: the token in ``X-CSRFToken``."""
    headers = {"X-CSRFToken": csrf if csrf is not None else profile_csrf(client)}
    response = client.post(path, headers=headers)
    return response.status_code, response.get_json(silent=True) or {}


def connection(host_app: Flask, name: str) -> TraktConnection | None:
    """The stored connection (tokens decrypted), detached so it can be read anywhere."""
    with host_app.app_context():
        conn = tokens.store().get(user_id(host_app, name))
        if conn is not None:
            host_app.extensions["aperture_host"].db.session.expunge(conn)
        return conn


def device_grant(host_app: Flask, name: str) -> TraktDeviceGrant | None:
    with host_app.app_context():
        db = host_app.extensions["aperture_host"].db
        grant = db.session.get(TraktDeviceGrant, user_id(host_app, name))
        if grant is not None:
            db.session.expunge(grant)
        return grant


def database_bytes(host_app: Flask) -> bytes:
    """Everything the database stores, as stored: the SQLite file as it is on disk (every
    connection closed first), on PostgreSQL each row of each table in its text form, on
    MariaDB each value of each row of each (reflected, so untyped) table as text."""
    with host_app.app_context():
        engine = host_app.extensions["aperture_host"].db.engine
        engine.dispose()
        if engine.dialect.name == "sqlite":
            return Path(engine.url.database).read_bytes()
        with engine.connect() as conn:
            if engine.dialect.name != "postgresql":
                tables = MetaData()
                tables.reflect(conn)
                return "\n".join(
                    "|".join(str(value) for value in row)
                    for table in tables.sorted_tables
                    for row in conn.execute(table.select())
                ).encode()
            rows = [
                conn.execute(text(f'SELECT CAST(t AS text) FROM "{name}" t')).scalars()
                for name in inspect(conn).get_table_names()
            ]
            return "\n".join(row for table in rows for row in table).encode()


def trakt_queue(host_app: Flask) -> Queue:
    return Queue("trakt", connection=host_app.extensions["aperture_host"].redis)


def run_trakt_jobs(host_app: Flask) -> None:
    """Runs what is queued on ``trakt`` in this process with the host's own worker class,
    so the jobs' log records reach ``caplog``."""
    from harness.reference_host.worker import run_worker

    run_worker(host_app, ("trakt",), burst=True)


# --- the web (authorization-code) flow -------------------------------------------------


def start_web_connect(client: FlaskClient, next_url: str = PROFILE) -> str:
    """Presses Connect Trakt: returns the authorize URL the popup is sent to."""
    response = client.get(CONNECT, query_string={"next": next_url})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def authorize_at_sandbox(
    authorize_url: str, trakt_user: str, decision: str = "approve"
) -> dict[str, str]:
    """The user's browser at Trakt: signs in, answers the consent form, and returns the
    query Trakt redirects back with (``code``/``error`` and ``state``)."""
    parts = urlsplit(authorize_url)
    base = f"{parts.scheme}://{parts.netloc}"
    with requests.Session() as browser:
        signed_in = browser.get(
            f"{base}/_sandbox/login",
            params={"username": trakt_user, "next": "/oauth/authorize"},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 302, signed_in.text
        consent = browser.get(authorize_url, timeout=10)
        assert consent.status_code == 200 and "decision" in consent.text, consent.text[:500]
        answer = browser.post(
            f"{base}{parts.path}",
            data={**query_of(authorize_url), "decision": decision},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK_URL + "?"), location
    return query_of(location)


def finish_web_connect(client: FlaskClient, callback_query: dict[str, str]) -> str:
    """Trakt's redirect arriving in the popup: returns the result page."""
    response = client.get(CALLBACK, query_string=callback_query)
    assert response.status_code == 200, response.status_code
    return htmllib.unescape(response.get_data(as_text=True))


def connect_user(client: FlaskClient, username: str, trakt_user: str) -> str:
    """Logs ``username`` in and connects them through the popup flow; the result page."""
    login_as(client, username)
    query = authorize_at_sandbox(start_web_connect(client), trakt_user)
    result = finish_web_connect(client, query)
    assert 'data-ok="yes"' in result, result
    return result


TOKEN_LIFETIME = 86400  # Trakt's since March 2025 (CONTRACT 4.3)


def aged(
    issued: dict[str, Any], seconds_left: int, lifetime: int = TOKEN_LIFETIME
) -> dict[str, Any]:
    """A freshly issued pair presented as one of ``lifetime`` seconds issued long enough
    ago that ``seconds_left`` remain: the same expiry instant as the sandbox's, which
    is what a token near its end looks like (the plugin refreshes within a share of the
    lifetime, so a short-lived fresh token is not "near its end")."""
    ends = issued["created_at"] + issued["expires_in"]
    return {**issued, "created_at": ends - lifetime, "expires_in": lifetime}


def connect_with_tokens(
    host_app: Flask,
    sandbox: SandboxControl,
    username: str,
    trakt_user: str,
    expires_in: int | None = None,
    seconds_left: int | None = None,
) -> TraktConnection:
    """A connection from a pair the sandbox issues directly, finished by the plugin's own
    ``finish_connection``: for tests about tokens, where the consent dance is not the
    point and the lifetime (``expires_in``) or the time left of a 24-hour token
    (``seconds_left``) must be chosen."""
    issued = sandbox.issue_tokens(trakt_user, expires_in=expires_in or seconds_left)
    if seconds_left is not None:
        issued = aged(issued, seconds_left)
    with host_app.app_context():
        connections.finish_connection(user_id(host_app, username), TokenPair.from_response(issued))
    conn = connection(host_app, username)
    assert conn is not None
    return conn


# --- the device flow ------------------------------------------------------------------


def start_device(client: FlaskClient) -> dict[str, Any]:
    status, body = post_json(client, DEVICE_START)
    assert status == 200 and body["status"] == "pending", body
    return body


def let_poll_interval_pass(host_app: Flask, sandbox: SandboxControl, name: str) -> None:
    """Lets one polling interval go by on both clocks without sleeping through it: the
    plugin's next permitted poll moves to now, the sandbox's clock moves on by the interval
    (it answers 429 to polls that come too soon)."""
    with host_app.app_context():
        db = host_app.extensions["aperture_host"].db
        grant = db.session.get(TraktDeviceGrant, user_id(host_app, name))
        assert grant is not None, f"{name} has no device connection under way"
        interval = grant.interval
        grant.next_poll_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    sandbox.advance_clock(interval)


def flask_command(
    host_app: Flask, host_config: dict[str, Any], log_dir: Path, *args: str
) -> ManagedProcess:
    """``flask --app harness.reference_host:create_app ...`` as a separate process on the test's
    database and Redis, as an admin would run it in a terminal."""
    from tests.fixtures_host import worker_env

    argv = python_module("flask", "--app", "harness.reference_host:create_app", *args)
    return ManagedProcess(
        "flask-" + "-".join(args[:2]), argv, env=worker_env(host_app, host_config), log_dir=log_dir
    ).start()


def wait_for_output(process: ManagedProcess, pattern: str, timeout: float = 20.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, process.output())
        if match:
            return match
        if not process.alive():
            break
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in the output:\n{process.output()[-3000:]}")


def status_json(host_app: Flask, *args: str) -> list[dict[str, Any]]:
    result = host_app.test_cli_runner().invoke(args=["trakt", "status", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- what sits in front of Trakt -------------------------------------------------------

#: How a message quotes the Ray ID of the sandbox's Cloudflare pages (the
#: ``cloudflare-403`` preset: a random one each time, ``CF-RAY: <16 hex>-FRA``).
RAY_ID_NOTE = r" \(Ray ID [0-9a-f]{16}\)"
#: A Cloudflare block page that carries no Ray ID at all (header or page).
NO_RAY_BLOCK = {
    "status": 403,
    "body": "<!DOCTYPE html><html><body><h1>Sorry, you have been blocked</h1></body></html>",
    "headers": {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare"},
}


@contextmanager
def oauth_requests_seen(sandbox_server: Any) -> Iterator[list[dict[str, str]]]:
    """What reached the sandbox's ``/oauth/*`` endpoints, as sent: method, path, the body's
    Content-Type and the Authorization header. The sandbox's own request log keeps
    neither, so a WSGI middleware in front of it looks, and is removed afterwards."""
    app = sandbox_server.app
    inner = app.wsgi_app
    seen: list[dict[str, str]] = []

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/oauth/"):
            seen.append(
                {
                    "method": environ["REQUEST_METHOD"],
                    "path": environ["PATH_INFO"],
                    "content_type": environ.get("CONTENT_TYPE", ""),
                    "authorization": environ.get("HTTP_AUTHORIZATION", ""),
                }
            )
        return inner(environ, start_response)

    app.wsgi_app = recording
    try:
        yield seen
    finally:
        app.wsgi_app = inner
