"""``kequn train --dp-epsilon E``: a differentially private logistic regression for churn/propensity.

The model is fitted by objective perturbation (Chaudhuri, Monteleoni & Sarwate 2011), as
diffprivlib's ``LogisticRegression`` does it: diffprivlib's ``_logistic_regression_path`` adds
noise drawn by its ``Vector`` mechanism to the regularised logistic loss, then minimises it. The
guarantee is ε-differential privacy (δ = 0) of the coefficients with respect to one customer's
row, *provided every row's L2 norm is at most the data norm*. The data norm is not measured on
the data (that would leak); it follows from clipping:

- numeric features are median-imputed, standardised and clipped to ``[-clip, clip]``
  (:data:`CLIP`, 2 standard deviations by default);
- each categorical feature is one-hot encoded over its levels seen at least
  :data:`MIN_LEVEL_COUNT` times (an unseen level is all zeros), so it adds at most 1 to the
  squared norm;
- hence every row's norm is at most ``bound = sqrt(n_numeric * clip**2 + n_categorical)``; the
  design is divided by that bound, so ``data_norm = 1`` (the setting of Chaudhuri et al.; rows are
  also clipped to it, which then changes nothing).

Dividing by the bound rather than passing ``data_norm = bound`` matters: diffprivlib spends
``2 log(1 + data_norm / (4 / C))`` of ε on the regulariser, which with a norm of ~20 is more than
ε = 3 itself. :data:`CLIP` = 2 and :data:`C` = 0.05 were chosen on the synthetic bank's churn table
(bench/RESULTS.md, model privacy section), a non-private choice made once, not per run.

What ε does not cover: the preprocessing statistics (medians, means, standard deviations and the
list of category levels) are computed on the training part without noise, and so is the
held-out split. They are aggregates over thousands of customers, but they are not
differentially private; neither is the choice of ε after seeing utility.

The utility cost is measured against the same model without privacy: scikit-learn's
``LogisticRegression`` with the same ``C`` on the same clipped design matrix, scored on the same
held-out rows: ``dp_utility_cost_roc_auc = dp_baseline_test_roc_auc - dp_test_roc_auc``.

Run record: params ``dp_epsilon``, ``dp_delta``, ``dp_clip``, ``dp_data_norm``, ``dp_mechanism``,
``dp_C``; metrics ``test_*`` (the DP model, so gates and the registry judge the shipped model),
``dp_test_roc_auc``, ``dp_baseline_test_roc_auc``, ``dp_utility_cost_roc_auc``, ``dp_epsilon``
and the membership-inference audit (:mod:`experiments.model_privacy`).
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from kequn import console
from kequn.errors import TrainingError

__all__ = ["CLIP", "ClippedDesign", "DPScorer", "fit_dp_logistic", "train_dp", "train_tracked_dp"]

CLIP = 2.0
C = 0.05
MIN_LEVEL_COUNT = 5
MECHANISM = "objective perturbation (diffprivlib Vector mechanism, Chaudhuri et al. 2011), delta 0"


def _diffprivlib_path() -> Any:
    """diffprivlib's private logistic-regression solver.

    diffprivlib 0.6.6 imports names that scikit-learn 1.8 removed from ``sklearn.tree._tree``
    (``DTYPE``, ``DOUBLE``: float32/float64, used only by its random forest) and its
    ``LogisticRegression`` class passes ``multi_class`` to scikit-learn's, which 1.8 no longer
    accepts. Only the solver function is used here; the two names are restored when absent so
    the package imports (their historical values; nothing of ours reads them).
    """
    try:
        import sklearn.tree._tree as tree_module

        for name, value in (("DTYPE", np.float32), ("DOUBLE", np.float64)):
            if not hasattr(tree_module, name):
                setattr(tree_module, name, value)
        from diffprivlib.models.logistic_regression import _logistic_regression_path
    except ImportError as exc:
        raise TrainingError("--dp-epsilon needs diffprivlib (pip install 'kequn[dp]'). "
                            f"Got {type(exc).__name__} on import") from None
    return _logistic_regression_path


class ClippedDesign:
    """Numeric: impute, standardise, clip to ``[-clip, clip]``; categorical: one-hot of frequent levels.

    Rows are divided by :attr:`bound` (the largest norm a clipped row can have), so their norm is at
    most :attr:`data_norm` = 1 by construction (module docstring).
    """

    def __init__(self, *, numeric: list[str], categorical: list[str], clip: float = CLIP) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.clip = clip

    def fit(self, X: pd.DataFrame) -> ClippedDesign:
        num = X[self.numeric].apply(pd.to_numeric, errors="coerce").astype("float64")
        self.median_ = num.median().fillna(0.0)
        filled = num.fillna(self.median_)
        self.mean_ = filled.mean()
        self.std_ = filled.std(ddof=0).replace(0.0, 1.0).fillna(1.0)
        self.levels_ = {}
        for col in self.categorical:
            counts = X[col].astype("string").value_counts()
            self.levels_[col] = [str(v) for v in counts.index[counts >= MIN_LEVEL_COUNT]]
        return self

    @property
    def bound(self) -> float:
        """Largest norm of a clipped, one-hot row before scaling."""
        return max(math.sqrt(len(self.numeric) * self.clip ** 2 + len(self.categorical)), 1e-12)

    @property
    def data_norm(self) -> float:
        return 1.0

    @property
    def n_columns(self) -> int:
        return len(self.numeric) + sum(len(v) for v in self.levels_.values())

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        num = X[self.numeric].apply(pd.to_numeric, errors="coerce").astype("float64").fillna(self.median_)
        parts = [((num - self.mean_) / self.std_).clip(-self.clip, self.clip).to_numpy()]
        for col in self.categorical:
            values = X[col].astype("string").to_numpy(dtype=object)
            levels = np.asarray(self.levels_[col], dtype=object)
            parts.append((values[:, None] == levels[None, :]).astype("float64") if len(levels)
                         else np.zeros((len(X), 0)))
        return (np.hstack(parts) if parts else np.zeros((len(X), 0))) / self.bound


def fit_dp_logistic(Z: np.ndarray, y: np.ndarray, *, epsilon: float, data_norm: float, seed: int,
                    c: float = C) -> tuple[np.ndarray, float]:
    """ε-DP logistic regression coefficients and intercept (diffprivlib's solver, rows clipped to the norm)."""
    path = _diffprivlib_path()
    from diffprivlib.validation import clip_to_norm

    Z = clip_to_norm(np.ascontiguousarray(Z, dtype=float), data_norm)
    with warnings.catch_warnings():  # diffprivlib passes scipy's deprecated iprint; convergence notes
        warnings.simplefilter("ignore")
        coefs, _, _ = path(Z, np.asarray(y, dtype=float), epsilon=epsilon, data_norm=data_norm, Cs=[c],
                           fit_intercept=True, max_iter=200, tol=1e-4, random_state=seed, check_input=True)
    return coefs[0][:-1], float(coefs[0][-1])


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(v, -35, 35)))


class DPScorer(PythonModel):
    """pyfunc model: clean table in, positive-class score of the DP logistic regression out."""

    def __init__(self, spec: Any, design: ClippedDesign, coef: np.ndarray, intercept: float) -> None:
        self.spec, self.design = spec, design
        self.coef, self.intercept = np.asarray(coef, dtype=float), float(intercept)

    def scores_of_features(self, X: pd.DataFrame) -> np.ndarray:
        return _sigmoid(self.design.transform(X) @ self.coef + self.intercept)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return self.scores_of_features(self.spec.transform(pd.DataFrame(model_input)))


def train_dp(prepared: Any, *, task: str, frame: pd.DataFrame, digest: str, epsilon: float, seed: int,
             tracker: Any = None, clip: float = CLIP) -> dict[str, Any]:
    """Fit, evaluate, audit and (with ``tracker``) log the DP model; returns ``metrics`` and ``summary``."""
    from sklearn.linear_model import LogisticRegression

    from experiments import evaluation
    from experiments.binary import EVAL_LABEL, TEST_SHARE, _fairness, split
    from experiments.model_privacy import audit_membership, summary_line

    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise TrainingError(f"--dp-epsilon must be a positive number. Got {epsilon}")
    _diffprivlib_path()
    y = prepared.y.to_numpy(dtype=int)
    train_idx, test_idx = split(prepared, seed)
    X = prepared.X
    numeric = [c for c in prepared.feature_names if c not in prepared.spec.categories]
    design = ClippedDesign(numeric=numeric, categorical=list(prepared.categorical), clip=clip).fit(X.iloc[train_idx])
    Z = design.transform(X)
    norm = design.data_norm

    with console.stage(f"differentially private logistic regression, epsilon {epsilon:g}") as st:
        coef, intercept = fit_dp_logistic(Z[train_idx], y[train_idx], epsilon=epsilon, data_norm=norm, seed=seed)
        scorer = DPScorer(prepared.spec, design, coef, intercept)
        scores = _sigmoid(Z[test_idx] @ coef + intercept)
        plain = LogisticRegression(C=C, max_iter=2000).fit(Z[train_idx], y[train_idx])
        plain_scores = plain.predict_proba(Z[test_idx])[:, 1]
        metrics = evaluation.binary_metrics(y[test_idx], scores)
        base = evaluation.binary_metrics(y[test_idx], plain_scores, prefix="dp_baseline_test_")
        metrics.update(base)
        metrics["dp_test_roc_auc"] = metrics["test_roc_auc"]
        metrics["dp_utility_cost_roc_auc"] = base["dp_baseline_test_roc_auc"] - metrics["test_roc_auc"]
        metrics["dp_epsilon"] = float(epsilon)
        st.done(f"held-out ROC-AUC {metrics['test_roc_auc']:.4f} vs {base['dp_baseline_test_roc_auc']:.4f} "
                f"without privacy (cost {metrics['dp_utility_cost_roc_auc']:.4f})")

    with console.stage("model privacy: membership-inference audit") as st:
        def fit_predict(rows_in: np.ndarray, rows: np.ndarray) -> np.ndarray:
            w, b = fit_dp_logistic(Z[rows_in], y[rows_in], epsilon=epsilon, data_norm=norm, seed=seed + 1)
            return _sigmoid(Z[rows] @ w + b)

        metrics.update(audit_membership(members=train_idx, nonmembers=test_idx, target=y.astype(float),
                                        kind="binary", predict=lambda rows: _sigmoid(Z[rows] @ coef + intercept),
                                        fit_predict=fit_predict, seed=seed))
        st.done(summary_line(metrics))

    params = {"task": task, "model": "dp_logistic_regression", "label": prepared.label, "positive": prepared.positive,
              "seed": seed, "test_split_seed": seed, "test_share": TEST_SHARE, "n_rows": len(X),
              "n_train": len(train_idx), "n_test": len(test_idx), "n_features": len(prepared.feature_names),
              "id_column": prepared.id_col or "none", "table_digest": digest, "dp_epsilon": epsilon,
              "dp_delta": 0, "dp_clip": f"numeric features standardised and clipped to [-{clip:g}, {clip:g}] sd; "
                                        f"categories one-hot; rows divided by the bound {design.bound:.3f}",
              "dp_data_norm": round(norm, 6),
              "dp_mechanism": MECHANISM, "dp_C": C, "dp_design_columns": design.n_columns}
    summary = [f"{task}: differentially private logistic regression (epsilon {epsilon:g}, clip {clip:g} sd) "
               f"held-out ROC-AUC {metrics['test_roc_auc']:.4f}, PR-AUC {metrics['test_pr_auc']:.4f}",
               f"same model without privacy: ROC-AUC {metrics['dp_baseline_test_roc_auc']:.4f}; utility cost "
               f"{metrics['dp_utility_cost_roc_auc']:.4f}",
               summary_line(metrics), *prepared.summary_lines()]
    if tracker is None:
        return {"metrics": metrics, "summary": summary}

    with console.stage("logging the run to MLflow") as st:
        import mlflow

        from experiments.model import signature_frame
        from experiments.packaging import model_env
        from experiments.signature import score_signature

        threshold = evaluation.top_decile_threshold(scores)
        tracker.log_params({**params, "operating_threshold": round(threshold, 6),
                            "operating_threshold_rule": "score at the top-decile cut (top 10% contacted)"})
        tracker.set_tags({"kequn.dp_epsilon": f"{epsilon:g}"})
        tracker.log_metrics(metrics)
        metrics.update(_fairness(pd.Series(y[test_idx]), scores, prepared.sensitive.iloc[test_idx], threshold))
        with tempfile.TemporaryDirectory(prefix="kequn-train-dp-") as tmp:
            out = Path(tmp)
            held_out = frame.loc[X.index[test_idx]]
            eval_cols = list(prepared.feature_names) + [c for c in prepared.sensitive.columns
                                                        if c not in prepared.feature_names]
            test_set = held_out[eval_cols].reset_index(drop=True).copy()
            test_set[EVAL_LABEL] = y[test_idx]
            (out / "eval").mkdir()
            test_set.to_parquet(out / "eval" / "test_set.parquet", index=False)
            (out / "dp").mkdir()
            (out / "dp" / "dp_record.json").write_text(json.dumps(
                {"epsilon": epsilon, "delta": 0, "mechanism": MECHANISM, "clip": clip, "data_norm": norm,
                 "row_bound_before_scaling": design.bound,
                 "C": C, "numeric_features": numeric, "categorical_features": list(prepared.categorical),
                 "dp_test_roc_auc": metrics["test_roc_auc"],
                 "baseline_test_roc_auc": metrics["dp_baseline_test_roc_auc"],
                 "utility_cost_roc_auc": metrics["dp_utility_cost_roc_auc"],
                 "not_covered": "preprocessing statistics (medians, means, sds, category levels) and the split"},
                indent=2), encoding="utf-8")
            tracker.log_artifacts(out)
            example = signature_frame(prepared.spec, X.iloc[train_idx], frame)
            mlflow.pyfunc.log_model(name="model", python_model=scorer, input_example=example,
                                    signature=score_signature(example, list(prepared.spec.features)),
                                    **model_env(scorer))
        st.done(f"run {tracker.run_id}")
    return {"metrics": metrics, "summary": summary}


def train_tracked_dp(prepared: Any, *, task: str, frame: pd.DataFrame, lineage: Any, data: Path, digest: str,
                     epsilon: float, experiment: str | None, seed: int) -> dict[str, Any]:
    """The DP model inside the one parent MLflow run (:func:`experiments.runs.training_run`)."""
    from experiments.binary import require_binary
    from experiments.runs import training_run

    require_binary(prepared, task)
    with training_run(task, experiment, lineage, seed=seed, digest=digest, frame=frame, path=data,
                      label=prepared.label, exclude=[c for c, why in prepared.excluded.items() if why != "label"
                                                     and c not in prepared.sensitive.columns]) as logger:
        result = train_dp(prepared, task=task, frame=frame, digest=digest, epsilon=epsilon, seed=seed,
                          tracker=logger)
        run_id = logger.run_id
    summary = "\n".join([*result["summary"], f"MLflow run {run_id} (experiment {logger.experiment_name})"])
    return {"run_id": run_id, "metrics": result["metrics"], "summary": summary}
