"""Flask extension wiring: config defaults, per-app state, blueprint.

Follows Flask's extension manners: ``init_app`` may run for several apps, state lives
in ``app.extensions["aperture_trakt"]`` and is found through ``current_app``, and
config keys are set with ``setdefault`` so the host's values always win.
"""

from __future__ import annotations

import contextvars
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app

from aperture_trakt_plugin.host import HostServices
from aperture_trakt_plugin.storage import crypto
from aperture_trakt_plugin.storage.settings import OOB_REDIRECT_URI, SettingsStore
from aperture_trakt_plugin.trakt.endpoints import (
    DEFAULT_API_URL,
    DEFAULT_AUTH_URL,
    DEFAULT_USER_AGENT,
    TraktEndpoints,
)

if TYPE_CHECKING:  # HTTP and Redis are imported where a process first needs them
    import requests
    from requests.adapters import BaseAdapter

    from aperture_trakt_plugin.storage.budgets import Budgets

EXTENSION_KEY = "aperture_trakt"
URL_PREFIX = "/plugins/trakt"
MSG_NOT_SET_UP = (
    "the Trakt plugin is not set up on this app (aperture_plugin_setup / init_app was not called)"
)

#: Every config key the plugin reads, with its default. plugin.json and the docs list the
#: same keys; a test keeps the three in step.
CONFIG_DEFAULTS: dict[str, Any] = {
    "APERTURE_TRAKT_API_URL": DEFAULT_API_URL,
    "APERTURE_TRAKT_AUTH_URL": DEFAULT_AUTH_URL,
    "APERTURE_TRAKT_ENCRYPTION_KEYS": None,
    "APERTURE_TRAKT_USER_AGENT": DEFAULT_USER_AGENT,
    "APERTURE_TRAKT_HTTP_TIMEOUT": 10.0,
    "APERTURE_TRAKT_QUEUE": "trakt",
    "APERTURE_TRAKT_TOKEN_REFRESH_MARGIN": 86400,
    # Overrides of Trakt's limits per bucket (user_get, app_get, user_write), in the
    # ``limits`` library's notation, e.g. {"user_get": "1000 per 5 minutes"}.
    "APERTURE_TRAKT_RATE_LIMITS": {},
    # Seconds before each retry of a job that failed on a passing fault (5xx, timeout,
    # unreachable); each is jittered by ±25 %. After the last, the job fails for good.
    "APERTURE_TRAKT_RETRY_DELAYS": [30, 120, 600, 1800],
    # The shortest and longest wait (seconds) a 429's Retry-After or X-Ratelimit "until"
    # is taken as; a wait that is not a finite number counts as none given.
    "APERTURE_TRAKT_WAIT_RANGE": [1, 3600],
    # How many times a job is rescheduled after a 429 before it fails for good.
    "APERTURE_TRAKT_RATE_LIMIT_RETRIES": 24,
    # Every answer from Trakt is read to at most this many bytes, and whole within this
    # many seconds (or the call's own timeout, if longer); past either it is an error.
    # Pauses (seconds, ±50 %) before a read that met a passing fault is tried again in
    # the same run, before the job is rescheduled (APERTURE_TRAKT_RETRY_DELAYS).
    "APERTURE_TRAKT_QUICK_RETRIES": [1, 3],
    "APERTURE_TRAKT_MAX_ANSWER_BYTES": 64 * 1024 * 1024,
    "APERTURE_TRAKT_ANSWER_DEADLINE": 30.0,
    # Discovery: titles fetched per Trakt list and media type (trending, popular, and each
    # user's recommendations, at most 100 there), and which of Trakt's ``ignore_*``
    # filters the recommendations use (any of "collected", "watched", "watchlisted").
    "APERTURE_TRAKT_DISCOVERY_LIST_SIZE": 50,
    "APERTURE_TRAKT_RECOMMENDATIONS_IGNORE": ["collected", "watched"],
    # The URL users reach the server at, for the OAuth callback; when unset, the host's
    # public URL, but only if the host has one configured (not taken from the request).
    "APERTURE_TRAKT_PUBLIC_URL": None,
}
#: A host name no request ever carries: asking the host for its public URL inside a
#: request to it tells whether the host just echoes the request's Host header.
PROBE_BASE_URL = "http://aperture-trakt-host-probe.invalid/"


@dataclass
class TraktState:
    """What the plugin keeps per app."""

    host: HostServices
    #: Set by the composition root (``hooks``), which alone may import the views: the
    #: extension is the layer everything else imports, so it must import none of them.
    blueprint: Blueprint | None = None
    settings: SettingsStore = field(init=False)
    #: Transport adapters mounted on every HTTP session the plugin opens (by URL prefix):
    #: how recorded-HTTP tests (betamax) or a host's proxy/CA settings get in.
    transport_adapters: dict[str, BaseAdapter] = field(default_factory=dict)
    budgets: Budgets | None = None

    def __post_init__(self) -> None:
        self.settings = SettingsStore(self.host.db)


def init_app(app: Flask, host: HostServices) -> TraktState:
    for key, value in CONFIG_DEFAULTS.items():
        app.config.setdefault(key, value)
    for key in (
        "APERTURE_TRAKT_RATE_LIMITS",
        "APERTURE_TRAKT_RETRY_DELAYS",
        "APERTURE_TRAKT_RECOMMENDATIONS_IGNORE",
        "APERTURE_TRAKT_WAIT_RANGE",
        "APERTURE_TRAKT_QUICK_RETRIES",
    ):
        if isinstance(app.config[key], str):  # from the environment: JSON text
            app.config[key] = json.loads(app.config[key])
    from aperture_trakt_plugin.storage.budgets import parse_limits

    quiet_crontab()
    crypto.configure(app)
    parse_limits(app.config["APERTURE_TRAKT_RATE_LIMITS"])  # a typo fails at start, not later
    wait_range(app)  # so does a wait range that is not two finite numbers in order
    state = TraktState(host=host)
    app.extensions[EXTENSION_KEY] = state
    return state


def quiet_crontab() -> None:
    """rq-scheduler 0.14 calls crontab's ``next()`` without ``default_utc``, and crontab
    warns about a future default on every call: a page of noise in every ``flask`` command
    and scheduler log. The times are UTC either way (``use_local_timezone=False``, and the
    servers run in UTC), so that one warning is silenced, nothing else; here, where a
    process sets the plugin up, rather than as a side effect of importing a module."""
    warnings.filterwarnings(
        "ignore", message=r"Version 0\.22\.0\+ of crontab", category=FutureWarning
    )


def state(app: Flask | None = None) -> TraktState:
    app = app or current_app
    try:
        found: TraktState = app.extensions[EXTENSION_KEY]
        return found
    except KeyError:
        raise RuntimeError(MSG_NOT_SET_UP) from None


MSG_BAD_WAIT_RANGE = (
    "APERTURE_TRAKT_WAIT_RANGE must be two finite numbers of seconds, "
    "the shortest first and at least 0 (got {value!r})"
)


def wait_range(app: Flask | None = None) -> tuple[float, float]:
    """``APERTURE_TRAKT_WAIT_RANGE`` checked: the bounds of any wait Trakt asks for."""
    value = (app or current_app).config["APERTURE_TRAKT_WAIT_RANGE"]
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(MSG_BAD_WAIT_RANGE.format(value=value)) from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
        raise ValueError(MSG_BAD_WAIT_RANGE.format(value=value))
    return low, high


def answer_deadline(app: Flask | None = None) -> float:
    """Seconds an answer may take to arrive whole (``APERTURE_TRAKT_ANSWER_DEADLINE``)."""
    return float((app or current_app).config["APERTURE_TRAKT_ANSWER_DEADLINE"])


def budgets(app: Flask | None = None) -> Budgets:
    """The server's shared Trakt rate budgets (their state lives in Redis)."""
    from aperture_trakt_plugin.storage.budgets import Budgets

    app = app or current_app
    trakt = state(app)
    if trakt.budgets is None:
        trakt.budgets = Budgets(
            trakt.host.redis, app.config["APERTURE_TRAKT_RATE_LIMITS"], wait_range=wait_range(app)
        )
    return trakt.budgets


def endpoints(app: Flask | None = None) -> TraktEndpoints:
    config = (app or current_app).config
    return TraktEndpoints(
        api_url=config["APERTURE_TRAKT_API_URL"].rstrip("/"),
        auth_url=config["APERTURE_TRAKT_AUTH_URL"].rstrip("/"),
        user_agent=config["APERTURE_TRAKT_USER_AGENT"],
        timeout=float(config["APERTURE_TRAKT_HTTP_TIMEOUT"]),
        wait_range=wait_range(app),
        quick_retries=tuple(float(pause) for pause in config["APERTURE_TRAKT_QUICK_RETRIES"]),
    )


def http_session(session: requests.Session | None = None) -> requests.Session:
    """A session for talking to Trakt, with the app's transport adapters mounted, that
    never follows a redirect (``trakt.transport.refuse_redirects``) and reads every answer
    under a size cap and a deadline (``trakt.transport.BoundedAdapter``)."""
    import requests

    from aperture_trakt_plugin.trakt.transport import BoundedAdapter, refuse_redirects

    session = session if session is not None else requests.Session()
    session.max_redirects = 0  # a second lock: requests refuses before sending anything
    config = current_app.config
    bounded = BoundedAdapter(int(config["APERTURE_TRAKT_MAX_ANSWER_BYTES"]), answer_deadline())
    session.mount("http://", bounded)
    session.mount("https://", bounded)
    if refuse_redirects not in session.hooks["response"]:
        session.hooks["response"].append(refuse_redirects)
    for prefix, adapter in state().transport_adapters.items():
        session.mount(prefix, adapter)
    return session


def _host_url_follows_the_request(app: Flask) -> bool:
    """Whether the host's ``public_base_url`` is only the request's Host header (a host
    with no public URL configured): asked inside a made-up request, in a context of its
    own so the real request (if any) is not disturbed. A host that fails there is not
    trusted either."""
    host = state(app).host

    def ask() -> str:
        with app.test_request_context("/", base_url=PROBE_BASE_URL):
            return host.public_base_url()

    try:
        answer = contextvars.Context().run(ask)
    except Exception:  # any failure means "cannot tell": not trusted
        return True
    hostname = urlsplit(PROBE_BASE_URL).hostname
    assert hostname is not None  # PROBE_BASE_URL names a host
    return hostname in str(answer)


def public_url(app: Flask | None = None) -> str | None:
    """The URL users reach the server at, if someone configured it: our own key, else the
    host's public URL when it does not merely echo the request. None otherwise: a Host
    header is chosen by whoever sends the request, and a callback built from it would
    send users' authorization codes to that host."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    configured = app.config.get("APERTURE_TRAKT_PUBLIC_URL")
    if configured:
        return str(configured).rstrip("/")
    if _host_url_follows_the_request(app):
        return None
    return state(app).host.public_base_url().rstrip("/")


def default_redirect_uri(app: Flask | None = None) -> str | None:
    """The callback URL to register at Trakt: the public URL plus our callback path, or
    None without a configured public URL (users then connect with a device code)."""
    base = public_url(app)
    return base + URL_PREFIX + "/callback" if base else None


def effective_redirect_uri(app: Flask | None = None) -> str:
    """The saved redirect URI, else the default, else the out-of-band URI, which makes the
    profile offer the device flow instead of a redirect."""
    return state(app).settings.get("redirect_uri") or default_redirect_uri(app) or OOB_REDIRECT_URI


def uses_device_flow(app: Flask | None = None) -> bool:
    """Trakt's PIN page is gone, so an app registered with the oob URI connects by device code."""
    return effective_redirect_uri(app) == OOB_REDIRECT_URI
