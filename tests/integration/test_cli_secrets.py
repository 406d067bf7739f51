"""``flask trakt settings set`` takes the Client Secret off the command line (issue 15).

A hidden prompt (bare ``--client-secret``), standard input (``-``) or the environment
variable ``TRAKT_PLUGIN_CLIENT_SECRET``; a secret on argv still works, with a warning.
Each is checked against the sandbox like the Integrations card's save.
"""

from __future__ import annotations

import pytest

from aperture_trakt_plugin.cli.arguments import MSG_SECRET_ON_ARGV
from aperture_trakt_plugin.cli.settings import MSG_SECRET_EMPTY_STDIN, MSG_SECRET_PROMPT, SECRET_ENV

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"


@pytest.fixture()
def host_config(sandbox_server):
    return {
        "APERTURE_TRAKT_API_URL": sandbox_server.url,
        "APERTURE_TRAKT_AUTH_URL": sandbox_server.url,
    }


@pytest.fixture()
def runner(host_app, sandbox, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    return host_app.test_cli_runner()


def stored_secret(host_app) -> str | None:
    with host_app.app_context():
        return host_app.extensions["aperture_trakt"].settings.values()["client_secret"]


def warned(result) -> bool:
    return MSG_SECRET_ON_ARGV.format(env=SECRET_ENV) in result.stderr


def test_a_bare_option_asks_without_echo(runner, host_app):
    result = runner.invoke(
        args=["trakt", "settings", "set", "--client-id", CLIENT_ID, "--client-secret"],
        input=CLIENT_SECRET + "\n",
    )
    assert result.exit_code == 0, (result.output, result.stderr)
    assert MSG_SECRET_PROMPT in result.stderr
    assert CLIENT_SECRET not in result.output and CLIENT_SECRET not in result.stderr
    assert not warned(result)
    assert stored_secret(host_app) == CLIENT_SECRET


def test_a_dash_reads_standard_input(runner, host_app):
    result = runner.invoke(
        args=["trakt", "settings", "set", "--client-id", CLIENT_ID, "--client-secret", "-"],
        input=CLIENT_SECRET + "\n",
    )
    assert result.exit_code == 0, (result.output, result.stderr)
    assert not warned(result) and CLIENT_SECRET not in result.output
    assert stored_secret(host_app) == CLIENT_SECRET


def test_empty_standard_input_is_an_error(runner, host_app):
    result = runner.invoke(
        args=["trakt", "settings", "set", "--client-id", CLIENT_ID, "--client-secret", "-"],
        input="",
    )
    assert result.exit_code == 1
    assert MSG_SECRET_EMPTY_STDIN in result.stderr
    assert stored_secret(host_app) is None


def test_the_environment_variable_is_used_without_a_warning(runner, host_app, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    result = runner.invoke(args=["trakt", "settings", "set", "--client-id", CLIENT_ID])
    assert result.exit_code == 0, (result.output, result.stderr)
    assert not warned(result)
    assert stored_secret(host_app) == CLIENT_SECRET


def test_a_secret_on_argv_still_works_but_warns(runner, host_app):
    result = runner.invoke(
        args=[
            "trakt",
            "settings",
            "set",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ]
    )
    assert result.exit_code == 0, (result.output, result.stderr)
    assert warned(result)
    assert stored_secret(host_app) == CLIENT_SECRET
