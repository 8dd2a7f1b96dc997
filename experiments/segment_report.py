"""The segment report marketing reads: personas per segment, value tiers and strategies.

Self-contained HTML (plots inlined as base64 PNG, no external script or font), every value
escaped, written next to its JSON twin that carries the same numbers.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from experiments._html import esc as _e
from experiments._html import num, write_report
from experiments.uplift_report import json_safe

__all__ = ["render_segment_report", "write_segment_report"]

_CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.t,th.t{text-align:left}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em 1em;margin:.4em 0}
img{max-width:100%;border:1px solid #eee;margin:.3em}
"""


def _num(value: Any, spec: str = ",.0f") -> str:
    return num(value, spec)


def _pct(value: Any) -> str:
    return _num(value, ".0%")


def _mix(mix: dict[str, Any] | None, limit: int = 6) -> str:
    if not mix:
        return "n/a"
    items = sorted(mix.items(), key=lambda kv: -(kv[1] or 0))[:limit]
    return "<br>".join(f"{_e(k)} {_pct(v)}" for k, v in items)


def _table(headers: list[str], rows: list[list[str]], text_cols: int = 1) -> str:
    head = "".join(f"<th class=\"{'t' if i < text_cols else ''}\">{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td class=\"{'t' if i < text_cols else ''}\">{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_segment_report(report: dict[str, Any], plots: dict[str, bytes] | None = None) -> str:
    """Render the report dictionary (the JSON twin) as one self-contained HTML page."""
    plots = plots or {}
    m = report.get("metrics", {})
    parts = ["<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>Segment report</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>Customer segments and personas (客户分层与客群画像)</h1>",
             f"<p>{_num(report.get('n_customers'))} customers in {_num(report.get('n_segments'))} behavioural "
             f"segments (KMeans on {len(report.get('features') or [])} features; silhouette "
             f"{_num(m.get('silhouette'), '.3f')}, stability across bootstrap resamples: mean ARI "
             f"{_num(m.get('stability_ari'), '.2f')}), crossed with value tiers by AUM.</p>"]
    for w in report.get("warnings") or []:
        parts.append(f"<div class=\"warn\">{_e(w)}</div>")

    parts.append("<h2>Personas</h2>")
    rows = []
    for p in report.get("personas", []):
        if not p.get("profiled"):
            rows.append([f"S{_e(p['segment'])}", "(too small to profile)", _num(p["size"]), _pct(p["share"]),
                         *["n/a"] * 10])
            continue
        rows.append([
            f"S{_e(p['segment'])}",
            f"<b>{_e(p.get('persona_label_zh') or p.get('persona'))}</b><br>{_e(p.get('persona'))}",
            _num(p["size"]), _pct(p["share"]),
            f"{_num(p.get('aum_median'))}<br>({_num(p.get('aum_p25'))} – {_num(p.get('aum_p75'))})",
            _mix(p.get("value_tier_mix")),
            _mix(p.get("age_band_mix"), 3), _mix(p.get("gender_mix")),
            _mix(p.get("product_penetration")), _mix(p.get("channel_use"), 3),
            _pct(p.get("salary_share")), _num(p.get("dormancy_days_median")), _pct(p.get("churn_rate")),
            f"{_e(p.get('strategy'))}<br><i>{_e(p.get('value_tier_strategy'))}</i>",
        ])
    parts.append(_table(["segment", "persona", "customers", "share", "AUM median (IQR), CNY", "value tiers",
                         "age band", "gender", "product penetration", "channel use", "salary share",
                         "dormancy days (median)", "churn rate", "strategy (persona / main tier)"], rows, 2))

    parts.append("<h2>Value tiers (conf/segments.yaml)</h2>")
    parts.append(_table(["tier", "名称", "min AUM (CNY)", "customers", "strategy"],
                        [[_e(t["name"]), _e(t.get("label_zh")), _num(t["min_aum"]), _num(t["customers"]),
                          _e(t.get("strategy"))] for t in report.get("value_tiers", [])], 2))
    cross = report.get("crosstab") or {}
    tiers = sorted({t for row in cross.values() for t in row})
    if cross:
        parts.append("<p>Customers per segment and value tier:</p>")
        parts.append(_table(["segment", *tiers], [[f"S{_e(s)}", *[_num(row.get(t, 0)) for t in tiers]]
                                                  for s, row in cross.items()]))
    for name in ("segment_sizes.png", "aum_by_segment.png", "segments_pca.png", "silhouette_by_k.png"):
        if name in plots:
            data = base64.b64encode(plots[name]).decode("ascii")
            parts.append(f"<img alt=\"{_e(name)}\" src=\"data:image/png;base64,{data}\">")

    parts.append("<h2>Choice of the number of segments</h2>")
    parts.append(_table(["k", "silhouette"], [[_e(k), _num(v, ".3f")] for k, v in
                                              (report.get("k_selection") or {}).items()]))
    parts.append(f"<p>Bootstrap ARI per resample: {_e(', '.join(format(v, '.3f') for v in report.get('stability_ari', [])))}</p>")
    parts.append(f"<p>Features: {_e(', '.join(report.get('features') or []))}. "
                 f"log1p-transformed: {_e(', '.join(report.get('log_features') or []) or 'none')}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_segment_report(report: dict[str, Any], plots: dict[str, bytes], out_dir: str | Path) -> dict[str, Path]:
    """Write ``segment_report.html``, ``segment_report.json`` and the PNG plots into ``out_dir``."""
    report = json_safe(report)
    return write_report(out_dir, "segment_report", render_segment_report(report, plots), report, plots)
