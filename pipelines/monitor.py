"""Monitoring a governed model on a new snapshot (``kequn monitor``, 动态调整).

Compares a feature table of a later snapshot with the model's training reference
(``monitoring/reference.json`` of its training run, aggregates only; :mod:`experiments.reference`):

- PSI per model input and for each model output (score, uplift, segment / persona / tier shares);
- the shift of the share of missing values per input;
- realised performance when the snapshot carries labels (churn/propensity: ROC-AUC, PR-AUC,
  Brier, lift against the held-out metrics of the training run; uplift: Qini and uplift@30 %
  when both arms and responses are present);
- for segment models the migration matrices of segment and value tier (客户升降级) between the
  training snapshot and the new one, per customer token. The training table is read **by
  reference** (its path as the training run recorded it, accepted only when its content digest
  still equals the run's ``kequn.table_digest``), never copied into MLflow; when it is gone the
  report says so and shows the share shift only.

Limits come from ``conf/monitor.yaml`` (:class:`MonitorLimits`); a breach still writes the
report and then exits with :data:`EXIT_BREACH` (6) so a scheduler can alert or retrain.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from conf import default_path
from experiments.reference import REFERENCE_ARTIFACT, bin_labels, distribution, psi
from kequn import console
from kequn.config import StrictConfig, first_error, read_yaml_mapping
from kequn.errors import ConfigError, InputError, KequnError

__all__ = ["EXIT_BREACH", "LimitBreached", "MonitorLimits", "load_limits", "monitor_snapshot", "run_monitor"]

EXIT_BREACH = 6
REPORT_STEM = "monitor_report"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SEGMENT_OUTPUTS = ("segment", "persona", "value_tier")


class LimitBreached(KequnError):
    """``kequn monitor`` wrote its report, and a limit of conf/monitor.yaml is breached (exit code 6)."""

    exit_code = EXIT_BREACH


class MonitorLimits(StrictConfig):
    psi_feature_warn: float | None = 0.1
    psi_feature_max: float | None = 0.25
    psi_score_max: float | None = 0.25
    missing_shift_max: float | None = 0.10
    roc_auc_drop_max: float | None = 0.05
    qini_drop_max: float | None = None
    min_rows: int = 100


def load_limits(path: str | Path | None = None) -> MonitorLimits:
    path = Path(path) if path is not None else default_path("monitor.yaml")
    raw = read_yaml_mapping(path, what="monitor limits file")
    try:
        return MonitorLimits.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {first_error(exc)}") from None


def load_reference(model: Any) -> dict[str, Any]:
    """The training reference of ``model``'s run; a clear refusal for models trained before it existed."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        text = mlflow.artifacts.load_text(f"runs:/{model.run_id}/{REFERENCE_ARTIFACT}")
    except (MlflowException, OSError):
        raise InputError(f"{model.label}: its training run {model.run_id} has no {REFERENCE_ARTIFACT} (it was "
                         "trained before kequn logged a monitoring reference); retrain and publish it with this "
                         "kequn to monitor it") from None
    try:
        reference = json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"{model.label}: {REFERENCE_ARTIFACT} of run {model.run_id} is not valid JSON") from None
    if not str(reference.get("format", "")).startswith("kequn.monitor.reference/"):
        raise InputError(f"{model.label}: {REFERENCE_ARTIFACT} has an unknown format. Got {reference.get('format')!r}")
    return reference


# --------------------------------------------------------------------------------------------
# comparisons


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def compare_distributions(reference: dict[str, dict[str, Any]], frame: pd.DataFrame) -> list[dict[str, Any]]:
    """PSI and missing-share shift of every referenced column present in ``frame`` (worst first)."""
    rows = []
    for col, spec in reference.items():
        if col not in frame.columns:
            continue
        new = distribution(frame[col], spec)
        rows.append({"column": col, "kind": spec["kind"], "psi": psi(spec["shares"], new),
                     "missing_reference": spec["shares"][-1], "missing_now": new[-1],
                     "missing_shift": new[-1] - spec["shares"][-1],
                     "bins": bin_labels(spec), "reference_shares": spec["shares"], "new_shares": new})
    return sorted(rows, key=lambda r: -r["psi"])


def realised_performance(model: Any, frame: pd.DataFrame, scores: pd.DataFrame) -> dict[str, Any]:
    """Performance on the new snapshot when its labels are there (else ``measured: False`` and why)."""
    from experiments.data import DEFAULT_LABELS

    task = model.task
    if task in ("churn", "propensity"):
        label = model.params.get("label") or DEFAULT_LABELS[task]
        if label not in frame.columns:
            return {"measured": False, "why": f"no {label} column in the snapshot"}
        y = pd.to_numeric(frame[label], errors="coerce")
        try:
            positive = float(model.params.get("positive", "1"))
        except ValueError:
            return {"measured": False, "why": f"{label}: the positive value is not a number"}
        keep = y.notna().to_numpy()
        y = (y[keep] == positive).astype(int).to_numpy()
        if len(np.unique(y)) < 2:
            return {"measured": False, "why": f"{label} has one class only in this snapshot (labels not yet observed?)"}
        from experiments.evaluation import binary_metrics

        score = scores.iloc[:, 1].to_numpy()[keep]
        now = binary_metrics(y, score, prefix="")
        held_out = {k: model.metrics.get(f"test_{k}") for k in now}
        return {"measured": True, "label": label, "rows": int(keep.sum()), "positive_rate": float(y.mean()),
                "metrics": now, "held_out": held_out,
                "roc_auc_drop": _finite((held_out["roc_auc"] or float("nan")) - now["roc_auc"])}
    if task == "uplift":
        label = model.params.get("label") or "response"
        treatment = model.params.get("treatment") or "treatment"
        if label not in frame.columns or treatment not in frame.columns:
            return {"measured": False, "why": f"no {label} and {treatment} columns in the snapshot"}
        keep = (frame[label].notna() & frame[treatment].notna()).to_numpy()
        y = pd.to_numeric(frame[label][keep], errors="coerce").to_numpy()
        t = pd.to_numeric(frame[treatment][keep], errors="coerce").to_numpy()
        if keep.sum() < 20 or len(np.unique(t)) < 2 or len(np.unique(y)) < 2:
            return {"measured": False, "why": "the snapshot has no randomised campaign with both arms and responses"}
        from experiments.uplift_metrics import qini_coefficient, uplift_at_k

        u = scores["uplift"].to_numpy()[keep]
        now = {"qini": _finite(qini_coefficient(y, t, u)), "uplift_at_30": _finite(uplift_at_k(y, t, u, 0.3))}
        held_out = {"qini": model.metrics.get("test_qini_auc"), "uplift_at_30": model.metrics.get("test_uplift_at_30")}
        drop = None if now["qini"] is None or held_out["qini"] is None else held_out["qini"] - now["qini"]
        return {"measured": True, "label": label, "treatment": treatment, "rows": int(keep.sum()),
                "metrics": now, "held_out": held_out, "qini_drop": drop}
    return {"measured": False, "why": f"no realised performance for {task} models"}


def _reference_table(model: Any, reference: dict[str, Any]) -> tuple[pd.DataFrame | None, str]:
    """The training table by reference (path recorded by the run), if it is still the same table."""
    import mlflow

    from experiments.data import load_training_table, table_digest

    run = mlflow.MlflowClient().get_run(model.run_id)
    expected = run.data.tags.get("kequn.table_digest") or reference.get("table_digest")
    source = None
    for item in run.inputs.dataset_inputs or []:
        try:
            source = json.loads(item.dataset.source or "{}").get("uri")
        except json.JSONDecodeError:
            source = None
        if source:
            break
    if not source or not Path(source).is_file():
        return None, "the training table is no longer at the path its run recorded"
    try:
        frame, _ = load_training_table(source)
    except KequnError as exc:
        return None, f"the training table cannot be read ({type(exc).__name__})"
    if table_digest(frame) != expected:
        return None, "the file at the training table's recorded path has changed (content digest differs)"
    return frame, f"training table {Path(source).name} (digest {expected}, read by reference)"


def migration(model: Any, reference: dict[str, Any], scores: pd.DataFrame) -> dict[str, Any]:
    """Segment and value-tier migration between the training snapshot and the new one (per token)."""
    from pipelines.scoring import score_frame

    before, note = _reference_table(model, reference)
    if before is None:
        return {"available": False, "why": note}
    id_col = scores.columns[0]
    old = score_frame(model, before, where="the training table")
    old_id = old.columns[0]
    joined = old.rename(columns={old_id: id_col}).merge(scores, on=id_col, suffixes=("_before", "_now"))
    if joined.empty:
        return {"available": False, "why": "no customer token of the training snapshot is in the new one "
                                           "(another pseudonymisation key, or another bank)"}
    tiers = [t.name for t in getattr(model.pyfunc.unwrap_python_model(), "tiers", [])]
    result: dict[str, Any] = {"available": True, "source": note, "customers_before": int(len(old)),
                              "customers_now": int(len(scores)), "customers_in_both": int(len(joined)),
                              "left": int(len(old) - len(joined)), "new": int(len(scores) - len(joined))}
    for col in ("segment", "value_tier"):
        b, n = joined[f"{col}_before"].astype(str), joined[f"{col}_now"].astype(str)
        order = tiers if col == "value_tier" and tiers else sorted(set(b) | set(n), key=lambda v: (len(v), v))
        order = [v for v in order if v in set(b) | set(n)] + sorted((set(b) | set(n)) - set(order))
        table = pd.crosstab(b, n).reindex(index=order, columns=order, fill_value=0)
        entry = {"labels": order, "matrix": table.to_numpy().astype(int).tolist(),
                 "stayed": int(np.trace(table.to_numpy())), "moved": int(table.to_numpy().sum() - np.trace(table.to_numpy()))}
        if col == "value_tier" and tiers:
            rank = {name: i for i, name in enumerate(order)}  # tiers listed from the top
            rb, rn = b.map(rank), n.map(rank)
            entry["upgraded"] = int((rn < rb).sum())
            entry["downgraded"] = int((rn > rb).sum())
        result[col] = entry
    return result


# --------------------------------------------------------------------------------------------
# the step


def monitor_snapshot(model: Any, frame: pd.DataFrame, *, reference: dict[str, Any], limits: MonitorLimits,
                     where: str = "the feature table") -> dict[str, Any]:
    """Everything the report shows, as a JSON-able dict (aggregates only), with ``breaches``."""
    from pipelines.scoring import score_frame

    if len(frame) < limits.min_rows:
        raise InputError(f"{where}: {len(frame)} rows; monitoring needs at least {limits.min_rows} "
                         "(min_rows in conf/monitor.yaml)")
    scores = score_frame(model, frame, where=where)
    features = compare_distributions(reference["features"], frame)
    outputs = compare_distributions(reference["outputs"], scores)
    performance = realised_performance(model, frame, scores)
    moves = migration(model, reference, scores) if model.task == "segment" else None
    breaches: list[str] = []
    for row in features:
        row["status"] = "stable"
        if limits.psi_feature_warn is not None and row["psi"] > limits.psi_feature_warn:
            row["status"] = "shift"
        if limits.psi_feature_max is not None and row["psi"] > limits.psi_feature_max:
            row["status"] = "drift"
            breaches.append(f"input {row['column']} PSI {row['psi']:.3f} > {limits.psi_feature_max}")
        if limits.missing_shift_max is not None and abs(row["missing_shift"]) > limits.missing_shift_max:
            row["status"] = "drift"
            breaches.append(f"input {row['column']} missing share {row['missing_reference']:.1%} → "
                            f"{row['missing_now']:.1%} (limit ±{limits.missing_shift_max:.0%})")
    for row in outputs:
        row["status"] = "stable"
        if limits.psi_feature_warn is not None and row["psi"] > limits.psi_feature_warn:
            row["status"] = "shift"
        if limits.psi_score_max is not None and row["psi"] > limits.psi_score_max:
            row["status"] = "drift"
            breaches.append(f"output {row['column']} PSI {row['psi']:.3f} > {limits.psi_score_max}")
    if performance.get("measured"):
        drop = performance.get("roc_auc_drop")
        if drop is not None and limits.roc_auc_drop_max is not None and drop > limits.roc_auc_drop_max:
            breaches.append(f"realised ROC-AUC {performance['metrics']['roc_auc']:.3f} is {drop:.3f} below the "
                            f"held-out one (limit {limits.roc_auc_drop_max})")
        drop = performance.get("qini_drop")
        if drop is not None and limits.qini_drop_max is not None and drop > limits.qini_drop_max:
            breaches.append(f"realised Qini is {drop:.3f} below the held-out one (limit {limits.qini_drop_max})")
    return {"model": model.info(), "task": model.task, "rows": int(len(frame)),
            "reference": {"run_id": reference.get("run_id"), "rows": reference.get("n_rows"),
                          "table_digest": reference.get("table_digest")},
            "limits": limits.model_dump(), "features": features, "outputs": outputs,
            "performance": performance, "migration": moves, "breaches": breaches,
            "n_drifted": sum(r["status"] == "drift" for r in features),
            "n_shifted": sum(r["status"] == "shift" for r in features)}


def run_monitor(*, model_uri: str, data: str | Path, out: str | Path, json_out: str | Path | None = None,
                limits_path: str | Path | None = None) -> dict[str, Any]:
    """``kequn monitor``: write ``out/monitor_report.{html,json}`` and the plots; return the report.

    Raises
    ------
    LimitBreached
        After writing everything, when a limit is breached (exit code 6).
    """
    from experiments.data import load_training_table, table_digest
    from kequn.io import atomic_dir, write_json
    from pipelines.scoring import load_verified_model, parse_model_uri

    started = time.perf_counter()
    out, data = Path(out), Path(data)
    limits = load_limits(limits_path)
    parse_model_uri(model_uri)
    with console.stage(f"verify and load {model_uri}") as st:
        model = load_verified_model(model_uri)
        reference = load_reference(model)
        st.done(f"{model.label}, reference of {reference.get('n_rows')} training rows")
    with console.stage(f"read {data}") as st:
        frame, lineage = load_training_table(data)
        digest = table_digest(frame)
        st.done(f"{len(frame):,} rows, digest {digest}")
    with console.stage("compare with the training reference") as st:
        report = monitor_snapshot(model, frame, reference=reference, limits=limits, where=str(data))
        report["snapshot"] = {"file": data.name, "digest": digest, "snapshot": lineage.extra.get("snapshot"),
                              "manifest_id": lineage.manifest_id}
        report["created"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        report["exit_code"] = EXIT_BREACH if report["breaches"] else 0
        st.done(f"{len(report['breaches'])} limit(s) breached")
    from experiments._html import json_safe

    report = json_safe(report)
    with console.stage(f"write {out}") as st, atomic_dir(out, marker=f"{REPORT_STEM}.json") as tmp:
        plots = monitor_plots(report)
        for name, png in plots.items():
            (tmp / name).write_bytes(png)
        (tmp / f"{REPORT_STEM}.html").write_text(render_report(report, plots), encoding="utf-8")
        (tmp / f"{REPORT_STEM}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n",
                                                 encoding="utf-8")
        st.done(f"{REPORT_STEM}.html, {REPORT_STEM}.json, {len(plots)} plots")
    if json_out:
        write_json(json_out, report)
    report["summary"] = _summary(report, out, time.perf_counter() - started)
    return report


def _summary(report: dict[str, Any], out: Path, seconds: float) -> str:
    worst = report["features"][:3]
    lines = [f"monitor {report['model']['name']} v{report['model']['version']} on {report['snapshot']['file']} "
             f"({report['rows']:,} rows) in {seconds:.1f} s → {out / (REPORT_STEM + '.html')}",
             f"  inputs: {report['n_drifted']} drifted, {report['n_shifted']} shifted of {len(report['features'])}; "
             "largest PSI " + ", ".join(f"{r['column']} {r['psi']:.3f}" for r in worst)]
    lines += [f"  output {r['column']}: PSI {r['psi']:.3f}" for r in report["outputs"]]
    perf = report["performance"]
    if perf.get("measured"):
        lines.append("  realised: " + ", ".join(f"{k} {v:.3f}" for k, v in perf["metrics"].items() if v is not None))
    else:
        lines.append(f"  realised performance: not measured ({perf.get('why')})")
    moves = report.get("migration")
    if moves and moves.get("available") and "value_tier" in moves:
        tier = moves["value_tier"]
        lines.append(f"  value tier: {tier.get('upgraded', 0):,} upgraded, {tier.get('downgraded', 0):,} downgraded, "
                     f"{tier['stayed']:,} stayed; segment: {moves['segment']['moved']:,} moved")
    elif moves:
        lines.append(f"  migration: not available ({moves.get('why')})")
    lines.append("  limits: " + ("breached: " + "; ".join(report["breaches"]) if report["breaches"] else "all within"))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# plots and HTML


def monitor_plots(report: dict[str, Any]) -> dict[str, bytes]:
    """PNG plots: PSI per input, each output's distribution, the most shifted inputs, migration."""
    import matplotlib.pyplot as plt

    from experiments.plots import png_bytes

    plots: dict[str, bytes] = {}
    feats = report["features"][:25]
    if feats:
        fig, ax = plt.subplots(figsize=(7, max(2.5, 0.28 * len(feats) + 1)))
        names = [r["column"] for r in feats][::-1]
        values = [r["psi"] for r in feats][::-1]
        colors = ["#c0392b" if r["status"] == "drift" else "#e67e22" if r["status"] == "shift" else "#2e86c1"
                  for r in feats][::-1]
        ax.barh(names, values, color=colors)
        for limit, style in ((report["limits"].get("psi_feature_warn"), ":"), (report["limits"].get("psi_feature_max"), "--")):
            if limit is not None:
                ax.axvline(limit, color="grey", linestyle=style)
        ax.set(xlabel="PSI", title="PSI per model input (largest 25)")
        plots["psi_features.png"] = png_bytes(fig)
    for row in [*report["outputs"], *report["features"][:4]]:
        prefix = "output" if row in report["outputs"] else "input"
        fig, ax = plt.subplots(figsize=(7, 3.2))
        x = np.arange(len(row["bins"]))
        ax.bar(x - 0.2, row["reference_shares"], width=0.4, label="training reference")
        ax.bar(x + 0.2, row["new_shares"], width=0.4, label="new snapshot")
        ax.set_xticks(x, row["bins"], rotation=45, ha="right", fontsize=7)
        ax.set(ylabel="share", title=f"{prefix} {row['column']} (PSI {row['psi']:.3f})")
        ax.legend(fontsize=8)
        plots[f"{prefix}_{_safe(row['column'])}.png"] = png_bytes(fig)
    moves = report.get("migration") or {}
    for col in ("value_tier", "segment"):
        if moves.get("available") and col in moves and moves[col]["matrix"]:
            m = np.asarray(moves[col]["matrix"], dtype=float)
            fig, ax = plt.subplots(figsize=(4.8, 4.2))
            ax.imshow(m, cmap="Blues")
            labels = moves[col]["labels"]
            ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(len(labels)), labels, fontsize=8)
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7)
            ax.set(xlabel="new snapshot", ylabel="training snapshot", title=f"{col} migration")
            plots[f"migration_{col}.png"] = png_bytes(fig)
    return plots


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def render_report(report: dict[str, Any], plots: dict[str, bytes]) -> str:
    """The self-contained HTML report (Jinja template, autoescape on, plots inlined)."""
    import jinja2

    from experiments._html import data_uri, fmt

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["pct"] = lambda value, spec=".1%": fmt(value, spec)
    images = {name: data_uri(png) for name, png in plots.items()}
    return env.get_template(f"{REPORT_STEM}.html.j2").render(r=report, images=images)
