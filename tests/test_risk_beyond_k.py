"""l-diversity, t-closeness and the ARX risk models (privacy/risk.py), cross-checked against pycanon.

pycanon pins exact versions of numpy/pandas/scipy in its metadata, so it cannot be a declared
dependency next to ours; CI installs it with ``--no-deps`` (.ci/run) and these cross-checks skip
where it is absent. The risk models are checked against a direct per-record computation.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pandas as pd
import pytest

from privacy.risk import (
    k_anonymity,
    reidentification_risk,
    risk_beyond_k,
    sensitive_attribute_measures,
)

QIS = ["age_band", "gender", "city"]
HAS_PYCANON = importlib.util.find_spec("pycanon") is not None


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age_band": rng.choice(["20-29", "30-39", "40-49", "50-59"], n),
        "gender": rng.choice(["男", "女"], n),
        "city": rng.choice(["上海市", "北京市", "杭州市", "成都市", "西宁市"], n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
        "risk_level": rng.choice(["R1", "R2", "R3", "R4", "R5"], n, p=[0.1, 0.3, 0.3, 0.2, 0.1]),
        "aum_tier": rng.integers(1, 6, n),
    })
    # a homogeneous group: every 60+ woman in 西宁市 is R5 (l = 1 there)
    frame.loc[:4, QIS] = ["60+", "女", "西宁市"]
    frame.loc[:4, "risk_level"] = "R5"
    return frame


@pytest.mark.skipif(not HAS_PYCANON, reason="pycanon is not installed (CI installs it with --no-deps)")
@pytest.mark.parametrize("seed", [0, 1])
def test_l_diversity_and_t_closeness_match_pycanon(seed):
    from pycanon import anonymity

    frame = _table(seed=seed)
    for attribute in ("risk_level", "aum_tier"):  # categorical (equal-distance EMD) and numeric (ordered EMD)
        ours = sensitive_attribute_measures(frame, QIS, attribute)
        assert ours["kind"] == ("categorical" if attribute == "risk_level" else "numeric")
        assert ours["l"] == anonymity.l_diversity(frame, QIS, [attribute])
        assert ours["t"] == pytest.approx(anonymity.t_closeness(frame, QIS, [attribute]), abs=1e-6)
        assert int(np.floor(ours["entropy_l"] + 1e-9)) == anonymity.entropy_l_diversity(frame, QIS, [attribute])
    assert sensitive_attribute_measures(frame, QIS, "risk_level")["l"] == 1  # the planted homogeneous group
    assert k_anonymity(frame, QIS, 5)["min_class_size"] == anonymity.k_anonymity(frame, QIS)


def test_risk_models_match_a_per_record_computation():
    frame = _table()
    sizes = frame.groupby(QIS)["risk_level"].transform("size").to_numpy()
    risk = reidentification_risk(frame, QIS, threshold=0.2)
    assert risk["prosecutor"]["highest"] == pytest.approx(1 / sizes.min())
    assert risk["prosecutor"]["average"] == pytest.approx(np.mean(1 / sizes), abs=1e-6)
    assert risk["prosecutor"]["average"] == pytest.approx(risk["classes"] / len(frame), abs=1e-6)
    assert risk["prosecutor"]["records_at_risk"] == pytest.approx(np.mean(1 / sizes > 0.2), abs=1e-6)
    assert risk["journalist"] == risk["prosecutor"]  # the table is the population
    assert risk["marketer"] == pytest.approx(risk["classes"] / len(frame), abs=1e-6)

    sample = reidentification_risk(frame, QIS, population_fraction=0.1, threshold=0.2)
    population = sizes / 0.1
    assert sample["journalist"]["highest"] == pytest.approx(1 / population.min())
    assert sample["journalist"]["average"] == pytest.approx(np.mean(1 / population), abs=1e-6)
    assert sample["marketer"] == pytest.approx(0.1 * risk["classes"] / len(frame), abs=1e-6)  # (1/n) Σ f/F
    assert sample["prosecutor"] == risk["prosecutor"]


def test_reading_is_plain_and_quotes_no_value():
    frame = _table()
    out = risk_beyond_k(frame, QIS, ["risk_level", "aum_tier", "absent"], l_target=2, t_target=0.5)
    assert [s["attribute"] for s in out["sensitive"]] == ["risk_level", "aum_tier"]
    text = " ".join(out["reading"])
    assert "risk_level: every look-alike group shows at least 1 different value(s) (target 2)" in text
    below = out["sensitive"][0]["records_below_l"]
    assert below >= 5 and f"misses the targets; {below} record(s) sit in groups below l" in text
    for value in ("西宁市", "R5", "60+"):
        assert value not in text


def test_suppressed_records_are_left_out():
    frame = _table()
    mask = pd.Series(False, index=frame.index)
    mask.iloc[:5] = True  # the homogeneous group, as if suppressed
    out = risk_beyond_k(frame, QIS, ["risk_level"], exclude=mask)
    assert out == risk_beyond_k(frame.iloc[5:], QIS, ["risk_level"])
    assert out["records"] == len(frame) - 5


@pytest.mark.slow
def test_vectorised_on_500k_rows():
    rng = np.random.default_rng(3)
    n = 500_000
    frame = pd.DataFrame({"age_band": rng.integers(0, 8, n).astype(str), "gender": rng.choice(["男", "女"], n),
                          "city": rng.integers(0, 300, n).astype(str),
                          "risk_level": rng.choice(["R1", "R2", "R3", "R4", "R5"], n),
                          "aum": rng.lognormal(10, 1, n)})  # continuous: quantile-binned
    t0 = time.perf_counter()
    out = risk_beyond_k(frame, QIS, ["risk_level", "aum"])
    elapsed = time.perf_counter() - t0
    assert out["records"] == n and out["sensitive"][1]["binned"] is True
    assert elapsed < 30, f"{elapsed:.1f} s"


def test_pseudonymise_reports_risk_beyond_k(tmp_path):
    import json

    from privacy.pseudonymise import pseudonymise

    raw = tmp_path / "customers.csv"
    rng = np.random.default_rng(5)
    pd.DataFrame({"customer_no": [f"KH{1000000000 + i}" for i in range(60)],
                  "gender": rng.choice(["男", "女"], 60),
                  "risk_level": ["R5"] * 30 + list(rng.choice(["R1", "R2", "R3"], 30))}).to_csv(raw, index=False)
    out = tmp_path / "clean"
    pseudonymise({"customers": raw}, out=out, policy_path=None, key=b"risk-test-key-0123456789abcdef-0123456789")
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    risk = report["k_anonymity"][0]["risk"]
    assert risk["records"] == 60 and risk["classes"] == 2
    assert [s["attribute"] for s in risk["sensitive"]] == ["risk_level"]
    expected = sensitive_attribute_measures(pd.read_parquet(out / "customers.parquet"), ["gender"], "risk_level")
    assert risk["sensitive"][0] == expected
    html = (out / "privacy_report.html").read_text(encoding="utf-8")
    assert "Re-identification risk beyond k" in html and "Marketer" in html
    assert f"{risk['sensitive'][0]['t']:.3f}" in html
    assert any("risk_level" in line for line in report["summary"]["en"])
