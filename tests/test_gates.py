"""Gates: validated configuration and each gate's verdict with readable failure text."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kequn.errors import ConfigError
from pipelines.gates import (
    DEFAULT_GATES,
    Threshold,
    fairness_gate,
    load_gates,
    privacy_gate,
    quality_gate,
    uplift_gate,
)


@pytest.fixture
def gates():
    return load_gates(DEFAULT_GATES)


def write(tmp_path, text: str):
    path = tmp_path / "gates.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_gates_file_is_valid(gates):
    assert [str(t) for t in gates.floors["churn"]] == ["test_roc_auc >= 0.6"]
    assert str(gates.min_qini) == "test_qini_auc > 0"
    for task in ("churn", "propensity"):  # scores: equal opportunity and calibration within groups gate
        assert {str(t) for t in gates.fairness_limits[task]} == {"positive_balance_difference <= 0.1",
                                                                 "calibration_difference <= 0.1"}
    assert gates.fairness_limits["uplift"] == ()  # targeting: reported, not gated
    assert {"demographic_parity_ratio", "equal_opportunity_difference"} <= set(gates.config.fairness.reported)
    assert gates.config.fairness.exemptions == {}  # no exemption ships
    assert gates.config.quality.regression.tolerance == 0.01


@pytest.mark.parametrize(("text", "message"), [
    ("qualty: {}\n", "unknown key 'qualty'"),
    ("quality:\n  floors:\n    churn: {test_auc: '>= 0.6'}\n",
     "quality.floors.churn.test_auc: unknown metric for task churn; known: test_roc_auc"),
    ("quality:\n  floors:\n    segment: {test_roc_auc: '>= 0.6'}\n", "unknown metric for task segment"),
    ("quality:\n  floors:\n    churn: {test_roc_auc: 'at least 0.6'}\n",
     "threshold must look like '>= 0.6' (op one of >=, >, <=, <). Got 'at least 0.6'"),
    ("quality:\n  floors:\n    chrun: {test_roc_auc: '>= 0.6'}\n", "unknown task"),
    ("quality:\n  regression: {tolerance: -1}\n", "quality.regression.tolerance"),
    ("quality:\n  regression:\n    metric: {churn: test_brier}\n", "non-recomputable metric 'test_brier'"),
    ("fairness:\n  limits: {disparate_impact: '>= 0.8'}\n", "fairness.limits.disparate_impact: unknown metric"),
    ("fairness:\n  limits:\n    demographic_parity_ratio: '>= 0.8'\n  colour: red\n", "unknown key 'fairness.colour'"),
    ("privacy: [1, 2\n", "not valid YAML"),
    ("- a\n- b\n", "must be a mapping"),
])
def test_bad_gates_files_are_one_line_config_errors(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        load_gates(write(tmp_path, text))
    assert message in str(info.value)
    assert str(tmp_path / "gates.yaml") in str(info.value) and "\n" not in str(info.value)


def test_missing_gates_file(tmp_path):
    with pytest.raises(ConfigError, match="no such gates file"):
        load_gates(tmp_path / "none.yaml")


def test_threshold_failure_text_names_gate_metric_threshold_and_value():
    floor = Threshold.parse("quality", "test_roc_auc", ">= 0.6", "where")
    check = floor.check(0.55)
    assert not check["passed"]
    assert check["detail"] == "quality: test_roc_auc = 0.5500, needs >= 0.6: FAILED"
    assert floor.check(0.6)["passed"]
    assert "was not logged" in floor.check(None)["detail"] and not floor.check(float("nan"))["passed"]
    assert not Threshold.parse("uplift", "test_qini_auc", "> 0", "w").check(0.0)["passed"]


def test_quality_and_uplift_gates(gates):
    assert quality_gate("churn", {"test_roc_auc": 0.71}, gates)["passed"]
    low = quality_gate("propensity", {"test_roc_auc": 0.52}, gates)
    assert not low["passed"] and "0.5200, needs >= 0.6" in low["detail"]
    assert not quality_gate("churn", {}, gates)["passed"]
    assert quality_gate("segment", {"silhouette": 0.2}, gates)["passed"]
    assert not uplift_gate("uplift", {"test_qini_auc": -0.01}, gates)["passed"]
    assert uplift_gate("uplift", {"test_qini_auc": 0.03}, gates)["passed"]
    assert uplift_gate("churn", {}, gates)["applicable"] is False


def test_fairness_gate_per_attribute(gates, tmp_path):
    metrics = {"fairness_positive_balance_difference_gender": 0.05, "fairness_calibration_difference_gender": 0.01,
               "fairness_positive_balance_difference_city_tier": 0.3, "fairness_calibration_difference_city_tier": 0.02,
               "fairness_demographic_parity_ratio_gender": 0.5, "fairness_equal_opportunity_difference_gender": 0.4,
               "fairness_n_small_groups_age_band": 3.0}
    result = fairness_gate("churn", metrics, gates)
    assert not result["passed"]
    failed = [c["metric"] for c in result["checks"] if not c["passed"]]
    assert failed == ["positive_balance_difference[city_tier]"]  # extra --protected attributes are checked too
    assert "positive_balance_difference[age_band] not measured" in result["detail"]  # small groups: noted
    # demographic parity is shown but does not reject a targeting score
    assert "demographic_parity_ratio[gender] = 0.5000 (reported, not a gate for task churn)" in result["detail"]
    assert "equal_opportunity_difference[gender] = 0.4000 (reported, not a gate" in result["detail"]
    uplift = fairness_gate("uplift", metrics, gates)
    assert uplift["passed"] and "no fairness limit gates task uplift" in uplift["detail"]
    assert not fairness_gate("uplift", {"test_qini_auc": 0.1}, gates)["passed"]  # the report is still required
    assert fairness_gate("churn", {k: v for k, v in metrics.items() if "city" not in k}, gates)["passed"]
    assert not fairness_gate("churn", {"test_roc_auc": 0.8}, gates)["passed"]  # no report at all
    lenient = load_gates(write(tmp_path, "fairness:\n  limits: {demographic_parity_ratio: '>= 0.8'}\n"
                                         "  require_report: false\n"))
    assert fairness_gate("churn", {"test_roc_auc": 0.8}, lenient)["passed"]
    assert fairness_gate("segment", {}, gates)["applicable"] is False


def _tags(clean, manifest_id):
    return {"kequn.manifest_id": manifest_id, "kequn.policy_hash": "test-policy-hash", "kequn.clean_dir": str(clean)}


def test_privacy_gate(gates, tmp_path, clean_zone_factory):
    clean = clean_zone_factory({"customers": pd.DataFrame({"gender": ["女"]})})
    manifest = json.loads((clean / "manifest.json").read_text(encoding="utf-8"))
    assert privacy_gate(_tags(clean, manifest["manifest_id"]), gates)["passed"]
    other = privacy_gate(_tags(clean, "another-id"), gates)
    assert not other["passed"] and "another manifest" in other["detail"]
    assert "no lineage tags" in privacy_gate({}, gates)["detail"]

    manifest["residual_scan"] = {"clean": False, "findings": 2}
    (clean / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    edited = privacy_gate(_tags(clean, manifest["manifest_id"]), gates)
    assert not edited["passed"] and "the signature does not verify" in edited["detail"]  # edited by hand
    from kequn.signing import ensure_step_key, sign_record

    signed = sign_record(ensure_step_key()[0], manifest, signer="privacy-step")  # as the privacy step signs it
    (clean / "manifest.json").write_text(json.dumps(signed), encoding="utf-8")
    dirty = privacy_gate(_tags(clean, manifest["manifest_id"]), gates)
    assert not dirty["passed"] and "residual scan found 2" in dirty["detail"]

    failed = clean_zone_factory({"customers": pd.DataFrame({"gender": ["女"]})}, status="failed", name="bad")
    failed_id = json.loads((failed / "manifest.json").read_text(encoding="utf-8"))["manifest_id"]
    assert "status is 'failed'" in privacy_gate(_tags(failed, failed_id), gates)["detail"]

    gone = _tags(tmp_path / "deleted", "m-1")
    assert privacy_gate(gone, gates)["passed"]
    strict = load_gates(write(tmp_path, "privacy: {require_manifest_on_disk: true}\n"))
    assert not privacy_gate(gone, strict)["passed"]


def test_fairness_breach_within_sampling_noise_is_not_a_rejection(tmp_path):
    gates = load_gates(write(tmp_path, "fairness:\n  limits: {demographic_parity_ratio: '>= 0.8'}\n"))
    breach = {"fairness_demographic_parity_ratio_gender": 0.6, "fairness_equalized_odds_difference_gender": 0.05}
    noisy = fairness_gate("churn", {**breach, "fairness_selection_rate_pvalue_gender": 0.31}, gates)
    assert noisy["passed"]
    assert "within sampling noise (p = 0.310 >= 0.05)" in noisy["detail"]
    real = fairness_gate("churn", {**breach, "fairness_selection_rate_pvalue_gender": 0.001}, gates)
    assert not real["passed"]
    assert "demographic_parity_ratio[gender] = 0.6000, needs >= 0.8: FAILED" in real["detail"]
    assert not fairness_gate("churn", breach, gates)["passed"]  # no test logged: the number decides
    strict = load_gates(write(tmp_path, "fairness:\n  limits: {demographic_parity_ratio: '>= 0.8'}\n"
                                        "  significance: null\n"))
    assert not fairness_gate("churn", {**breach, "fairness_selection_rate_pvalue_gender": 0.31}, strict)["passed"]


def test_a_documented_exemption_accepts_a_significant_gap(tmp_path):
    breach = {"fairness_demographic_parity_ratio_age_band": 0.49, "fairness_selection_rate_pvalue_age_band": 1e-9,
              "fairness_demographic_parity_ratio_gender": 0.9}
    exempt = load_gates(write(tmp_path, "fairness:\n  limits: {demographic_parity_ratio: '>= 0.8'}\n"
                                        "  exemptions: {age_band: 'churn risk differs by life stage'}\n"))
    result = fairness_gate("churn", breach, exempt)
    assert result["passed"]
    assert ("demographic_parity_ratio[age_band] = 0.4900, needs >= 0.8, accepted by exemption "
            "(churn risk differs by life stage)") in result["detail"]
    still = {**breach, "fairness_demographic_parity_ratio_gender": 0.5, "fairness_selection_rate_pvalue_gender": 1e-9}
    assert not fairness_gate("churn", still, exempt)["passed"]  # other attributes are still enforced
    with pytest.raises(ConfigError, match="needs a documented reason"):
        load_gates(write(tmp_path, "fairness:\n  exemptions: {age_band: ''}\n"))


def test_per_task_limits_add_to_flat_ones_and_unknown_tasks_are_refused(tmp_path):
    gates = load_gates(write(tmp_path, "fairness:\n  limits:\n    demographic_parity_ratio: '>= 0.8'\n"
                                       "    churn: {equal_opportunity_difference: '<= 0.1'}\n"))
    assert {str(t) for t in gates.fairness_limits["churn"]} == {"demographic_parity_ratio >= 0.8",
                                                                "equal_opportunity_difference <= 0.1"}
    assert [str(t) for t in gates.fairness_limits["uplift"]] == ["demographic_parity_ratio >= 0.8"]
    with pytest.raises(ConfigError, match="fairness.limits.pricing: unknown task"):
        load_gates(write(tmp_path, "fairness:\n  limits:\n    pricing: {demographic_parity_ratio: '>= 0.8'}\n"))
    with pytest.raises(ConfigError, match="fairness.reported: unknown metric 'parity'"):
        load_gates(write(tmp_path, "fairness:\n  reported: [parity]\n"))


def _biased_scores(shift: float, n: int = 4000, seed: int = 7):
    """Churn scores from one honest model, then ``shift`` subtracted for women at equal true labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    gender = np.where(rng.random(n) < 0.5, "男", "女")
    age_band = rng.choice(["18-29", "30-44", "45-59", "60+"], size=n)
    score = np.clip(0.25 + 0.35 * y + rng.normal(0, 0.15, n), 0, 1)
    score = np.clip(score - shift * (gender == "女"), 0, 1)
    return y, score, pd.DataFrame({"gender": gender, "age_band": age_band})


def test_a_planted_unjustified_bias_is_rejected_by_the_shipped_defaults(gates):
    from experiments.fairness import assess

    y, fair_score, sensitive = _biased_scores(0.0)
    fair = assess(y, fair_score, sensitive, threshold=0.5)["metrics"]
    assert fairness_gate("churn", fair, gates)["passed"]
    y, biased_score, sensitive = _biased_scores(0.2)  # women's churn risk under-stated: they get no retention call
    biased = assess(y, biased_score, sensitive, threshold=0.5)["metrics"]
    assert biased["fairness_equal_opportunity_difference_gender"] > 0.3  # reported
    assert biased["fairness_true_positive_rate_pvalue_gender"] < 1e-6
    assert biased["fairness_positive_balance_difference_gender"] > 0.15
    assert biased["fairness_positive_balance_pvalue_gender"] < 1e-6
    assert biased["fairness_calibration_difference_gender"] > 0.1 and biased["fairness_calibration_pvalue_gender"] < 1e-6
    for task in ("churn", "propensity"):
        result = fairness_gate(task, biased, gates)
        assert not result["passed"]
        failed = sorted(c["metric"] for c in result["checks"] if not c["passed"])
        assert failed == ["calibration_difference[gender]", "positive_balance_difference[gender]"]
