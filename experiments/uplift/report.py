"""The uplift report a campaign manager reads: whom to target, at what budget, whom not to contact.

Rendered from the Jinja template ``experiments/templates/uplift_report.html.j2`` (autoescape on,
plots inlined as base64 PNG, no external script or font) and written next to its JSON twin that
carries the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments._html import fmt, json_safe, render_template, write_report

__all__ = ["json_safe", "render_uplift_report", "write_uplift_report"]


def _pct(value: Any) -> str:
    return fmt(value, ".1%")


def render_uplift_report(report: dict[str, Any], plots: dict[str, bytes] | None = None) -> str:
    """Render the report dictionary (the JSON twin) as one self-contained HTML page."""
    m = report.get("metrics", {})
    targeting = report.get("targeting", {})
    profile = report.get("profile") or []
    groups = [k for k in profile[0] if k not in {"feature", "overall"}] if profile else []
    return render_template(
        "uplift_report.html.j2",
        report=report, m=m, targeting=targeting, arms=report.get("arms", {}), plots=plots or {},
        kpis=[("Qini coefficient (normalised)", fmt(m.get("test_qini_auc"), ".3f")),
              ("…response model", fmt(m.get("test_response_model_qini_auc"), ".3f")),
              ("AUUC", fmt(m.get("test_auuc"), ".4f")),
              ("Uplift in top 30%", _pct(m.get("test_uplift_at_30"))),
              ("Average effect (all)", _pct(m.get("test_ate"))),
              ("Sleeping dogs", _pct(targeting.get("sleeping_dogs_share")))],
        profile_groups=groups,
        profile_rows=[[r["feature"], fmt(r["overall"], ".3f"), *[fmt(r.get(g), ".3f") for g in groups]]
                      for r in profile],
        budget_rows=[[f"{b['budget_pct']}%", fmt(b["customers"], "d"), fmt(b["predicted_incremental"], ".1f"),
                      _pct(b["observed_uplift"]), fmt(b["observed_incremental"], ".1f"),
                      fmt(b["response_model_incremental"], ".1f"), _pct(b["min_predicted_uplift"])]
                     for b in report.get("budgets", [])],
        decile_rows=[[fmt(d["decile"], "d"), fmt(d["n"], "d"), fmt(d["n_treated"], "d"), fmt(d["n_control"], "d"),
                      _pct(d["response_rate_treated"]), _pct(d["response_rate_control"]),
                      _pct(d["observed_uplift"]), _pct(d["mean_predicted_uplift"])]
                     for d in report.get("deciles", [])],
        smd_rows=[[k, fmt(v, ".3f")] for k, v in ((report.get("arms") or {}).get("smd") or {}).items()],
        validation_rows=[[k, fmt(v, ".3f")] for k, v in (report.get("validation_qini_auc") or {}).items()],
        param_rows=[[k, v] for k, v in (report.get("params") or {}).items()],
        metric_rows=[[k, fmt(v, ".4f")] for k, v in m.items()],
    )


def write_uplift_report(report: dict[str, Any], plots: dict[str, bytes], out_dir: str | Path) -> dict[str, Path]:
    """Write ``uplift_report.html``, ``uplift_report.json`` and the PNG plots into ``out_dir``."""
    report = json_safe(report)
    return write_report(out_dir, "uplift_report", render_uplift_report(report, plots), report, plots)
