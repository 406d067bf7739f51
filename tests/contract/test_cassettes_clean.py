"""No cassette may carry a secret (DESIGN principle 9).

Recorded HTTP gets committed, so this test reads every file under ``tests/cassettes/``
as an attacker would: as text, without trusting the recorder's scrubbing. It fails on
anything token-shaped (Trakt's tokens and codes are 64 hex characters), an
``Authorization`` value that is not a placeholder, the sandbox's client credentials, a
secret field (``code_verifier``, ``refresh_token``...) whose value is not a placeholder,
and any body that is not plain text (gzip or base64 bodies hid tokens from PRAW's
reviewers). The checker is itself tested against a dirty sample of each kind, so a
clean result means something.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.trakt_sandbox.control_client import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")
HEX64 = re.compile(r"[0-9A-Fa-f]{64,}")
BEARER = re.compile(r"\bBearer\s+([^\s\"\\]+)", re.IGNORECASE)
BASIC = re.compile(r"\bBasic\s+([A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])", re.IGNORECASE)
SECRET_FIELDS = (
    "code_verifier",
    "code",
    "device_code",
    "user_code",
    "access_token",
    "refresh_token",
    "token",
    "client_id",
    "client_secret",
)
LITERALS = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
ENCODED = re.compile(r"\b(gzip|deflate|br|compress)\b", re.IGNORECASE)


def field_values(text: str, name: str) -> list[str]:
    """Values of ``name`` as a JSON string field (escaped or not) or a form/query field."""
    lead = rf"(?<![A-Za-z0-9_]){re.escape(name)}"
    as_json = re.findall(lead + r'\\*"\s*:\s*\\*"([^"\\]*)', text)
    as_form = re.findall(lead + r"=([^&\"\s\\]*)", text)
    return as_json + as_form


def encoded_bodies(text: str) -> list[str]:
    """Betamax keeps a body it cannot decode as ``base64_string``; gzip says so in a header."""
    try:
        data = json.loads(text)
    except ValueError:
        return ["the cassette is not JSON, so its bodies cannot be checked"]
    problems = []
    for number, interaction in enumerate(data.get("http_interactions", []), 1):
        for side in ("request", "response"):
            message: dict[str, Any] = interaction[side]
            body = message.get("body")
            if isinstance(body, dict) and ("base64_string" in body or "string" not in body):
                problems.append(f"interaction {number}: the {side} body is not plain text")
            for key, values in message.get("headers", {}).items():
                values = values if isinstance(values, list) else [values]
                if key.lower() == "content-encoding" and any(ENCODED.search(v) for v in values):
                    problems.append(f"interaction {number}: the {side} is {values}-encoded")
                if key.lower() == "content-length":
                    problems.append(f"interaction {number}: the {side} keeps Content-Length")
    return problems


def leaks(text: str) -> list[str]:
    """Every reason this cassette text may not be committed; values are never echoed."""
    found = [f"a {len(m)}-hex-character string" for m in HEX64.findall(text)]
    found += [
        "a Bearer value that is not a placeholder"
        for value in BEARER.findall(text)
        if not PLACEHOLDER.fullmatch(value)
    ]
    found += ["a Basic credential" for _ in BASIC.findall(text)]
    found += [f"the literal {literal!r}" for literal in LITERALS if literal in text]
    for name in SECRET_FIELDS:
        found += [
            f"a {name} value that is not a placeholder"
            for value in field_values(text, name)
            if value and not PLACEHOLDER.fullmatch(value)
        ]
    return found + encoded_bodies(text)


def cassette_files() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def test_there_are_cassettes_and_they_use_placeholders():
    files = cassette_files()
    assert files, "no cassette in tests/cassettes: the cleanliness check would be vacuous"
    for path in files:
        text = path.read_text(encoding="utf-8")  # a binary file fails here
        names = set(PLACEHOLDER.findall(text))
        assert "<TRAKT_BASE_URL>" in names, path.name
        assert any(n.startswith("<TRAKT_ACCESS_TOKEN_") for n in names), path.name


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: p.name)
def test_cassette_carries_no_secret(path: Path):
    assert leaks(path.read_text(encoding="utf-8")) == [], path.name


# --- the checker itself ---------------------------------------------------------------------

TOKEN = "9f" * 32


def cassette_with(
    request_body: str = "",
    headers: dict[str, list[str]] | None = None,
    response_body: dict[str, str] | None = None,
) -> str:
    """A minimal Betamax cassette, shaped as our serializer writes one."""
    interaction = {
        "request": {
            "body": {"encoding": "utf-8", "string": request_body},
            "headers": headers or {},
            "method": "POST",
            "uri": "<TRAKT_BASE_URL>/oauth/token",
        },
        "response": {
            "body": response_body or {"encoding": "utf-8", "string": "{}"},
            "headers": {},
            "status": {"code": 200, "message": "OK"},
            "url": "<TRAKT_BASE_URL>/oauth/token",
        },
    }
    return json.dumps({"http_interactions": [interaction]}, indent=2)


DIRTY = {
    "hex token": cassette_with(json.dumps({"refresh_token": TOKEN})),
    "bearer": cassette_with(headers={"Authorization": ["Bearer live-looking-token"]}),
    "basic": cassette_with(headers={"Authorization": ["Basic c2FuZGJveDpzZWNyZXQ="]}),
    "client secret": cassette_with(json.dumps({"note": DEFAULT_CLIENT_SECRET})),
    "client id": cassette_with(headers={"trakt-api-key": [DEFAULT_CLIENT_ID]}),
    "verifier json": cassette_with(json.dumps({"code_verifier": "abcDEF123-._~xyz"})),
    "verifier form": cassette_with("grant_type=authorization_code&code_verifier=abcDEF123"),
    "short code": cassette_with(json.dumps({"code": "ABCD1234"})),
    "base64 body": cassette_with(
        response_body={"encoding": "utf-8", "base64_string": "H4sIAAAAAAAA/w=="}
    ),
    "gzip header": cassette_with(headers={"Content-Encoding": ["gzip"]}),
    "content length": cassette_with(headers={"Content-Length": ["42"]}),
}


@pytest.mark.parametrize("name", sorted(DIRTY))
def test_the_checker_catches_each_kind_of_leak(name: str):
    assert leaks(DIRTY[name]), f"the checker missed: {name}"


def test_the_checker_accepts_placeholders_and_status_codes():
    clean = cassette_with(
        json.dumps(
            {
                "grant_type": "refresh_token",
                "refresh_token": "<TRAKT_REFRESH_TOKEN_1>",
                "client_id": "<TRAKT_CLIENT_ID>",
                "code_verifier": "<PKCE_CODE_VERIFIER_1>",
                "token_type": "bearer",
            }
        ),
        headers={
            "Authorization": ["Bearer <TRAKT_ACCESS_TOKEN_1>"],
            "Accept-Encoding": ["identity"],
        },
    )
    assert leaks(clean) == []
