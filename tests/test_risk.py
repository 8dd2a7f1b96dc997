"""k-anonymity on a tiny hand-computed table, and suppression to reach k."""

from __future__ import annotations

import pandas as pd

from privacy.risk import class_sizes, enforce_k, k_anonymity

# Classes over (gender, age_band): (男,30-39) x4, (女,30-39) x3, (女,40-49) x2, (男,50-59) x1 -> 10 records.
FRAME = pd.DataFrame({
    "gender": ["男"] * 4 + ["女"] * 3 + ["女"] * 2 + ["男"],
    "age_band": ["30-39"] * 4 + ["30-39"] * 3 + ["40-49"] * 2 + ["50-59"],
    "aum": [1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
})
QIS = ["gender", "age_band"]


def test_class_sizes_and_measures_match_hand_computation():
    assert class_sizes(FRAME, QIS).tolist() == [4, 4, 4, 4, 3, 3, 3, 2, 2, 1]
    k3 = k_anonymity(FRAME, QIS, 3)
    assert k3 == {"k": 3, "quasi_identifiers": QIS, "records": 10, "classes": 4, "min_class_size": 1,
                  "records_below_k": 3, "share_below_k": 0.3, "unique_records": 1, "met": False}
    assert k_anonymity(FRAME, QIS, 1)["met"] is True
    assert k_anonymity(FRAME, ["gender"], 5)["min_class_size"] == 5


def test_missing_values_form_their_own_class():
    frame = pd.DataFrame({"g": ["男", None, None, "女"], "a": ["30-39"] * 4})
    assert class_sizes(frame, ["g", "a"]).tolist() == [1, 2, 2, 1]


def test_suppression_reaches_k_and_keeps_business_columns():
    out, result = enforce_k(FRAME, QIS, 3, on_violation="suppress")
    assert result["suppressed_records"] == 3
    assert result["met"] is True and result["k_reached"] is True
    assert result["after"]["min_class_size"] == 3 and result["after"]["records"] == 7
    assert out[QIS].iloc[7:].isna().all().all()
    assert out[QIS].iloc[:7].notna().all().all()
    assert out["aum"].tolist() == FRAME["aum"].tolist()  # business column untouched
    assert FRAME["gender"].notna().all()  # the input is not modified


def test_report_fail_and_suppression_cap():
    _, report = enforce_k(FRAME, QIS, 3, on_violation="report")
    assert report["met"] is True and report["k_reached"] is False and report["suppressed_records"] == 0
    _, fail = enforce_k(FRAME, QIS, 3, on_violation="fail")
    assert fail["met"] is False
    same, capped = enforce_k(FRAME, QIS, 3, on_violation="suppress", max_suppression_share=0.2)
    assert capped["met"] is False and "max_suppression_share" in capped["reason"]
    assert same["gender"].notna().all()
