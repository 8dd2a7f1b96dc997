"""Segmentation: value tiers, personas, recovery of planted clusters, the logged model, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from experiments.segment import (
    PersonaRule,
    _numeric_features,
    age_band_bounds,
    assign_value_tier,
    choose_k,
    load_segments_config,
    match_persona,
    train_segment,
)
from experiments.segment.report import render_segment_report
from kequn.errors import ConfigError, TrainingError
from tests.conftest import fake_token

BANDS = np.array(["20-29", "30-39", "40-49", "50-59", "60-69", "70+"])


def planted_customers(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four behavioural groups: young digital, salaried, senior counter users, dormant."""
    r = np.random.default_rng(seed)
    truth = r.integers(0, 4, n)
    digital = np.array([0.9, 0.5, 0.1, 0.3])[truth] + r.normal(0, 0.05, n)
    salary = np.array([0.1, 0.8, 0.0, 0.0])[truth] + r.normal(0, 0.05, n)
    dormancy = np.array([5, 10, 20, 200])[truth] * r.uniform(0.7, 1.3, n)
    txn = np.array([60, 40, 15, 1])[truth] * r.uniform(0.7, 1.3, n)
    band = np.array([0, 2, 4, 2])[truth] + r.integers(0, 2, n)
    frame = pd.DataFrame({
        "customer_no": [fake_token(i) for i in range(n)],
        "aum": np.exp(np.array([9.5, 11.0, 12.0, 8.0])[truth] + r.normal(0, 0.5, n)),
        "digital_share": digital.clip(0, 1), "share_mobile_app": (digital * 0.8).clip(0, 1),
        "share_counter": (1 - digital).clip(0, 1),
        "salary_share_90d": salary.clip(0, 1), "dormancy_days": dormancy, "txn_count_180d": txn.round().astype("int64"),
        "holds_fund": (r.random(n) < np.array([0.4, 0.3, 0.1, 0.05])[truth]).astype("int8"),
        "age_band": BANDS[band], "gender": r.choice(["男", "女"], n),
        "churn_label": (r.random(n) < np.array([0.05, 0.05, 0.1, 0.4])[truth]).astype("int8"),
    })
    return frame, truth


def test_value_tiers_follow_the_config_thresholds():
    cfg = load_segments_config()
    tiers = assign_value_tier(pd.Series([7e6, 6e6, 999_999.0, 50_000.0, 49_999.0, 0.0, np.nan]), cfg.value_tiers)
    assert list(tiers) == ["private_banking", "private_banking", "potential", "potential", "mass", "mass",
                           "unknown"]


def test_age_band_bounds():
    lo, hi = age_band_bounds(pd.Series(["30-39", "70+", None, "weird"], dtype="string"))
    assert lo[0] == 30 and hi[0] == 39 and lo[1] == 70
    assert np.isnan(lo[2]) and np.isnan(lo[3])


def test_persona_rules_first_match_wins_and_missing_stat_fails():
    personas = load_segments_config().personas
    assert match_persona({"aum_median": 2e6, "age_band_upper_median": 30, "digital_share": 0.9},
                         personas).name == "affluent_investor"
    assert match_persona({"aum_median": 1e4, "age_band_upper_median": 29, "digital_share": 0.8},
                         personas).name == "young_digital"
    assert match_persona({"aum_median": 1e4, "digital_share": 0.8}, personas).name == "mass_general"
    assert match_persona({}, [PersonaRule(name="x", when={"min_dormancy_days": 1})]) is None


def test_choose_k_prefers_a_stable_silhouette_peak_over_the_small_k_maximum():
    # Five blobs: three close together in a triangle, two far away. The silhouette is highest at
    # k = 3 (the triangle as one cluster), dips at k = 4 (the triangle cut in two) and peaks
    # again at the true k = 5.
    r = np.random.default_rng(0)
    centres = np.array([[0, 0], [6, 0], [3, 5.2], [40, 0], [20, 35]], dtype=float)
    truth = r.integers(0, 5, 1000)
    Z = centres[truth] + r.normal(0, 1, (1000, 2))
    k, silhouette, stability = choose_k(Z, seed=0)
    assert max(silhouette, key=silhouette.get) == 3
    assert k == 5 and stability[5] > 0.9 and set(stability) == set(silhouette)


def test_clusters_on_behavioural_features_and_falls_back_to_all_numeric():
    frame, _ = planted_customers(60)
    frame = frame.assign(campaigns_before=np.arange(60), complaints_90d=np.arange(60) % 2)
    chosen = _numeric_features(frame, None, "customer_no", [])
    assert "digital_share" in chosen and "holds_fund" in chosen
    assert not {"campaigns_before", "complaints_90d", "churn_label", "customer_no"} & set(chosen)
    other = pd.DataFrame({"x": np.arange(60.0), "y": np.arange(60.0) ** 2, "aum": np.ones(60)})
    assert _numeric_features(other, None, None, []) == ["x", "y", "aum"]


def test_config_rejects_unknown_keys(tmp_path):
    bad = tmp_path / "segments.yaml"
    bad.write_text("value_tiers: [{name: a, min_aum: 0}]\npersonas: [{name: p, when: {min_aum_mean: 1}}]\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="min_aum_mean"):
        load_segments_config(bad)


def test_report_escapes_values():
    html = render_segment_report({"personas": [{"segment": 0, "size": 20, "share": 1.0, "profiled": True,
                                                "persona": "<script>x</script>", "strategy": "a & b"}]})
    assert "<script>x" not in html and "&lt;script&gt;" in html and "a &amp; b" in html


def test_planted_segments_are_recovered_and_the_model_reloads(mlflow_uri, clean_zone_factory, tmp_path):
    import mlflow

    frame, truth = planted_customers()
    data = clean_zone_factory({"features": frame}) / "features.parquet"
    out = train_segment(data=data, seed=3, experiment="t-segment")
    assert out["metrics"]["n_segments"] == 4
    assert 0 < out["metrics"]["silhouette"] <= 1
    assert out["metrics"]["stability_ari"] > 0.9
    run = mlflow.MlflowClient().get_run(out["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["kequn.task"] == "segment"
    model = mlflow.pyfunc.load_model(f"runs:/{out['run_id']}/model")
    assert "customer_no" not in model.metadata.get_input_schema().input_names()
    assigned = model.predict(frame.drop(columns=["customer_no"]))
    assert adjusted_rand_score(truth, assigned["segment"]) > 0.9
    local = mlflow.artifacts.download_artifacts(run_id=out["run_id"], artifact_path="segment_report",
                                                dst_path=str(tmp_path / "dl"))
    report = json.load(open(f"{local}/segment_report.json", encoding="utf-8"))
    sizes = {p["segment"]: p["size"] for p in report["personas"]}
    assert assigned["segment"].value_counts().to_dict() == sizes  # reload assigns the training segments
    personas = {p["persona"] for p in report["personas"]}
    assert {"young_digital", "salaried_family", "dormant"} <= personas
    dormant = next(p for p in report["personas"] if p["persona"] == "dormant")
    assert dormant["churn_rate"] > 0.25 and "gender_mix" in dormant and "product_penetration" in dormant
    html = open(f"{local}/segment_report.html", encoding="utf-8").read()
    assert "tk_" not in html and "年轻数字化客户" in html and "data:image/png;base64," in html
    assert set(assigned["value_tier"]) <= {"private_banking", "high_net_worth", "potential", "mass"}


def test_too_few_rows_is_a_training_error(mlflow_uri, clean_zone_factory):
    frame, _ = planted_customers(20)
    data = clean_zone_factory({"features": frame}) / "features.parquet"
    with pytest.raises(TrainingError, match="at least 40 customers"):
        train_segment(data=data)


def test_cli_train_segment(mlflow_uri, clean_zone_factory, tmp_path):
    from pipelines.cli.main import main

    data = clean_zone_factory({"features": planted_customers(300)[0]}) / "features.parquet"
    out = tmp_path / "seg.json"
    main(["train", "--task", "segment", "--data", str(data), "--trials", "1", "--json", str(out)])
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["run_id"] and {"silhouette", "n_segments"} <= set(result["metrics"])


def test_cli_refuses_raw_csv(mlflow_uri, tmp_path, capsys):
    from pipelines.cli.main import main

    raw = tmp_path / "customers.csv"
    planted_customers(50)[0].to_csv(raw, index=False)
    with pytest.raises(SystemExit) as info:
        main(["train", "--task", "segment", "--data", str(raw)])
    assert info.value.code == 1
    assert "kequn trains only on pseudonymised Parquet tables" in capsys.readouterr().err
