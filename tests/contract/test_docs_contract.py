"""docs/host-contract.md documents exactly the contract in ``aperture_trakt_plugin/host.py``.

Host developers implement the contract from that page, so a hook or a ``HostServices``
member added to ``host.py`` without a section there, a section left behind for one that
was removed, or a signature that changed under its section, each fails here.

The page's convention, which these tests rely on: every hook, every ``HostServices``
member and every value type has a Markdown heading whose whole text is its name in
backticks (``### `aperture_user_deleted` ``), and nothing else has such a heading (but
``HostServices`` itself, which heads its members' part). The
section of a hook or a method (up to the next heading) shows its call signature as
``name(arg, arg=default)`` with the parameter names of the code (defaults as Python
``repr``); the section of a property starts "Property `name`".
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aperture_trakt_plugin import host
from aperture_trakt_plugin.host import AperturePluginSpec, HostServices, iter_hook_names

PAGE = Path(__file__).resolve().parents[2] / "docs" / "host-contract.md"
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
NAMED = re.compile(r"^`([A-Za-z_][A-Za-z0-9_]*)`$")
#: Classes of host.py that are the contract's containers, not values crossing it.
CONTAINERS = {"AperturePluginSpec", "HostServices"}


def sections(text: str) -> dict[str, str]:
    """Each backticked-name heading with the text up to the next heading of any level.

    Lines inside fenced code blocks are never headings: examples contain ``# comments``.
    """
    found: dict[str, str] = {}
    current: str | None = None
    body: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading is None:
            body.append(line)
            continue
        if current is not None:
            found[current] = "\n".join(body)
        named = NAMED.match(heading.group(2))
        current, body = (named.group(1) if named else None), []
        if current is not None and current in found:
            raise AssertionError(f"{PAGE.name}: `{current}` has two headings")
    if current is not None:
        found[current] = "\n".join(body)
    return found


@pytest.fixture(scope="module")
def documented() -> dict[str, str]:
    return sections(PAGE.read_text(encoding="utf-8"))


def hook_names() -> set[str]:
    return set(iter_hook_names())


def member_names() -> set[str]:
    """What a host must implement: the Protocol's own public names."""
    return {name for name in vars(HostServices) if not name.startswith("_")}


def value_type_names() -> set[str]:
    """Every class host.py defines, apart from the spec and the Protocol themselves."""
    return {
        name
        for name, obj in vars(host).items()
        if inspect.isclass(obj)
        and obj.__module__ == host.__name__
        and not name.startswith("_")
        and name not in CONTAINERS
    }


def call_signature(name: str, function: Callable[..., Any]) -> str:
    """``name(a, b=None)`` as the page writes it: parameters without ``self``, defaults
    as their ``repr``, no annotations."""
    parts = []
    for param in inspect.signature(function).parameters.values():
        if param.name == "self":
            continue
        default = "" if param.default is inspect.Parameter.empty else f"={param.default!r}"
        parts.append(param.name + default)
    return f"{name}({', '.join(parts)})"


def test_every_hook_has_a_section(documented: dict[str, str]) -> None:
    missing = sorted(hook_names() - set(documented))
    assert not missing, f"hooks without a `### \\`name\\`` section in {PAGE.name}: {missing}"


def test_every_host_services_member_has_a_section(documented: dict[str, str]) -> None:
    missing = sorted(member_names() - set(documented))
    assert not missing, f"HostServices members without a section in {PAGE.name}: {missing}"


def test_every_value_type_has_a_section(documented: dict[str, str]) -> None:
    missing = sorted(value_type_names() - set(documented))
    assert not missing, f"value types of host.py without a section in {PAGE.name}: {missing}"


def test_the_page_documents_nothing_that_does_not_exist(documented: dict[str, str]) -> None:
    """A section for a removed hook or member misleads a host developer more than a gap."""
    known = hook_names() | member_names() | value_type_names() | CONTAINERS
    stale = sorted(set(documented) - known)
    assert not stale, f"{PAGE.name} has sections for names host.py no longer has: {stale}"


@pytest.mark.parametrize("name", sorted(hook_names()))
def test_hook_sections_show_the_current_signature(documented: dict[str, str], name: str) -> None:
    expected = call_signature(name, getattr(AperturePluginSpec, name))
    assert expected in documented.get(name, ""), (
        f"{PAGE.name}: the section of `{name}` should show `{expected}`"
    )


@pytest.mark.parametrize("name", sorted(member_names()))
def test_member_sections_show_the_current_signature(documented: dict[str, str], name: str) -> None:
    member = vars(HostServices)[name]
    if isinstance(member, property):
        expected = f"Property `{name}`"
    else:
        expected = call_signature(name, member)
    assert expected in documented.get(name, ""), (
        f"{PAGE.name}: the section of `{name}` should show `{expected}`"
    )


def test_the_parser_sees_headings_but_not_code_comments() -> None:
    """The checks above are only as good as ``sections``: a ``# comment`` line in an
    example must not end a section, and a plain heading must not become a name."""
    text = "\n".join(
        [
            "### `alpha`",
            "alpha(x)",
            "```python",
            "# not a heading",
            "```",
            "tail",
            "## Plain heading",
            "### `beta`",
            "Property `beta`",
        ]
    )
    found = sections(text)
    assert set(found) == {"alpha", "beta"}
    assert "tail" in found["alpha"] and "# not a heading" in found["alpha"]
