"""The import graph has floors that match the data flow, and no package cycle.

kernel (``kequn``) → stages (``privacy``, ``features``) → ``experiments`` → ``pipelines``.
A package may import only packages on a lower floor (and ``conf``, which holds data only);
it never imports sideways or upwards. The test reads every module's imports with ``ast``
(module level and inside functions alike, so a lazy import cannot hide a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FLOORS = {"conf": 0, "kequn": 1, "privacy": 2, "features": 2, "experiments": 3, "pipelines": 4}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(FLOORS)


def _package_edges() -> dict[str, dict[str, list[str]]]:
    edges: dict[str, dict[str, list[str]]] = {pkg: {} for pkg in FLOORS}
    for pkg in FLOORS:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for target in _imports(path) - {pkg}:
                edges[pkg].setdefault(target, []).append(str(path.relative_to(ROOT)))
    return edges


def test_every_package_imports_only_lower_floors():
    bad = [
        f"{pkg} (floor {FLOORS[pkg]}) imports {target} (floor {FLOORS[target]}) in {', '.join(files)}"
        for pkg, targets in _package_edges().items()
        for target, files in targets.items()
        if FLOORS[target] >= FLOORS[pkg]
    ]
    assert not bad, "\n".join(bad)


def test_kernel_imports_no_package_of_ours():
    assert _package_edges()["kequn"] == {}


def test_no_package_cycle():
    edges = {pkg: set(targets) for pkg, targets in _package_edges().items()}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = [pkg for pkg in edges if pkg in reach(pkg)]
    assert not cycles, f"packages on an import cycle: {cycles}"


@pytest.mark.parametrize("source, expected", [
    ("from pipelines.io import read_table\n", {"pipelines"}),
    ("def f():\n    import experiments.train\n", {"experiments"}),
    ("from .sibling import x\nimport numpy\n", set()),
])
def test_import_reader_sees_lazy_and_absolute_imports(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")
    assert _imports(path) == expected
