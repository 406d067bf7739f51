"""``flask trakt ...``: the admin's command line, for scripts and for servers without a browser.

Commands go through the same code paths as the web pages (the same save-and-check,
the same store), so the two can never disagree about what a setting means.

Each group of commands is a module of its own; this one only names the ``trakt`` group
and attaches them. What the commands print (besides the shared messages of the modules
they call) is in docs/troubleshooting.md under "On the command line".
"""

from __future__ import annotations

import click

from aperture_trakt_plugin.cli import accounts, database, discovery, doctor, keys, settings, sync


@click.group("trakt", help="Trakt integration: settings, database, keys.")
def trakt() -> None:
    pass


for command in (
    settings.settings_group,
    database.db_group,
    keys.rotate_keys,
    accounts.connect_command,
    accounts.disconnect_command,
    accounts.status_command,
    sync.sync_command,
    discovery.discovery_group,
    discovery.discover_command,
    discovery.hide_command,
    discovery.watchlist_command,
    doctor.doctor_command,
):
    trakt.add_command(command)


def commands() -> list[click.Command]:
    return [trakt]
