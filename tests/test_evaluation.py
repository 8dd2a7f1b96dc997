"""experiments.evaluation: metric names, gain/lift, calibration, top-k and importance tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments import evaluation


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.2).astype(int)
    score = np.clip(0.2 + 0.3 * y + rng.normal(0, 0.15, 1000), 0.001, 0.999)
    return y, score


def test_metric_names_follow_the_design_contract(scored):
    metrics = evaluation.binary_metrics(*scored)
    assert set(metrics) == {"test_roc_auc", "test_pr_auc", "test_brier", "test_lift_top_decile"}
    assert 0.8 < metrics["test_roc_auc"] < 1.0
    assert metrics["test_brier"] == pytest.approx(np.mean((scored[1] - scored[0]) ** 2))


def test_perfect_ranking_reaches_the_maximal_lift():
    y = np.array([1] * 10 + [0] * 90)
    score = np.linspace(1, 0, 100)
    assert evaluation.lift_at(y, score, 0.10) == pytest.approx(10.0)
    table = evaluation.gain_lift_table(y, score)
    assert list(table["decile"]) == list(range(1, 11))
    assert table["customers"].sum() == 100 and table["positives"].sum() == 10
    assert table["cumulative_gain"].iloc[0] == pytest.approx(1.0)
    assert table["cumulative_gain"].iloc[-1] == pytest.approx(1.0)
    assert table["lift"].iloc[0] == pytest.approx(10.0)
    assert table["min_score"].is_monotonic_decreasing


def test_random_scores_have_lift_near_one(scored):
    y, _ = scored
    rng = np.random.default_rng(1)
    table = evaluation.gain_lift_table(y, rng.random(len(y)))
    assert table["cumulative_lift"].iloc[-1] == pytest.approx(1.0)
    assert abs(table["cumulative_gain"].iloc[4] - 0.5) < 0.1


def test_top_k_precision_recall_and_threshold(scored):
    y, score = scored
    table = evaluation.top_k_table(y, score)
    assert list(table["top_percent"]) == [5, 10, 20, 30]
    assert list(table["contacted"]) == [50, 100, 200, 300]
    assert table["recall"].is_monotonic_increasing
    order = np.argsort(-score, kind="stable")
    assert table["precision"].iloc[1] == pytest.approx(y[order[:100]].mean())
    assert evaluation.top_decile_threshold(score) == table["score_threshold"].iloc[1]
    assert (score >= evaluation.top_decile_threshold(score)).sum() == 100


def test_reliability_table_bins_every_row(scored):
    y, score = scored
    table = evaluation.reliability_table(y, score, n_bins=10)
    assert len(table) == 10 and table["customers"].sum() == len(y)
    filled = table.dropna()
    assert ((filled["mean_score"] >= filled["bin_low"]) & (filled["mean_score"] <= filled["bin_high"])).all()


def test_permutation_importance_finds_the_only_signal():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=500), "noise": rng.normal(size=500),
                      "cat": pd.Categorical(rng.choice(["a", "b"], 500))})
    y = (X["signal"] + rng.normal(0, 0.3, 500) > 0).astype(int)
    imp = evaluation.permutation_importance(lambda f: f["signal"].to_numpy(), X, y, seed=0)
    assert imp["signal"] > 0.3 and imp["noise"] == 0.0 and imp["cat"] == 0.0
    table = evaluation.importance_table({"signal": 3.0, "noise": 1.0}, imp)
    assert table["feature"].iloc[0] == "signal" and table["gain_share"].sum() == pytest.approx(1.0)


def test_undoing_the_class_weight_restores_calibration_and_keeps_the_ranking():
    from experiments.model import undo_class_weight

    assert undo_class_weight(np.array([0.5]), 3.0)[0] == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    p_true = rng.uniform(0.01, 0.5, 5000)
    weighted = p_true * 4 / (p_true * 4 + 1 - p_true)  # odds multiplied by a weight of 4
    back = undo_class_weight(weighted, 4.0)
    assert np.allclose(back, p_true)
    assert (np.argsort(back) == np.argsort(weighted)).all()
