"""The three uplift meta-learners on XGBoost, as scikit-learn estimators.

Each learner follows scikit-learn's estimator contract: a keyword-only ``__init__`` that only
stores its hyper-parameters (``params``: XGBoost parameters over :data:`DEFAULT_PARAMS`;
``random_state``), learned state ending in ``_`` set in ``fit(X, t, y)`` (features, 0/1
treatment, 0/1 response) and ``get_params``/``set_params``/``clone`` from ``BaseEstimator``.
``predict(X)`` returns the estimated uplift (CATE) per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from kequn.errors import TrainingError

__all__ = ["DEFAULT_PARAMS", "LEARNERS", "TLearner", "TransformedOutcome", "XLearner", "default_min_child_weight",
           "fit_learner"]

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


def default_min_child_weight(n_rows: int) -> float:
    """``n_rows / 200`` clipped to [5, 50]: leaves need more evidence as the table grows."""
    return float(min(max(n_rows / 200.0, 5.0), 50.0))


class _MetaLearner(BaseEstimator):
    """Shared ``__init__``/``fit`` of the meta-learners (subclasses implement ``_fit``/``predict``).

    Parameters
    ----------
    params:
        XGBoost parameters, merged over :data:`DEFAULT_PARAMS` (and a ``min_child_weight`` of
        :func:`default_min_child_weight` of the training rows) at fit.
    random_state:
        Seed of every XGBoost model.

    Attributes
    ----------
    xgb_params_:
        The merged XGBoost parameters the models were fitted with.
    """

    name = ""

    def __init__(self, *, params: dict[str, Any] | None = None, random_state: int = 42) -> None:
        self.params = params
        self.random_state = random_state

    def fit(self, X, t, y):
        X = np.asarray(X, dtype=float)
        self.xgb_params_ = {"min_child_weight": default_min_child_weight(len(X)), **DEFAULT_PARAMS,
                            **(self.params or {})}
        self._fit(X, np.asarray(t, dtype=int), np.asarray(y, dtype=float), self.xgb_params_, self.random_state)
        return self

    def _fit(self, X, t, y, params, seed) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _checked(self, X) -> np.ndarray:
        check_is_fitted(self, "xgb_params_")
        return np.asarray(X, dtype=float)


class TLearner(_MetaLearner):
    """Two arm classifiers; uplift is the difference of their response probabilities."""

    name = "t_learner"

    def _fit(self, X, t, y, params, seed) -> None:
        self.m1_ = _fit_classifier(X[t == 1], y[t == 1], params, seed)
        self.m0_ = _fit_classifier(X[t == 0], y[t == 0], params, seed)

    def predict(self, X) -> np.ndarray:
        X = self._checked(X)
        return _proba(self.m1_, X) - _proba(self.m0_, X)


class XLearner(_MetaLearner):
    """X-learner with the training treatment share as the (constant) propensity."""

    name = "x_learner"

    def _fit(self, X, t, y, params, seed) -> None:
        X1, X0, y1, y0 = X[t == 1], X[t == 0], y[t == 1], y[t == 0]
        m1 = _fit_classifier(X1, y1, params, seed)
        m0 = _fit_classifier(X0, y0, params, seed)
        self.tau1_ = _xgb_regressor(params, seed).fit(X1, y1 - _proba(m0, X1))
        self.tau0_ = _xgb_regressor(params, seed).fit(X0, _proba(m1, X0) - y0)
        self.propensity_ = float(np.mean(t))

    def predict(self, X) -> np.ndarray:
        X = self._checked(X)
        e = self.propensity_
        return e * self.tau0_.predict(X) + (1 - e) * self.tau1_.predict(X)


class TransformedOutcome(_MetaLearner):
    """Regression on the transformed outcome ``y (t - e) / (e (1 - e))`` (class transformation)."""

    name = "transformed_outcome"

    def _fit(self, X, t, y, params, seed) -> None:
        e = float(np.mean(t))
        z = y * (t - e) / (e * (1 - e))
        self.propensity_ = e
        self.model_ = _xgb_regressor(params, seed).fit(X, z)

    def predict(self, X) -> np.ndarray:
        X = self._checked(X)
        return np.clip(self.model_.predict(X), -1.0, 1.0)


_LEARNER_CLASSES = {cls.name: cls for cls in (TLearner, XLearner, TransformedOutcome)}


def fit_learner(name: str, X, t, y, *, params: dict[str, Any] | None = None, seed: int = 42):
    """Fit one meta-learner by name (one of :data:`LEARNERS`) and return it."""
    if name not in _LEARNER_CLASSES:
        raise TrainingError(f"unknown uplift learner. Got {name!r}; expected one of {', '.join(LEARNERS)}")
    return _LEARNER_CLASSES[name](params=params, random_state=seed).fit(X, t, y)
