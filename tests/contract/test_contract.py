"""The plugin honours the written host contract, and plugin.json tells the truth about it."""

from __future__ import annotations

import inspect
import json
from importlib.metadata import entry_points

import pluggy
from flask import Flask

from aperture_trakt_plugin import extension, hooks
from aperture_trakt_plugin.host import (
    ENTRY_POINT_GROUP,
    PROJECT,
    AperturePluginSpec,
    HostServices,
    iter_hook_names,
)
from aperture_trakt_plugin.storage import migrate, settings
from harness.services import REPO

MANIFEST = json.loads((REPO / "plugin.json").read_text())


def implemented_hooks() -> set[str]:
    return {
        name
        for name, obj in inspect.getmembers(hooks)
        if name.startswith("aperture_") and hasattr(obj, f"{PROJECT}_impl")
    }


def test_entry_point_registers_and_every_hookimpl_matches_a_spec():
    (ep,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "trakt"]
    assert ep.value == "aperture_trakt_plugin.hooks"
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(AperturePluginSpec)
    assert pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name="trakt") == 1
    pm.check_pending()  # raises for a hookimpl without a spec
    plugin = pm.get_plugin("trakt")
    assert plugin is hooks
    for name in implemented_hooks():
        impls = getattr(pm.hook, name).get_hookimpls()
        assert [impl.plugin for impl in impls] == [hooks], name


def test_manifest_lists_exactly_the_implemented_hooks():
    assert set(MANIFEST["hooks"]) == implemented_hooks()
    assert set(MANIFEST["hooks"]) <= set(iter_hook_names())


def test_manifest_lists_exactly_the_config_keys_with_their_defaults():
    assert set(MANIFEST["config"]) == set(extension.CONFIG_DEFAULTS)
    for key, default in extension.CONFIG_DEFAULTS.items():
        assert key.startswith("APERTURE_TRAKT_")
        assert MANIFEST["config"][key]["default"] == default, key


def test_manifest_lists_the_settings_jobs_and_migrations():
    assert [(s["key"], s["secret"]) for s in MANIFEST["settings"]] == [
        (s.key, s.secret) for s in settings.SETTINGS
    ]
    app = Flask(__name__)
    app.config.update(extension.CONFIG_DEFAULTS)
    with app.app_context():
        defined = hooks.aperture_job_definitions()
    assert [(j["name"], j["func"], j["default_cron"]) for j in MANIFEST["jobs"]] == [
        (j.name, j.func, j.default_cron) for j in defined
    ]
    assert MANIFEST["migrations"]["version_table"] == migrate.VERSION_TABLE
    assert MANIFEST["migrations"]["lineage"] == migrate.LINEAGE
    assert MANIFEST["entry_point"]["module"] == hooks.__name__


def test_host_services_protocol_is_complete_for_a_host_to_implement():
    members = {name for name in vars(HostServices) if not name.startswith("_")}
    expected = {
        "db",
        "get_user",
        "get_user_by_name",
        "list_users",
        "current_user",
        "login_required",
        "admin_required",
        "find_media",
        "find_media_bulk",
        "get_media",
        "get_media_bulk",
        "list_ratings",
        "apply_rating",
        "remove_rating",
        "watch_history",
        "redis",
        "queue",
        "job_schedules",
        "job_context",
        "public_base_url",
    }
    assert expected <= members
