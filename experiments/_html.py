"""The one way experiments/ writes HTML: Jinja templates (autoescape on) in experiments/templates.

Reports are self-contained (plots inlined as base64 PNG, no external script or font), every
value is escaped by the template engine, and each HTML page is written next to its JSON twin
that carries the same numbers (:func:`write_report`).
"""

from __future__ import annotations

import base64
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["data_uri", "fmt", "json_safe", "render_template", "write_report"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def fmt(value: Any, spec: str = "") -> str:
    """A number formatted with ``spec``; ``n/a`` for None, NaN and infinities; other values as
    text. Not escaped here: the template's autoescape does it."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


def data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:`` URI (the page stays self-contained)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["pct"] = lambda value, spec=".1%": fmt(value, spec)
    env.filters["data_uri"] = data_uri
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``experiments/templates/<name>`` with autoescape on."""
    return _environment().get_template(name).render(**context)


def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars made plain and NaN/inf made ``None`` (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(out_dir: Any, stem: str, html_text: str, report: dict[str, Any],
                 plots: dict[str, bytes]) -> dict[str, Any]:
    """Write ``<stem>.html``, ``<stem>.json`` (atomically) and the PNG plots into ``out_dir``."""
    from kequn.io import write_json, write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Any] = {"html": write_text(out / f"{stem}.html", html_text),
                             "json": write_json(out / f"{stem}.json", report)}
    for name, data in plots.items():
        (out / name).write_bytes(data)
        paths[name] = out / name
    return paths
