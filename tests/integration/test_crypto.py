"""Secrets at rest: keys, derivation from SECRET_KEY (and its refusal when guessable),
rotation (from new Fernet keys and from an old SECRET_KEY), binding to the row, and
unreadable keys. Everything runs against the reference host's real database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import Text, select, type_coerce, update

from aperture_trakt_plugin.storage import crypto, migrate
from aperture_trakt_plugin.storage.models import TraktConnection, TraktSetting

KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()
OLD_SECRET_KEY = "old-host-secret-3f9b1c7e5a2d4086b8e1f0c2a9d7e6b5"
NEW_SECRET_KEY = "new-host-secret-8a2e4c6f0b9d1375e7c2a4f8b0d6e1c3"
VALUES = {
    "client_id": "id-0123456789abcdef",
    "client_secret": "secret-0123456789",
    "redirect_uri": None,
}
TOKENS = {
    7: ("access-seven-0123", "refresh-seven-0123"),
    8: ("access-eight-4567", "refresh-eight-4567"),
}


@pytest.fixture()
def host_config():
    return {"APERTURE_TRAKT_ENCRYPTION_KEYS": KEY_OLD}


def settings(app: Flask):
    return app.extensions["aperture_trakt"].settings


def host_db(app: Flask):
    return app.extensions["aperture_host"].db


def use_keys(app: Flask, keys: str | None, secret_key: str | None = None) -> None:
    app.config["APERTURE_TRAKT_ENCRYPTION_KEYS"] = keys
    if secret_key is not None:
        app.config["SECRET_KEY"] = secret_key
    crypto.configure(app)


def add_connections(app: Flask) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        for user_id, (access, refresh) in TOKENS.items():
            host_db(app).session.add(
                TraktConnection(
                    user_id=user_id,
                    trakt_username=f"user{user_id}",
                    access_token=access,
                    refresh_token=refresh,
                    token_created_at=now,
                    expires_at=now + timedelta(days=90),
                )
            )
        host_db(app).session.commit()


def tokens_of(app: Flask) -> dict[int, tuple[str, str | None]]:
    with app.app_context():
        session = host_db(app).session
        session.expire_all()
        return {
            c.user_id: (c.access_token, c.refresh_token)
            for c in session.scalars(select(TraktConnection))
        }


def raw(app: Flask, column, where) -> str:
    with app.app_context():
        return (
            host_db(app)
            .session.execute(select(type_coerce(column, Text)).where(where))
            .scalar_one()
        )


def write_raw(app: Flask, model, column, where, value: str) -> None:
    with app.app_context():
        session = host_db(app).session
        session.execute(update(model).where(where).values({column: type_coerce(value, Text)}))
        session.commit()


def test_without_keys_a_key_is_derived_from_secret_key_with_a_warning(caplog):
    app = Flask(__name__)
    app.config["SECRET_KEY"] = OLD_SECRET_KEY
    with caplog.at_level(logging.WARNING, logger="aperture_trakt_plugin.storage.crypto"):
        ring = crypto.configure(app)
    assert "APERTURE_TRAKT_ENCRYPTION_KEYS is not set" in caplog.text
    assert ring.fernet_keys == (crypto.derive_key(OLD_SECRET_KEY),)
    assert crypto.derive_key(OLD_SECRET_KEY) != crypto.derive_key(NEW_SECRET_KEY)


@pytest.mark.parametrize(
    "secret_key",
    [
        "dev",
        "changeme",
        "secret",
        "host-secret",
        "demo-host-insecure-dev-key",
        "192b9bdd22ab9ed4d12e236c78afcb9a393ec15f71bbf5dc987d54727823bcbf",
        b'_5#y2L"F4Q8z\n\xec]/',
        "a" * 40,
        "CHANGEME",
    ],
)
def test_a_short_or_known_secret_key_is_refused_outside_debug_and_testing(secret_key):
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret_key
    with pytest.raises(crypto.WeakSecretKey, match="Set APERTURE_TRAKT_ENCRYPTION_KEYS"):
        crypto.configure(app)


@pytest.mark.parametrize("switch", ["DEBUG", "TESTING"])
def test_a_weak_secret_key_is_accepted_in_debug_and_testing(switch, caplog):
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": "dev", switch: True})
    with caplog.at_level(logging.WARNING, logger="aperture_trakt_plugin.storage.crypto"):
        crypto.configure(app)
    assert "APERTURE_TRAKT_ENCRYPTION_KEYS is not set" in caplog.text


def test_a_weak_secret_key_does_not_matter_with_encryption_keys():
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": "dev", "APERTURE_TRAKT_ENCRYPTION_KEYS": KEY_NEW})
    assert crypto.configure(app).fernet_keys == (KEY_NEW.encode(),)


def test_no_key_and_no_secret_key_refuses_to_start():
    app = Flask(__name__)
    with pytest.raises(RuntimeError, match="never stored unencrypted"):
        crypto.configure(app)


def test_a_malformed_key_is_refused():
    app = Flask(__name__)
    app.config["APERTURE_TRAKT_ENCRYPTION_KEYS"] = "not-a-fernet-key"
    with pytest.raises(ValueError):
        crypto.configure(app)


def test_rotate_keys_reencrypts_everything_under_the_newest_key(host_app):
    with host_app.app_context():
        settings(host_app).save(dict(VALUES), user_id=None)
    add_connections(host_app)
    use_keys(host_app, f"{KEY_NEW},{KEY_OLD}")
    result = host_app.test_cli_runner().invoke(args=["trakt", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 6 secret value(s)" in result.output
    use_keys(host_app, KEY_NEW)  # the old key is gone now
    with host_app.app_context():
        assert settings(host_app).values() == VALUES
    assert tokens_of(host_app) == TOKENS


@pytest.mark.parametrize("how", ["stdin", "prompt", "env", "argv"])
def test_rotate_keys_from_an_old_secret_key_loses_nothing(host_app, how):
    """Secrets under a key derived from the old SECRET_KEY are readable under the new one."""
    use_keys(host_app, None, OLD_SECRET_KEY)
    with host_app.app_context():
        settings(host_app).save(dict(VALUES), user_id=None)
    add_connections(host_app)
    use_keys(host_app, None, NEW_SECRET_KEY)
    with pytest.raises(crypto.SecretsUnreadable):
        tokens_of(host_app)
    args, env, stdin = ["trakt", "rotate-keys", "--old-secret-key"], {}, None
    if how == "stdin":
        args.append("-")
        stdin = OLD_SECRET_KEY + "\n"
    elif how == "prompt":
        stdin = OLD_SECRET_KEY + "\n"
    elif how == "env":
        args.pop()
        env["OLD_SECRET_KEY"] = OLD_SECRET_KEY
    else:
        args.append(OLD_SECRET_KEY)
    result = host_app.test_cli_runner().invoke(args=args, input=stdin, env=env)
    assert result.exit_code == 0, result.output
    assert "re-encrypted 6 secret value(s)" in result.output
    assert ("visible to other users" in result.output) == (how == "argv")
    assert OLD_SECRET_KEY not in result.output
    assert tokens_of(host_app) == TOKENS
    with host_app.app_context():
        host_db(host_app).session.expire_all()
        assert settings(host_app).values() == VALUES


def refused_in_user_8(host_app, value: str) -> None:
    """A ciphertext put into user 8's access-token column must not open there."""
    write_raw(
        host_app, TraktConnection, TraktConnection.access_token, TraktConnection.user_id == 8, value
    )
    with pytest.raises(crypto.SecretsUnreadable):
        tokens_of(host_app)


def test_a_token_swapped_into_another_row_does_not_decrypt(host_app):
    with host_app.app_context():
        settings(host_app).save(dict(VALUES), user_id=None)
    add_connections(host_app)
    seven = raw(host_app, TraktConnection.access_token, TraktConnection.user_id == 7)
    assert seven.startswith(crypto.SEALED_PREFIX)
    refused_in_user_8(host_app, seven)
    # Nor the client secret into a token column (same row key, other table and column).
    secret = raw(host_app, TraktSetting.secret, TraktSetting.key == "client_secret")
    refused_in_user_8(host_app, secret)
    # Nor one user's refresh token into their own access token column.
    refused_in_user_8(
        host_app, raw(host_app, TraktConnection.refresh_token, TraktConnection.user_id == 8)
    )


def test_legacy_unbound_values_still_open_and_rotation_binds_them(host_app):
    """Values written before binding (plain Fernet) open; rotate-keys seals them to their
    row, after which swapping them fails like any other."""
    add_connections(host_app)
    legacy = Fernet(KEY_OLD)
    for user_id, (access, refresh) in TOKENS.items():
        where = TraktConnection.user_id == user_id
        write_raw(
            host_app,
            TraktConnection,
            TraktConnection.access_token,
            where,
            legacy.encrypt(access.encode()).decode(),
        )
        write_raw(
            host_app,
            TraktConnection,
            TraktConnection.refresh_token,
            where,
            legacy.encrypt(refresh.encode()).decode(),
        )
    assert tokens_of(host_app) == TOKENS
    use_keys(host_app, f"{KEY_NEW},{KEY_OLD}")
    result = host_app.test_cli_runner().invoke(args=["trakt", "rotate-keys"])
    assert result.exit_code == 0, result.output
    use_keys(host_app, KEY_NEW)
    assert tokens_of(host_app) == TOKENS
    seven = raw(host_app, TraktConnection.access_token, TraktConnection.user_id == 7)
    assert seven.startswith(crypto.SEALED_PREFIX)
    refused_in_user_8(host_app, seven)


def test_a_changed_token_is_sealed_again_to_its_row(host_app):
    add_connections(host_app)
    with host_app.app_context():
        conn = host_db(host_app).session.get(TraktConnection, 7)
        conn.access_token = "access-seven-new"
        host_db(host_app).session.commit()
    assert tokens_of(host_app)[7] == ("access-seven-new", TOKENS[7][1])


def test_secrets_under_a_lost_key_say_so_clearly(host_app):
    with host_app.app_context():
        settings(host_app).save(dict(VALUES), user_id=None)
    use_keys(host_app, KEY_NEW)
    with host_app.app_context(), pytest.raises(crypto.SecretsUnreadable, match="changed"):
        host_app.extensions["aperture_host"].db.session.expire_all()
        settings(host_app).values()


def test_cli_migrations_go_down_to_base_and_up_again(host_app):
    runner = host_app.test_cli_runner()
    down = runner.invoke(args=["trakt", "db", "downgrade", "base"])
    assert down.exit_code == 0, down.output
    with host_app.app_context():
        engine = host_app.extensions["aperture_host"].db.engine
        assert migrate.current(engine) is None
        from sqlalchemy import inspect

        assert not [t for t in inspect(engine).get_table_names() if t.startswith("trakt_")]
    up = runner.invoke(args=["trakt", "db", "upgrade"])
    assert up.exit_code == 0, up.output
    with host_app.app_context():
        assert migrate.current(host_app.extensions["aperture_host"].db.engine) == migrate.head()


def test_secrets_read_or_written_through_the_orm_are_plain_text(host_app):
    """Callers never see the sealing machinery: a loaded or just-written token is a str."""
    add_connections(host_app)
    with host_app.app_context():
        conn = host_db(host_app).session.get(TraktConnection, 7)
        assert type(conn.access_token) is str
        conn.refresh_token = "refresh-seven-new"
        host_db(host_app).session.flush()
        assert type(conn.refresh_token) is str
        host_db(host_app).session.commit()
    assert tokens_of(host_app)[7] == (TOKENS[7][0], "refresh-seven-new")
