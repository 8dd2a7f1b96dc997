"""Churn and propensity: candidate families compared by cross-validation, the winner shipped, one MLflow run.

:func:`train_binary` runs the whole experiment on a :class:`~experiments.data.Prepared` table:

1. a stratified held-out test split (:data:`TEST_SHARE`, seeded); the encoder's category lists
   are then refit on the training part only (:func:`experiments.data.fit_on_training_part`);
2. a logistic-regression baseline (impute + scale numbers, one-hot categories;
   :class:`experiments.model.LogisticModel`), cross-validated on the training part;
3. an Optuna search over XGBoost (:mod:`experiments.tuning`) cross-validated on the same folds,
   each trial a nested MLflow run under the study's parent run;
4. the model choice (:mod:`experiments.choice`): both families scored on the same folds of the
   training part, the higher mean CV ROC-AUC shipped (ties to the baseline); both are logged
   (``logistic_cv_roc_auc``, ``xgboost_cv_roc_auc``, ``baseline_test_*``, ``xgboost_test_*``;
   ``test_*`` and param ``shipped_family`` are the shipped model's);
5. held-out evaluation (:mod:`experiments.evaluation`), plots, fairness (when
   :mod:`experiments.fairness` is present), the HTML report and the pyfunc model.

Class imbalance: XGBoost weights positives by ``scale_pos_weight`` (negatives / positives in
the training part) and the baseline uses ``class_weight="balanced"`` (the same ratio). Weighting
multiplies the fitted odds by that ratio, so both models' scores are mapped back by dividing the
odds by it (:func:`experiments.model.undo_class_weight`, also applied by the logged model): the
scores are calibrated probabilities (Brier, reliability curve) and rankings are unchanged.

The operating threshold (param ``operating_threshold``) is the score at the top-decile cut of
the shipped family's out-of-fold scores on the training part (never the held-out scores):
marketing contacts the top 10% of customers, so fairness and the report judge the model at the
decision it is used for, not at an arbitrary 0.5.

The held-out rows are logged by reference only (``eval/heldout_ref.json``, see
:mod:`experiments.heldout`: the table's SHA-256 and the rows' positions, no row content), so a
champion model can be re-scored on exactly the same rows at ``publish`` (param
``test_split_seed``) without customer rows in the artifact store.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments import evaluation, plots
from experiments.choice import (
    FAMILIES,
    FAMILY_LABELS,
    choose,
    cross_validate,
    fit_family,
    predict_family,
)
from experiments.data import CV_FOLDS, Prepared, fit_on_training_part
from experiments.model import undo_class_weight
from experiments.tuning import (
    cv_folds,
    scale_pos_weight,
    study_key,
    study_name,
    tune_xgboost,
)
from kequn import console
from kequn.errors import TrainingError
from kequn.lineage import Lineage

TEST_SHARE = 0.2
EVAL_LABEL = "_label"


def split(prepared: Prepared, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and held-out rows (stratified on the label)."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(prepared.X))
    train_idx, test_idx = train_test_split(positions, test_size=TEST_SHARE, random_state=seed,
                                           stratify=prepared.y.to_numpy())
    return np.sort(train_idx), np.sort(test_idx)


def train_binary(prepared: Prepared, *, task: str, lineage: Lineage, frame: pd.DataFrame, data_path: Path,
                 digest: str, trials: int, timeout: float | None, seed: int,
                 tracker: Any = None, positive: str | None = None, workers: int = 1) -> dict[str, Any]:
    """Run the experiment; log it to the parent run through ``tracker`` (see module docstring).

    Parameters
    ----------
    prepared:
        Output of :func:`experiments.data.prepare` with a 0/1 target.
    lineage, frame, data_path, digest:
        The table's lineage, the loaded table, its path and :func:`experiments.data.table_digest`.
    trials, timeout, seed:
        Optuna bounds and the seed of the split, folds, sampler and XGBoost.
    positive:
        The ``--positive`` value as given (``None``: the label is 0/1-like); recorded in the
        held-out reference so that ``publish`` reads the label the same way.
    workers:
        Tuning processes sharing one Optuna study (:mod:`experiments.workers`); 1 tunes here.
    tracker:
        :class:`experiments.runs.RunLogger` of the active parent run; ``None`` computes
        everything (plots and report included) without logging to MLflow (used by the
        tracking-overhead benchmark).

    Returns
    -------
    dict
        ``metrics`` (held-out, baseline, CV), ``summary`` lines, ``best_params`` and what the
        training part decided: ``shipped_family``, ``operating_threshold``, ``feature_spec``.
    """
    y = prepared.y
    train_idx, test_idx = split(prepared, seed)
    # the category lists come from the training part only (a level seen only in test is unknown)
    prepared = fit_on_training_part(prepared, frame, train_idx)
    X_tr, X_te = prepared.X.iloc[train_idx], prepared.X.iloc[test_idx]
    y_tr, y_te = y.iloc[train_idx], y.iloc[test_idx]
    spw = scale_pos_weight(y_tr)
    params_logged = {
        "task": task, "label": prepared.label, "positive": prepared.positive, "seed": seed,
        "test_split_seed": seed, "test_share": TEST_SHARE, "cv_folds": CV_FOLDS, "trials": trials,
        "timeout": timeout, "n_features": len(prepared.feature_names), "n_categorical": len(prepared.categorical),
        "n_rows": len(prepared.X), "n_train": len(train_idx), "n_test": len(test_idx),
        "dropped_rows_missing_label": prepared.dropped_rows, "scale_pos_weight": round(spw, 4),
        "id_column": prepared.id_col or "none", "table_digest": digest,
        "candidate_families": ",".join(FAMILIES),
    }
    if workers > 1:
        from experiments.tuning import STORAGE_ENV
        from experiments.workers import storage_kind

        params_logged.update({"tuning_workers": min(workers, trials),
                              "optuna_storage": storage_kind(os.environ.get(STORAGE_ENV, "").strip())})
    if tracker is not None:
        tracker.log_params(params_logged)
    folds = cv_folds(y_tr, CV_FOLDS, seed)

    with console.stage("baseline: logistic regression") as st:
        cv = {"logistic": cross_validate("logistic", X_tr, y_tr, folds, seed=seed)}
        baseline = fit_family("logistic", X_tr, y_tr, seed=seed)
        base_scores = undo_class_weight(predict_family(baseline, X_te), spw)
        base_metrics = evaluation.binary_metrics(y_te, base_scores, prefix="baseline_test_")
        st.done(f"CV ROC-AUC {cv['logistic'].mean:.4f}, held-out {base_metrics['baseline_test_roc_auc']:.4f}")

    on_workers = f" on {workers} workers" if workers > 1 else ""
    with console.stage(f"tuning XGBoost: up to {trials} Optuna trials{on_workers}") as st:
        t0 = time.perf_counter()
        tune = tune_xgboost
        if workers > 1:
            from experiments.workers import tune_parallel

            tune = functools.partial(tune_parallel, workers=workers)
        result = tune(X_tr, y_tr, seed=seed, trials=trials, timeout=timeout, n_folds=CV_FOLDS,
                      name=study_name(task, digest, seed), key=study_key(task, digest, seed),
                      on_trial=tracker.trial_callback if tracker is not None else None)
        tuning_seconds = time.perf_counter() - t0
        st.done(f"{result.n_trials} trials ({result.n_pruned} pruned), best CV ROC-AUC {result.best_score:.4f}")

    with console.stage("model choice by cross-validation, final model, held-out evaluation") as st:
        cv["xgboost"] = cross_validate("xgboost", X_tr, y_tr, folds, seed=seed, xgb_params=result.best_params,
                                       n_estimators=result.n_estimators)
        family, reason = choose(cv)
        booster = fit_family("xgboost", X_tr, y_tr, seed=seed, xgb_params=result.best_params,
                             n_estimators=result.n_estimators)
        xgb_scores = undo_class_weight(predict_family(booster, X_te), spw)
        shipped = booster if family == "xgboost" else baseline
        scores = xgb_scores if family == "xgboost" else base_scores
        metrics = evaluation.binary_metrics(y_te, scores)
        metrics.update(evaluation.binary_metrics(y_te, xgb_scores, prefix="xgboost_test_"))
        metrics.update(base_metrics)
        for name, c in cv.items():
            metrics[f"{name}_cv_roc_auc"] = c.mean
            metrics[f"{name}_cv_roc_auc_std"] = c.std
        metrics["cv_roc_auc"] = cv[family].mean
        metrics["cv_best_roc_auc"] = result.best_score
        metrics["n_trials"] = float(result.n_trials)
        metrics["n_trials_pruned"] = float(result.n_pruned)
        metrics["tuning_seconds"] = tuning_seconds
        # chosen on the training part: the top-decile cut of the winner's out-of-fold scores
        threshold = evaluation.top_decile_threshold(cv[family].oof)
        gain = evaluation.gain_lift_table(y_te, scores)
        reliability = evaluation.reliability_table(y_te, scores)
        top_k = evaluation.top_k_table(y_te, scores)
        perm = evaluation.permutation_importance(lambda f: predict_family(shipped, f), X_te, y_te, seed=seed)
        weights = (booster.get_score(importance_type="total_gain") if family == "xgboost"
                   else baseline.importance())
        importance = evaluation.importance_table(weights, perm)
        st.done(f"shipped {FAMILY_LABELS[family]}: held-out ROC-AUC {metrics['test_roc_auc']:.4f} "
                f"(CV {cv['xgboost'].mean:.4f} XGBoost vs {cv['logistic'].mean:.4f} logistic)")

    with console.stage("model privacy: membership-inference audit") as st:
        from experiments.model_privacy import audit_family, summary_line

        metrics.update(audit_family(prepared.X, y, train_idx, test_idx, family=family, model=shipped,
                                    xgb_params=result.best_params, n_estimators=result.n_estimators,
                                    class_weight=spw, seed=seed))
        st.done(summary_line(metrics))

    best_params = {**result.best_params, "n_estimators": result.n_estimators}
    summary = [
        f"{task}: shipped {FAMILY_LABELS[family]}, held-out ROC-AUC {metrics['test_roc_auc']:.4f}, "
        f"PR-AUC {metrics['test_pr_auc']:.4f}, Brier {metrics['test_brier']:.4f}, "
        f"lift@10% {metrics['test_lift_top_decile']:.2f}",
        f"model choice: {reason}",
        f"candidates: tuned XGBoost held-out ROC-AUC {metrics['xgboost_test_roc_auc']:.4f} "
        f"(CV {cv['xgboost'].mean:.4f}), logistic regression {metrics['baseline_test_roc_auc']:.4f} "
        f"(CV {cv['logistic'].mean:.4f}); {result.n_trials} trials ({result.n_pruned} pruned), "
        f"best tuning CV ROC-AUC {result.best_score:.4f}",
        f"class balance: positive share {float(y.mean()):.1%}, scale_pos_weight {spw:.2f}",
        *prepared.summary_lines(),
    ]
    summary.append(summary_line(metrics))
    top_drivers = ", ".join(importance["feature"].head(5))
    summary.append(f"top drivers ({'gain' if family == 'xgboost' else '|standardised coefficient|'}): "
                   f"{top_drivers}")
    choice = {"family": family, "reason": reason, "cv": cv, "xgb_scores": xgb_scores}
    # what the training part decided (the held-out rows must not move any of it)
    decided = {"shipped_family": family, "operating_threshold": threshold,
               "feature_spec": prepared.spec.to_dict()}

    if tracker is None:
        with tempfile.TemporaryDirectory(prefix="kequn-train-") as tmp:
            _artifacts(Path(tmp), prepared, task, y_te, scores, base_scores, gain, reliability, top_k,
                       importance, result, metrics, best_params, spw, threshold, seed, lineage, digest,
                       len(train_idx), len(test_idx), run_id="(not tracked)", choice=choice)
        return {"metrics": metrics, "summary": summary, "best_params": best_params, **decided}

    with console.stage("logging the run to MLflow") as st:
        from experiments.model import log_binary_model


        tracker.log_params({f"best_{k}": v for k, v in best_params.items()})
        tracker.log_params({"operating_threshold": round(threshold, 6),
                            "operating_threshold_rule": "score at the top-decile cut of the shipped family's "
                                                        "out-of-fold scores on the training part (top 10% contacted)",
                            "shipped_family": family, "model_choice_rule": "highest mean CV ROC-AUC on the "
                                                                           "training part; ties go to the baseline"})
        tracker.log_metrics(metrics)
        fairness = _fairness(y_te, scores, prepared.sensitive.iloc[test_idx], threshold)
        if fairness:
            metrics.update(fairness)
        with tempfile.TemporaryDirectory(prefix="kequn-train-") as tmp:
            out = Path(tmp)
            _artifacts(out, prepared, task, y_te, scores, base_scores, gain, reliability, top_k, importance,
                       result, metrics, best_params, spw, threshold, seed, lineage, digest,
                       len(train_idx), len(test_idx), run_id=tracker.run_id, choice=choice)
            from experiments.heldout import reference, write_reference

            write_reference(out, reference(path=data_path, positions=frame.index.get_indexer(prepared.X.index[test_idx]),
                                           n_rows=len(frame), task=task, label=prepared.label, positive=positive,
                                           treatment=None, seed=seed))
            (out / "model_input").mkdir()
            (out / "model_input" / "feature_spec.json").write_text(
                json.dumps(prepared.spec.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
            tracker.log_artifacts(out)
            log_binary_model(shipped, prepared.spec, X_tr, out / "model_files", source=frame,
                             class_weight=spw)
        st.done(f"run {tracker.run_id}")
    return {"metrics": metrics, "summary": summary, "best_params": best_params, **decided}


def _fairness(y_te: pd.Series, scores: np.ndarray, sensitive: pd.DataFrame, threshold: float) -> dict[str, float]:
    """The shared fairness assessment (:mod:`experiments.fairness`) when there is something to measure."""
    from experiments.fairness import assess_and_log

    if sensitive.empty or sensitive.shape[1] == 0:
        return {}
    report = assess_and_log(y_te.to_numpy(), scores, sensitive.reset_index(drop=True), threshold=threshold)
    return dict(report.get("metrics", {})) if isinstance(report, dict) else {}


def _artifacts(out: Path, prepared: Prepared, task: str, y_te, scores, base_scores, gain, reliability, top_k,
               importance, result, metrics, best_params, spw, threshold, seed, lineage, digest,
               n_train, n_test, *, run_id: str, choice: dict[str, Any]) -> None:
    """Write tables, plots and the HTML report into ``out`` (aggregates only, no rows)."""
    from experiments.report import render_model_report, write_model_report
    from kequn.tracking import current_user

    (out / "evaluation").mkdir(parents=True, exist_ok=True)
    gain.to_csv(out / "evaluation" / "gain_lift_by_decile.csv", index=False)
    gain.to_json(out / "evaluation" / "gain_lift_by_decile.json", orient="records", indent=2)
    reliability.to_csv(out / "evaluation" / "reliability.csv", index=False)
    top_k.to_csv(out / "evaluation" / "precision_recall_top_k.csv", index=False)
    importance.to_csv(out / "evaluation" / "feature_importance.csv", index=False)
    values = [t.value if t.value is not None else None for t in result.study.trials]
    curves = {"tuned XGBoost": choice["xgb_scores"], "logistic baseline": base_scores}
    images = {
        "ROC": plots.roc_curve_plot(y_te, curves, out / "plots" / "roc.png"),
        "Precision-recall": plots.pr_curve_plot(y_te, curves, out / "plots" / "pr.png"),
        "Reliability": plots.reliability_plot(reliability, out / "plots" / "reliability.png"),
        "Cumulative gain": plots.gain_plot(gain, out / "plots" / "gain.png"),
        "Feature importance": plots.importance_plot(importance, out / "plots" / "feature_importance.png"),
        "Search history": plots.search_history_plot(values, out / "plots" / "search_history.png"),
    }
    metric_rows = [(name, metrics[f"test_{name}"], metrics[f"xgboost_test_{name}"], metrics[f"baseline_test_{name}"])
                   for name in evaluation.METRIC_NAMES]
    family = choice["family"]
    candidate_rows = [
        {"label": c.label, "cv_mean": c.mean, "cv_std": c.std, "folds": ", ".join(f"{v:.4f}" for v in c.fold_scores),
         "test_roc_auc": metrics["baseline_test_roc_auc" if name == "logistic" else "xgboost_test_roc_auc"],
         "shipped": name == family}
        for name, c in choice["cv"].items()]
    context = {
        "task": task, "label": prepared.label, "run_id": run_id, "author": current_user(),
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "manifest_id": lineage.manifest_id,
        "digest": digest, "metric_rows": metric_rows, "n_train": n_train, "n_test": n_test,
        "test_share": f"{TEST_SHARE:.0%}", "seed": seed, "positive_rate": float(prepared.y.mean()),
        "scale_pos_weight": spw, "threshold": threshold, "n_trials": result.n_trials,
        "n_pruned": result.n_pruned, "best_cv": result.best_score, "n_estimators": result.n_estimators,
        "best_params": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in best_params.items()},
        "data_lines": prepared.summary_lines(), "shipped_label": FAMILY_LABELS[family],
        "candidate_rows": candidate_rows, "choice_reason": choice["reason"], "cv_folds": CV_FOLDS,
    }
    html = render_model_report(context, gain=gain, top_k=top_k, importance=importance, images=images)
    write_model_report(out / "report" / "model_report.html", html)


def require_binary(prepared: Prepared, task: str) -> None:
    if prepared.y is None:
        raise TrainingError(f"--task {task} needs a label column")
