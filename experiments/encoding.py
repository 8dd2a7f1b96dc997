"""The one table encoder of every task: a clean table in, the model's feature matrix out.

:class:`TableEncoder` is a scikit-learn transformer (keyword-only ``__init__`` that only stores
its arguments, learned state ending in ``_`` set in :meth:`~TableEncoder.fit`). It decides once,
at fit, which columns are features and which levels each categorical column has, and then
re-applies exactly that to any new clean table (extra columns such as ids and labels are
ignored; a missing feature column is a :class:`~kequn.errors.TrainingError`).

How each task configures it:

- **binary** (churn/propensity, :func:`experiments.data.prepare`): ``columns`` = the feature
  selection, ``one_hot=False``, ``max_categories=None``: text and boolean columns become pandas
  ``category`` columns on every level seen (XGBoost uses them natively), numbers ``float64``.
  The fitted state is the JSON-serialisable spec ``{"features", "categories"}`` that the logged
  binary model ships as ``feature_spec.json`` (:meth:`~TableEncoder.to_dict` /
  :meth:`~TableEncoder.from_dict`).
- **uplift** (the defaults): ``one_hot=True``, ``max_categories=MAX_CATEGORIES``: numeric and
  boolean columns pass through as floats (missing stays NaN: XGBoost handles it); text columns
  with 2 to :data:`MAX_CATEGORIES` levels are one-hot encoded (``col=level``), wider ones skipped.
- **segment** (:mod:`experiments.segment`): ``columns`` = the behavioural numeric features,
  followed by :class:`experiments.segment.scaling.SkewScaler` in a scikit-learn ``Pipeline``.

In every configuration pseudonym tokens (``tk_`` values) and all-missing text columns are never
features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from kequn.errors import TrainingError
from kequn.tokens import TOKEN_PREFIX

__all__ = ["MAX_CATEGORIES", "TOKEN_PREFIX", "FeatureSpec", "TableEncoder"]

#: Default: text columns with more distinct values than this are not one-hot features.
MAX_CATEGORIES = 30


def _is_text(series: pd.Series) -> bool:
    return (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
            or isinstance(series.dtype, pd.CategoricalDtype))


class TableEncoder(TransformerMixin, BaseEstimator):
    """Clean table → feature matrix, the same way at fit and at predict time.

    Parameters
    ----------
    columns:
        Candidate feature columns, in model order; ``None``: every column of the fitted table
        except ``exclude``.
    exclude:
        Columns that are never features (ids, labels, treatment).
    one_hot:
        ``True``: categorical columns become ``col=level`` 0/1 float columns after the numeric
        ones and booleans are numeric 0/1; ``False``: categorical (and boolean) columns become
        pandas ``category`` columns in place.
    max_categories:
        When set, text columns with fewer than 2 or more than this many levels are skipped;
        ``None``: every text column is categorical on all its levels.

    Attributes
    ----------
    features_:
        Input columns that are features, in table order.
    categories_:
        ``{column: [level, ...]}`` (sorted levels) of the categorical features; unseen values
        become missing (all zeros when one-hot encoded).
    feature_names_:
        Output column names.
    """

    def __init__(self, *, columns: list[str] | None = None, exclude: tuple[str, ...] = (), one_hot: bool = True,
                 max_categories: int | None = MAX_CATEGORIES) -> None:
        self.columns = columns
        self.exclude = exclude
        self.one_hot = one_hot
        self.max_categories = max_categories

    # ------------------------------------------------------------------ fit

    def fit(self, frame: pd.DataFrame, y: Any = None) -> TableEncoder:
        """Learn the feature columns and their categories from ``frame``."""
        if self.columns is not None:
            missing = [c for c in self.columns if c not in frame.columns]
            if missing:
                raise TrainingError(f"the table lacks feature column(s) {', '.join(missing[:5])}")
            candidates = list(self.columns)
        else:
            candidates = [c for c in frame.columns if c not in set(self.exclude)]
        features: list[str] = []
        categories: dict[str, list[str]] = {}
        for col in candidates:
            s = frame[col]
            if pd.api.types.is_bool_dtype(s) and not self.one_hot:
                categories[col] = sorted(str(v) for v in s.dropna().astype("string").unique())
            elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                pass
            elif _is_text(s):
                text = s.dropna().astype("string")
                if text.empty or text.str.startswith(TOKEN_PREFIX).any():
                    continue
                levels = sorted(str(v) for v in text.unique())
                if self.max_categories is not None and not 2 <= len(levels) <= self.max_categories:
                    continue
                categories[col] = levels
            else:
                continue  # dates and other kinds are never features
            features.append(col)
        if not features:
            raise TrainingError("the table has no usable feature column (numeric, or text with at most "
                                f"{self.max_categories or 'any number of'} levels)")
        self._set_state(features, categories)
        return self

    def _set_state(self, features: list[str], categories: dict[str, list[str]]) -> None:
        self.features_ = list(features)
        self.categories_ = {c: list(categories[c]) for c in features if c in categories}
        self.n_features_in_ = len(self.features_)
        numeric = [c for c in self.features_ if c not in self.categories_]
        if self.one_hot:
            self.feature_names_ = numeric + [f"{c}={v}" for c, levels in self.categories_.items() for v in levels]
        else:
            self.feature_names_ = list(self.features_)

    # ------------------------------------------------------------------ the fitted spec

    @property
    def input_columns(self) -> list[str]:
        """The clean-table columns the encoder reads."""
        self._check_fitted()
        return list(self.features_)

    @property
    def numeric_(self) -> list[str]:
        return [c for c in self.features_ if c not in self.categories_]

    # The names the binary model and its callers have always used for the fitted spec.
    features = property(lambda self: list(self.features_), doc="Feature columns (fitted), in model order.")
    categories = property(lambda self: self.categories_, doc="Levels of the categorical features (fitted).")

    @property
    def categorical(self) -> list[str]:
        return [c for c in self.features_ if c in self.categories_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.feature_names_, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        """The fitted spec as JSON-ready data (``feature_spec.json`` of the binary model)."""
        self._check_fitted()
        return {"features": list(self.features_), "categories": {k: list(v) for k, v in self.categories_.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, one_hot: bool = False) -> TableEncoder:
        """A fitted encoder from :meth:`to_dict` output (native categories unless ``one_hot``)."""
        enc = cls(columns=list(data["features"]), one_hot=one_hot, max_categories=None)
        enc._set_state(list(data["features"]), {k: list(v) for k, v in data["categories"].items()})
        return enc

    # ------------------------------------------------------------------ transform

    def _check_fitted(self) -> None:
        if not hasattr(self, "features_"):
            raise RuntimeError("TableEncoder is not fitted")

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select the feature columns of ``frame`` and encode them as at fit."""
        self._check_fitted()
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise TrainingError(f"the table lacks feature column(s) {', '.join(missing[:5])} the model was trained on")
        if not self.one_hot:
            out = {}
            for col in self.features_:
                if col in self.categories_:
                    text = frame[col].astype("string")
                    # pandas 3 deprecates coercing unseen values: mask them first
                    out[col] = pd.Categorical(text.where(text.isin(self.categories_[col])),
                                              categories=self.categories_[col])
                else:
                    out[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
            return pd.DataFrame(out, index=frame.index)
        numeric = self.numeric_
        parts = [frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)]
        for col, levels in self.categories_.items():
            codes = pd.Categorical(frame[col].astype("string"), categories=levels).codes
            onehot = (codes[:, None] == np.arange(len(levels))[None, :]).astype(float)
            parts.append(pd.DataFrame(onehot, columns=[f"{col}={v}" for v in levels], index=frame.index))
        out = pd.concat(parts, axis=1)
        out.columns = self.feature_names_
        return out


#: The binary task's name for a fitted encoder spec (``feature_spec.json``); the same class.
FeatureSpec = TableEncoder
