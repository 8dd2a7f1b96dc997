"""Value formatting shared by the self-contained HTML reports of experiments/ (every value escaped)."""

from __future__ import annotations

import html
import math
from typing import Any


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included)."""
    return html.escape(str(value), quote=True)


def num(value: Any, spec: str) -> str:
    """A number formatted with ``spec`` and escaped; ``n/a`` for None, NaN and infinities."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, float)):
        return esc(format(value, spec))
    return esc(value)


def write_report(out_dir: Any, stem: str, html_text: str, report: dict[str, Any],
                 plots: dict[str, bytes]) -> dict[str, Any]:
    """Write ``<stem>.html``, ``<stem>.json`` (atomically) and the PNG plots into ``out_dir``."""
    from pathlib import Path

    from kequn.io import write_json, write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Any] = {"html": write_text(out / f"{stem}.html", html_text),
                             "json": write_json(out / f"{stem}.json", report)}
    for name, data in plots.items():
        (out / name).write_bytes(data)
        paths[name] = out / name
    return paths
