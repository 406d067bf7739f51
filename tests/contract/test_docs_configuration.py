"""docs/configuration.md documents every ``APERTURE_TRAKT_*`` key, and only those.

Keys are added by whoever needs one (discovery is adding some as this is written); an
admin learns about them only from this page, so a key the code reads, ``CONFIG_DEFAULTS``
sets or ``plugin.json`` declares without a section here fails, and so does a key the page
still mentions after the code dropped it.

The page's convention, which these tests rely on: each key has a Markdown heading whose
whole text is the key in backticks (``### `APERTURE_TRAKT_QUEUE` ``), and its section
says ``Type: <plugin.json type>`` and ``Default: `<default as JSON>` ``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from aperture_trakt_plugin import extension

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "aperture_trakt_plugin"
PAGE = REPO / "docs" / "configuration.md"
MANIFESTS = (REPO / "plugin.json", PACKAGE / "plugin.json")
#: Where a key can be read: the package's code, and its templates.
SOURCES = (*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.html"))
KEY = re.compile(r"\bAPERTURE_TRAKT_[A-Z][A-Z0-9_]*\b")
KEY_HEADING = re.compile(r"^#{1,6}\s+`(APERTURE_TRAKT_[A-Z0-9_]+)`\s*$", re.MULTILINE)
ANY_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)


def manifest_config() -> dict[str, dict[str, Any]]:
    """The ``config`` of both copies of plugin.json, merged (the root one wins)."""
    merged: dict[str, dict[str, Any]] = {}
    for path in reversed(MANIFESTS):
        if path.exists():
            merged.update(json.loads(path.read_text(encoding="utf-8")).get("config", {}))
    return merged


def keys_in_source() -> set[str]:
    return {key for path in SOURCES for key in KEY.findall(path.read_text(encoding="utf-8"))}


def known_keys() -> set[str]:
    return keys_in_source() | set(extension.CONFIG_DEFAULTS) | set(manifest_config())


def page_text() -> str:
    return PAGE.read_text(encoding="utf-8")


def documented_sections() -> dict[str, str]:
    """Each key heading with its text up to the next heading of any level."""
    text = page_text()
    found: dict[str, str] = {}
    for match in KEY_HEADING.finditer(text):
        key = match.group(1)
        assert key not in found, f"{PAGE.name}: `{key}` has two headings"
        following = ANY_HEADING.search(text, match.end())
        found[key] = text[match.end() : following.start() if following else len(text)]
    return found


def test_the_code_reads_keys_at_all() -> None:
    """Guards the greps below: finding no key anywhere would make every check pass."""
    assert "APERTURE_TRAKT_QUEUE" in keys_in_source()
    assert extension.CONFIG_DEFAULTS and manifest_config()


@pytest.mark.parametrize("origin", ["source", "CONFIG_DEFAULTS", "plugin.json"])
def test_every_key_has_a_section(origin: str) -> None:
    keys = {
        "source": keys_in_source(),
        "CONFIG_DEFAULTS": set(extension.CONFIG_DEFAULTS),
        "plugin.json": set(manifest_config()),
    }[origin]
    missing = sorted(keys - set(documented_sections()))
    assert not missing, (
        f"keys in the {origin} without a `### \\`KEY\\`` section in {PAGE.name}: {missing}"
    )


def test_the_page_names_no_key_that_no_longer_exists() -> None:
    """Any mention counts, headings and prose alike: a stale name in an example is as
    wrong as a stale section."""
    stale = sorted(set(KEY.findall(page_text())) - known_keys())
    assert not stale, f"{PAGE.name} names keys the code no longer has: {stale}"


@pytest.mark.parametrize("key", sorted(extension.CONFIG_DEFAULTS))
def test_each_section_states_the_current_default(key: str) -> None:
    expected = f"Default: `{json.dumps(extension.CONFIG_DEFAULTS[key])}`"
    assert expected in documented_sections().get(key, ""), (
        f"{PAGE.name}: the section of {key} should say {expected}"
    )


@pytest.mark.parametrize("key", sorted(manifest_config()))
def test_each_section_states_the_manifest_type(key: str) -> None:
    expected = f"Type: {manifest_config()[key]['type']}"
    assert expected in documented_sections().get(key, ""), (
        f"{PAGE.name}: the section of {key} should say {expected!r} (as plugin.json does)"
    )
