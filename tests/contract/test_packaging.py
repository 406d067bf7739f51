"""The wheel a server admin installs holds everything the plugin needs at run time."""

from __future__ import annotations

import email
import email.message
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.services import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (out / "build.log").write_text(built.stdout + built.stderr)
    (path,) = out.glob("aperture_trakt_plugin-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


def test_building_prints_no_packaging_warning(wheel):
    """setuptools used to warn that ``aperture_trakt_plugin.templates.trakt`` was absent
    from the packages configuration (issue 18); any of its warnings is a fault of ours.
    The "byte-compiling is disabled" lines come from PYTHONDONTWRITEBYTECODE, not us."""
    log = (Path(wheel.filename).parent / "build.log").read_text()
    warned = [
        line
        for line in log.splitlines()
        if ("Warning" in line or "!!" in line or "warning:" in line)
        and "byte-compiling is disabled" not in line
    ]
    assert warned == [], "\n".join(warned)


@pytest.mark.slow
def test_wheel_holds_templates_migrations_and_manifest(wheel):
    names = set(wheel.namelist())
    package = REPO / "aperture_trakt_plugin"
    for template in (package / "web" / "templates" / "trakt").glob("*.html"):
        assert f"aperture_trakt_plugin/web/templates/trakt/{template.name}" in names
    static = sorted((package / "web" / "static" / "trakt").glob("*"))
    assert {path.name for path in static} >= {"trakt.css", "trakt.js"}
    for path in static:
        assert f"aperture_trakt_plugin/web/static/trakt/{path.name}" in names
    for revision in (package / "storage" / "migrations" / "versions").glob("*.py"):
        assert f"aperture_trakt_plugin/storage/migrations/versions/{revision.name}" in names
    assert "aperture_trakt_plugin/storage/migrations/env.py" in names
    assert "aperture_trakt_plugin/storage/migrations/script.py.mako" in names
    manifest = json.loads(wheel.read("aperture_trakt_plugin/plugin.json"))
    assert manifest == json.loads((REPO / "plugin.json").read_text())
    assert not any(name.startswith(("tests/", "harness/")) for name in names), (
        "tests and harness must not ship"
    )


@pytest.mark.slow
def test_wheel_registers_the_entry_point(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[aperture.plugins]" in text
    assert "trakt = aperture_trakt_plugin.hooks" in text


def test_package_files_resolve_from_the_installed_package():
    from importlib.resources import files

    templates = files("aperture_trakt_plugin.web.templates")
    assert (templates / "trakt" / "admin_integrations.html").is_file()
    assert (files("aperture_trakt_plugin.web") / "static" / "trakt" / "trakt.css").is_file()
    assert (files("aperture_trakt_plugin.storage.migrations") / "env.py").is_file()
    assert json.loads((files("aperture_trakt_plugin") / "plugin.json").read_text())["id"] == "trakt"
    assert Path(str(files("aperture_trakt_plugin.storage.migrations"))).name == "migrations"


def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.message_from_bytes(wheel.read(name))


@pytest.mark.slow
def test_one_version_everywhere(wheel):
    """``__version__`` is the one place the version is written: the wheel's metadata
    reads it, and plugin.json (the host's manifest) must say the same."""
    from aperture_trakt_plugin import __version__

    assert metadata(wheel)["Version"] == __version__
    assert json.loads((REPO / "plugin.json").read_text())["version"] == __version__


@pytest.mark.slow
def test_the_wheel_is_typed_licensed_and_needs_no_reference_host(wheel):
    names = set(wheel.namelist())
    meta = metadata(wheel)
    assert "aperture_trakt_plugin/py.typed" in names
    assert meta["License-Expression"] == "MIT"
    (license_file,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert wheel.read(license_file).decode().startswith("MIT License")
    required = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert not [r for r in required if r.lower().startswith("flask-login")]  # the host's
    assert any(r.startswith("crontab") for r in required)  # imported by usecases/diagnosis
