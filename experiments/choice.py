"""Honest model choice for churn/propensity: every candidate family on the same folds of the training part.

:func:`train_binary <experiments.binary.train_binary>` offers :data:`FAMILIES`: a logistic
regression (the baseline, :class:`experiments.model.LogisticModel`) and XGBoost (tuned by
:mod:`experiments.tuning`). Each is scored by :func:`cross_validate` on the *same* stratified
folds of the training part (the folds the tuning used); the held-out part plays no role in
the choice, nor in the operating threshold.

- **Score:** mean ROC-AUC over the folds. XGBoost is refit on each fold with the tuned
  parameters and a fixed number of trees (the tuned ``n_estimators``), without the early
  stopping on the validation fold that the tuning used, so its score is not flattered by
  having seen the fold it is scored on.
- **Choice (:func:`choose`):** the family with the higher mean CV ROC-AUC is shipped; a tie
  goes to the baseline, so the shipped model is never worse on CV than the baseline.
- **Threshold:** the operating threshold is the score at the top-decile cut of the winner's
  out-of-fold scores (:func:`experiments.evaluation.top_decile_threshold`): the score above
  which the top 10 % of training customers fall when each is scored by a model that did not
  see it. Calibration is not fitted: the class weighting is undone analytically
  (:func:`experiments.model.undo_class_weight`), per fold on the fold's own class ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from experiments.model import LogisticModel, undo_class_weight
from experiments.tuning import NTHREAD, base_params, scale_pos_weight

__all__ = ["BASELINE", "FAMILIES", "FAMILY_LABELS", "CandidateCV", "choose", "cross_validate"]

#: Candidate families, baseline first.
FAMILIES = ("logistic", "xgboost")
BASELINE = "logistic"
FAMILY_LABELS = {"logistic": "logistic regression", "xgboost": "tuned XGBoost"}


@dataclass
class CandidateCV:
    """Cross-validated ROC-AUC of one family on the training part.

    Attributes
    ----------
    family:
        One of :data:`FAMILIES`.
    fold_scores:
        ROC-AUC on each validation fold.
    oof:
        Calibrated out-of-fold scores, one per training row (in training-part order).
    """

    family: str
    fold_scores: list[float]
    oof: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores))

    @property
    def label(self) -> str:
        return FAMILY_LABELS[self.family]


def _dmatrix(X: pd.DataFrame, y: pd.Series | None = None) -> Any:
    import xgboost as xgb

    return xgb.DMatrix(X, label=y, enable_categorical=True, nthread=NTHREAD)


def fit_family(family: str, X: pd.DataFrame, y: pd.Series, *, seed: int,
               xgb_params: dict[str, Any] | None = None, n_estimators: int = 100) -> Any:
    """Fit one family on ``X, y`` (a booster or a :class:`LogisticModel`)."""
    if family == "logistic":
        return LogisticModel.fit(X, y, seed=seed)
    if family != "xgboost":
        raise ValueError(f"unknown model family {family!r}")
    import xgboost as xgb

    params = {**base_params(seed, scale_pos_weight(y)), **(xgb_params or {})}
    return xgb.train(params, _dmatrix(X, y), num_boost_round=max(int(n_estimators), 1))


def predict_family(model: Any, X: pd.DataFrame) -> np.ndarray:
    """Class-weighted scores of a fitted family (undo the weight with :func:`undo_class_weight`)."""
    if isinstance(model, LogisticModel):
        return model.predict(X)
    return model.predict(_dmatrix(X))


def cross_validate(family: str, X: pd.DataFrame, y: pd.Series, folds: list[tuple[np.ndarray, np.ndarray]], *,
                   seed: int, xgb_params: dict[str, Any] | None = None, n_estimators: int = 100) -> CandidateCV:
    """Fit ``family`` on each fold's training rows and score its validation rows (see module docstring)."""
    from sklearn.metrics import roc_auc_score

    oof = np.full(len(y), np.nan)
    scores: list[float] = []
    for tr, va in folds:
        y_fit = y.iloc[tr]
        model = fit_family(family, X.iloc[tr], y_fit, seed=seed, xgb_params=xgb_params, n_estimators=n_estimators)
        oof[va] = undo_class_weight(predict_family(model, X.iloc[va]), scale_pos_weight(y_fit))
        scores.append(float(roc_auc_score(y.iloc[va].to_numpy(), oof[va])))
    return CandidateCV(family=family, fold_scores=scores, oof=oof)


def choose(candidates: dict[str, CandidateCV]) -> tuple[str, str]:
    """The family to ship and the reason, in one readable sentence.

    The highest mean CV ROC-AUC wins; a tie goes to :data:`BASELINE`.
    """
    baseline = candidates[BASELINE]
    best = max(candidates.values(), key=lambda c: c.mean)
    winner = best if best.mean > baseline.mean else baseline
    others = [c for c in candidates.values() if c.family != winner.family]
    against = "; ".join(f"{c.label} {c.mean:.4f}" for c in others)
    if winner.family == BASELINE and any(c.mean == baseline.mean for c in others):
        why = "ties the other candidates and is the simpler model"
    elif winner.family == BASELINE:
        why = "has the higher mean CV ROC-AUC"
    else:
        why = "has the higher mean CV ROC-AUC than the logistic baseline"
    reason = (f"{winner.label} {why} on the {len(winner.fold_scores)} folds of the training part "
              f"({winner.mean:.4f} vs {against}); the held-out part was not used for the choice")
    return winner.family, reason
