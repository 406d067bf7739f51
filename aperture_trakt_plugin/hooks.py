"""The plugin's hook implementations (entry point ``aperture.plugins: trakt``).

Thin on purpose: each hook hands over to the module that owns the work, so the host
contract can be read here in one screen. Hooks that render use ``current_app``; the
host calls them inside a request.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from flask import Blueprint, Flask
from markupsafe import Markup

from aperture_trakt_plugin import extension, migrate
from aperture_trakt_plugin.host import HostServices, HostUser, hookimpl


@hookimpl
def aperture_plugin_setup(app: Flask, host: HostServices) -> None:
    extension.init_app(app, host)


@hookimpl
def aperture_blueprints(app: Flask) -> Sequence[Blueprint]:
    return [extension.state(app).blueprint]


@hookimpl
def aperture_migration_locations() -> Sequence[tuple[str, str, str]]:
    return [migrate.location()]


@hookimpl
def aperture_cli_commands() -> Sequence[click.Command]:
    from aperture_trakt_plugin.cli import commands

    return commands()


@hookimpl
def aperture_tpl_admin_integrations(user: HostUser) -> Markup | None:
    if not user.is_admin:
        return None
    from aperture_trakt_plugin.views import render_admin_card

    return render_admin_card(user)


@hookimpl
def aperture_tpl_profile_sections(user: HostUser) -> Markup | None:
    from aperture_trakt_plugin.views import render_profile_card

    return render_profile_card(user)
