"""Lifecycle stage (客户生命周期) by documented, configurable rules.

The rules are applied in this order; the first that matches sets ``lifecycle_stage``
(thresholds from the ``lifecycle`` section of conf/features.yaml, defaults in brackets):

1. ``acquisition`` 获客 — a new relationship: ``tenure_days`` ≤ acquisition_max_tenure_days [90].
2. ``churn_risk`` 流失预警 — ``dormancy_days`` ≥ churn_min_dormancy_days [180] or
   ``aum_change_3m`` ≤ churn_max_aum_change_3m [−0.3].
3. ``activation`` 激活 — not yet engaged: ``txn_count_90d`` ≤ activation_max_txn_count_90d [2].
4. ``growth`` 增值 — ``aum_change_6m`` ≥ growth_min_aum_change_6m [0.1] or
   ``n_products`` ≥ growth_min_products [4].
5. ``retention`` 留存 — everyone else.

A missing input (NaN) never matches a rule, so a customer without AUM history is judged on
the other inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import LifecycleConfig

STAGES = ("acquisition", "activation", "retention", "growth", "churn_risk")
STAGES_ZH = {"acquisition": "获客", "activation": "激活", "retention": "留存", "growth": "增值",
             "churn_risk": "流失预警"}
RULE_ORDER = ("acquisition", "churn_risk", "activation", "growth")


def assign_stage(frame: pd.DataFrame, config: LifecycleConfig | None = None) -> pd.Series:
    """Return the lifecycle stage of every row as a ``category`` Series over :data:`STAGES`.

    Parameters
    ----------
    frame:
        Features with the columns ``tenure_days``, ``dormancy_days``, ``aum_change_3m``,
        ``txn_count_90d``, ``aum_change_6m`` and ``n_products``.
    config:
        Thresholds; the defaults of :class:`~features.config.LifecycleConfig` when ``None``.
    """
    cfg = config or LifecycleConfig()

    def col(name: str) -> np.ndarray:
        return frame[name].to_numpy(dtype="float64", na_value=np.nan)

    conditions = {
        "acquisition": col("tenure_days") <= cfg.acquisition_max_tenure_days,
        "churn_risk": (col("dormancy_days") >= cfg.churn_min_dormancy_days)
        | (col("aum_change_3m") <= cfg.churn_max_aum_change_3m),
        "activation": col("txn_count_90d") <= cfg.activation_max_txn_count_90d,
        "growth": (col("aum_change_6m") >= cfg.growth_min_aum_change_6m)
        | (col("n_products") >= cfg.growth_min_products),
    }
    stage = np.select([conditions[name] for name in RULE_ORDER], list(RULE_ORDER), default="retention")
    return pd.Series(pd.Categorical(stage, categories=list(STAGES)), index=frame.index, name="lifecycle_stage")


def rules_markdown(config: LifecycleConfig | None = None) -> str:
    """The rules above with the thresholds in force, as a Markdown list (for the dictionary)."""
    cfg = config or LifecycleConfig()
    return "\n".join([
        f"1. `acquisition` 获客: tenure_days ≤ {cfg.acquisition_max_tenure_days}",
        f"2. `churn_risk` 流失预警: dormancy_days ≥ {cfg.churn_min_dormancy_days} "
        f"or aum_change_3m ≤ {cfg.churn_max_aum_change_3m}",
        f"3. `activation` 激活: txn_count_90d ≤ {cfg.activation_max_txn_count_90d}",
        f"4. `growth` 增值: aum_change_6m ≥ {cfg.growth_min_aum_change_6m} or n_products ≥ {cfg.growth_min_products}",
        "5. `retention` 留存: otherwise",
        "",
        "The first rule that matches wins; a missing input never matches.",
    ])
