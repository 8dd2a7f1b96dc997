"""Membership-inference audit (experiments/model_privacy.py) and the model_privacy gate."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.model_privacy import (
    attack_auc_advantage,
    attack_features,
    audit_membership,
    per_row_loss,
)
from pipelines.gates import load_gates, model_privacy_gate

N = 1200


def _noisy_table(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Five features, a label that is half signal and half noise: memorising it is visible."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, 5))
    y = ((X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=1.5, size=N)) > 0).astype(int)
    return X, y


def _audit(make_model, seed: int = 0) -> dict[str, float]:
    X, y = _noisy_table(seed)
    members, nonmembers = np.arange(N // 2), np.arange(N // 2, N)
    model = make_model().fit(X[members], y[members])

    def fit_predict(train_rows, rows):
        return make_model().fit(X[train_rows], y[train_rows]).predict_proba(X[rows])[:, 1]

    return audit_membership(members=members, nonmembers=nonmembers, target=y.astype(float), kind="binary",
                            predict=lambda rows: model.predict_proba(X[rows])[:, 1], fit_predict=fit_predict,
                            seed=seed)


def _overfitted():
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=0)  # grown to single customers: memorises the noise


def _regularised():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.1)


def test_auc_and_advantage_are_the_roc_numbers():
    member = np.array([1, 1, 1, 0, 0, 0])
    assert attack_auc_advantage(member, np.array([3, 2, 1, 0.5, 0.4, 0.3])) == (1.0, 1.0)
    auc, adv = attack_auc_advantage(member, np.array([3, 0.1, 1, 2, 0.4, 0.3]))
    assert auc == pytest.approx(5 / 9) and adv == pytest.approx(1 / 3)


def test_losses_binary_and_uplift():
    assert per_row_loss(np.array([0.9, 0.9]), np.array([1.0, 0.0]), "binary") == pytest.approx(
        [-np.log(0.9), -np.log(0.1)])
    target = np.array([[1.0, 1.0], [0.0, 1.0]])  # (treatment, response); e = 0.5 → z = ±2
    assert per_row_loss(np.array([0.0, 0.0]), target, "uplift") == pytest.approx([4.0, 4.0])


def test_overfitted_model_is_attackable_and_regularised_is_not():
    leaky, safe = _audit(_overfitted), _audit(_regularised)
    for key in ("threshold", "attack_model", "shadow"):
        assert leaky[f"privacy_mia_{key}_auc"] > safe[f"privacy_mia_{key}_auc"]
    assert leaky["privacy_mia_auc"] > 0.65 and leaky["privacy_mia_advantage"] > 0.2
    assert safe["privacy_mia_auc"] < 0.58
    assert leaky["privacy_mia_auc"] == max(leaky[f"privacy_mia_{k}_auc"] for k in ("threshold", "attack_model",
                                                                                    "shadow"))


def test_gate_rejects_the_overfitted_model_and_passes_the_regularised_one():
    gates = load_gates()
    rejected = model_privacy_gate("churn", _audit(_overfitted), gates)
    passed = model_privacy_gate("churn", _audit(_regularised), gates)
    assert not rejected["passed"] and "privacy_mia_auc" in rejected["detail"] and "FAILED" in rejected["detail"]
    assert passed["passed"] and passed["applicable"]
    missing = model_privacy_gate("propensity", {"test_roc_auc": 0.8}, gates)
    assert not missing["passed"] and "no membership-inference audit" in missing["detail"]
    assert not model_privacy_gate("segment", {}, gates)["applicable"]


def test_unknown_model_privacy_metric_is_a_config_error(tmp_path):
    from kequn.errors import ConfigError

    bad = tmp_path / "gates.yaml"
    bad.write_text("model_privacy:\n  limits: {privacy_mia_recall: '<= 0.6'}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="model_privacy.limits.privacy_mia_recall: unknown metric"):
        load_gates(bad)


def test_attack_model_agrees_with_art_membership_inference_black_box():
    """Our black-box attack against ART's MembershipInferenceBlackBox on the same precomputed predictions."""
    pytest.importorskip("art")
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.estimators.classification import SklearnClassifier

    from experiments.model_privacy import _fit_attack_score

    X, y = _noisy_table(1)
    members, nonmembers = np.arange(N // 2), np.arange(N // 2, N)
    for make in (_overfitted, _regularised):
        model = make().fit(X[members], y[members])
        pred = model.predict_proba(X)[:, 1]
        half = N // 4
        known_in, judged_in = members[:half], members[half:]
        known_out, judged_out = nonmembers[:half], nonmembers[half:]
        probs = np.column_stack([1 - pred, pred])
        art = MembershipInferenceBlackBox(SklearnClassifier(model=model), input_type="prediction",
                                          attack_model_type="rf")
        art.fit(y=y[known_in], test_y=y[known_out], pred=probs[known_in], test_pred=probs[known_out])
        judged = np.concatenate([judged_in, judged_out])
        truth = np.concatenate([np.ones(len(judged_in)), np.zeros(len(judged_out))])
        art_score = np.asarray(art.infer(None, y[judged], pred=probs[judged], probabilities=True))
        art_score = art_score[:, -1] if art_score.ndim == 2 else art_score
        art_auc, _ = attack_auc_advantage(truth, art_score)
        known = np.concatenate([known_in, known_out])
        known_truth = np.concatenate([np.ones(half), np.zeros(half)])
        ours = _fit_attack_score(attack_features(pred[known], y[known], "binary"), known_truth,
                                 attack_features(pred[judged], y[judged], "binary"), seed=0)
        our_auc, _ = attack_auc_advantage(truth, ours)
        assert abs(our_auc - art_auc) < 0.05, (make.__name__, our_auc, art_auc)


@pytest.mark.slow
def test_publish_rejects_the_memorising_model_and_passes_the_regularised_one(mlflow_uri, tmp_path, capsys,
                                                                             clean_zone_factory, monkeypatch):
    import json

    import pandas as pd

    from pipelines.cli.main import main
    from tests.test_registry_support import make_run

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    outcome = {}
    for strength in ("memorise", "good"):
        run_id = make_run(tmp_path, clean_dir=clean, strength=strength)
        out = tmp_path / f"{strength}.json"
        try:
            main(["-q", "publish", "--run", run_id, "--name", f"churn-{strength}", "--json", str(out)])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        capsys.readouterr()
        outcome[strength] = (code, json.loads(out.read_text(encoding="utf-8")))
    code, published = outcome["memorise"]
    assert code != 0 and published["approval_status"] == "rejected"
    assert not published["gates"]["model_privacy"]["passed"]
    code, published = outcome["good"]
    assert code == 0 and published["approval_status"] == "pending"
    assert published["gates"]["model_privacy"]["passed"] and published["gates"]["model_privacy"]["applicable"]
    from pipelines.registry import registry_listing

    assert "mia_auc=" in registry_listing(name="churn-good")
