"""The lowest-versions constraints used by CI pin exactly the lower bounds pyproject.toml declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / ".ci" / "constraints-lowest.txt"


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    requirements = [*project["dependencies"], *extras["dev"], *extras.get("dp", []), *extras.get("spark", [])]
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][0-9A-Za-z.]*)(,.*)?", requirement)
        assert match, f"{requirement!r}: every dependency needs a tested lower bound (NAME>=VERSION)"
        bounds[_name(match.group(1))] = match.group(3)
    return bounds


def _pinned() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_name(name)] = version.strip()
    return pins


def test_every_lower_bound_is_pinned_and_nothing_else_is_pinned_exactly():
    from packaging.version import Version

    declared, pinned = _declared(), _pinned()
    assert sorted(pinned) == sorted(declared)
    assert {n: Version(v) for n, v in pinned.items()} == {n: Version(v) for n, v in declared.items()}
