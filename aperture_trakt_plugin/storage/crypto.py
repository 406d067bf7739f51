"""Secrets at rest: an encrypted column type, the keys behind it, and the row it belongs to.

The Client Secret and every OAuth token are stored through :class:`EncryptedText`, so
the database file (or a dump of it) never holds them in clear. Keys come from
``APERTURE_TRAKT_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first); a
host that sets none still gets encryption, from a key derived from its ``SECRET_KEY``,
and a warning, because rotating ``SECRET_KEY`` would then make the secrets unreadable
(unless ``flask trakt rotate-keys --old-secret-key`` is run). Outside debug and testing a
short or well-known ``SECRET_KEY`` is refused for that: a key anyone can guess would
decrypt every token in a stolen dump.

Each value is sealed with AES-GCM whose associated data names its table, column and
primary key (format ``atp2:``), so a ciphertext copied into another row, or the Client
Secret copied into a token column, no longer decrypts. Sealing needs the row, so the
type alone cannot do it: :func:`bind_rows` hooks the ORM (values are sealed just before
an INSERT/UPDATE and opened when a row is loaded). Values written before this format
(plain Fernet tokens, ``gAAAA...``) still open; they are sealed to their row on their
next write, and ``flask trakt rotate-keys`` seals all of them at once.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app
from sqlalchemy import Column, Text, event, inspect
from sqlalchemy.orm import Mapper, attributes
from sqlalchemy.types import TypeDecorator

from aperture_trakt_plugin.storage.types import long_text

log = logging.getLogger(__name__)

KEYS_CONFIG = "APERTURE_TRAKT_ENCRYPTION_KEYS"
MSG_NO_KEY = (
    "set {keys_config} or the host's SECRET_KEY: Trakt secrets are never stored unencrypted"
)
MSG_UNREADABLE = (
    "a stored Trakt secret cannot be decrypted with the configured keys "
    "(was {keys_config} or SECRET_KEY changed without keeping the old key?)"
)
MSG_WEAK_SECRET_KEY = (
    "SECRET_KEY is {why}, and {keys_config} is not set: Trakt tokens "
    "would be encrypted with a key anyone can guess. Set {keys_config} "
    '(make a key with: python -c "from cryptography.fernet import '
    'Fernet; print(Fernet.generate_key().decode())") or a random '
    "SECRET_KEY of at least {floor} characters"
)
MSG_WEAK_SHORT = "shorter than {floor} characters"
MSG_WEAK_KNOWN = "a well-known development value"
MSG_WEAK_UNIFORM = "made of fewer than {distinct} different characters"
MSG_UNBOUND = (
    "an encrypted Trakt column was written without its row (through the ORM, "
    "or as crypto.Bound with its binding): it cannot be sealed"
)
_EXTENSION_KEY = "aperture_trakt_crypto"
_HKDF_INFO = b"aperture-trakt-plugin/secrets/v1"
_AEAD_INFO = b"aperture-trakt-plugin/secrets/aead/v2"
SEALED_PREFIX = "atp2:"
_NONCE_BYTES = 12

# Below this a SECRET_KEY is refused as the source of the encryption key (outside debug
# and testing): 32 characters of token_urlsafe/token_hex are 192/128 bits; shorter keys
# in the wild are words or phrases.
SECRET_KEY_FLOOR = 32
SECRET_KEY_DISTINCT = 8
# Values copied from tutorials, framework docs, generators' examples and this project's
# own reference host and sandbox: long enough to pass the floor in some cases, and known.
KNOWN_DEV_SECRET_KEYS = frozenset(
    {
        "dev",
        "development",
        "devkey",
        "dev-key",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "mysecret",
        "my-secret",
        "my_secret_key",
        "mysecretkey",
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "test",
        "testing",
        "password",
        "default",
        "super-secret",
        "supersecret",
        "your-secret-key",
        "your_secret_key",
        "keyboard cat",
        "you-will-never-guess",
        "hard to guess string",
        "insecure",
        "none",
        "null",
        # Flask's documentation (quickstart and configuration pages)
        '_5#y2l"f4q8z\n\xec]/',
        "192b9bdd22ab9ed4d12e236c78afcb9a393ec15f71bbf5dc987d54727823bcbf",
        # this project's reference host and Trakt sandbox
        "demo-host-insecure-dev-key",
        "trakt-sandbox-not-a-secret",
    }
)


class SecretsUnreadable(RuntimeError):
    """A stored secret cannot be decrypted with any configured key (or not for this row)."""


class WeakSecretKey(RuntimeError):
    """SECRET_KEY would be the only source of the encryption key, and it is guessable."""


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


def secret_key_weakness(secret_key: str | bytes) -> str | None:
    """Why a SECRET_KEY cannot stand in for encryption keys, or None when it can."""
    text = secret_key.decode("latin-1") if isinstance(secret_key, bytes) else secret_key
    if text.strip().lower() in KNOWN_DEV_SECRET_KEYS:
        return MSG_WEAK_KNOWN
    if len(secret_key) < SECRET_KEY_FLOOR:
        return MSG_WEAK_SHORT.format(floor=SECRET_KEY_FLOOR)
    if len(set(text)) < SECRET_KEY_DISTINCT:
        return MSG_WEAK_UNIFORM.format(distinct=SECRET_KEY_DISTINCT)
    return None


@dataclass(frozen=True)
class KeyRing:
    """The configured keys, newest first: AES-GCM keys seal, Fernet opens legacy values.

    The AES-GCM keys are derived (HKDF) from the same Fernet keys, so a deployment keeps
    one list of keys whatever the format of the values it holds.
    """

    fernet_keys: tuple[bytes, ...]

    @property
    def legacy(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self.fernet_keys])

    @property
    def aeads(self) -> list[AESGCM]:
        return [
            AESGCM(
                HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_AEAD_INFO).derive(
                    base64.urlsafe_b64decode(k)
                )
            )
            for k in self.fernet_keys
        ]

    def with_keys(self, extra: Iterable[bytes]) -> KeyRing:
        """This ring, also opening with ``extra`` (old keys given to a rotation)."""
        return KeyRing(self.fernet_keys + tuple(k for k in extra if k not in self.fernet_keys))

    def seal(self, value: str, binding: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self.aeads[0].encrypt(nonce, value.encode(), binding)
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str, binding: bytes) -> str:
        """The value of ``token`` stored at ``binding``; a legacy Fernet token opens too."""
        try:
            if not token.startswith(SEALED_PREFIX):
                return self.legacy.decrypt(token.encode()).decode()
            raw = base64.urlsafe_b64decode(token[len(SEALED_PREFIX) :])
        except (InvalidToken, ValueError) as exc:
            raise SecretsUnreadable(MSG_UNREADABLE.format(keys_config=KEYS_CONFIG)) from exc
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        if len(nonce) < _NONCE_BYTES:  # cut short in storage: AESGCM would raise ValueError
            raise SecretsUnreadable(MSG_UNREADABLE.format(keys_config=KEYS_CONFIG))
        for aead in self.aeads:
            try:
                return aead.decrypt(nonce, sealed, binding).decode()
            except InvalidTag:
                continue
        raise SecretsUnreadable(MSG_UNREADABLE.format(keys_config=KEYS_CONFIG))


def configure(app: Flask) -> KeyRing:
    """Builds the app's key ring once; called from ``init_app``."""
    keys = parse_keys(app.config.get(KEYS_CONFIG))
    if not keys:
        secret = app.config.get("SECRET_KEY")
        if not secret:
            raise RuntimeError(MSG_NO_KEY.format(keys_config=KEYS_CONFIG))
        why = secret_key_weakness(secret)
        if why and not (app.debug or app.testing):
            raise WeakSecretKey(
                MSG_WEAK_SECRET_KEY.format(why=why, keys_config=KEYS_CONFIG, floor=SECRET_KEY_FLOOR)
            )
        log.warning(
            "%s is not set: Trakt secrets are encrypted with a key derived from "
            "SECRET_KEY; changing SECRET_KEY will make them unreadable",
            KEYS_CONFIG,
        )
        keys = [derive_key(secret)]
    ring = KeyRing(tuple(keys))
    app.extensions[_EXTENSION_KEY] = ring
    return ring


def key_ring(app: Flask | None = None) -> KeyRing:
    app = app or current_app
    ring = app.extensions.get(_EXTENSION_KEY)
    return ring if ring is not None else configure(app)


def binding(table: str, column: str, primary_key: Sequence[Any]) -> bytes:
    """The associated data of a value: which table, column and row it belongs to."""
    if any(part is None for part in primary_key):
        raise ValueError(MSG_UNBOUND)
    return json.dumps([table, column, [str(p) for p in primary_key]]).encode()


class Bound(str):
    """A secret in clear, carrying the binding of the row it is (to be) stored in."""

    binding: bytes

    def __new__(cls, value: str, binding: bytes) -> Bound:
        made = super().__new__(cls, value)
        made.binding = binding
        return made

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        """A copy or pickle (a job's arguments) is plain text: bound again where stored."""
        return (str, (str(self),))


class Sealed:
    """A ciphertext as read from the database: opened once its row is known (on load)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return "<sealed Trakt secret>"


class EncryptedText(TypeDecorator[str]):
    """Text sealed to its row on the way in; opened by the ORM hooks of :func:`bind_rows`."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        return long_text(dialect)

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Bound):
            raise TypeError(MSG_UNBOUND)
        return key_ring().seal(str(value), value.binding)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else Sealed(value)


def encrypted_columns(mapper: Mapper[Any]) -> list[str]:
    return [
        attr.key for attr in mapper.column_attrs if isinstance(attr.columns[0].type, EncryptedText)
    ]


def _binding_of(mapper: Mapper[Any], target: Any, key: str) -> bytes:
    column = mapper.column_attrs[key].columns[0]
    assert isinstance(column, Column)  # an encrypted attribute maps one table column
    return binding(column.table.name, column.name, mapper.primary_key_from_instance(target))


def _open_loaded(target: Any, keys: Iterable[str] | None = None) -> None:
    state = inspect(target)
    wanted = set(keys) if keys is not None else None
    for key in encrypted_columns(state.mapper):
        value = state.dict.get(key)
        if isinstance(value, Sealed) and (wanted is None or key in wanted):
            where = _binding_of(state.mapper, target, key)
            attributes.set_committed_value(target, key, key_ring().open(value.token, where))


def _bind_for_write(mapper: Mapper[Any], connection: Any, target: Any) -> None:
    """Just before its INSERT/UPDATE, each secret learns its row (only the ones written
    are bound: an unchanged value is not in the statement)."""
    state = inspect(target)
    for key in encrypted_columns(mapper):
        value = state.dict.get(key)
        if isinstance(value, str):
            state.dict[key] = Bound(value, _binding_of(mapper, target, key))


def _plain_after_write(mapper: Mapper[Any], connection: Any, target: Any) -> None:
    """After the statement, the object holds plain text again, as after a load: a str
    subclass would surprise encoders that take exact types (msgspec)."""
    state = inspect(target)
    for key in encrypted_columns(mapper):
        if isinstance(state.dict.get(key), Bound):
            state.dict[key] = str(state.dict[key])


def bind_rows(base: type) -> None:
    """Seals every encrypted column of ``base``'s models to its row, and opens on load.

    Mapper events, because only the ORM knows the row: the column type sees one value."""
    event.listen(base, "load", lambda target, context: _open_loaded(target), propagate=True)
    event.listen(
        base, "refresh", lambda target, context, keys: _open_loaded(target, keys), propagate=True
    )
    event.listen(
        base,
        "refresh_flush",
        lambda target, context, keys: _open_loaded(target, keys),
        propagate=True,
    )
    event.listen(base, "before_insert", _bind_for_write, propagate=True)
    event.listen(base, "before_update", _bind_for_write, propagate=True)
    event.listen(base, "after_insert", _plain_after_write, propagate=True)
    event.listen(base, "after_update", _plain_after_write, propagate=True)
