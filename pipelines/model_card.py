"""Model cards (Markdown + HTML) for published model versions.

A card states the intended and out-of-scope use, the training data lineage (clean-zone
manifest, policy hash, privacy report), the held-out metrics, fairness and uplift results, the
gate outcomes and caveats. It is rendered from ``pipelines/templates/model_card.{md,html}.j2``;
the HTML is self-contained and every value is escaped (Jinja2 autoescape).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"

INTENDED_USE = {
    "churn": "Rank existing retail customers by their risk of leaving (attrition) within the label "
             "horizon, to prioritise retention contact by relationship managers.",
    "propensity": "Rank existing retail customers by their propensity to take up a product, to choose "
                  "whom to offer it to in a marketing campaign.",
    "uplift": "Estimate how much a marketing treatment changes each customer's response, to target "
              "those who are persuadable rather than those who would respond anyway.",
    "segment": "Group customers into behavioural segments to describe the customer base and "
               "tailor service and communication.",
}
OUT_OF_SCOPE = [
    "Credit, lending, pricing or any decision with legal or similarly significant effect on a person "
    "(PIPL Art. 24 gives individuals the right to refuse decisions made solely by automated means).",
    "Differential transaction terms (price, fees, rates) between customers or groups.",
    "Customers, products or periods outside the training data (other banks, new products, after a "
    "major policy change) without re-validation.",
    "Re-identifying customers: inputs are pseudonymised and must stay so.",
]
CAVEATS = [
    "Metrics are measured on one held-out split of historical data; performance drifts as customer "
    "behaviour changes, so monitor and retrain.",
    "Fairness is measured only for the listed attributes; groups below the minimum size are excluded "
    "from the gaps and are not evidence of fairness.",
    "Protected attributes are used for measurement; a model that excludes them can still act on proxies.",
]


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _fairness_rows(fairness: dict[str, Any] | None, metrics: dict[str, float]) -> dict[str, Any] | None:
    """Summary of the fairness report, or of the run's fairness_* metrics when no report exists."""
    if fairness and fairness.get("attributes"):
        rows = [{"attribute": attr,
                 "dpd": _fmt(r["aggregates"].get("demographic_parity_difference")),
                 "dpr": _fmt(r["aggregates"].get("demographic_parity_ratio")),
                 "eod": _fmt(r["aggregates"].get("equalized_odds_difference")),
                 "eop": _fmt(r["aggregates"].get("equal_opportunity_difference")),
                 "cal": _fmt(r["aggregates"].get("calibration_difference")),
                 "small": ", ".join(r.get("excluded_small_groups", [])) or "none"}
                for attr, r in fairness["attributes"].items()]
        return {"threshold": _fmt(fairness.get("threshold")), "min_group_size": fairness.get("min_group_size"),
                "rows": rows}
    prefix = "fairness_demographic_parity_ratio_"
    attrs = sorted(k[len(prefix):] for k in metrics if k.startswith(prefix))
    if not attrs:
        return None
    rows = [{"attribute": a,
             "dpd": _fmt(metrics.get(f"fairness_demographic_parity_difference_{a}")),
             "dpr": _fmt(metrics.get(f"fairness_demographic_parity_ratio_{a}")),
             "eod": _fmt(metrics.get(f"fairness_equalized_odds_difference_{a}")),
             "eop": _fmt(metrics.get(f"fairness_equal_opportunity_difference_{a}")),
             "cal": _fmt(metrics.get(f"fairness_calibration_difference_{a}")),
             "small": "see report"} for a in attrs]
    return {"threshold": "—", "min_group_size": "—", "rows": rows}


MIA_ATTACKS = (("threshold", "loss threshold"), ("attack_model", "black-box attack model"),
               ("shadow", "shadow models"))


def _model_privacy(metrics: dict[str, float]) -> dict[str, Any] | None:
    """The membership-inference audit (experiments.model_privacy) with a plain reading."""
    if "privacy_mia_auc" not in metrics:
        return None
    auc = metrics["privacy_mia_auc"]
    rows = [{"attack": label, "auc": _fmt(metrics.get(f"privacy_mia_{key}_auc")),
             "advantage": _fmt(metrics.get(f"privacy_mia_{key}_advantage"))}
            for key, label in MIA_ATTACKS if f"privacy_mia_{key}_auc" in metrics]
    reading = (f"The strongest attack tells a training customer from a held-out one with ROC-AUC {auc:.3f} "
               "(0.5 is guessing, 1.0 is certainty); "
               + ("little sign of memorisation by these attacks." if auc <= 0.55 else
                  "some memorisation: the model is measurably more confident on customers it was trained on."
                  if auc <= 0.6 else "the model leaks who was in its training data."))
    if "privacy_mia_auc_lower" in metrics:
        reading += (f" With the audit's sample size the attack's AUC is at least "
                    f"{metrics['privacy_mia_auc_lower']:.3f} at 95 % confidence (what the gate judges).")
    return {"auc": _fmt(auc), "advantage": _fmt(metrics.get("privacy_mia_advantage")), "rows": rows,
            "n_rows": int(metrics.get("privacy_mia_n_rows", 0)), "reading": reading}


def _differential_privacy(params: dict[str, str], metrics: dict[str, float]) -> dict[str, Any] | None:
    """The differential-privacy record of a `train --dp-epsilon` run (experiments.dp)."""
    if "dp_epsilon" not in params:
        return None
    return {"epsilon": params["dp_epsilon"], "data_norm": params.get("dp_data_norm", "—"),
            "clip": params.get("dp_clip", "—"), "mechanism": params.get("dp_mechanism", "—"),
            "dp_roc_auc": _fmt(metrics.get("dp_test_roc_auc")),
            "baseline_roc_auc": _fmt(metrics.get("dp_baseline_test_roc_auc")),
            "utility_cost": _fmt(metrics.get("dp_utility_cost_roc_auc"))}


def card_context(*, name: str, version: str, run: Any, gates: dict[str, dict[str, Any]],
                 approval_status: str, published_by: str, published_at: str,
                 fairness: dict[str, Any] | None = None, identity: str = "self-declared",
                 gates_file: str = "not recorded", gates_sha256: str = "not recorded",
                 gates_reviewed: bool | None = None) -> dict[str, Any]:
    """Everything a card shows, as plain values (no personal data: tags, metrics and gate text)."""
    tags, metrics = dict(run.data.tags), dict(run.data.metrics)
    params = dict(getattr(run.data, "params", {}) or {})
    task = tags.get("kequn.task", "unknown")
    clean_dir = tags.get("kequn.clean_dir", "")
    uplift_keys = ("test_qini_auc", "test_auuc", "test_uplift_at_30")
    caveats = list(CAVEATS)
    failed = [g for g, r in gates.items() if not r["passed"]]
    if failed:
        caveats.insert(0, f"Gates failed: {', '.join(failed)}; this version must not be promoted.")
    if gates_reviewed is False:
        caveats.insert(0, "The gates file it was published under is not one of the reviewed files pinned in "
                          "conf/governance.yaml (gates_file_unreviewed): check its rules before approving.")
    if identity != "authenticated":
        caveats.append("Identities (author, publisher, approver) are self-declared: the tracking store does not "
                       "authenticate users; only signed approvals and promotions (`kequn verify`) prove who acted.")
    return {
        "name": name, "version": str(version), "task": task, "run_id": run.info.run_id,
        "author": tags.get("kequn.author", "unknown"), "published_by": published_by,
        "published_at": published_at, "approval_status": approval_status,
        "identity": "authenticated by the tracking server" if identity == "authenticated" else
                    "self-declared (local store without authentication)",
        "governance": {"gates_file": gates_file, "gates_sha256": gates_sha256,
                       "review": {True: "reviewed: pinned in conf/governance.yaml",
                                  False: "UNREVIEWED: not pinned in conf/governance.yaml",
                                  None: "review not checked"}[gates_reviewed]},
        "use": {"intended": INTENDED_USE.get(task, "Not stated for this task."), "out_of_scope": OUT_OF_SCOPE},
        "lineage": {
            "manifest_id": tags.get("kequn.manifest_id", "not recorded"),
            "policy_hash": tags.get("kequn.policy_hash", "not recorded"),
            "key_fingerprint": tags.get("kequn.key_fingerprint", "not recorded"),
            "privacy_report": str(Path(clean_dir) / "privacy_report.html") if clean_dir else "not recorded",
        },
        "metrics": [(k, _fmt(v)) for k, v in sorted(metrics.items())
                    if not k.startswith(("fairness_", "privacy_mia_")) and k not in uplift_keys],
        "model_privacy": _model_privacy(metrics),
        "differential_privacy": _differential_privacy(params, metrics),
        "uplift": [(k, _fmt(metrics[k])) for k in uplift_keys if k in metrics],
        "fairness": _fairness_rows(fairness, metrics),
        "gates": [{"name": g, "passed": r["passed"],
                   "result": ("pass" if r["passed"] else "FAIL") if r.get("applicable", True) else "n/a",
                   "detail": r["detail"]} for g, r in gates.items()],
        "caveats": caveats,
    }


def render(context: dict[str, Any]) -> tuple[str, str]:
    """Render the card as ``(markdown, html)``."""
    import jinja2

    env_md = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                                keep_trailing_newline=True)
    env_html = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    md_context = dict(context)
    # Table cells in Markdown must not break the table.
    md_context["gates"] = [{**g, "detail": g["detail"].replace("|", "\\|").replace("\n", " ")}
                           for g in context["gates"]]
    markdown = env_md.get_template("model_card.md.j2").render(**md_context)
    html = env_html.get_template("model_card.html.j2").render(**context)
    return markdown, html
