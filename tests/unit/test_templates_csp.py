"""The plugin's templates hold nothing a strict Content-Security-Policy blocks (issue 17).

A host may serve its pages with ``script-src 'self'; style-src 'self'``: then an inline
``<script>``, an ``onclick=`` or any other event handler, a ``<style>`` block, a
``style="…"`` attribute or a ``javascript:`` URL in a card of ours would silently not
work. The plugin's CSS and JS live in ``web/static/trakt/`` instead; this test keeps it
so, naming the file and line of anything that creeps back.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "aperture_trakt_plugin"
TEMPLATES = sorted((PACKAGE / "web" / "templates").rglob("*.html"))
STATIC = PACKAGE / "web" / "static" / "trakt"

#: What a strict CSP refuses, each with what to do instead.
FORBIDDEN = {
    "an inline <script> (give it a src under the plugin's static path)": re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>", re.I
    ),
    "a <style> block (the rule goes in web/static/trakt/trakt.css)": re.compile(r"<style\b", re.I),
    "a style= attribute (a class in trakt.css)": re.compile(r"\sstyle\s*=", re.I),
    "an inline event handler (a data-* attribute trakt.js listens for)": re.compile(
        r"\son[a-z]+\s*=", re.I
    ),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}


def offences(path: Path) -> list[str]:
    """``file:line: what: the line`` for each thing a strict CSP would block."""
    name = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else path.name
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        for what, pattern in FORBIDDEN.items():
            if pattern.search(line):
                found.append(f"{name}:{number}: {what}: {line.strip()}")
    return found


def test_there_are_templates_to_check():
    assert len(TEMPLATES) >= 10


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_has_nothing_inline(path: Path):
    assert offences(path) == []


def test_the_check_sees_each_kind(tmp_path: Path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<script>alert(1)</script>\n<style>p{}</style>\n<p style='x'>\n"
        "<button onclick='x()'>\n<a href='javascript:void 0'>\n"
        "<script src='/ok.js' defer></script>\n<p data-style='fine' class='onclick'>\n"
    )
    found = offences(bad)
    assert [entry.split(":")[1] for entry in found] == ["1", "2", "3", "4", "5"], found
    assert found[0].startswith("bad.html:1: an inline <script>")


def test_templates_link_the_static_files_that_exist():
    linked = set()
    for path in TEMPLATES:
        linked |= set(re.findall(r"filename='trakt/([\w.-]+)'", path.read_text()))
    assert linked == {"trakt.css", "trakt.js"}
    for name in linked:
        assert (STATIC / name).is_file(), name
