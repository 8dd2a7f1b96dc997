"""Fairness report: numbers equal fairlearn's, small groups flagged and excluded, MLflow logging."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score

from experiments.fairness import UNKNOWN_GROUP, assess, assess_and_log, render_html
from kequn.errors import TrainingError


@pytest.fixture
def predictions():
    rng = np.random.default_rng(7)
    n = 600
    gender = rng.choice(["男", "女"], size=n)
    age_band = rng.choice(["18-29", "30-44", "45-59", "60+"], size=n, p=[0.3, 0.35, 0.3, 0.05])
    age_band = pd.Series(age_band, dtype="object")
    age_band[rng.random(n) < 0.05] = None
    y = rng.integers(0, 2, size=n)
    score = np.clip(0.35 * y + 0.1 * (gender == "女") + rng.random(n) * 0.6, 0, 1)
    sensitive = pd.DataFrame({"gender": gender, "age_band": age_band})
    return y, score, sensitive


def test_numbers_equal_fairlearn_computed_directly(predictions):
    y, score, sensitive = predictions
    threshold = 0.5
    report = assess(y, score, sensitive, threshold=threshold, min_group_size=40)
    pred = (score >= threshold).astype(int)

    gender = sensitive["gender"].to_numpy()
    agg = report["attributes"]["gender"]["aggregates"]
    assert agg["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, pred, sensitive_features=gender))
    assert agg["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(y, pred, sensitive_features=gender))
    assert agg["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, pred, sensitive_features=gender))
    assert report["metrics"]["fairness_demographic_parity_ratio_gender"] == pytest.approx(
        agg["demographic_parity_ratio"])

    frame = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                 "fpr": false_positive_rate},
                        y_true=y, y_pred=pred, sensitive_features=gender)
    rows = {r["group"]: r for r in report["attributes"]["gender"]["groups"]}
    for group, expected in frame.by_group.iterrows():
        assert rows[group]["selection_rate"] == pytest.approx(expected["selection_rate"])
        assert rows[group]["tpr"] == pytest.approx(expected["tpr"])
        assert rows[group]["fpr"] == pytest.approx(expected["fpr"])
        mask = gender == group
        assert rows[group]["roc_auc"] == pytest.approx(roc_auc_score(y[mask], score[mask]))
        assert rows[group]["mean_score"] == pytest.approx(score[mask].mean())
        assert rows[group]["observed_rate"] == pytest.approx(y[mask].mean())
        assert rows[group]["count"] == int(mask.sum())


def test_small_and_missing_groups_are_flagged_and_excluded(predictions):
    y, score, sensitive = predictions
    pred = (score >= 0.5).astype(int)
    report = assess(y, score, sensitive, threshold=0.5, min_group_size=40)
    age = report["attributes"]["age_band"]
    groups = {r["group"]: r for r in age["groups"]}
    assert UNKNOWN_GROUP in groups
    assert set(age["excluded_small_groups"]) == {g for g, r in groups.items() if r["count"] < 40}
    assert "60+" in age["excluded_small_groups"]  # ~5 % of 600 rows

    labels = sensitive["age_band"].astype("object").where(sensitive["age_band"].notna(), UNKNOWN_GROUP)
    keep = ~labels.isin(age["excluded_small_groups"]).to_numpy()
    expected = demographic_parity_ratio(y[keep], pred[keep], sensitive_features=labels[keep].to_numpy())
    assert age["aggregates"]["demographic_parity_ratio"] == pytest.approx(expected)
    everything = demographic_parity_ratio(y, pred, sensitive_features=labels.to_numpy())
    assert not math.isclose(expected, everything)  # exclusion changes the number
    json.dumps(report)  # JSON-able


def test_one_class_group_has_no_auc_and_too_few_groups_no_gaps():
    y = np.array([0, 0, 0, 1, 1, 0])
    score = np.array([0.1, 0.7, 0.2, 0.9, 0.6, 0.3])
    sensitive = pd.DataFrame({"gender": ["男", "男", "男", "女", "女", "女"]})
    report = assess(y, score, sensitive, threshold=0.5, min_group_size=1)
    rows = {r["group"]: r for r in report["attributes"]["gender"]["groups"]}
    assert rows["男"]["roc_auc"] is None and rows["男"]["tpr"] is None
    small = assess(y, score, sensitive, threshold=0.5, min_group_size=4)
    assert small["attributes"]["gender"]["aggregates"]["demographic_parity_ratio"] is None
    assert small["metrics"] == {}


def test_bad_inputs_are_one_line_errors():
    sensitive = pd.DataFrame({"gender": ["男", "女"]})
    with pytest.raises(TrainingError, match="equal length"):
        assess([0, 1], [0.2], sensitive, threshold=0.5)
    with pytest.raises(TrainingError, match="binary"):
        assess([0, 2], [0.2, 0.3], sensitive, threshold=0.5)
    ids = pd.DataFrame({"customer_token": [f"t{i}" for i in range(60)]})
    with pytest.raises(TrainingError, match="customer_token.*60 groups"):
        assess(np.arange(60) % 2, np.linspace(0, 1, 60), ids, threshold=0.5)


def test_html_escapes_values():
    y = np.array([0, 1] * 20)
    sensitive = pd.DataFrame({"<b>attr</b>": ["<script>x</script>"] * 20 + ["ok"] * 20})
    page = render_html(assess(y, np.linspace(0, 1, 40), sensitive, threshold=0.5, min_group_size=5))
    assert "<script>x" not in page and "&lt;script&gt;" in page and "<b>attr" not in page
    assert "http" not in page.lower().replace("http-equiv", "")  # self-contained
    assert "第二十四条" in page and "Art. 24" in page


def test_assess_and_log_logs_metrics_and_reports(mlflow_uri, predictions):
    import mlflow

    y, score, sensitive = predictions
    mlflow.set_tracking_uri(mlflow_uri)
    with pytest.raises(TrainingError, match="active MLflow run"):
        assess_and_log(y, score, sensitive, threshold=0.5)
    with mlflow.start_run() as run:
        report = assess_and_log(y, score, sensitive, threshold=0.5, min_group_size=40)
    data = mlflow.MlflowClient().get_run(run.info.run_id).data
    assert data.metrics["fairness_demographic_parity_ratio_gender"] == pytest.approx(
        report["attributes"]["gender"]["aggregates"]["demographic_parity_ratio"])
    assert data.metrics["fairness_n_small_groups_age_band"] >= 1
    stored = json.loads(mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/fairness/fairness_report.json"))
    assert stored["metrics"] == report["metrics"]
    assert "Art. 24" in mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/fairness/fairness_report.html")


def test_significance_of_the_gaps_is_a_chi_square_test(predictions):
    from scipy.stats import chi2_contingency

    y, score, sensitive = predictions
    report = assess(y, score, sensitive, threshold=0.5, min_group_size=40)
    pred = (score >= 0.5).astype(int)
    gender = sensitive["gender"].to_numpy()
    table = pd.crosstab(gender, pred).to_numpy()
    agg = report["attributes"]["gender"]["aggregates"]
    assert agg["selection_rate_pvalue"] == pytest.approx(chi2_contingency(table, correction=False).pvalue)
    # The planted score bias towards 女 is a real gap on 600 rows: significant.
    assert agg["selection_rate_pvalue"] < 0.05
    per_label = [chi2_contingency(pd.crosstab(gender[y == k], pred[y == k]).to_numpy(), correction=False).pvalue
                 for k in (0, 1)]
    assert agg["equalized_odds_pvalue"] == pytest.approx(min(1.0, 2 * min(per_label)))
    assert report["metrics"]["fairness_selection_rate_pvalue_gender"] == agg["selection_rate_pvalue"]


def test_no_gap_by_construction_is_not_significant():
    rng = np.random.default_rng(3)
    n = 400
    gender = np.repeat(["男", "女"], n // 2)
    score = np.tile(rng.random(n // 2), 2)  # the two groups get identical scores
    y = np.tile(rng.integers(0, 2, n // 2), 2)
    report = assess(y, score, pd.DataFrame({"gender": gender}), threshold=0.7)
    assert report["attributes"]["gender"]["aggregates"]["selection_rate_pvalue"] == pytest.approx(1.0)
