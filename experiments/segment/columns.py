"""Which columns a segmentation clusters on, and the age-band midpoint it adds."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from kequn.errors import TrainingError

__all__ = ["AGE_COLUMN", "AGE_FEATURE", "AUM_COLUMN", "BEHAVIOUR_FEATURES", "UNKNOWN", "age_band_bounds",
           "varying_columns", "with_age_midpoint"]

#: Behavioural features clustered on when present (plus the columns starting with a prefix of
#: :data:`BEHAVIOUR_PREFIXES`).
BEHAVIOUR_FEATURES = ("aum", "aum_deposit", "aum_wealth", "aum_fund", "aum_insurance", "txn_count_180d",
                      "recency_days", "salary_share_90d", "dormancy_days", "n_products",
                      "credit_card_utilisation", "loan_outstanding", "digital_share", "tenure_days")
BEHAVIOUR_PREFIXES = ("holds_", "share_")
#: Fewer behavioural features than this: cluster on every numeric feature instead.
MIN_BEHAVIOUR_FEATURES = 3
AUM_COLUMN = "aum"
AGE_COLUMN = "age_band"
AGE_FEATURE = "age_band_mid"
#: The segment model's name for "no tier" / "no persona".
UNKNOWN = "unknown"


_BAND = re.compile(r"^\s*(\d+)\s*[-–~]\s*(\d+)\s*$")
_PLUS = re.compile(r"^\s*(\d+)\s*\+\s*$")


def age_band_bounds(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper age of bands like ``30-39`` or ``80+`` (NaN when unknown).

    Each distinct band is parsed once and broadcast back.
    """
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    lo = np.full(len(uniques) + 1, np.nan)
    hi = np.full(len(uniques) + 1, np.nan)
    for i, band in enumerate(uniques):
        m = _BAND.match(str(band))
        if m:
            lo[i], hi[i] = float(m.group(1)), float(m.group(2))
        elif (p := _PLUS.match(str(band))):
            lo[i], hi[i] = float(p.group(1)), float(p.group(1)) + 19.0
    return lo[codes], hi[codes]  # code -1 (missing) picks the trailing NaN


def with_age_midpoint(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` plus :data:`AGE_FEATURE` (the midpoint of ``age_band``) when ``columns`` needs it.

    Raises
    ------
    TrainingError
        ``frame`` lacks a column of ``columns`` (``age_band`` for the midpoint).
    """
    needed = [AGE_COLUMN if c == AGE_FEATURE else c for c in columns]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise TrainingError(f"the table lacks column(s) the segment model needs: {', '.join(missing[:5])}")
    if AGE_FEATURE not in columns:
        return frame
    lo, hi = age_band_bounds(frame[AGE_COLUMN])
    return frame.assign(**{AGE_FEATURE: (lo + hi) / 2.0})


def varying_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns of ``columns`` (of :func:`with_age_midpoint` output) that are not all missing
    and take more than one value: only they can separate customers."""
    raw = frame[columns].apply(pd.to_numeric, errors="coerce").astype(float)
    return [c for c in columns if raw[c].notna().any() and raw[c].nunique() > 1]


def _numeric_features(frame: pd.DataFrame, prepared: Any, id_col: str | None,
                      protected: list[str]) -> list[str]:
    """The numeric columns of the shared feature selection (:func:`experiments.data.prepare`) to
    cluster on: the behavioural ones, or every numeric one when fewer than
    :data:`MIN_BEHAVIOUR_FEATURES` behavioural ones exist."""
    from experiments.data import prepare

    if prepared is None:
        prepared = prepare(frame, task="segment", id_col=id_col, protected=protected)
    cats = set(prepared.spec.categories)
    numeric = [c for c in prepared.spec.features if c not in cats]
    behaviour = [c for c in numeric if c in BEHAVIOUR_FEATURES or c.startswith(BEHAVIOUR_PREFIXES)]
    return behaviour if len(behaviour) >= MIN_BEHAVIOUR_FEATURES else numeric
