"""docs/architecture.md names only files and functions that exist.

The page is what a newcomer reads first, and it names a file or function at every step
of a rating's path; a rename that leaves it behind sends them looking for what is not
there. So every name in backticks that looks like a place in the code is resolved:

* ``folder/module.py`` (or ``.md``, ``.json``) must be a file of the package or of the
  repository; a bare ``module.py`` (a table row's, in the row's folder) one somewhere in
  the package, the harness or the tests;
* ``folder/module.name`` or ``module.name`` must be an attribute of that module
  (``Class.method`` included); a name given without its module (``TraktSide.marker``)
  is looked up in the modules the page names.

``shared/…`` is the project's folder beside the repository, not checked: the suite runs
without it."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "aperture_trakt_plugin"
PAGE = REPO / "docs" / "architecture.md"
TICKED = re.compile(r"`([^`\s]+)`")
FILE = re.compile(r"^(?:[\w-]+/)*[\w-]+\.(?:py|md|json|cfg|toml|css|js|html)$")
DOTTED = re.compile(r"^(?:\w+/)*\w+(?:\.\w+)+$")
ROOTS = (REPO / PACKAGE, REPO, REPO / "tests")
#: Names of Flask's, not ours.
NOT_OURS = {"app.extensions"}
#: Where a bare file name (a table row's, under the folder the row names) may be.
TREES = (REPO / PACKAGE, REPO / "harness", REPO / "tests")


def ticked() -> list[str]:
    return TICKED.findall(PAGE.read_text(encoding="utf-8"))


def module_of(path: str) -> object | None:
    """The package's module at ``folder/module`` (or ``module``), None if there is none."""
    dotted = path.replace("/", ".")
    for name in (f"{PACKAGE}.{dotted}", dotted):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def resolve(name: str) -> bool:
    """Whether ``name`` is an attribute path under one of the package's modules."""
    head, *rest = name.split(".")
    for split in range(len(rest), 0, -1):
        module = module_of(".".join([head, *rest[: len(rest) - split]]))
        if module is None:
            continue
        target: object = module
        try:
            for attribute in rest[len(rest) - split :]:
                target = getattr(target, attribute)
        except AttributeError:
            continue
        return True
    return False


def file_exists(name: str) -> bool:
    if "/" not in name:
        return any(next(tree.rglob(name), None) for tree in TREES)
    return any((root / name).exists() for root in ROOTS)


def test_every_file_the_page_names_exists():
    missing = [
        name
        for name in ticked()
        if FILE.match(name) and not name.startswith("shared/") and not file_exists(name)
    ]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_function_the_page_names_exists():
    names = [
        name
        for name in ticked()
        if DOTTED.match(name) and not FILE.match(name) and name not in NOT_OURS
    ]
    modules = {name.rsplit(".", 1)[0] for name in names if module_of(name.rsplit(".", 1)[0])}
    missing = [
        name
        for name in names
        if not resolve(name) and not any(resolve(f"{module}.{name}") for module in modules)
    ]
    assert not missing, f"docs/architecture.md names what the code does not have: {missing}"
