"""Is uplift estimable on this campaign? Arm sizes and responses, treatment share, balance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from kequn.errors import TrainingError

__all__ = ["MIN_ARM_ROWS", "SMD_WARN", "arms_check", "check_arms"]

#: Fewest customers an arm may have before uplift is not estimable at all.
MIN_ARM_ROWS = 30
#: Fewer responders than this in an arm: trained, but with an explicit warning.
WARN_ARM_RESPONSES = 20
#: |standardised mean difference| above this on any feature: "not randomised" warning.
SMD_WARN = 0.1
#: Treatment share outside this range: warning (the control group is too small to trust).
SHARE_RANGE = (0.05, 0.95)


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
