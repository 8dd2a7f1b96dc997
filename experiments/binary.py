"""Churn and propensity: a tuned XGBoost model against a logistic baseline, one MLflow run.

:func:`train_binary` runs the whole experiment on a :class:`~experiments.data.Prepared` table:

1. a stratified held-out test split (:data:`TEST_SHARE`, seeded);
2. a logistic-regression baseline (impute + scale numbers, impute + one-hot categories);
3. an Optuna search over XGBoost (:mod:`experiments.tuning`) cross-validated on the training
   part, each trial a nested MLflow run under the study's parent run;
4. the final booster trained on the whole training part with the best parameters;
5. held-out evaluation (:mod:`experiments.evaluation`), plots, fairness (when
   :mod:`experiments.fairness` is present), the HTML report and the pyfunc model.

Class imbalance: XGBoost weights positives by ``scale_pos_weight`` (negatives / positives in
the training part) and the baseline uses ``class_weight="balanced"`` (the same ratio). Weighting
multiplies the fitted odds by that ratio, so both models' scores are mapped back by dividing the
odds by it (:func:`experiments.model.undo_class_weight`, also applied by the logged model): the
scores are calibrated probabilities (Brier, reliability curve) and rankings are unchanged.

The operating threshold (param ``operating_threshold``) is the score at the top-decile cut of
the held-out scores: marketing contacts the top 10% of customers, so fairness and the report
judge the model at the decision it is used for, not at an arbitrary 0.5.

``eval/test_set.parquet`` holds the held-out rows' feature columns, protected attributes and
``_label`` (0/1), without the id column, so a champion model can be re-scored on exactly the
same data (param ``test_split_seed``).
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
from experiments.data import CV_FOLDS, Prepared
from experiments.model import undo_class_weight
from experiments.tuning import NTHREAD, base_params, scale_pos_weight, study_name, tune_xgboost
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


def baseline_pipeline(prepared: Prepared, seed: int) -> Any:
    """Logistic regression on imputed, scaled numbers and imputed, one-hot categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = [c for c in prepared.feature_names if c not in prepared.spec.categories]
    categorical = prepared.categorical
    as_text = FunctionTransformer(lambda f: f.astype(object).where(f.notna(), "__missing__"),
                                  feature_names_out="one-to-one")
    transformers = []
    if numeric:
        transformers.append(("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                                  StandardScaler()), numeric))
    if categorical:
        transformers.append(("cat", make_pipeline(as_text, OneHotEncoder(handle_unknown="ignore",
                                                                         min_frequency=5)), categorical))
    return Pipeline([
        ("prep", ColumnTransformer(transformers)),
        ("lr", LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)),
    ])


def _dmatrix(X: pd.DataFrame, y: pd.Series | None = None) -> Any:
    import xgboost as xgb

    return xgb.DMatrix(X, label=y, enable_categorical=True, nthread=NTHREAD)


def train_binary(prepared: Prepared, *, task: str, lineage: Lineage, frame: pd.DataFrame, data_path: Path,
                 digest: str, trials: int, timeout: float | None, seed: int,
                 tracker: Any = None, workers: int = 1) -> dict[str, Any]:
    """Run the experiment; log it to the parent run through ``tracker`` (see module docstring).

    Parameters
    ----------
    prepared:
        Output of :func:`experiments.data.prepare` with a 0/1 target.
    lineage, frame, data_path, digest:
        The table's lineage, the loaded table, its path and :func:`experiments.data.table_digest`.
    trials, timeout, seed:
        Optuna bounds and the seed of the split, folds, sampler and XGBoost.
    workers:
        Tuning processes sharing one Optuna study (:mod:`experiments.workers`); 1 tunes here.
    tracker:
        :class:`experiments.runs.RunLogger` of the active parent run; ``None`` computes
        everything (plots and report included) without logging to MLflow (used by the
        tracking-overhead benchmark).

    Returns
    -------
    dict
        ``metrics`` (held-out, baseline, CV), ``summary`` lines and ``best_params``.
    """
    import xgboost as xgb

    y = prepared.y
    train_idx, test_idx = split(prepared, seed)
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
    }
    if workers > 1:
        from experiments.tuning import STORAGE_ENV
        from experiments.workers import storage_kind

        params_logged.update({"tuning_workers": min(workers, trials),
                              "optuna_storage": storage_kind(os.environ.get(STORAGE_ENV, "").strip())})
    if tracker is not None:
        tracker.log_params(params_logged)

    with console.stage("baseline: logistic regression") as st:
        baseline = baseline_pipeline(prepared, seed).fit(X_tr, y_tr)
        # class_weight="balanced" weights positives by n_neg/n_pos relative to negatives
        base_scores = undo_class_weight(baseline.predict_proba(X_te)[:, 1], scale_pos_weight(y_tr))
        base_metrics = evaluation.binary_metrics(y_te, base_scores, prefix="baseline_test_")
        st.done(f"held-out ROC-AUC {base_metrics['baseline_test_roc_auc']:.4f}")

    on_workers = f" on {workers} workers" if workers > 1 else ""
    with console.stage(f"tuning XGBoost: up to {trials} Optuna trials{on_workers}") as st:
        t0 = time.perf_counter()
        tune = tune_xgboost
        if workers > 1:
            from experiments.workers import tune_parallel

            tune = functools.partial(tune_parallel, workers=workers)
        result = tune(X_tr, y_tr, seed=seed, trials=trials, timeout=timeout, n_folds=CV_FOLDS,
                      name=study_name(task, digest, seed),
                      on_trial=tracker.trial_callback if tracker is not None else None)
        tuning_seconds = time.perf_counter() - t0
        st.done(f"{result.n_trials} trials ({result.n_pruned} pruned), best CV ROC-AUC {result.best_score:.4f}")

    with console.stage("final model and held-out evaluation") as st:
        final_params = {**base_params(seed, spw), **result.best_params}
        booster = xgb.train(final_params, _dmatrix(X_tr, y_tr), num_boost_round=max(result.n_estimators, 1))
        scores = undo_class_weight(booster.predict(_dmatrix(X_te)), spw)
        metrics = evaluation.binary_metrics(y_te, scores)
        metrics.update(base_metrics)
        metrics["cv_best_roc_auc"] = result.best_score
        metrics["n_trials"] = float(result.n_trials)
        metrics["n_trials_pruned"] = float(result.n_pruned)
        metrics["tuning_seconds"] = tuning_seconds
        threshold = evaluation.top_decile_threshold(scores)
        gain = evaluation.gain_lift_table(y_te, scores)
        reliability = evaluation.reliability_table(y_te, scores)
        top_k = evaluation.top_k_table(y_te, scores)
        perm = evaluation.permutation_importance(lambda f: booster.predict(_dmatrix(f)), X_te, y_te, seed=seed)
        importance = evaluation.importance_table(booster.get_score(importance_type="total_gain"), perm)
        st.done(f"held-out ROC-AUC {metrics['test_roc_auc']:.4f} (baseline {metrics['baseline_test_roc_auc']:.4f})")

    best_params = {**result.best_params, "n_estimators": result.n_estimators}
    summary = [
        f"{task}: tuned XGBoost held-out ROC-AUC {metrics['test_roc_auc']:.4f}, PR-AUC {metrics['test_pr_auc']:.4f}, "
        f"Brier {metrics['test_brier']:.4f}, lift@10% {metrics['test_lift_top_decile']:.2f}",
        f"baseline (logistic regression) ROC-AUC {metrics['baseline_test_roc_auc']:.4f}; "
        f"{result.n_trials} trials ({result.n_pruned} pruned), best CV ROC-AUC {result.best_score:.4f}",
        f"class balance: positive share {float(y.mean()):.1%}, scale_pos_weight {spw:.2f}",
        *prepared.summary_lines(),
    ]
    top_drivers = ", ".join(importance["feature"].head(5))
    summary.append(f"top drivers (gain): {top_drivers}")

    if tracker is None:
        with tempfile.TemporaryDirectory(prefix="kequn-train-") as tmp:
            _artifacts(Path(tmp), prepared, task, y_te, scores, base_scores, gain, reliability, top_k,
                       importance, result, metrics, best_params, spw, threshold, seed, lineage, digest,
                       len(train_idx), len(test_idx), run_id="(not tracked)")
        return {"metrics": metrics, "summary": summary, "best_params": best_params}

    with console.stage("logging the run to MLflow") as st:
        from experiments.model import log_binary_model


        tracker.log_params({f"best_{k}": v for k, v in best_params.items()})
        tracker.log_params({"operating_threshold": round(threshold, 6),
                            "operating_threshold_rule": "score at the top-decile cut (top 10% contacted)"})
        tracker.log_metrics(metrics)
        fairness = _fairness(y_te, scores, prepared.sensitive.iloc[test_idx], threshold)
        if fairness:
            metrics.update(fairness)
        with tempfile.TemporaryDirectory(prefix="kequn-train-") as tmp:
            out = Path(tmp)
            _artifacts(out, prepared, task, y_te, scores, base_scores, gain, reliability, top_k, importance,
                       result, metrics, best_params, spw, threshold, seed, lineage, digest,
                       len(train_idx), len(test_idx), run_id=tracker.run_id)
            held_out = frame.loc[prepared.X.index[test_idx]]
            eval_cols = list(prepared.feature_names) + [c for c in prepared.sensitive.columns
                                                        if c not in prepared.feature_names]
            test_set = held_out[eval_cols].reset_index(drop=True).copy()
            test_set[EVAL_LABEL] = y_te.to_numpy()
            (out / "eval").mkdir()
            test_set.to_parquet(out / "eval" / "test_set.parquet", index=False)
            (out / "model_input").mkdir()
            (out / "model_input" / "feature_spec.json").write_text(
                json.dumps(prepared.spec.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
            tracker.log_artifacts(out)
            log_binary_model(booster, prepared.spec, X_tr, out / "model_files", source=frame,
                             class_weight=spw)
        st.done(f"run {tracker.run_id}")
    return {"metrics": metrics, "summary": summary, "best_params": best_params}


def _fairness(y_te: pd.Series, scores: np.ndarray, sensitive: pd.DataFrame, threshold: float) -> dict[str, float]:
    """The shared fairness assessment (:mod:`experiments.fairness`) when there is something to measure."""
    from experiments.fairness import assess_and_log

    if sensitive.empty or sensitive.shape[1] == 0:
        return {}
    report = assess_and_log(y_te.to_numpy(), scores, sensitive.reset_index(drop=True), threshold=threshold)
    return dict(report.get("metrics", {})) if isinstance(report, dict) else {}


def _artifacts(out: Path, prepared: Prepared, task: str, y_te, scores, base_scores, gain, reliability, top_k,
               importance, result, metrics, best_params, spw, threshold, seed, lineage, digest,
               n_train, n_test, *, run_id: str) -> None:
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
    images = {
        "ROC": plots.roc_curve_plot(y_te, {"tuned XGBoost": scores, "logistic baseline": base_scores},
                                    out / "plots" / "roc.png"),
        "Precision-recall": plots.pr_curve_plot(y_te, {"tuned XGBoost": scores, "logistic baseline": base_scores},
                                                out / "plots" / "pr.png"),
        "Reliability": plots.reliability_plot(reliability, out / "plots" / "reliability.png"),
        "Cumulative gain": plots.gain_plot(gain, out / "plots" / "gain.png"),
        "Feature importance": plots.importance_plot(importance, out / "plots" / "feature_importance.png"),
        "Search history": plots.search_history_plot(values, out / "plots" / "search_history.png"),
    }
    metric_rows = [(name, metrics[f"test_{name}"], metrics[f"baseline_test_{name}"])
                   for name in evaluation.METRIC_NAMES]
    context = {
        "task": task, "label": prepared.label, "run_id": run_id, "author": current_user(),
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "manifest_id": lineage.manifest_id,
        "digest": digest, "metric_rows": metric_rows, "n_train": n_train, "n_test": n_test,
        "test_share": f"{TEST_SHARE:.0%}", "seed": seed, "positive_rate": float(prepared.y.mean()),
        "scale_pos_weight": spw, "threshold": threshold, "n_trials": result.n_trials,
        "n_pruned": result.n_pruned, "best_cv": result.best_score, "n_estimators": result.n_estimators,
        "best_params": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in best_params.items()},
        "data_lines": prepared.summary_lines(),
    }
    html = render_model_report(context, gain=gain, top_k=top_k, importance=importance, images=images)
    write_model_report(out / "report" / "model_report.html", html)


def require_binary(prepared: Prepared, task: str) -> None:
    if prepared.y is None:
        raise TrainingError(f"--task {task} needs a label column")
