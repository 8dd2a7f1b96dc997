"""A small synthetic clean feature table for the training tests (no real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_features(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Tokens as ids, protected attributes, numbers, categories and labels with planted drivers."""
    rng = np.random.default_rng(seed)
    aum = rng.lognormal(10, 1, n)
    aum_change = rng.normal(0, 1, n)
    txn_count = rng.poisson(10, n)
    risk = rng.choice(["R1", "R2", "R3", "R4", "R5"], n)
    logit = -1.2 - 1.4 * aum_change - 0.08 * (txn_count - 10) + np.where(risk == "R5", 0.8, 0.0)
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    logit_p = -1.5 + 0.8 * (np.log(aum) - 10) + np.where(risk == "R1", -0.7, 0.3)
    frame = pd.DataFrame({
        "customer_no": [f"tk_{i:012x}" for i in rng.permutation(10**6)[:n]],
        "gender": rng.choice(["男", "女"], n),
        "age_band": rng.choice(["20-29", "30-39", "40-49", "50-59"], n),
        "branch_code": rng.choice([f"BR{i:03d}" for i in range(8)], n),
        "aum": aum,
        "aum_change_90d": aum_change,
        "txn_count_90d": txn_count,
        "risk_level": risk,
        "noise": rng.normal(size=n),
        "churn_label": churn,
        "propensity_label": (rng.random(n) < 1 / (1 + np.exp(-logit_p))).astype(int),
    })
    frame.loc[rng.random(n) < 0.05, "aum_change_90d"] = np.nan
    return frame
