"""The segment report marketing reads: personas per segment, value tiers and strategies.

Rendered from the Jinja template ``experiments/templates/segment_report.html.j2`` (autoescape on,
plots inlined as base64 PNG, no external script or font) and written next to its JSON twin that
carries the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments._html import fmt, json_safe, render_template, write_report

__all__ = ["render_segment_report", "write_segment_report"]


def _top(mix: dict[str, Any] | None, limit: int = 6) -> list[tuple[str, Any]]:
    """The ``limit`` largest shares of a distribution, largest first (ties keep their order)."""
    if not mix:
        return []
    return sorted(mix.items(), key=lambda kv: -(kv[1] or 0))[:limit]


def render_segment_report(report: dict[str, Any], plots: dict[str, bytes] | None = None) -> str:
    """Render the report dictionary (the JSON twin) as one self-contained HTML page."""
    cross = report.get("crosstab") or {}
    tiers = sorted({t for row in cross.values() for t in row})
    return render_template(
        "segment_report.html.j2",
        report=report,
        m=report.get("metrics", {}),
        plots=plots or {},
        top=_top,
        tier_rows=[[t["name"], t.get("label_zh"), fmt(t["min_aum"], ",.0f"), fmt(t["customers"], ",.0f"),
                    t.get("strategy")] for t in report.get("value_tiers", [])],
        cross=cross,
        cross_tiers=tiers,
        cross_rows=[[f"S{s}", *[fmt(row.get(t, 0), ",.0f") for t in tiers]] for s, row in cross.items()],
        k_rows=[[k, fmt(v, ".3f")] for k, v in (report.get("k_selection") or {}).items()],
        ari_text=", ".join(format(v, ".3f") for v in report.get("stability_ari", [])),
    )


def write_segment_report(report: dict[str, Any], plots: dict[str, bytes], out_dir: str | Path) -> dict[str, Path]:
    """Write ``segment_report.html``, ``segment_report.json`` and the PNG plots into ``out_dir``."""
    report = json_safe(report)
    return write_report(out_dir, "segment_report", render_segment_report(report, plots), report, plots)
