"""Secrets at rest: an encrypted column type and the keys behind it.

The Client Secret and every OAuth token are stored through :class:`EncryptedText`, so
the database file (or a dump of it) never holds them in clear. Keys come from
``APERTURE_TRAKT_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first); a
host that sets none still gets encryption, from a key derived from its ``SECRET_KEY``,
and a warning, because rotating ``SECRET_KEY`` would then make the secrets unreadable.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

KEYS_CONFIG = "APERTURE_TRAKT_ENCRYPTION_KEYS"
MSG_NO_KEY = ("set {keys_config} or the host's SECRET_KEY: Trakt secrets are never stored "
              "unencrypted")
MSG_UNREADABLE = ("a stored Trakt secret cannot be decrypted with the configured keys "
                  "(was {keys_config} or SECRET_KEY changed without keeping the old key?)")
_EXTENSION_KEY = "aperture_trakt_crypto"
_HKDF_INFO = b"aperture-trakt-plugin/secrets/v1"


class SecretsUnreadable(RuntimeError):
    """A stored secret cannot be decrypted with any configured key."""


def derive_key(secret_key: str | bytes) -> bytes:
    """A Fernet key from the host's SECRET_KEY; HKDF so the two are never the same bytes."""
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(material)
    return base64.urlsafe_b64encode(raw)


def parse_keys(value: str | list[str] | tuple[str, ...] | None) -> list[bytes]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    keys = [k.strip().encode() for k in items if k and k.strip()]
    for key in keys:
        Fernet(key)  # raises ValueError with a clear message on a malformed key
    return keys


def configure(app: Flask) -> MultiFernet:
    """Builds the app's key ring once; called from ``init_app``."""
    keys = parse_keys(app.config.get(KEYS_CONFIG))
    if not keys:
        secret = app.config.get("SECRET_KEY")
        if not secret:
            raise RuntimeError(MSG_NO_KEY.format(keys_config=KEYS_CONFIG))
        log.warning("%s is not set: Trakt secrets are encrypted with a key derived from "
                    "SECRET_KEY; changing SECRET_KEY will make them unreadable", KEYS_CONFIG)
        keys = [derive_key(secret)]
    ring = MultiFernet([Fernet(k) for k in keys])
    app.extensions[_EXTENSION_KEY] = ring
    return ring


def key_ring(app: Flask | None = None) -> MultiFernet:
    app = app or current_app
    ring = app.extensions.get(_EXTENSION_KEY)
    return ring if ring is not None else configure(app)


def encrypt(value: str, app: Flask | None = None) -> str:
    return key_ring(app).encrypt(value.encode()).decode()


def decrypt(token: str, app: Flask | None = None) -> str:
    try:
        return key_ring(app).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretsUnreadable(MSG_UNREADABLE.format(keys_config=KEYS_CONFIG)) from exc


def rotate(value: str, app: Flask | None = None) -> str:
    """Re-encrypts under the newest key (MultiFernet keeps the original timestamp)."""
    return key_ring(app).rotate(value.encode()).decode()


class EncryptedText(TypeDecorator[str]):
    """Text encrypted with the app's key ring on the way in, decrypted on the way out."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)
