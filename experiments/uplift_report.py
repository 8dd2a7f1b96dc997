"""The uplift report a campaign manager reads: whom to target, at what budget, whom not to contact.

Self-contained HTML (plots inlined as base64 PNG, no external script or font), every value
escaped, written next to its JSON twin that carries the same numbers.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from experiments._html import esc as _e
from experiments._html import num, write_report

__all__ = ["json_safe", "render_uplift_report", "write_uplift_report"]

_CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em 1em;margin:.4em 0}
.ok{background:#eef8ee;border-left:4px solid #3a3;padding:.5em 1em}
.kpi{display:inline-block;margin:0 2em .5em 0}.kpi b{font-size:1.4em;display:block}
img{max-width:100%;border:1px solid #eee}
"""


def _num(value: Any, spec: str = ".3f") -> str:
    return num(value, spec)


def _pct(value: Any) -> str:
    return _num(value, ".1%")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_uplift_report(report: dict[str, Any], plots: dict[str, bytes] | None = None) -> str:
    """Render the report dictionary (the JSON twin) as one self-contained HTML page."""
    plots = plots or {}
    m = report.get("metrics", {})
    targeting = report.get("targeting", {})
    parts = [f"<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>Uplift report</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>Campaign uplift report (营销增益分析)</h1>",
             f"<p>Response <code>{_e(report.get('label'))}</code>, treatment <code>{_e(report.get('treatment'))}"
             f"</code>; {_num(report.get('n_rows'), 'd')} customers, evaluated on a held-out test set of "
             f"{_num(report.get('n_test'), 'd')}. Model: <b>{_e(report.get('chosen_learner'))}</b>.</p>"]
    warnings = report.get("warnings") or []
    if warnings:
        parts.append("<h2>Warnings</h2>" + "".join(f"<div class=\"warn\">{_e(w)}</div>" for w in warnings))
    else:
        parts.append("<div class=\"ok\">Both arms are large enough and comparable (randomised campaign).</div>")

    parts.append("<h2>Headline</h2>")
    kpis = [("Qini coefficient (normalised)", _num(m.get("test_qini_auc"))),
            ("…response model", _num(m.get("test_response_model_qini_auc"))),
            ("AUUC", _num(m.get("test_auuc"), ".4f")),
            ("Uplift in top 30%", _pct(m.get("test_uplift_at_30"))),
            ("Average effect (all)", _pct(m.get("test_ate"))),
            ("Sleeping dogs", _pct(targeting.get("sleeping_dogs_share")))]
    parts.append("".join(f"<span class=\"kpi\"><b>{v}</b>{_e(k)}</span>" for k, v in kpis))

    parts.append("<h2>Whom to target</h2>")
    parts.append(f"<p>Contact customers in order of predicted uplift. The top {_num(targeting.get('top_k_pct'), 'd')}% "
                 f"are those with predicted uplift of at least {_pct(targeting.get('uplift_cut'))}. "
                 f"Predicted uplift is positive for {_pct(targeting.get('recommended_share'))} of customers: "
                 "beyond that share extra contacts are expected to add nothing or to lose responses.</p>")
    profile = report.get("profile") or []
    if profile:
        groups = [k for k in profile[0] if k not in {"feature", "overall"}]
        parts.append("<p>What distinguishes the customers to target and the sleeping dogs (feature means):</p>")
        parts.append(_table(["feature", "all customers", *groups],
                            [[_e(r["feature"]), _num(r["overall"]), *[_num(r.get(g)) for g in groups]]
                             for r in profile]))

    parts.append("<h2>Expected incremental responses by budget (test set)</h2>")
    parts.append("<p><i>predicted</i>: sum of predicted uplift of the targeted customers; <i>observed</i>: "
                 "(treated − control response rate among them) × customers; the response model column "
                 "targets by plain response probability instead.</p>")
    parts.append(_table(
        ["budget (top k%)", "customers", "predicted incremental", "observed uplift", "observed incremental",
         "response model incremental", "lowest predicted uplift targeted"],
        [[_e(b["budget_pct"]) + "%", _num(b["customers"], "d"), _num(b["predicted_incremental"], ".1f"),
          _pct(b["observed_uplift"]), _num(b["observed_incremental"], ".1f"),
          _num(b["response_model_incremental"], ".1f"), _pct(b["min_predicted_uplift"])]
         for b in report.get("budgets", [])]))

    parts.append("<h2>Whom not to contact (sleeping dogs, 沉睡犬)</h2>")
    parts.append(f"<p>{_num(targeting.get('sleeping_dogs_count_test'), 'd')} test customers "
                 f"({_pct(targeting.get('sleeping_dogs_share'))}) have negative predicted uplift: contacting them "
                 "is expected to lower their response. Observed uplift in this group: "
                 f"{_pct(m.get('test_sleeping_dogs_observed_uplift'))}. Exclude them from the campaign.</p>")

    parts.append("<h2>Uplift by decile (test set)</h2>")
    parts.append(_table(
        ["decile", "customers", "treated", "control", "response rate treated", "response rate control",
         "observed uplift", "mean predicted uplift"],
        [[_num(d["decile"], "d"), _num(d["n"], "d"), _num(d["n_treated"], "d"), _num(d["n_control"], "d"),
          _pct(d["response_rate_treated"]), _pct(d["response_rate_control"]), _pct(d["observed_uplift"]),
          _pct(d["mean_predicted_uplift"])] for d in report.get("deciles", [])]))
    for name in ("qini_curve.png", "uplift_by_decile.png"):
        if name in plots:
            data = base64.b64encode(plots[name]).decode("ascii")
            parts.append(f"<p><img alt=\"{_e(name)}\" src=\"data:image/png;base64,{data}\"></p>")

    arms = report.get("arms", {})
    parts.append("<h2>Are the arms comparable?</h2>")
    parts.append(f"<p>Treatment share {_pct(arms.get('treatment_share'))} ({_num(arms.get('n_treated'), 'd')} treated, "
                 f"{_num(arms.get('n_control'), 'd')} control); largest |standardised mean difference| "
                 f"{_num(arms.get('max_abs_smd'))}. A feature is flagged when its |SMD| is above 0.1 and beyond "
                 f"what chance gives in a randomised campaign of this size ({_num(arms.get('smd_chance_bound'))}).</p>")
    smd = arms.get("smd") or {}
    if smd:
        parts.append(_table(["feature", "SMD (treated − control)"], [[_e(k), _num(v)] for k, v in smd.items()]))

    parts.append("<h2>Model selection</h2>")
    val = report.get("validation_qini_auc") or {}
    parts.append(_table(["learner", "validation Qini (normalised)"], [[_e(k), _num(v)] for k, v in val.items()]))
    parts.append(_table(["XGBoost parameter", "value"],
                        [[_e(k), _e(v)] for k, v in (report.get("params") or {}).items()]))
    parts.append("<h2>All metrics</h2>")
    parts.append(_table(["metric", "value"], [[_e(k), _num(v, ".4f")] for k, v in m.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


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


def write_uplift_report(report: dict[str, Any], plots: dict[str, bytes], out_dir: str | Path) -> dict[str, Path]:
    """Write ``uplift_report.html``, ``uplift_report.json`` and the PNG plots into ``out_dir``."""
    report = json_safe(report)
    return write_report(out_dir, "uplift_report", render_uplift_report(report, plots), report, plots)
