"""The encryption of secrets at rest, without an app or a database: the key ring seals a
value for one row and opens it only there, old keys and old (Fernet) values still open,
and a guessable SECRET_KEY is told apart from a good one. ``tests/test_crypto.py`` covers
the same through the host's tables and ``flask trakt rotate-keys``."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from aperture_trakt_plugin.storage.crypto import (
    MSG_WEAK_KNOWN,
    SEALED_PREFIX,
    KeyRing,
    SecretsUnreadable,
    binding,
    derive_key,
    parse_keys,
    secret_key_weakness,
)

ROW_8 = binding("trakt_connections", "access_token", [8])
ROW_9 = binding("trakt_connections", "access_token", [9])


def ring(*keys: bytes) -> KeyRing:
    return KeyRing(tuple(keys))


def test_a_sealed_value_opens_in_its_own_row_only() -> None:
    keys = ring(Fernet.generate_key())
    sealed = keys.seal("the-access-token", ROW_8)
    assert sealed.startswith(SEALED_PREFIX) and "the-access-token" not in sealed
    assert keys.open(sealed, ROW_8) == "the-access-token"
    with pytest.raises(SecretsUnreadable):
        keys.open(sealed, ROW_9)
    with pytest.raises(SecretsUnreadable):
        keys.open(sealed, binding("trakt_connections", "refresh_token", [8]))


def test_each_seal_is_new_bytes() -> None:
    keys = ring(Fernet.generate_key())
    assert keys.seal("same", ROW_8) != keys.seal("same", ROW_8)


def test_a_new_key_first_still_opens_what_the_old_one_sealed() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = ring(old).seal("secret", ROW_8)
    assert ring(new, old).open(sealed, ROW_8) == "secret"
    assert ring(new).with_keys([old]).open(sealed, ROW_8) == "secret"
    with pytest.raises(SecretsUnreadable):
        ring(new).open(sealed, ROW_8)


def test_a_legacy_fernet_value_opens_whatever_the_row() -> None:
    key = Fernet.generate_key()
    legacy = Fernet(key).encrypt(b"old-token").decode()
    assert ring(key).open(legacy, ROW_9) == "old-token"


@pytest.mark.parametrize("garbage", ["", "atp2:", "atp2:!!!", "not-a-token", "atp2:AAAA"])
def test_garbage_is_unreadable_not_a_crash(garbage: str) -> None:
    with pytest.raises(SecretsUnreadable):
        ring(Fernet.generate_key()).open(garbage, ROW_8)


def test_a_row_without_its_key_cannot_be_bound() -> None:
    with pytest.raises(ValueError):
        binding("trakt_connections", "access_token", [None])


def test_the_derived_key_is_a_fernet_key_and_not_the_secret_key() -> None:
    secret = "a-long-random-secret-key-0123456789abcdef"
    key = derive_key(secret)
    Fernet(key)  # a valid key
    assert key == derive_key(secret.encode()) and secret.encode() not in key


def test_configured_keys_are_checked_when_read() -> None:
    first, second = Fernet.generate_key(), Fernet.generate_key()
    assert parse_keys(f" {first.decode()} , {second.decode()} ,") == [first, second]
    assert parse_keys(None) == parse_keys("") == []
    with pytest.raises(ValueError):
        parse_keys("not-a-key")


@pytest.mark.parametrize(
    ("secret", "weak"),
    [
        ("demo-host-insecure-dev-key", True),
        ("short", True),
        ("a" * 64, True),
        ("abababababababababababababababababab", True),
        ("Kq3v9Zr2LmX8pT4nWb7yHc1fGd6sJe5u", False),
    ],
)
def test_a_guessable_secret_key_is_told_apart(secret: str, weak: bool) -> None:
    assert (secret_key_weakness(secret) is not None) is weak
    if secret == "demo-host-insecure-dev-key":
        assert secret_key_weakness(secret) == MSG_WEAK_KNOWN
