"""``kequn train --task uplift``: who to contact in a campaign, by predicted incremental response.

Three meta-learners on XGBoost (``nthread=2``) estimate the conditional average treatment
effect (CATE, "uplift") of a binary treatment on a binary response:

- ``t_learner``: one classifier per arm; uplift = P(y | x, treated) - P(y | x, control).
- ``x_learner`` (Künzel et al. 2019): arm models impute individual effects, which two
  regressors learn; blended with the treatment share as the propensity (a randomised
  campaign has a constant propensity).
- ``transformed_outcome`` (class transformation generalised to any treatment share):
  ``z = y (t - e) / (e (1 - e))`` has expectation equal to the uplift; one regressor learns it.

Selection and tuning (documented choice): 30 % of the rows are held out for the test; on the
other 70 % every learner is fitted with the same default XGBoost parameters and scored by the
normalised Qini coefficient averaged over 3 validation folds (one validation split was too
noisy to choose between learners: uplift is a small difference of two rates). The best learner
is then tuned by Optuna on the same score (``--trials``/``--timeout`` trials for the chosen
learner only, the defaults enqueued first so tuning never returns worse-than-default
parameters), refitted on the 70 % and evaluated once on the held-out test split. A plain response model (a classifier of response
among treated customers, the usual "propensity to respond" targeting) is scored on the same
test split for comparison.

Bad input never yields a silent number: a missing or non-binary treatment, an empty or tiny
arm, or an arm without responses raise :class:`~kequn.errors.TrainingError`; an arm with
few responses or arms that look non-randomised produce explicit warnings in the summary and
the report.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# OpenMP threads (XGBoost, scikit-learn) spin while idle by default: on a shared 2-core machine
# that makes nthread=2 many times slower. Set before the first OpenMP runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd
from mlflow.pyfunc import PythonModel

from experiments import uplift_metrics as um
from kequn import console
from kequn.errors import TrainingError

__all__ = [
    "LEARNERS",
    "TableEncoder",
    "UpliftModel",
    "arms_check",
    "fit_learner",
    "tracked_run",
    "train_uplift",
]

DEFAULT_LABEL = "response"
DEFAULT_TREATMENT = "treatment"
ID_CANDIDATES = ("customer_no", "customer_id", "cust_id", "client_id")
#: Fewest customers an arm may have before uplift is not estimable at all.
MIN_ARM_ROWS = 30
#: Fewer responders than this in an arm: trained, but with an explicit warning.
WARN_ARM_RESPONSES = 20
#: |standardised mean difference| above this on any feature: "not randomised" warning.
SMD_WARN = 0.1
#: Treatment share outside this range: warning (the control group is too small to trust).
SHARE_RANGE = (0.05, 0.95)
#: Top fraction reported as ``test_uplift_at_30`` and used as the fairness threshold.
TOP_K = 0.3
BUDGETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: String columns with more distinct values than this are not used as categorical features.
MAX_CATEGORIES = 30
#: Groups smaller than this are not profiled in the report (no near-individual aggregates).
MIN_PROFILE_GROUP = 10
XGB_NTHREAD = 2
#: Default XGBoost parameters of every learner. Uplift is a small difference of two noisy
#: rates, so the defaults are strongly regularised; ``min_child_weight`` (when not given) grows
#: with the training rows, see :func:`default_min_child_weight` (on the 14k-customer synthetic
#: bank this took the X-learner's test Qini from 0.027 to 0.049).
DEFAULT_PARAMS: dict[str, Any] = {
    "max_depth": 3, "learning_rate": 0.05, "n_estimators": 150,
    "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 1.0,
}
LEARNERS = ("t_learner", "x_learner", "transformed_outcome")


# --------------------------------------------------------------------------- features

@dataclass
class TableEncoder:
    """Turns a clean table into a numeric feature matrix, the same way at fit and predict time.

    Numeric and boolean columns pass through (missing stays NaN: XGBoost handles it); string
    columns with at most :data:`MAX_CATEGORIES` levels are one-hot encoded on the levels seen
    at fit; tokens (``tk_`` values), identifiers, dates and free text are never features.
    """

    exclude: tuple[str, ...] = ()
    numeric_: list[str] = field(default_factory=list)
    categories_: dict[str, list[str]] = field(default_factory=dict)
    feature_names_: list[str] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame) -> TableEncoder:
        numeric, categories = [], {}
        for col in frame.columns:
            if col in self.exclude:
                continue
            s = frame[col]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                numeric.append(col)
            elif pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s) or isinstance(
                    s.dtype, pd.CategoricalDtype):
                text = s.dropna().astype(str)
                if text.empty or text.str.startswith("tk_").any():
                    continue
                levels = text.value_counts()
                if len(levels) > MAX_CATEGORIES or len(levels) < 2:
                    continue
                categories[col] = sorted(levels.index.tolist())
        if not numeric and not categories:
            raise TrainingError("the table has no usable feature column (numeric, or text with at most "
                                f"{MAX_CATEGORIES} levels)")
        self.numeric_ = numeric
        self.categories_ = categories
        self.feature_names_ = numeric + [f"{c}={v}" for c, levels in categories.items() for v in levels]
        return self

    @property
    def input_columns(self) -> list[str]:
        """The clean-table columns the encoder reads."""
        return self.numeric_ + list(self.categories_)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self.feature_names_:
            raise RuntimeError("TableEncoder is not fitted")
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise TrainingError(f"the table lacks feature columns the model needs: {', '.join(missing[:5])}")
        parts = [frame[self.numeric_].apply(pd.to_numeric, errors="coerce").astype(float)]
        for col, levels in self.categories_.items():
            codes = pd.Categorical(frame[col].astype("object").where(frame[col].notna(), None),
                                   categories=levels).codes
            onehot = (codes[:, None] == np.arange(len(levels))[None, :]).astype(float)
            parts.append(pd.DataFrame(onehot, columns=[f"{col}={v}" for v in levels], index=frame.index))
        out = pd.concat(parts, axis=1)
        out.columns = self.feature_names_
        return out


# --------------------------------------------------------------------------- learners

def _xgb_classifier(params: dict[str, Any], seed: int):
    from xgboost import XGBClassifier

    return XGBClassifier(**params, n_jobs=XGB_NTHREAD, random_state=seed, tree_method="hist",
                         eval_metric="logloss", verbosity=0)


def _xgb_regressor(params: dict[str, Any], seed: int):
    from xgboost import XGBRegressor

    return XGBRegressor(**params, n_jobs=XGB_NTHREAD, random_state=seed, tree_method="hist", verbosity=0)


def _proba(model, X) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


class _ConstantClassifier:
    """Stands in for an arm model when an arm has only one response value in a split."""

    def __init__(self, p: float) -> None:
        self.p = float(p)

    def predict_proba(self, X) -> np.ndarray:
        return np.column_stack([np.full(len(X), 1 - self.p), np.full(len(X), self.p)])


def _fit_classifier(X, y, params, seed):
    if np.unique(y).size < 2:
        return _ConstantClassifier(float(np.mean(y)) if len(y) else 0.0)
    return _xgb_classifier(params, seed).fit(X, y)


class TLearner:
    """Two arm classifiers; uplift is the difference of their response probabilities."""

    name = "t_learner"

    def fit(self, X, t, y, params, seed):
        self.m1_ = _fit_classifier(X[t == 1], y[t == 1], params, seed)
        self.m0_ = _fit_classifier(X[t == 0], y[t == 0], params, seed)
        return self

    def predict(self, X) -> np.ndarray:
        return _proba(self.m1_, X) - _proba(self.m0_, X)


class XLearner:
    """X-learner with the training treatment share as the (constant) propensity."""

    name = "x_learner"

    def fit(self, X, t, y, params, seed):
        X1, X0, y1, y0 = X[t == 1], X[t == 0], y[t == 1], y[t == 0]
        m1 = _fit_classifier(X1, y1, params, seed)
        m0 = _fit_classifier(X0, y0, params, seed)
        self.tau1_ = _xgb_regressor(params, seed).fit(X1, y1 - _proba(m0, X1))
        self.tau0_ = _xgb_regressor(params, seed).fit(X0, _proba(m1, X0) - y0)
        self.propensity_ = float(np.mean(t))
        return self

    def predict(self, X) -> np.ndarray:
        e = self.propensity_
        return e * self.tau0_.predict(X) + (1 - e) * self.tau1_.predict(X)


class TransformedOutcome:
    """Regression on the transformed outcome ``y (t - e) / (e (1 - e))`` (class transformation)."""

    name = "transformed_outcome"

    def fit(self, X, t, y, params, seed):
        e = float(np.mean(t))
        z = y * (t - e) / (e * (1 - e))
        self.propensity_ = e
        self.model_ = _xgb_regressor(params, seed).fit(X, z)
        return self

    def predict(self, X) -> np.ndarray:
        return np.clip(self.model_.predict(X), -1.0, 1.0)


_LEARNER_CLASSES = {cls.name: cls for cls in (TLearner, XLearner, TransformedOutcome)}


def default_min_child_weight(n_rows: int) -> float:
    """``n_rows / 200`` clipped to [5, 50]: leaves need more evidence as the table grows."""
    return float(min(max(n_rows / 200.0, 5.0), 50.0))


def fit_learner(name: str, X, t, y, *, params: dict[str, Any] | None = None, seed: int = 42):
    """Fit one meta-learner by name (one of :data:`LEARNERS`) and return it."""
    if name not in _LEARNER_CLASSES:
        raise TrainingError(f"unknown uplift learner. Got {name!r}; expected one of {', '.join(LEARNERS)}")
    X = np.asarray(X, dtype=float)
    merged = {"min_child_weight": default_min_child_weight(len(X)), **DEFAULT_PARAMS, **(params or {})}
    return _LEARNER_CLASSES[name]().fit(X, np.asarray(t, dtype=int), np.asarray(y, dtype=float), merged, seed)


# MLflow warns at class creation that predict has no type hints; the signature is explicit instead.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)

    class UpliftModel(PythonModel):
        """The logged model: clean table in, predicted uplift out (an MLflow pyfunc ``PythonModel``)."""

        def __init__(self, encoder: TableEncoder, learner) -> None:
            super().__init__()
            self.encoder = encoder
            self.learner = learner

        def predict_uplift(self, frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(self.learner.predict(self.encoder.transform(frame).to_numpy()), dtype=float)

        def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
            """Predicted uplift (incremental response probability) per row."""
            return self.predict_uplift(pd.DataFrame(model_input))


# --------------------------------------------------------------------------- input checks

def _binary(series: pd.Series, *, what: str, column: str, positive: str | None) -> np.ndarray:
    """0/1 array from a binary column; raise TrainingError naming the column otherwise."""
    if series.isna().any():
        raise TrainingError(f"{what} column {column!r} has {int(series.isna().sum())} missing values; "
                            "fill or drop them first")
    if positive is not None:
        text = series.astype(str)
        if not (text == str(positive)).any():
            raise TrainingError(f"{what} column {column!r} never equals --positive. Got --positive {positive!r}")
        return (text == str(positive)).to_numpy(dtype=int)
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=int)
    numeric = pd.to_numeric(series, errors="coerce")
    levels = set(pd.unique(numeric.dropna()))
    if numeric.isna().any() or not levels <= {0, 1}:
        n = series.nunique()
        raise TrainingError(f"{what} column {column!r} is not binary 0/1 (it has {n} distinct values); "
                            + ("pass --positive VALUE" if what == "label" else "recode it to 0/1"))
    return numeric.to_numpy(dtype=int)


def check_arms(t: np.ndarray, y: np.ndarray, *, treatment: str, label: str) -> list[str]:
    """Refuse data where uplift is not estimable; return warnings for data where it is weak."""
    warnings: list[str] = []
    for arm, name in ((1, "treated"), (0, "control")):
        n = int((t == arm).sum())
        if n == 0:
            raise TrainingError(f"treatment column {treatment!r} has no {name} customers; "
                                "uplift needs both a treated and a control arm")
        if n < MIN_ARM_ROWS:
            raise TrainingError(f"treatment column {treatment!r}: the {name} arm has only {n} customers "
                                f"(at least {MIN_ARM_ROWS} needed)")
        responses = int(y[t == arm].sum())
        if responses == 0:
            raise TrainingError(f"label column {label!r} has no responses in the {name} arm; "
                                "uplift cannot be estimated")
        if responses == n:
            raise TrainingError(f"label column {label!r}: every {name} customer responded; "
                                "uplift cannot be estimated")
        if responses < WARN_ARM_RESPONSES:
            warnings.append(f"the {name} arm has only {responses} responses; uplift estimates are very noisy")
    share = float(t.mean())
    if not SHARE_RANGE[0] <= share <= SHARE_RANGE[1]:
        warnings.append(f"treatment share is {share:.1%}; one arm is very small for a campaign test")
    return warnings


def arms_check(X: pd.DataFrame, t: np.ndarray, *, alpha: float = 0.01) -> dict[str, Any]:
    """Treatment share and standardised mean differences (SMD) of every feature between arms.

    ``SMD = (mean_t - mean_c) / sqrt((var_t + var_c) / 2)``. A feature counts as imbalanced
    when ``|SMD| > SMD_WARN`` *and* the difference is beyond chance: ``|SMD| / sqrt(1/n_t +
    1/n_c)`` exceeds the two-sided normal quantile at ``alpha`` Bonferroni-corrected over the
    features (with ~50 features, a few exceed 0.1 by chance in a randomised campaign of a
    few thousand). Any imbalanced feature means "not randomised".
    """
    from scipy.stats import norm

    treated, control = X[t == 1], X[t == 0]
    pooled = np.sqrt((treated.var(ddof=1) + control.var(ddof=1)) / 2.0)
    smd = ((treated.mean() - control.mean()) / pooled.where(pooled > 0)).fillna(0.0)
    order = smd.abs().sort_values(ascending=False)
    se = math.sqrt(1.0 / max(len(treated), 1) + 1.0 / max(len(control), 1))
    z_crit = float(norm.ppf(1 - alpha / (2 * max(len(order), 1))))
    imbalanced = [c for c in order.index if order[c] > SMD_WARN and order[c] / se > z_crit]
    return {
        "treatment_share": float(np.mean(t)),
        "n_treated": int(t.sum()),
        "n_control": int((1 - t).sum()),
        "max_abs_smd": float(order.iloc[0]) if len(order) else 0.0,
        "smd_chance_bound": z_crit * se,
        "smd": {c: float(smd[c]) for c in order.index[:20]},
        "imbalanced_features": imbalanced,
        "randomised": not imbalanced,
    }


# --------------------------------------------------------------------------- data

def _load(data: str | Path):
    """Load the clean table and its lineage (the shared loader when it exists)."""
    if importlib.util.find_spec("experiments.data") is not None:
        from experiments import data as data_mod

        if hasattr(data_mod, "load_training_table"):
            return data_mod.load_training_table(data)
    from kequn.lineage import require_clean_table

    lineage = require_clean_table(data)
    return pd.read_parquet(data), lineage


def _resolve_id(frame: pd.DataFrame, id_col: str | None, path) -> str | None:
    if id_col:
        if id_col not in frame.columns:
            raise TrainingError(f"{path}: --id column {id_col!r} not found")
        return id_col
    return next((c for c in ID_CANDIDATES if c in frame.columns), None)


def _feature_columns(frame: pd.DataFrame, prepared: Any, **kwargs: Any) -> list[str]:
    """Feature columns: the shared selection of :func:`experiments.data.prepare` when available
    (no ids, tokens, labels, protected attributes or dates), else every other column."""
    if prepared is None and importlib.util.find_spec("experiments.data") is not None:
        from experiments import data as data_mod

        if hasattr(data_mod, "prepare"):
            prepared = data_mod.prepare(frame, task="uplift", **kwargs)
    if prepared is not None:
        return list(prepared.spec.features)
    skip = {kwargs.get("id_col"), kwargs.get("label"), kwargs.get("treatment")}
    return [c for c in frame.columns if c not in skip]


def _sensitive(frame: pd.DataFrame, protected: list[str] | None, path) -> pd.DataFrame:
    cols = [c for c in ("gender", "age_band") if c in frame.columns]
    for col in protected or []:
        if col not in frame.columns:
            raise TrainingError(f"{path}: --protected column {col!r} not found")
        if col not in cols:
            cols.append(col)
    return frame[cols]


@contextlib.contextmanager
def tracked_run(task: str, experiment: str | None, lineage: Any, *, seed: int, digest: str | None,
                frame: pd.DataFrame, path: Path, label: str | None, exclude: list[str]) -> Iterator[str]:
    """One MLflow run with the platform's tags (author, task, lineage, code and package versions);
    it ends FAILED when the block raises. Yields the run id.

    Uses the shared helpers of :mod:`experiments.train`.
    """
    from experiments.data import table_digest
    from experiments.train import log_dataset, parent_run, run_tags

    digest = digest or table_digest(frame)
    tags = run_tags(task, lineage, seed, digest)
    with parent_run(task, experiment, run_name=f"{task}-{digest[:8]}-seed{seed}", tags=tags) as logger:
        log_dataset(frame, path=path, lineage=lineage, digest=digest, label=label, exclude=exclude)
        yield logger.run_id


# --------------------------------------------------------------------------- training

def _split(n: int, strata: np.ndarray, seed: int, folds: int = 3):
    """Development/test split (70/30 %) and ``folds`` validation folds of the development part,
    stratified by arm x response when every stratum is large enough, else by arm only."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    if np.bincount(strata).min() < 2 * folds:
        strata = strata // 2  # the arm
    dev, test = train_test_split(np.arange(n), test_size=0.3, random_state=seed, stratify=strata)
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return dev, test, [(dev[a], dev[b]) for a, b in kfold.split(dev, strata[dev])]


def _qini(y, t, s) -> float:
    q = um.qini_coefficient(y, t, s)
    return q if math.isfinite(q) else -1.0


def _cv_qini(name: str, X, t, y, folds, params: dict[str, Any] | None, seed: int) -> float:
    """Mean normalised Qini of a learner over the validation folds (undefined folds count -1)."""
    scores = []
    for fit, val in folds:
        learner = fit_learner(name, X[fit], t[fit], y[fit], params=params, seed=seed)
        scores.append(_qini(y[val], t[val], learner.predict(X[val])))
    return float(np.mean(scores))


def _suggest(trial) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 6),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 100.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.6, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 0.1, 10.0, log=True),
    }


def _tune(name, X, t, y, folds, *, trials, timeout, seed) -> tuple[dict[str, Any], float, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mcw = default_min_child_weight(len(folds[0][0]))

    def objective(trial) -> float:
        return _cv_qini(name, X, t, y, folds, _suggest(trial), seed)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({**DEFAULT_PARAMS, "min_child_weight": mcw})
    study.optimize(objective, n_trials=max(int(trials), 1), timeout=timeout, gc_after_trial=False)
    best = {"min_child_weight": mcw, **DEFAULT_PARAMS, **study.best_params}
    return best, float(study.best_value), len(study.trials)


def _budget_table(y, t, s, s_resp) -> list[dict[str, Any]]:
    """Per budget (top k%): customers targeted, predicted and observed incremental responses."""
    rows = []
    n_all = len(y)
    order = np.argsort(-s, kind="mergesort")
    for k in BUDGETS:
        n = int(math.ceil(k * n_all - 1e-9))
        observed = um.uplift_at_k(y, t, s, k)
        observed_resp = um.uplift_at_k(y, t, s_resp, k)
        rows.append({
            "budget_pct": int(round(k * 100)),
            "customers": n,
            "predicted_incremental": float(s[order[:n]].sum()),
            "observed_uplift": observed,
            "observed_incremental": observed * n if math.isfinite(observed) else float("nan"),
            "response_model_incremental": observed_resp * n if math.isfinite(observed_resp) else float("nan"),
            "min_predicted_uplift": float(s[order[n - 1]]),
        })
    return rows


def _profile(frame: pd.DataFrame, encoder: TableEncoder, groups: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Mean of each numeric feature per group, for the features that separate the groups most."""
    X = encoder.transform(frame)
    overall_mean, overall_std = X.mean(), X.std(ddof=0).replace(0, np.nan)
    means = {g: X[mask].mean() for g, mask in groups.items() if mask.sum() >= MIN_PROFILE_GROUP}
    if not means:
        return []
    spread = sum(((m - overall_mean) / overall_std).abs().fillna(0) for m in means.values())
    rows = []
    for feat in spread.sort_values(ascending=False).index[:10]:
        rows.append({"feature": feat, "overall": float(overall_mean[feat]),
                     **{g: float(m[feat]) for g, m in means.items()}})
    return rows


def plain_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with category and text columns as plain Python strings (missing → None), the
    form MLflow's ``string`` schema type accepts (it refuses pandas ``category``)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype) \
                or pd.api.types.is_object_dtype(s.dtype):
            out[col] = s.astype("object").where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return out


def _signature(frame: pd.DataFrame, encoder: TableEncoder):
    """Input: the clean-table columns the encoder reads (no id); output: one uplift per row."""
    from experiments.signature import score_signature

    return score_signature(frame, list(encoder.input_columns))


def _plots(y, t, s, s_resp, deciles: pd.DataFrame) -> dict[str, bytes]:
    # No matplotlib.use("Agg"): headless runs fall back to Agg by themselves, and forcing it
    # would switch off inline plots in the notebook that called us.
    import matplotlib.pyplot as plt

    from experiments.plots import png_bytes

    out = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for score, name in ((s, "uplift model"), (s_resp, "response model")):
        x, q = um.qini_curve(y, t, score)
        ax.plot(x, q, label=name)
    px, pq = um.perfect_qini_curve(y, t)
    ax.plot(px, pq, ":", color="grey", label="perfect")
    x, q = um.qini_curve(y, t, s)
    ax.plot([0, 1], [0, q[-1]], "--", color="black", label="random")
    ax.set_xlabel("fraction of customers targeted")
    ax.set_ylabel("incremental responses (test set)")
    ax.set_title("Qini curve")
    ax.legend()
    out["qini_curve.png"] = png_bytes(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(deciles["decile"], deciles["observed_uplift"].fillna(0.0), label="observed")
    ax.plot(deciles["decile"], deciles["mean_predicted_uplift"], "o-", color="darkorange", label="predicted")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("decile of predicted uplift (1 = highest)")
    ax.set_ylabel("uplift (response rate treated - control)")
    ax.set_title("Uplift by decile")
    ax.legend()
    out["uplift_by_decile.png"] = png_bytes(fig)
    return out


def _fairness(y, s, sensitive: pd.DataFrame, cut: float) -> tuple[dict[str, float], list[str]]:
    """The shared fairness assessment of "selected for the campaign" (top 30% by uplift).

    ``experiments.fairness`` expects scores and threshold in [0, 1]; uplift lies in [-1, 1], so
    both are mapped by ``(u + 1) / 2``, which selects exactly the same customers.
    """
    if sensitive.empty:
        return {}, []
    if importlib.util.find_spec("experiments.fairness") is None:
        return {}, ["fairness assessment skipped (experiments.fairness is not available)"]
    from experiments import fairness

    score = (np.clip(s, -1.0, 1.0) + 1.0) / 2.0
    threshold = min(max((cut + 1.0) / 2.0, 0.0), 1.0)
    result = fairness.assess_and_log(np.asarray(y, dtype=int), score,
                                     sensitive.astype("string").reset_index(drop=True), threshold=threshold)
    metrics = {k: float(v) for k, v in (result.get("metrics") or {}).items()
               if isinstance(v, (int, float)) and math.isfinite(v)}
    return metrics, []


def _fmt(value: float, spec: str = ".3f") -> str:
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else "n/a"


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

    from experiments.packaging import model_env
    from experiments.uplift_report import write_uplift_report

    if trials < 0:
        raise TrainingError(f"--trials must be at least 0. Got {trials}")
    path = Path(data)
    if frame is None or lineage is None:
        with console.stage("load clean table") as st:
            frame, lineage = _load(path)
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
    keep = frame[treatment].notna() & frame[label].notna()
    if not keep.all():
        warnings.append(f"{int((~keep).sum())} rows without {treatment!r} or {label!r} were left out")
        frame = frame.loc[keep].reset_index(drop=True)
        prepared = None  # its rows no longer line up with the frame
    t_all = _binary(frame[treatment], what="treatment", column=treatment, positive=None)
    y_all = _binary(frame[label], what="label", column=label, positive=positive)
    warnings += check_arms(t_all, y_all, treatment=treatment, label=label)
    id_name = _resolve_id(frame, id_col, path)
    sensitive = _sensitive(frame, protected, path)
    features = _feature_columns(frame, prepared, label=label, positive=positive, id_col=id_name,
                                treatment=treatment, protected=list(protected or []))
    exclude = tuple(c for c in frame.columns if c not in features)
    encoder = TableEncoder(exclude=exclude).fit(frame)
    feature_frame = frame[encoder.input_columns]
    X_all = encoder.transform(feature_frame)

    arms = arms_check(X_all, t_all)
    if not arms["randomised"]:
        names = ", ".join(arms["imbalanced_features"][:5])
        warnings.append(f"the campaign does not look randomised: |SMD| > {SMD_WARN} beyond chance on "
                        f"{len(arms['imbalanced_features'])} features ({names}); uplift may be biased")

    dev_idx, test_idx, folds = _split(len(frame), 2 * t_all + y_all, seed)
    for arm in (0, 1):
        if int(y_all[test_idx][t_all[test_idx] == arm].sum()) == 0:
            warnings.append(f"the test split has no responses in the {'treated' if arm else 'control'} "
                            "arm; its uplift metrics are unreliable")
    X = X_all.to_numpy()

    with console.stage(f"select meta-learner by Qini over {len(folds)} validation folds") as st:
        candidates = {name: _cv_qini(name, X, t_all, y_all, folds, None, seed) for name in LEARNERS}
        chosen = max(candidates, key=lambda n: candidates[n])
        st.done(", ".join(f"{n} {_fmt(q)}" for n, q in candidates.items()) + f" → {chosen}")
    with console.stage(f"tune {chosen} with Optuna") as st:
        if trials > 0:
            params, best_val, n_trials = _tune(chosen, X, t_all, y_all, folds, trials=trials, timeout=timeout,
                                               seed=seed)
        else:
            params = {"min_child_weight": default_min_child_weight(len(folds[0][0])), **DEFAULT_PARAMS}
            best_val, n_trials = candidates[chosen], 0
        st.done(f"{n_trials} trials, validation Qini {_fmt(best_val)}")

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
        st.done(f"test Qini {_fmt(metrics['test_qini_auc'])} (response model "
                f"{_fmt(metrics['test_response_model_qini_auc'])})")

    deciles = um.uplift_by_decile(yte, tte, s)
    budgets = _budget_table(yte, tte, s, s_resp)
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
        "profile": _profile(test_frame, encoder, groups),
        "lineage": lineage.tags(),
    }

    with tracked_run("uplift", experiment, lineage, seed=seed, digest=digest, frame=frame, path=path,
                     label=label, exclude=[id_name] if id_name else []) as run_id:
        mlflow.log_params({"learner": chosen, "label": label, "treatment": treatment, "positive": positive,
                           "trials": trials, "timeout": timeout, "seed": seed, "n_features": X.shape[1],
                           **{f"xgb_{k}": v for k, v in params.items()}})
        # The registry's champion comparison reads these to score eval/test_set.parquet.
        mlflow.set_tags({"kequn.label": label, "kequn.treatment": treatment, "kequn.uplift_learner": chosen})
        fairness_metrics, fairness_warnings = _fairness(yte, s, sensitive.iloc[test_idx], cut)
        warnings += fairness_warnings
        metrics.update(fairness_metrics)
        report["metrics"].update(fairness_metrics)
        mlflow.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            plots = _plots(yte, tte, s, s_resp, deciles)
            write_uplift_report(report, plots, tmp_path / "uplift_report")
            mlflow.log_artifacts(str(tmp_path / "uplift_report"), artifact_path="uplift_report")
            eval_dir = tmp_path / "eval"
            eval_dir.mkdir()
            eval_set = plain_columns(test_frame.reset_index(drop=True))
            eval_set[treatment] = tte
            eval_set[label] = yte
            eval_set.to_parquet(eval_dir / "test_set.parquet", index=False)
            mlflow.log_artifact(str(eval_dir / "test_set.parquet"), artifact_path="eval")
        mlflow.pyfunc.log_model(name="model", python_model=model,
                                signature=_signature(test_frame, encoder), **model_env(model))
        if warnings:
            mlflow.set_tag("kequn.warnings", " | ".join(warnings)[:4900])

    lines = [f"uplift run {run_id}: learner {chosen}, test Qini {_fmt(metrics['test_qini_auc'])} "
             f"(response model {_fmt(metrics['test_response_model_qini_auc'])}), AUUC "
             f"{_fmt(metrics['test_auuc'], '.4f')}, uplift at 30% {_fmt(metrics['test_uplift_at_30'])}, "
             f"sleeping dogs {metrics['test_sleeping_dogs_share']:.1%} of test customers"]
    lines += [f"warning: {w}" for w in warnings]
    return {"run_id": run_id, "metrics": {k: v for k, v in metrics.items() if math.isfinite(v)},
            "summary": "\n".join(lines)}
