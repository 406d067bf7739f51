"""Secrets at rest: keys, derivation from SECRET_KEY, rotation, and unreadable keys."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from aperture_trakt_plugin import crypto, migrate

KEY_OLD = Fernet.generate_key().decode()
KEY_NEW = Fernet.generate_key().decode()
VALUES = {"client_id": "id-0123456789abcdef", "client_secret": "secret-0123456789",
          "redirect_uri": None}


@pytest.fixture()
def host_config():
    return {"APERTURE_TRAKT_ENCRYPTION_KEYS": KEY_OLD}


def settings(app: Flask):
    return app.extensions["aperture_trakt"].settings


def use_keys(app: Flask, keys: str) -> None:
    app.config["APERTURE_TRAKT_ENCRYPTION_KEYS"] = keys
    crypto.configure(app)


def test_without_keys_a_key_is_derived_from_secret_key_with_a_warning(caplog):
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "host-secret"
    with caplog.at_level(logging.WARNING, logger="aperture_trakt_plugin.crypto"):
        ring = crypto.configure(app)
    assert "APERTURE_TRAKT_ENCRYPTION_KEYS is not set" in caplog.text
    token = ring.encrypt(b"value")
    assert Fernet(crypto.derive_key("host-secret")).decrypt(token) == b"value"
    assert crypto.derive_key("host-secret") != crypto.derive_key("other-secret")


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
    use_keys(host_app, f"{KEY_NEW},{KEY_OLD}")
    result = host_app.test_cli_runner().invoke(args=["trakt", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 secret value(s)" in result.output
    use_keys(host_app, KEY_NEW)  # the old key is gone now
    with host_app.app_context():
        assert settings(host_app).values() == VALUES


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
