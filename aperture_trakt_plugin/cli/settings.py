"""``flask trakt settings``: the Trakt app's credentials, as on the Integrations card.

They go through the same save-and-check as the card, so the two can never disagree
about what a setting means; the Client Secret is taken from where scripts can keep it
off the command line.
"""

from __future__ import annotations

import json
import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from aperture_trakt_plugin import extension
from aperture_trakt_plugin.accounts import credentials
from aperture_trakt_plugin.cli.arguments import FROM_STDIN, MSG_SECRET_ON_ARGV, PROMPT

MSG_SECRET_PROMPT = "Trakt Client Secret"
MSG_SECRET_EMPTY_STDIN = "--client-secret -: standard input was empty"

#: Where ``settings set`` takes the Client Secret from when no option names it. Not an
#: ``APERTURE_TRAKT_`` config key on purpose: a host that copies such variables into its
#: config would keep the secret there, in plain text, for the life of the process.
SECRET_ENV = "TRAKT_PLUGIN_CLIENT_SECRET"


@click.group(
    "settings", help="The Trakt app credentials (Admin → Settings → Setup → Integrations)."
)
def settings_group() -> None:
    pass


def _client_secret(given: str | None) -> str | None:
    """The Client Secret from where the admin put it, keeping it off argv: a hidden prompt
    (bare ``--client-secret``), standard input (``-``), or ``SECRET_ENV``. A value on argv
    still works, since scripts use it, but warns: other users see it in ``ps``."""
    if given == PROMPT:
        return click.prompt(MSG_SECRET_PROMPT, hide_input=True, err=True)
    if given == FROM_STDIN:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise click.ClickException(MSG_SECRET_EMPTY_STDIN)
        return secret
    if given is None:
        return os.environ.get(SECRET_ENV) or None
    if given:
        click.echo(MSG_SECRET_ON_ARGV.format(env=SECRET_ENV), err=True)
    return given


@settings_group.command("set")
@click.option("--client-id", help="The Trakt app's Client ID (empty keeps the saved one).")
@click.option(
    "--client-secret",
    is_flag=False,
    flag_value=PROMPT,
    default=None,
    help="The Trakt app's Client Secret: alone, asked for without echo; '-' reads "
    f"it from standard input; left out, taken from ${SECRET_ENV} if set, else "
    "the saved one is kept. A value here works but warns (others see it).",
)
@click.option("--redirect-uri", help="Overrides the callback URL (e.g. urn:ietf:wg:oauth:2.0:oob).")
@click.option("--save-anyway", is_flag=True, help="Store even if the check with Trakt fails.")
@with_appcontext
def settings_set(
    client_id: str | None, client_secret: str | None, redirect_uri: str | None, save_anyway: bool
) -> None:
    """Checks the credentials with Trakt, then stores them encrypted."""
    client_secret = _client_secret(client_secret)
    outcome = credentials.save_app_credentials(
        client_id, client_secret, redirect_uri, user_id=None, force=save_anyway
    )
    click.echo(outcome.message, err=not outcome.saved)
    if not outcome.saved:
        raise SystemExit(1)


@settings_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def settings_show(as_json: bool) -> None:
    """Prints the settings with the credentials masked."""
    values = extension.state().settings.masked()
    values["effective_redirect_uri"] = extension.effective_redirect_uri()
    values["api_url"] = current_app.config["APERTURE_TRAKT_API_URL"]
    values["auth_url"] = current_app.config["APERTURE_TRAKT_AUTH_URL"]
    if as_json:
        click.echo(json.dumps(values, indent=2))
        return
    for key, value in values.items():
        click.echo(f"{key}: {value if value is not None else '(default)'}")
