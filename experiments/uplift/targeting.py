"""What the campaign manager decides with: incremental responses per budget, who the groups are."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from experiments import uplift_metrics as um
from experiments.encoding import TableEncoder

__all__ = ["BUDGETS", "TOP_K", "budget_table", "profile"]

#: Top fraction reported as ``test_uplift_at_30`` and used as the fairness threshold.
TOP_K = 0.3
BUDGETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: Groups smaller than this are not profiled in the report (no near-individual aggregates).
MIN_PROFILE_GROUP = 10


def budget_table(y, t, s, s_resp) -> list[dict[str, Any]]:
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


def profile(frame: pd.DataFrame, encoder: TableEncoder, groups: dict[str, np.ndarray]) -> list[dict[str, Any]]:
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
