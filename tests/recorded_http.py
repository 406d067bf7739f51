"""Recorded HTTP (betamax) for the plugin's Trakt calls, and the rules that keep it clean.

A cassette is a secret-bearing artifact (DESIGN principle 9: PRAW once committed live
tokens inside gzip bodies), so everything recorded here goes through one configuration:

* ``Accept-Encoding: identity`` on every recorded request, so bodies are plain text that
  the scrubber (and a reviewer) can read; a gzip body would be stored as base64.
* ``before_record`` finds every secret in the interaction (token, authorization code,
  PKCE verifier, device code, client credentials, ``Authorization`` values, any 64-hex
  string) and gives each distinct value a numbered placeholder on the cassette. Betamax
  applies placeholders when it writes the file. The hook does not edit the bodies in
  place: Betamax builds the response our code receives *from the recorded data*, so
  in-place scrubbing would hand ``<TRAKT_ACCESS_TOKEN_1>`` to the next live call.
* ``Content-Length`` is dropped: placeholders change body lengths, and a stale length
  truncates or stalls the replayed body.
* Requests match on method and path only. Bodies carry one-time values (codes, PKCE
  verifiers, rotated refresh tokens) that differ on every run, and the base URL becomes
  ``<TRAKT_BASE_URL>``, which replay fills in with whatever URL the test configured, so
  replay works against a port where nothing listens.
* Replay only (``none``) unless ``BETAMAX_RECORD`` asks otherwise, so CI never records:
  ``BETAMAX_RECORD=1`` records cassettes that do not exist yet, ``BETAMAX_RECORD=all``
  records them again from scratch.

The plugin opens every Trakt session through ``extension.http_session()``, which mounts
``state.transport_adapters``; :func:`recorded_trakt` puts the Betamax adapter there, so
the code under test is the production code, unchanged.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import requests
from betamax import Betamax
from betamax.cassette import Cassette
from betamax.cassette.cassette import Placeholder
from betamax.serializers import BaseSerializer
from requests.adapters import BaseAdapter

CASSETTE_DIR = Path(__file__).resolve().parent / "cassettes"
RECORD_ENV = "BETAMAX_RECORD"
SERIALIZER = "prettyjson"
MATCH_ON = ["method", "path"]

BASE_URL = "<TRAKT_BASE_URL>"
CLIENT_ID = "<TRAKT_CLIENT_ID>"
CLIENT_SECRET = "<TRAKT_CLIENT_SECRET>"
BASIC_CREDENTIALS = "<BASIC_CREDENTIALS>"

#: Body fields whose values are secrets, with the stem of their placeholder. ``token``
#: is what ``/oauth/revoke`` takes; it is usually an access token already named.
SECRET_FIELDS = {
    "access_token": "TRAKT_ACCESS_TOKEN",
    "refresh_token": "TRAKT_REFRESH_TOKEN",
    "token": "TRAKT_TOKEN",
    "code": "TRAKT_AUTHORIZATION_CODE",
    "code_verifier": "PKCE_CODE_VERIFIER",
    "device_code": "TRAKT_DEVICE_CODE",
    "user_code": "TRAKT_USER_CODE",
    "client_id": "TRAKT_CLIENT_ID",
    "client_secret": "TRAKT_CLIENT_SECRET",
}
#: Trakt's tokens and codes are 64 hex characters; anything of that shape is a secret.
HEX64 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")
PLACEHOLDER = re.compile(r"^<[A-Z0-9_]+>$")


class RecordModeError(ValueError):
    """``BETAMAX_RECORD`` holds a value this configuration does not know."""


def record_mode() -> str:
    """Betamax's record mode from ``BETAMAX_RECORD``; replay only when it is unset."""
    value = os.environ.get(RECORD_ENV, "").strip().lower()
    if value in ("", "0", "no", "false", "none"):
        return "none"
    if value in ("1", "yes", "true", "once"):
        return "once"
    if value == "all":
        return "all"
    raise RecordModeError(f"{RECORD_ENV}={value!r}: use 1 (record missing cassettes) or all")


def cassette_path(name: str) -> Path:
    return CASSETTE_DIR / f"{name}.json"


def will_record(name: str) -> bool:
    """Whether using cassette ``name`` now talks to a live server (tests then need one)."""
    mode = record_mode()
    return mode == "all" or (mode == "once" and not cassette_path(name).exists())


class PrettyJSONSerializer(BaseSerializer):
    """Betamax's JSON, indented and key-sorted, so a cassette's diff can be reviewed."""

    name = SERIALIZER
    stored_as_binary = False

    @staticmethod
    def generate_cassette_name(cassette_library_dir: str, cassette_name: str) -> str:
        return os.path.join(cassette_library_dir, f"{cassette_name}.json")

    def serialize(self, cassette_data: dict[str, Any]) -> str:
        return json.dumps(cassette_data, indent=2, sort_keys=True) + "\n"

    def deserialize(self, cassette_data: str) -> dict[str, Any]:
        try:
            return json.loads(cassette_data)
        except ValueError:  # a new, empty file
            return {}


# --- scrubbing -----------------------------------------------------------------------------


def _body_text(message: dict[str, Any]) -> str:
    body = message.get("body") or {}
    return body.get("string", "") if isinstance(body, dict) else str(body)


def _fields(text: str) -> dict[str, Any]:
    """The top-level fields of a JSON or form-encoded body; empty when it is neither."""
    try:
        data = json.loads(text)
    except ValueError:
        data = dict(parse_qsl(text)) if "=" in text else {}
    return data if isinstance(data, dict) else {}


def _header_values(message: dict[str, Any], name: str) -> list[str]:
    for key, value in message.get("headers", {}).items():
        if key.lower() == name:
            return value if isinstance(value, list) else [value]
    return []


def secrets_in(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every secret value in a serialized interaction, with the stem to name it by."""
    found: list[tuple[str, str]] = []
    for side in ("request", "response"):
        for key, value in _fields(_body_text(data[side])).items():
            if key in SECRET_FIELDS and isinstance(value, str) and value:
                found.append((SECRET_FIELDS[key], value))
    for header in _header_values(data["request"], "authorization"):
        scheme, _, credentials = header.partition(" ")
        if credentials:
            stem = "TRAKT_ACCESS_TOKEN" if scheme.lower() == "bearer" else "AUTH_CREDENTIALS"
            found.append((stem, credentials.strip()))
    found.extend(("TRAKT_SECRET", value) for value in HEX64.findall(json.dumps(data)))
    return [(stem, value) for stem, value in found if not PLACEHOLDER.match(value)]


def _name_secrets(cassette: Cassette, found: list[tuple[str, str]]) -> None:
    """One placeholder per distinct value, numbered per stem, longest values first."""
    known = {p.replace for p in cassette.placeholders}
    for stem, value in found:
        if value in known:
            continue
        number = 1 + sum(p.placeholder.startswith(f"<{stem}_") for p in cassette.placeholders)
        cassette.placeholders.append(Placeholder(placeholder=f"<{stem}_{number}>", replace=value))
        known.add(value)
    # A value inside a longer one must not be replaced first and break the longer one.
    cassette.placeholders.sort(key=lambda p: len(p.replace), reverse=True)


def _drop_header(message: dict[str, Any], name: str) -> None:
    for key in [k for k in message.get("headers", {}) if k.lower() == name]:
        del message["headers"][key]


def before_record(interaction: Any, cassette: Cassette) -> None:
    """Names every secret for Betamax to replace on save, and drops ``Content-Length``."""
    if Path(cassette.cassette_path).resolve().parent != CASSETTE_DIR:
        return  # someone else's cassette: not ours to judge
    for side in ("request", "response"):
        _drop_header(interaction.data[side], "content-length")
    _name_secrets(cassette, secrets_in(interaction.data))


_configured = False


def configure() -> None:
    """Registers the serializer and the hook once per process (Betamax keeps them globally)."""
    global _configured
    if _configured:
        return
    Betamax.register_serializer(PrettyJSONSerializer)
    with Betamax.configure() as config:
        config.before_record(callback=before_record)
    _configured = True


# --- use ------------------------------------------------------------------------------------


class IdentityEncoding(BaseAdapter):
    """Asks for unencoded bodies before Betamax sees the request, then delegates to it.

    The plugin's sessions carry requests' default ``Accept-Encoding: gzip, deflate``; a
    session-level default header cannot reach them, but every request passes through the
    mounted adapter.
    """

    def __init__(self, inner: BaseAdapter) -> None:
        super().__init__()
        self.inner = inner

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.headers["Accept-Encoding"] = "identity"
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def static_placeholders(base_url: str, client_id: str, client_secret: str) -> list[dict[str, str]]:
    """The values known before any call: they are restored on replay, unlike tokens."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return [
        {"placeholder": BASE_URL, "replace": base_url.rstrip("/")},
        {"placeholder": BASIC_CREDENTIALS, "replace": basic},
        {"placeholder": CLIENT_SECRET, "replace": client_secret},
        {"placeholder": CLIENT_ID, "replace": client_id},
    ]


@contextmanager
def recorded_trakt(
    state: Any, name: str, base_url: str, client_id: str, client_secret: str
) -> Iterator[Cassette]:
    """Every Trakt call the plugin makes inside the block goes through cassette ``name``.

    ``state`` is the plugin's ``app.extensions["aperture_trakt"]``; its transport
    adapters are restored afterwards, whatever happened.
    """
    configure()
    recorder = Betamax(requests.Session(), cassette_library_dir=str(CASSETTE_DIR))
    adapter = IdentityEncoding(recorder.betamax_adapter)
    saved = dict(state.transport_adapters)
    with recorder.use_cassette(
        name,
        record=record_mode(),
        serialize_with=SERIALIZER,
        match_requests_on=MATCH_ON,
        placeholders=static_placeholders(base_url, client_id, client_secret),
    ):
        state.transport_adapters.update({"http://": adapter, "https://": adapter})
        try:
            yield recorder.current_cassette
        finally:
            state.transport_adapters.clear()
            state.transport_adapters.update(saved)
