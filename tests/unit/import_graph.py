"""The package's import graph, read from its source with ``ast``: the layer rule's
evidence (``test_layers.py``).

Every import counts, at the top of a module or inside a function: a lazy import is still
a dependency, and the old ``extension.init_app`` importing the views inside a function is
exactly how a cycle hid. ``from package import module`` counts as an import of that
module; ``from module import name`` as an import of the module."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``root`` (the folder holding ``package/``)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolved(module: str, level: int, name: str | None, is_package: bool) -> str:
    if not level:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its body."""
    known = set(known)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_nearest(alias.name, known))
        elif isinstance(node, ast.ImportFrom):
            target = _resolved(module, node.level, node.module, is_package)
            for alias in node.names:
                child = f"{target}.{alias.name}"
                found.add(child if child in known else _nearest(target, known))
    found.discard("")
    found.discard(module)
    return found


def _nearest(name: str, known: set[str]) -> str:
    """The longest known module ``name`` is, or is inside of ("" if none)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return ""


def graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = module_names(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def layer_of(module: str, layers: Mapping[str, int]) -> int | None:
    """The layer of the longest prefix of ``module`` in ``layers`` (None: not placed)."""
    parts = module.split(".")
    while parts:
        found = layers.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return None


def upward(
    edges: Mapping[str, set[str]], layers: Mapping[str, int], exempt: Iterable[str] = ()
) -> list[str]:
    """Each import of a module from a higher layer, as "low -> high" lines. A package's
    ``__init__`` may import its own modules (it is the folder's front door)."""
    exempt = set(exempt)
    found = []
    for module, targets in sorted(edges.items()):
        if module in exempt:
            continue
        mine = layer_of(module, layers)
        for target in sorted(targets):
            theirs = layer_of(target, layers)
            if target.startswith(module + "."):
                continue
            if mine is not None and theirs is not None and theirs > mine:
                found.append(f"{module} (layer {mine}) -> {target} (layer {theirs})")
    return found


def unplaced(edges: Mapping[str, set[str]], layers: Mapping[str, int]) -> list[str]:
    return sorted(module for module in edges if layer_of(module, layers) is None)


def third_party(path: Path) -> set[str]:
    """The top-level names of what a module imports from outside (absolute imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found
