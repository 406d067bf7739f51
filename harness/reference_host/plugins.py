"""Finding, registering and calling plugins, and running their migrations.

The host is the only caller of hooks. Setup-time hooks may fail loudly (a broken plugin
should stop the app from starting with a clear message), while domain events are
delivered to each plugin separately and their failures only logged: a plugin's bug must
never undo or block what the user just did.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy
from alembic import command
from alembic.config import Config as AlembicConfig

from aperture_trakt_plugin.host import ENTRY_POINT_GROUP, PROJECT, AperturePluginSpec

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.engine import Engine

    from aperture_trakt_plugin.host import HostServices

log = logging.getLogger(__name__)


class PluginLoadError(RuntimeError):
    """A configured or installed plugin could not be imported or registered."""


def _import_plugin(spec: str) -> Any:
    """``package.module`` or ``package.module:attribute``."""
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
    except Exception as exc:
        raise PluginLoadError(f"plugin {spec!r} could not be loaded: {exc}") from exc
    return obj


def _explicit_plugins(configured: Iterable[Any] | str | None) -> list[Any]:
    if not configured:
        return []
    if isinstance(configured, str):
        configured = [part.strip() for part in configured.split(",") if part.strip()]
    return [_import_plugin(p) if isinstance(p, str) else p for p in configured]


def build_plugin_manager(app: Flask) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(AperturePluginSpec)
    if app.config["APERTURE_LOAD_ENTRY_POINTS"]:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginLoadError(
                    f"plugin {ep.name!r} ({ep.value}) from entry point group "
                    f"{ENTRY_POINT_GROUP!r} failed to load: {exc}"
                ) from exc
            pm.register(plugin, name=ep.name)
    for plugin in _explicit_plugins(app.config["APERTURE_PLUGINS"]):
        if not pm.is_registered(plugin):
            pm.register(plugin)
    pm.check_pending()
    return pm


def plugin_manager() -> pluggy.PluginManager:
    """The current app's manager (``app.extensions["aperture_plugins"]``)."""
    from flask import current_app

    return current_app.extensions["aperture_plugins"]


def _flatten(results: Iterable[Any]) -> list[Any]:
    """Hooks return one sequence per plugin; screens want one list."""
    return [item for result in results if result for item in result]


def collect(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    return _flatten(getattr(pm.hook, hook_name)(**kwargs))


def notify(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[BaseException]:
    """Delivers an event to every plugin on its own; returns the failures it logged."""
    hook = getattr(pm.hook, hook_name)
    failures: list[BaseException] = []
    for impl in hook.get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            continue  # wrappers only make sense around a full hook call; events have none
        try:
            impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:
            log.exception("plugin %s failed handling %s", impl.plugin_name, hook_name)
            failures.append(exc)
    return failures


def setup_plugins(app: Flask, pm: pluggy.PluginManager, host: HostServices) -> None:
    """Runs the lifecycle hooks in the order a plugin can rely on."""
    pm.hook.aperture_plugin_setup.call_historic(kwargs={"app": app, "host": host})
    for blueprint in collect(pm, "aperture_blueprints", app=app):
        app.register_blueprint(blueprint)
    for cmd in collect(pm, "aperture_cli_commands"):
        app.cli.add_command(cmd)


def run_migrations(pm: pluggy.PluginManager, engine: Engine) -> list[str]:
    """Upgrades each plugin lineage to head on the host's engine, in its version table.

    The connection is handed to the lineage's ``env.py`` in ``config.attributes``, as
    Alembic's cookbook does for sharing a connection, so a plugin never opens its own.
    """
    done = []
    for name, script_location, version_table in collect(pm, "aperture_migration_locations"):
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(script_location))
        cfg.set_main_option("version_table", version_table)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")
        log.info("migrated plugin lineage %s (%s)", name, version_table)
        done.append(name)
    return done
