"""experiments.data: feature selection and label handling; and the small synthetic feature table
the training tests share (no real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.data import FeatureSpec, detect_id_column, prepare
from kequn.errors import TrainingError


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


# --- prepare(): feature selection and label handling -------------------------------------------


def test_prepare_keeps_ids_tokens_labels_and_protected_out_of_features():
    frame = synthetic_features(200)
    frame["staff_no"] = "S1"
    frame["note"] = [f"free text {i}" for i in range(len(frame))]
    frame["open_date"] = pd.Timestamp("2024-01-01")
    prepared = prepare(frame, task="churn")
    assert prepared.id_col == "customer_no"
    assert set(prepared.feature_names) == {"branch_code", "aum", "aum_change_90d", "txn_count_90d",
                                           "risk_level", "noise"}
    assert prepared.excluded["staff_no"] == "identifier name"
    assert prepared.excluded["note"].startswith("identifier-like or free text")
    assert prepared.excluded["open_date"] == "date/time"
    assert prepared.excluded["propensity_label"] == "label or treatment of a task"
    assert list(prepared.sensitive.columns) == ["gender", "age_band"]
    assert isinstance(prepared.X["risk_level"].dtype, pd.CategoricalDtype)
    assert prepared.X["txn_count_90d"].dtype == "float64"
    assert set(prepared.y.unique()) == {0, 1}
    assert any("excluded (identifier name): staff_no" in line for line in prepared.summary_lines())


def test_token_column_is_detected_as_id_without_customer_no():
    frame = synthetic_features(100).rename(columns={"customer_no": "cust"})
    assert detect_id_column(frame) == "cust"
    assert "cust" not in prepare(frame, task="propensity").feature_names


def test_missing_labels_are_dropped_and_reported_and_positive_maps_text_labels():
    frame = synthetic_features(200)
    frame["bought"] = np.where(frame["propensity_label"] == 1, "是", "否")
    frame.loc[:9, "bought"] = None
    frame.loc[10:19, "bought"] = "待定"
    with pytest.raises(TrainingError, match="3 distinct values; pass --positive"):
        prepare(frame, task="propensity", label="bought")
    prepared = prepare(frame, task="propensity", label="bought", positive="是")
    assert prepared.dropped_rows == 10 and len(prepared.X) == 190
    assert int(prepared.y.sum()) == int((frame["bought"] == "是").sum())
    two_valued = frame.iloc[20:]
    assert prepare(two_valued, task="propensity", label="bought").y.sum() == (two_valued["bought"] == "是").sum()


def test_feature_spec_transform_reapplies_dtypes_and_ignores_extra_columns():
    frame = synthetic_features(100)
    prepared = prepare(frame, task="churn")
    spec = FeatureSpec.from_dict(prepared.spec.to_dict())
    new = frame.head(5).copy()
    new.loc[new.index[0], "risk_level"] = "R9"  # unseen category → missing
    out = spec.transform(new)
    assert list(out.columns) == prepared.feature_names
    assert pd.isna(out["risk_level"].iloc[0])
    with pytest.raises(TrainingError, match="lacks feature column"):
        spec.transform(new.drop(columns=["aum"]))
