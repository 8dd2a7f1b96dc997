"""Choosing and tuning the learner: development/test split, cross-validated Qini, Optuna."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from experiments import uplift_metrics as um
from experiments.uplift.learners import DEFAULT_PARAMS, default_min_child_weight, fit_learner

__all__ = ["cv_qini", "split", "tune"]


def split(n: int, strata: np.ndarray, seed: int, folds: int = 3):
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


def cv_qini(name: str, X, t, y, folds, params: dict[str, Any] | None, seed: int) -> float:
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


def tune(name, X, t, y, folds, *, trials, timeout, seed) -> tuple[dict[str, Any], float, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mcw = default_min_child_weight(len(folds[0][0]))

    def objective(trial) -> float:
        return cv_qini(name, X, t, y, folds, _suggest(trial), seed)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({**DEFAULT_PARAMS, "min_child_weight": mcw})
    study.optimize(objective, n_trials=max(int(trials), 1), timeout=timeout, gc_after_trial=False)
    best = {"min_child_weight": mcw, **DEFAULT_PARAMS, **study.best_params}
    return best, float(study.best_value), len(study.trials)
