"""Default user-editable configuration shipped with kequn (YAML files beside this module)."""

from __future__ import annotations

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent


def default_path(name: str) -> Path:
    """Return the path of a default configuration file, e.g. ``default_path("gates.yaml")``."""
    return CONF_DIR / name
