"""The floors in pyproject.toml are past the advisories we know of and what the code needs,
every dependency has an upper bound, and constraints-lowest.txt matches the floors.

The advisories come from the maintainers' knowledge, not a live feed (CI's audit,
``make audit``, checks the installed set where its data source can be reached); each
entry names the advisory it clears, so raising a floor is a reviewed change.
"""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from scripts import lowest_constraints

#: name -> (lowest acceptable floor, why)
REQUIRED_FLOORS = {
    "requests": (
        "2.32.4",
        "CVE-2024-35195 (verify=False kept on a session), "
        "CVE-2024-47081 (.netrc credentials sent to the wrong host)",
    ),
    "urllib3": (
        "2.6.3",
        "CVE-2024-37891 (Proxy-Authorization kept on cross-origin "
        "redirects), CVE-2025-50181/50182 (redirect settings ignored), "
        "CVE-2025-66418/66471 and CVE-2026-21441 (decompression bombs)",
    ),
    "authlib": (
        "1.6.6",
        "CVE-2024-37568 (JWT algorithm confusion), CVE-2025-59420 (crit "
        "header), CVE-2025-61920/62706 (oversized and zip-bomb JOSE), "
        "CVE-2025-68158 (state in cache storage)",
    ),
    "cryptography": (
        "46.0.5",
        "CVE-2024-26130, CVE-2024-12797 (bundled OpenSSL), CVE-2026-26007 (SECT curve subgroups)",
    ),
    "flask": ("3.1.1", "CVE-2025-47278 (SECRET_KEY_FALLBACKS signing order)"),
    "werkzeug": (
        "3.1.5",
        "CVE-2024-34069 (debugger), CVE-2024-49766/49767 (safe_join, "
        "multipart memory), CVE-2025-66221 and CVE-2026-21860 (safe_join "
        "device names)",
    ),
    "jinja2": ("3.1.6", "CVE-2024-56201/56326, CVE-2025-27516 (sandbox escapes)"),
    "rq": ("2.5", "carrier.py calls Result.create(worker_name=...), which 2.4 lacks"),
    "flask-login": ("0.6.3", "0.6.0-0.6.2 import werkzeug.urls names Werkzeug 3 removed"),
}


def specs() -> dict[str, SpecifierSet]:
    return {name: SpecifierSet(spec) for name, spec in lowest_constraints.requirements()}


@pytest.mark.parametrize("name", sorted(REQUIRED_FLOORS))
def test_each_floor_is_past_the_known_advisories(name: str) -> None:
    minimum, why = REQUIRED_FLOORS[name]
    assert name in specs(), f"pyproject.toml does not require {name} ({why})"
    floor = lowest_constraints.floor(str(specs()[name]))
    assert floor and Version(floor) >= Version(minimum), (
        f"{name}'s floor {floor} is below {minimum}: {why}"
    )


def test_every_dependency_has_a_floor_and_an_upper_bound() -> None:
    for name, spec in specs().items():
        operators = {s.operator for s in spec}
        assert ">=" in operators, f"{name} has no floor"
        assert "<" in operators, f"{name} has no upper bound (next major)"


def test_the_lowest_constraints_are_generated_from_the_floors() -> None:
    assert lowest_constraints.OUTPUT.read_text(encoding="utf-8") == lowest_constraints.render(), (
        "constraints-lowest.txt is stale: run `make constraints`"
    )
