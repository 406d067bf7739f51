"""The package's layers, enforced: no import cycle (imports inside functions count), no
import from a higher layer, and no framework in the pure parts.

The table below is the architecture (``docs/architecture.md``): each module belongs to
one layer and imports only from its own layer or lower ones. A new module must be
placed here; a test fails until it is. Each layer is a folder (or a module at the
top), so the table names folders, and a module added to a folder is placed with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit import import_graph

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "aperture_trakt_plugin"

#: Layer → its modules (a package name covers its modules). Lowest first.
LAYERS: dict[str, tuple[str, ...]] = {
    "the host contract": ("", "host"),
    "Trakt's API": (
        "trakt",
        "discovery.ranking",
        "discovery.reasons",
        "discovery.keys",
        "discovery.posters",
    ),
    "the plugin's storage": ("storage",),
    "the Flask extension state": ("extension",),
    "Trakt with this server's credentials": ("accounts",),
    "queueing": ("queueing",),
    "the rating sync and discovery": ("sync", "discovery"),
    "use cases": ("usecases",),
    "the web and the command line": ("web", "cli"),
    "the composition root": ("hooks", "jobs"),
}
#: Modules that must run without a web framework, a database or Redis: the rules that
#: decide (the merge, the ranking) and the wire formats, testable with plain values.
PURE = (
    "trakt",
    "sync.merge",
    "sync.settlement",
    "sync.result",
    "sync.progress",
    "discovery.ranking",
    "discovery.reasons",
    "discovery.keys",
    "discovery.posters",
)
FRAMEWORKS = {"flask", "flask_sqlalchemy", "sqlalchemy", "redis", "rq"}


def layer_table(package: str = PACKAGE) -> dict[str, int]:
    return {
        (f"{package}.{module}" if module else package): n
        for n, modules in enumerate(LAYERS.values())
        for module in modules
    }


def check(root: Path, package: str = PACKAGE) -> tuple[list[list[str]], list[str], list[str]]:
    edges = import_graph.graph(root, package)
    layers = layer_table(package)
    return (
        import_graph.cycles(edges),
        import_graph.upward(edges, layers),
        import_graph.unplaced(edges, layers),
    )


def test_the_package_has_no_import_cycle_and_no_upward_import() -> None:
    cycles, upward, unplaced = check(ROOT)
    assert unplaced == [], f"place these modules in LAYERS: {unplaced}"
    assert cycles == [], f"import cycles: {cycles}"
    assert upward == [], "imports from a higher layer:\n" + "\n".join(upward)


def pure_files() -> list[Path]:
    """The files of ``PURE``: a package stands for every module in it."""
    found = []
    for name in PURE:
        path = ROOT / PACKAGE / name.replace(".", "/")
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return found


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_pure_parts_import_no_framework(path: Path) -> None:
    assert import_graph.third_party(path) & FRAMEWORKS == set()


def test_the_check_fails_on_an_upward_import_added_to_the_real_tree(tmp_path: Path) -> None:
    """The test of the test on the package itself: the host contract importing the blueprint
    (the kind of shortcut that made the old 20-module cycle) is caught twice over."""
    shutil.copytree(
        ROOT / PACKAGE,
        tmp_path / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "templates", "migrations"),
    )
    host = tmp_path / PACKAGE / "host.py"
    host.write_text(
        host.read_text(encoding="utf-8") + "\n\ndef _shortcut():\n"
        "    from aperture_trakt_plugin.web import blueprint\n    return blueprint\n",
        encoding="utf-8",
    )
    cycles, upward, _ = check(tmp_path)
    assert f"{PACKAGE}.host (layer 0) -> {PACKAGE}.web.blueprint (layer 8)" in upward
    assert any(
        f"{PACKAGE}.host" in group and f"{PACKAGE}.web.blueprint" in group for group in cycles
    )
