"""Plugin loading, migrations and discovery on the reference host."""

from __future__ import annotations

import importlib.util
from importlib.metadata import EntryPoint

import pytest
from sqlalchemy import inspect, text

from aperture_trakt_plugin.host import ENTRY_POINT_GROUP
from harness.reference_host import create_app, plugins
from harness.reference_host.testplugins import DiscoveryPlugin, MigratingPlugin

NO_PLUGINS = {"APERTURE_LOAD_ENTRY_POINTS": False}


def app_config(tmp_path, redis_url, **extra):
    return {
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "REDIS_URL": redis_url,
        **extra,
    }


@pytest.mark.parametrize("host_config", [NO_PLUGINS], indirect=True)
def test_discover_without_sources_shows_an_empty_state(host_client, login):
    login(host_client, "alice")
    html = host_client.get("/discover").get_data(as_text=True)
    assert 'id="discovery-empty"' in html
    assert host_client.get("/discover.json").get_json() == {"sources": []}


@pytest.mark.parametrize(
    "host_config", [{**NO_PLUGINS, "APERTURE_PLUGINS": [DiscoveryPlugin()]}], indirect=True
)
def test_discover_renders_each_source_with_library_matches(host_client, login):
    login(host_client, "alice")
    html = host_client.get("/discover").get_data(as_text=True)
    assert 'id="source-static"' in html and "Static picks" in html
    assert "The Matrix" in html and "Not In Any Library" in html
    assert html.count('class="badge in-library"') == 1
    data = host_client.get("/discover.json").get_json()
    (source,) = data["sources"]
    assert (source["id"], source["scope"], source["shows"], source["error"]) == (
        "static",
        "user",
        [],
        None,
    )
    matrix, missing = source["movies"]
    assert matrix["in_library"]["ids"]["tmdb"] == 603 and matrix["in_library"]["item_id"]
    assert matrix["reason"] == "picked for user 2"  # alice's id reached fetch()
    assert missing["in_library"] is None and missing["ids"]["tmdb"] == 999_999_901


def test_plugin_migrations_run_on_start_in_their_own_version_table(tmp_path, redis_url):
    app = create_app(
        app_config(tmp_path, redis_url, **NO_PLUGINS, APERTURE_PLUGINS=[MigratingPlugin()])
    )
    db = app.extensions["aperture_host"].db
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"demo_probe", "alembic_version_probe", "users", "ratings"} <= tables
        with db.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version_probe"))
            assert version.scalar() == "0001_probe"
        db.engine.dispose()
    again = create_app(
        app_config(tmp_path, redis_url, **NO_PLUGINS, APERTURE_PLUGINS=[MigratingPlugin()])
    )  # idempotent
    with again.app_context():
        again.extensions["aperture_host"].db.engine.dispose()


def test_migrations_can_be_switched_off(tmp_path, redis_url):
    app = create_app(
        app_config(
            tmp_path,
            redis_url,
            **NO_PLUGINS,
            APERTURE_RUN_MIGRATIONS=False,
            APERTURE_PLUGINS=[MigratingPlugin()],
        )
    )
    with app.app_context():
        engine = app.extensions["aperture_host"].db.engine
        assert "demo_probe" not in inspect(engine).get_table_names()
        engine.dispose()


def test_plugins_by_dotted_path_from_the_environment(tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("APERTURE_PLUGINS", "harness.reference_host.testplugins:jobs_plugin")
    monkeypatch.setenv("APERTURE_LOAD_ENTRY_POINTS", "false")
    app = create_app(app_config(tmp_path, redis_url))
    from harness.reference_host import testplugins

    assert app.extensions["aperture_plugins"].is_registered(testplugins.jobs_plugin)
    with pytest.raises(plugins.PluginLoadError, match="no_such_module"):
        create_app(app_config(tmp_path, redis_url, APERTURE_PLUGINS=["no_such_module"]))


def test_an_installed_plugin_that_fails_to_load_stops_the_app(tmp_path, redis_url, monkeypatch):
    broken = EntryPoint(name="broken", value="tests.no_such_plugin_module", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(plugins, "entry_points", lambda group: [broken])
    with pytest.raises(plugins.PluginLoadError, match=r"'broken'.*failed to load"):
        create_app(app_config(tmp_path, redis_url))


@pytest.mark.skipif(
    importlib.util.find_spec("aperture_trakt_plugin.hooks") is None,
    reason="the Trakt plugin's hooks module is not written yet",
)
def test_the_installed_trakt_plugin_loads_by_default(host_app):
    pm = host_app.extensions["aperture_plugins"]
    assert pm.get_plugin("trakt") is not None
