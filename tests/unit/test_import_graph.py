"""The layer checker itself (``import_graph``), on small trees made for the purpose: it
must see an upward import, a cycle (also through an import inside a function), and the
forms Python spells imports in. Without this, a checker that saw nothing would pass."""

from __future__ import annotations

from pathlib import Path

from tests.unit import import_graph

LAYERS = {"pkg.low": 0, "pkg.mid": 1, "pkg.top": 2}


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"pkg/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_downward_imports_pass(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "pkg/low.py": "import json\n",
            "pkg/mid.py": "from pkg import low\n",
            "pkg/top.py": "from pkg.mid import thing\nimport pkg.low\n",
        },
    )
    edges = import_graph.graph(root, "pkg")
    assert edges["pkg.top"] == {"pkg.mid", "pkg.low"}
    assert import_graph.upward(edges, LAYERS) == []
    assert import_graph.cycles(edges) == []


def test_a_deliberate_upward_import_is_reported(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {"pkg/low.py": "from pkg.top import compose\n", "pkg/mid.py": "", "pkg/top.py": ""},
    )
    edges = import_graph.graph(root, "pkg")
    assert import_graph.upward(edges, LAYERS) == ["pkg.low (layer 0) -> pkg.top (layer 2)"]


def test_a_cycle_through_an_import_inside_a_function_is_reported(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "pkg/low.py": "def later():\n    from . import mid\n    return mid\n",
            "pkg/mid.py": "from .low import later\n",
            "pkg/top.py": "",
        },
    )
    edges = import_graph.graph(root, "pkg")
    assert import_graph.cycles(edges) == [["pkg.low", "pkg.mid"]]
    assert import_graph.upward(edges, LAYERS) == ["pkg.low (layer 0) -> pkg.mid (layer 1)"]


def test_folders_take_their_layer_and_unplaced_modules_are_listed(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "pkg/low.py": "",
            "pkg/mid.py": "",
            "pkg/top.py": "",
            "pkg/web/__init__.py": "",
            "pkg/web/views.py": "from pkg import top\n",
            "pkg/stray.py": "",
        },
    )
    edges = import_graph.graph(root, "pkg")
    layers = {**LAYERS, "pkg.web": 3}
    assert import_graph.layer_of("pkg.web.views", layers) == 3
    assert import_graph.upward(edges, layers) == []
    assert import_graph.unplaced(edges, layers) == ["pkg", "pkg.stray"]


def test_third_party_names_are_read(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "pkg/low.py": "import flask\nfrom sqlalchemy.orm import x\n"
            "def f():\n    import redis\nfrom . import mid\n"
        },
    )
    assert import_graph.third_party(root / "pkg" / "low.py") == {"flask", "sqlalchemy", "redis"}
