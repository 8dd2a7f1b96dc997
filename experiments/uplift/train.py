"""``kequn train --task uplift``: the training entry point (see :mod:`experiments.uplift`)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments import uplift_metrics as um
from experiments._html import fmt
from experiments.data import binary_values
from experiments.encoding import TableEncoder
from experiments.packaging import model_env
from experiments.uplift.arms import SMD_WARN, arms_check, check_arms
from experiments.uplift.learners import (
    DEFAULT_PARAMS,
    LEARNERS,
    _fit_classifier,
    _proba,
    default_min_child_weight,
    fit_learner,
)
from experiments.uplift.model import UpliftModel, _signature
from experiments.uplift.plots import uplift_plots
from experiments.uplift.selection import cv_qini, split, tune
from experiments.uplift.targeting import TOP_K, budget_table, profile
from kequn import console
from kequn.errors import TrainingError

__all__ = ["train_uplift"]

DEFAULT_LABEL = "response"
DEFAULT_TREATMENT = "treatment"
ID_CANDIDATES = ("customer_no", "customer_id", "cust_id", "client_id")


def _resolve_id(frame: pd.DataFrame, id_col: str | None, path) -> str | None:
    if id_col:
        if id_col not in frame.columns:
            raise TrainingError(f"{path}: --id column {id_col!r} not found")
        return id_col
    return next((c for c in ID_CANDIDATES if c in frame.columns), None)


def _sensitive(frame: pd.DataFrame, protected: list[str] | None, path) -> pd.DataFrame:
    cols = [c for c in ("gender", "age_band") if c in frame.columns]
    for col in protected or []:
        if col not in frame.columns:
            raise TrainingError(f"{path}: --protected column {col!r} not found")
        if col not in cols:
            cols.append(col)
    return frame[cols]


def _fairness(y, s, sensitive: pd.DataFrame, cut: float) -> dict[str, float]:
    """The shared fairness assessment of "selected for the campaign" (top 30% by uplift).

    ``experiments.fairness`` expects scores and threshold in [0, 1]; uplift lies in [-1, 1], so
    both are mapped by ``(u + 1) / 2``, which selects exactly the same customers.
    """
    from experiments import fairness

    if sensitive.empty:
        return {}
    score = (np.clip(s, -1.0, 1.0) + 1.0) / 2.0
    threshold = min(max((cut + 1.0) / 2.0, 0.0), 1.0)
    result = fairness.assess_and_log(np.asarray(y, dtype=int), score,
                                     sensitive.astype("string").reset_index(drop=True), threshold=threshold)
    metrics = {k: float(v) for k, v in (result.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and math.isfinite(v)}
    return metrics


def train_uplift(*, task: str = "uplift", data: str | Path, label: str | None = None, positive: str | None = None,
                 treatment: str | None = None, id_col: str | None = None, protected: list[str] | None = None,
                 trials: int = 20, timeout: float | None = None, experiment: str | None = None,
                 seed: int = 42, prepared: Any = None, frame: pd.DataFrame | None = None,
                 lineage: Any = None, digest: str | None = None) -> dict[str, Any]:
    """Train, select, tune and evaluate uplift models on a clean table; log one MLflow run.

    Parameters
    ----------
    task:
        Always ``"uplift"`` (accepted for the dispatcher's uniform call).
    data:
        Pseudonymised Parquet table (clean zone or feature table).
    label, positive:
        Response column (default ``response``) and, for a non-0/1 column, its positive value.
    treatment:
        Treatment column (default ``treatment``), 0/1.
    id_col:
        Customer id column, never a feature (default: detected).
    protected:
        Extra protected attributes for the fairness assessment.
    trials, timeout:
        Optuna trials (and time limit in seconds) for tuning the chosen learner.
    experiment, seed:
        MLflow experiment name (default ``kequn-uplift``) and random seed.
    prepared, frame, lineage, digest:
        Passed by :func:`experiments.train.run_training`: the prepared table (its feature
        selection is reused), the loaded table, its lineage and content digest. Loaded here
        when not given.

    Returns
    -------
    dict
        ``{"run_id", "metrics", "summary"}``.

    Raises
    ------
    TrainingError
        For a missing/non-binary treatment or label, an empty or tiny arm, or an arm without
        responses (one line, naming the column).
    """
    import mlflow

    from experiments.data import load_training_table, prepare
    from experiments.heldout import REFERENCE_ARTIFACT, reference, write_reference
    from experiments.runs import training_run
    from experiments.uplift.report import write_uplift_report

    if trials < 0:
        raise TrainingError(f"--trials must be at least 0. Got {trials}")
    path = Path(data)
    if frame is None or lineage is None:
        with console.stage("load clean table") as st:
            frame, lineage = load_training_table(path)
            st.done(f"{len(frame)} rows, {frame.shape[1]} columns")
    treatment = treatment or DEFAULT_TREATMENT
    label = label or DEFAULT_LABEL
    if treatment not in frame.columns:
        raise TrainingError(f"{path}: treatment column {treatment!r} not found; pass --treatment COL")
    if label not in frame.columns:
        raise TrainingError(f"{path}: label column {label!r} not found; pass --label COL")
    if treatment == label:
        raise TrainingError(f"--treatment and --label name the same column {label!r}")
    warnings: list[str] = []
    n_table_rows = len(frame)
    keep = frame[treatment].notna() & frame[label].notna()
    table_positions = np.flatnonzero(keep.to_numpy())
    if not keep.all():
        warnings.append(f"{int((~keep).sum())} rows without {treatment!r} or {label!r} were left out")
        frame = frame.loc[keep].reset_index(drop=True)
        prepared = None  # its rows no longer line up with the frame
    t_all = binary_values(frame[treatment], column=treatment, what="treatment")[0].to_numpy(dtype=int)
    y_all = binary_values(frame[label], column=label, positive=positive)[0].to_numpy(dtype=int)
    warnings += check_arms(t_all, y_all, treatment=treatment, label=label)
    id_name = _resolve_id(frame, id_col, path)
    sensitive = _sensitive(frame, protected, path)
    if prepared is None:  # the shared selection: no ids, tokens, labels, protected attributes or dates
        prepared = prepare(frame, task="uplift", label=label, positive=positive, id_col=id_name,
                           treatment=treatment, protected=list(protected or []))
    dev_idx, test_idx, folds = split(len(frame), 2 * t_all + y_all, seed)
    # one-hot levels from the development part only: a level seen only in test is unknown
    encoder = TableEncoder(columns=list(prepared.spec.features)).fit(frame.iloc[dev_idx])
    feature_frame = frame[encoder.input_columns]
    X_all = encoder.transform(feature_frame)

    arms = arms_check(X_all, t_all)
    if not arms["randomised"]:
        names = ", ".join(arms["imbalanced_features"][:5])
        warnings.append(f"the campaign does not look randomised: |SMD| > {SMD_WARN} beyond chance on "
                        f"{len(arms['imbalanced_features'])} features ({names}); uplift may be biased")

    for arm in (0, 1):
        if int(y_all[test_idx][t_all[test_idx] == arm].sum()) == 0:
            warnings.append(f"the test split has no responses in the {'treated' if arm else 'control'} "
                            "arm; its uplift metrics are unreliable")
    X = X_all.to_numpy()

    with console.stage(f"select meta-learner by Qini over {len(folds)} validation folds") as st:
        candidates = {name: cv_qini(name, X, t_all, y_all, folds, None, seed) for name in LEARNERS}
        chosen = max(candidates, key=lambda n: candidates[n])
        st.done(", ".join(f"{n} {fmt(q, '.3f')}" for n, q in candidates.items()) + f" → {chosen}")
    with console.stage(f"tune {chosen} with Optuna") as st:
        if trials > 0:
            params, best_val, n_trials = tune(chosen, X, t_all, y_all, folds, trials=trials, timeout=timeout,
                                               seed=seed)
        else:
            params = {"min_child_weight": default_min_child_weight(len(folds[0][0])), **DEFAULT_PARAMS}
            best_val, n_trials = candidates[chosen], 0
        st.done(f"{n_trials} trials, validation Qini {fmt(best_val, '.3f')}")

    fit_idx = dev_idx
    with console.stage("refit and evaluate on the held-out test split") as st:
        learner = fit_learner(chosen, X[fit_idx], t_all[fit_idx], y_all[fit_idx], params=params, seed=seed)
        model = UpliftModel(encoder, learner)
        test_frame = feature_frame.iloc[test_idx]
        yte, tte = y_all[test_idx], t_all[test_idx]
        s = model.predict_uplift(test_frame)
        treated_fit = fit_idx[t_all[fit_idx] == 1]
        response_model = _fit_classifier(X[treated_fit], y_all[treated_fit], params, seed)
        s_resp = _proba(response_model, X[test_idx])
        metrics = {
            "test_qini_auc": um.qini_coefficient(yte, tte, s),
            "test_qini_coefficient_raw": um.qini_coefficient(yte, tte, s, normalise=False),
            "test_auuc": um.auuc(yte, tte, s),
            "test_uplift_at_10": um.uplift_at_k(yte, tte, s, 0.1),
            "test_uplift_at_30": um.uplift_at_k(yte, tte, s, TOP_K),
            "test_uplift_at_50": um.uplift_at_k(yte, tte, s, 0.5),
            "test_ate": float(yte[tte == 1].mean() - yte[tte == 0].mean()),
            "test_response_model_qini_auc": um.qini_coefficient(yte, tte, s_resp),
            "test_response_model_auuc": um.auuc(yte, tte, s_resp),
            "test_response_model_uplift_at_30": um.uplift_at_k(yte, tte, s_resp, TOP_K),
            "test_sleeping_dogs_share": float((s < 0).mean()),
            "validation_qini_auc": best_val,
            "arms_treatment_share": arms["treatment_share"],
            "arms_max_abs_smd": arms["max_abs_smd"],
        }
        for name, q in candidates.items():
            metrics[f"validation_qini_auc_{name}"] = q
        dogs = s < 0
        if dogs.sum() and (tte[dogs] == 1).any() and (tte[dogs] == 0).any():
            metrics["test_sleeping_dogs_observed_uplift"] = float(yte[dogs & (tte == 1)].mean()
                                                                  - yte[dogs & (tte == 0)].mean())
        for key, value in metrics.items():
            if not math.isfinite(value):
                warnings.append(f"{key} is undefined on the test split (an arm is empty or has no "
                                "responses there); it is not logged")
        st.done(f"test Qini {fmt(metrics['test_qini_auc'], '.3f')} (response model "
                f"{fmt(metrics['test_response_model_qini_auc'], '.3f')})")
    with console.stage("model privacy: membership-inference audit") as st:
        from experiments.model_privacy import audit_uplift, summary_line

        metrics.update(audit_uplift(X, t_all, y_all, fit_idx, test_idx, learner=learner, seed=seed,
                                    fit=lambda Xs, ts, ys: fit_learner(chosen, Xs, ts, ys, params=params, seed=seed)))
        st.done(summary_line(metrics))

    deciles = um.uplift_by_decile(yte, tte, s)
    budgets = budget_table(yte, tte, s, s_resp)
    cut = float(np.sort(s)[::-1][int(math.ceil(TOP_K * len(s) - 1e-9)) - 1])
    groups = {"target_top_30": s >= cut, "sleeping_dogs": dogs}
    report = {
        "task": "uplift",
        "label": label,
        "treatment": treatment,
        "n_rows": int(len(frame)),
        "n_development": int(len(dev_idx)), "n_validation_folds": len(folds), "n_test": int(len(test_idx)),
        "chosen_learner": chosen,
        "validation_qini_auc": {k: (v if math.isfinite(v) else None) for k, v in candidates.items()},
        "params": params,
        "metrics": {k: (v if math.isfinite(v) else None) for k, v in metrics.items()},
        "arms": arms,
        "warnings": warnings,
        "deciles": deciles.to_dict(orient="records"),
        "budgets": budgets,
        "targeting": {
            "top_k_pct": int(TOP_K * 100),
            "uplift_cut": cut,
            "recommended_share": float((s > 0).mean()),
            "sleeping_dogs_share": float(dogs.mean()),
            "sleeping_dogs_count_test": int(dogs.sum()),
        },
        "profile": profile(test_frame, encoder, groups),
        "lineage": lineage.tags(),
    }

    with training_run("uplift", experiment, lineage, seed=seed, digest=digest, frame=frame, path=path,
                      label=label, exclude=[id_name] if id_name else []) as run:
        run_id = run.run_id
        mlflow.log_params({"learner": chosen, "label": label, "treatment": treatment, "positive": positive,
                           "trials": trials, "timeout": timeout, "seed": seed, "n_features": X.shape[1],
                           **{f"xgb_{k}": v for k, v in params.items()}})
        # The registry's champion comparison reads these with the held-out reference.
        mlflow.set_tags({"kequn.label": label, "kequn.treatment": treatment, "kequn.uplift_learner": chosen})
        fairness_metrics = _fairness(yte, s, sensitive.iloc[test_idx], cut)
        metrics.update(fairness_metrics)
        report["metrics"].update(fairness_metrics)
        mlflow.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            plots = uplift_plots(yte, tte, s, s_resp, deciles)
            write_uplift_report(report, plots, tmp_path / "uplift_report")
            mlflow.log_artifacts(str(tmp_path / "uplift_report"), artifact_path="uplift_report")
            # By reference only (experiments.heldout): the table's digest and the rows' positions
            # in it as read (before rows without treatment or label were left out).
            ref = reference(path=path, positions=table_positions[test_idx], n_rows=n_table_rows, task="uplift",
                            label=label, positive=positive, treatment=treatment, seed=seed)
            write_reference(tmp_path, ref)
            mlflow.log_artifact(str(tmp_path / REFERENCE_ARTIFACT), artifact_path="eval")
        mlflow.pyfunc.log_model(name="model", python_model=model,
                                signature=_signature(test_frame, encoder), **model_env(model))
        if warnings:
            mlflow.set_tag("kequn.warnings", " | ".join(warnings)[:4900])

    lines = [f"uplift run {run_id}: learner {chosen}, test Qini {fmt(metrics['test_qini_auc'], '.3f')} "
             f"(response model {fmt(metrics['test_response_model_qini_auc'], '.3f')}), AUUC "
             f"{fmt(metrics['test_auuc'], '.4f')}, uplift at 30% {fmt(metrics['test_uplift_at_30'], '.3f')}, "
             f"sleeping dogs {metrics['test_sleeping_dogs_share']:.1%} of test customers"]
    lines.append(summary_line(metrics))
    lines += [f"warning: {w}" for w in warnings]
    return {"run_id": run_id, "metrics": {k: v for k, v in metrics.items() if math.isfinite(v)},
            "summary": "\n".join(lines)}
