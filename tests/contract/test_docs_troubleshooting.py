"""docs/troubleshooting.md quotes every message the plugin shows a person, and only those.

A person who reads a message on a card, a status page, the jobs screen or the command
line should find it on that page with its cause and its fix. Messages are added by
whoever writes a feature, so the page is checked against the code rather than trusted.

The convention these tests rely on (and the next engineer follows):

* **In the code**, every user-facing text is a module-level ``str`` constant whose name
  starts with ``MSG_``, written for ``str.format`` (``"{what}: Trakt answered {status}"``)
  and used as ``MSG_X.format(...)``. The tests import every module of the package and
  collect those constants; nothing is parsed out of f-strings.
* **Templates** do not hold such texts: ``web.pages.render`` hands every template the
  ``MSG_`` constants of ``web/texts.py`` by name (``{{ MSG_WATCHLIST_EMPTY }}``). That was
  chosen over marking texts in the HTML (``data-message``): a marked text would have to be
  cut out of markup mixed with Jinja expressions and conditionals, whereas a constant is
  one importable string. A misspelt name would render as nothing in Jinja, so a test
  checks that every ``MSG_`` name a template uses exists.
* **On the page**, messages are quoted in fenced blocks with the info string
  ``message``, one message per line, placeholders written as ``{name}``; the cause and
  the fix follow the block. Placeholder names (and format specs) are not compared, only
  where a placeholder stands, so the page may say ``{reason}`` where the code says
  ``{exc}``. White space is collapsed and trimmed (some constants are fragments that
  start with a space).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import aperture_trakt_plugin
from aperture_trakt_plugin.web import pages

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "troubleshooting.md"
TEMPLATES = REPO / "aperture_trakt_plugin" / "web" / "templates" / "trakt"
MESSAGE_BLOCK = re.compile(r"^```message\n(.*?)^```", re.MULTILINE | re.DOTALL)
FIELD = re.compile(r"\{[^{}]*\}")
TEMPLATE_NAME = re.compile(r"\bMSG_[A-Z0-9_]+\b")


def normalise(text: str) -> str:
    """The comparable form of a message: every format field is ``{}``, spaces collapsed."""
    return " ".join(FIELD.sub("{}", text).split())


def code_messages() -> dict[str, str]:
    """Every ``MSG_*`` str constant of the package: normalised text -> where it is defined
    (the first module seen, when another module imports the same constant)."""
    found: dict[str, str] = {}
    modules = pkgutil.walk_packages(
        aperture_trakt_plugin.__path__, aperture_trakt_plugin.__name__ + "."
    )
    for info in sorted(modules, key=lambda info: info.name):
        if ".migrations" in info.name:  # Alembic's scripts run inside Alembic only
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.startswith("MSG_") and isinstance(value, str):
                found.setdefault(normalise(value), f"{info.name}.{name}")
    return found


def page_messages() -> set[str]:
    text = PAGE.read_text(encoding="utf-8")
    return {
        normalise(line)
        for block in MESSAGE_BLOCK.findall(text)
        for line in block.splitlines()
        if line.strip()
    }


def test_the_convention_finds_messages_at_all() -> None:
    """Guards the comparisons below: finding nothing on either side would pass them."""
    assert len(code_messages()) > 100
    assert len(page_messages()) > 100


def test_every_message_in_the_code_is_on_the_page() -> None:
    documented = page_messages()
    missing = sorted(
        f"{where}: {text!r}" for text, where in code_messages().items() if text not in documented
    )
    assert not missing, (
        f"messages without an entry in {PAGE.name} (quote each in a "
        "```message block, with its cause and fix):\n" + "\n".join(missing)
    )


def test_the_page_quotes_no_message_the_code_no_longer_has() -> None:
    stale = sorted(page_messages() - set(code_messages()))
    assert not stale, (
        f"{PAGE.name} quotes messages that are not (or no longer) a MSG_ "
        "constant in the code:\n" + "\n".join(map(repr, stale))
    )


def test_templates_use_only_messages_that_exist() -> None:
    """Jinja renders an undefined name as nothing: a misspelt or removed constant would
    silently blank a notice instead of failing."""
    available = set(pages.messages())
    unknown = sorted(
        {
            f"{path.name}: {name}"
            for path in TEMPLATES.glob("*.html")
            for name in TEMPLATE_NAME.findall(path.read_text(encoding="utf-8"))
            if name not in available
        }
    )
    assert not unknown, f"templates use MSG_ names web/texts.py does not define: {unknown}"
