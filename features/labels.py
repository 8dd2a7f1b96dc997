"""Labels from the horizon after the snapshot: churn, propensity, campaign treatment and response.

Every label looks only at records dated in ``(s, s + h]`` (``s`` the snapshot, ``h`` the horizon
in days), plus the customer's AUM at the snapshot as the base of the AUM-fall rule:

``churn_label``
    1 if ``close_date`` is in the window, or AUM at the last month-end in the window is at most
    ``(1 - churn.aum_fall_share)`` × AUM at the snapshot (conf/features.yaml, default 0.5 →
    AUM fell by half or more). Without a month-end in the window only the close rule applies.
``propensity_label``
    1 if a holding of ``propensity.target_product`` (default ``fund``) has its ``open_date`` in
    the window.
``treatment``, ``response``
    From the customer's first campaign with ``campaign_date`` in the window: its arm (0/1), and
    1 if ``response`` is 1 with a response date in the window (or none recorded). NaN for both
    when the customer has no campaign in the window; such rows are kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.registry import LABEL_COLUMNS


def _in_window(day: np.ndarray, window: tuple[np.datetime64, np.datetime64]) -> np.ndarray:
    s, end = window
    return (day > s) & (day <= end)


def build_labels(*, n: int, window: tuple[np.datetime64, np.datetime64], close_date: np.ndarray,
                 aum: np.ndarray, aum_label_end: np.ndarray | None, products: dict[str, np.ndarray],
                 product_codes: np.ndarray, campaigns: dict[str, np.ndarray], campaign_codes: np.ndarray,
                 config: FeatureConfig) -> dict[str, Any]:
    """Compute the label columns for ``n`` customers (arrays aligned with the customer order).

    Parameters
    ----------
    window:
        ``(s, end)`` as ``datetime64[D]``; records with ``s < date <= end`` count.
    close_date:
        The customers' close dates (``datetime64[D]``, NaT when open).
    aum, aum_label_end:
        AUM at the snapshot month-end and at the last month-end in the window (``None`` when
        the window holds no month-end).
    products, campaigns:
        Clean-table columns as arrays; ``*_codes`` give each row's customer position (−1 for
        customers not in the table).
    """
    closed = _in_window(close_date, window)
    fell = np.zeros(n, dtype=bool)
    if aum_label_end is not None:
        base_ok = np.isfinite(aum) & (aum > 0) & np.isfinite(aum_label_end)
        fell = base_ok & (aum_label_end <= (1.0 - config.churn.aum_fall_share) * np.where(base_ok, aum, 0))
    churn = (closed | fell).astype(np.int8)

    target = products["product_type"] == config.propensity.target_product
    new = target & _in_window(products["open_date"], window) & (product_codes >= 0)
    propensity = (np.bincount(product_codes[new], minlength=n) > 0).astype(np.int8)

    treatment = np.full(n, np.nan)
    response = np.full(n, np.nan)
    in_win = _in_window(campaigns["campaign_date"], window) & (campaign_codes >= 0)
    if in_win.any():
        rows = pd.DataFrame({
            "code": campaign_codes[in_win],
            "date": campaigns["campaign_date"][in_win],
            "treatment": campaigns["treatment"][in_win],
            "responded": (campaigns["response"][in_win] == 1)
            & ~(campaigns["response_date"][in_win] > window[1]),
        }).sort_values(["code", "date"], kind="stable").drop_duplicates("code", keep="first")
        code = rows["code"].to_numpy()
        treatment[code] = rows["treatment"].to_numpy(dtype="float64")
        response[code] = rows["responded"].to_numpy(dtype="float64")
    return dict(zip(LABEL_COLUMNS, (churn, propensity, treatment, response), strict=True))


def label_rates(frame: pd.DataFrame) -> dict[str, float]:
    """Mean of each label over the rows where it is known (NaN-free rates; no personal data)."""
    rates: dict[str, float] = {}
    for name in LABEL_COLUMNS:
        values = pd.to_numeric(frame[name], errors="coerce")
        known = values.dropna()
        rates[name] = float(known.mean()) if len(known) else float("nan")
    return rates
