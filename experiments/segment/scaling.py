"""The scaling step of the segment model: log where skewed, impute, standardise, damp 0/1 flags."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # scikit-learn 1.4-1.5 (our lower bound): the estimator's own method
    _sk_validate_data = None


def validate_data(estimator, X, *, ensure_all_finite="allow-nan", **kwargs):
    """scikit-learn's ``validate_data`` where it exists (1.6+), else ``_validate_data``."""
    if _sk_validate_data is not None:
        return _sk_validate_data(estimator, X, ensure_all_finite=ensure_all_finite, **kwargs)
    return estimator._validate_data(X, force_all_finite=ensure_all_finite, **kwargs)

__all__ = ["BINARY_WEIGHT", "SKEW_LOG", "SkewScaler"]

#: |skew| above this on a non-negative column: log1p before scaling.
SKEW_LOG = 2.0
#: 0/1 indicator columns are centred, not standardised, and scaled to this spread: a rare flag
#: standardised to unit variance would split every cluster in two by itself.
BINARY_WEIGHT = 0.5


class SkewScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Numeric matrix → ``log1p`` where skewed, median-imputed, standardised matrix.

    A non-negative column with ``|skew| > skew_log`` is ``log1p``-transformed (negative values
    are clipped to 0 at transform); missing values are imputed with the (transformed) column
    median; every column is centred and divided by its standard deviation, except 0/1 columns,
    which are divided by ``1 / binary_weight``.

    Parameters
    ----------
    skew_log:
        Skewness above which a non-negative column is log-transformed.
    binary_weight:
        Spread of a centred 0/1 column.

    Attributes
    ----------
    log_mask_, binary_mask_:
        Boolean per column: log-transformed; a 0/1 indicator.
    median_, mean_, scale_:
        Per-column imputation value, centre and divisor.
    """

    def __init__(self, *, skew_log: float = SKEW_LOG, binary_weight: float = BINARY_WEIGHT) -> None:
        self.skew_log = skew_log
        self.binary_weight = binary_weight

    def _more_tags(self):  # scikit-learn < 1.6 reads tags from here
        return {"allow_nan": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None) -> SkewScaler:
        X = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan")
        raw = pd.DataFrame(X)
        self.log_mask_ = ((raw.min() >= 0) & (raw.skew().abs() > self.skew_log)).to_numpy(dtype=bool)
        raw.loc[:, self.log_mask_] = np.log1p(raw.loc[:, self.log_mask_])
        median = raw.median()
        filled = raw.fillna(median)
        scale = filled.std(ddof=0).replace(0, 1.0)
        self.binary_mask_ = filled.isin((0, 1)).all().to_numpy(dtype=bool)
        scale[self.binary_mask_] = 1.0 / self.binary_weight
        self.median_ = median.to_numpy(dtype=float)
        self.mean_ = filled.mean().to_numpy(dtype=float)
        self.scale_ = scale.to_numpy(dtype=float)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype="float64", ensure_all_finite="allow-nan", reset=False, copy=True)
        X[:, self.log_mask_] = np.log1p(np.clip(X[:, self.log_mask_], 0, None))
        X = np.where(np.isnan(X), self.median_, X)
        return (X - self.mean_) / self.scale_
