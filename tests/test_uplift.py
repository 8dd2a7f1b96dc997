"""Uplift meta-learners, input checks and the tracked run (small data, real XGBoost/MLflow)."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from experiments.uplift import (
    LEARNERS,
    TableEncoder,
    arms_check,
    check_arms,
    fit_learner,
    train_uplift,
)
from kequn.errors import TrainingError
from tests.conftest import fake_token


def planted(n: int, seed: int = 0, *, confounded: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """A campaign with a planted effect: +25 points when x2 > 0, -20 (sleeping dogs) when x3 > 0.8."""
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 4))
    t = (r.random(n) < (1 / (1 + np.exp(-2 * x[:, 0])) if confounded else 0.5)).astype(int)
    p0 = 1 / (1 + np.exp(-(-1.0 + 0.5 * x[:, 0])))
    tau = 0.25 * (x[:, 1] > 0) - 0.2 * (x[:, 2] > 0.8)
    y = (r.random(n) < np.clip(p0 + t * tau, 0, 1)).astype(int)
    frame = pd.DataFrame({
        "customer_no": [fake_token(i) for i in range(n)],
        "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "x3": x[:, 3],
        "gender": r.choice(["男", "女"], n),
        "age_band": r.choice(["20-29", "30-39", "40-49", "50-59"], n),
        "treatment": t, "response": y,
    })
    return frame, tau


@pytest.mark.parametrize("name", LEARNERS)
def test_learners_recover_planted_effect_and_sleeping_dogs(name):
    train, _ = planted(4000, 0)
    test, tau = planted(1500, 1)
    enc = TableEncoder(exclude=("customer_no", "treatment", "response")).fit(train)
    learner = fit_learner(name, enc.transform(train).to_numpy(), train["treatment"], train["response"], seed=0)
    s = learner.predict(enc.transform(test).to_numpy())
    assert np.corrcoef(s, tau)[0, 1] > 0.5
    dogs = tau < 0
    assert (s[dogs] < 0).mean() > 0.7  # sleeping dogs get negative predicted uplift
    assert (s[tau > 0] > 0).mean() > 0.7


def test_encoder_skips_tokens_and_one_hots_categories():
    frame, _ = planted(100)
    enc = TableEncoder(exclude=("treatment", "response")).fit(frame)
    assert "customer_no" not in enc.input_columns
    assert "gender=男" in enc.feature_names_
    X = enc.transform(frame.iloc[:5])
    assert X.shape == (5, len(enc.feature_names_))
    assert (X.filter(like="gender=").sum(axis=1) == 1).all()


def test_arms_check_flags_a_confounded_campaign():
    frame, _ = planted(2000, confounded=True)
    enc = TableEncoder(exclude=("customer_no", "treatment", "response")).fit(frame)
    arms = arms_check(enc.transform(frame), frame["treatment"].to_numpy())
    assert not arms["randomised"]
    assert arms["imbalanced_features"][0] == "x0"
    frame, _ = planted(2000)
    assert arms_check(enc.transform(frame), frame["treatment"].to_numpy())["randomised"]


def test_check_arms_refuses_bad_arms():
    t = np.r_[np.ones(100), np.zeros(100)].astype(int)
    y = np.tile([0, 1], 100)
    assert check_arms(t, y, treatment="t", label="y") == []
    with pytest.raises(TrainingError, match="no control customers"):
        check_arms(np.ones(200, int), y, treatment="t", label="y")
    with pytest.raises(TrainingError, match="only 10 customers"):
        check_arms(np.r_[np.ones(190), np.zeros(10)].astype(int), y, treatment="t", label="y")
    with pytest.raises(TrainingError, match="no responses in the control arm"):
        check_arms(t, np.r_[np.tile([0, 1], 50), np.zeros(100)].astype(int), treatment="t", label="y")
    few = np.r_[np.tile([0, 1], 50), np.zeros(95), np.ones(5)].astype(int)
    assert any("only 5 responses" in w for w in check_arms(t, few, treatment="t", label="y"))


@pytest.fixture
def campaign_zone(clean_zone_factory):
    def make(frame=None, **kw):
        frame = planted(1200)[0] if frame is None else frame
        return clean_zone_factory({"campaign": frame}, **kw) / "campaign.parquet"
    return make


def test_train_uplift_logs_run_model_report_and_eval_set(mlflow_uri, campaign_zone, tmp_path):
    import mlflow

    data = campaign_zone()
    out = train_uplift(task="uplift", data=data, label=None, positive=None, treatment=None, id_col=None,
                       protected=["age_band"], trials=2, timeout=None, experiment="t-uplift", seed=1)
    m = out["metrics"]
    for key in ("test_qini_auc", "test_auuc", "test_uplift_at_30"):
        assert np.isfinite(m[key])
    assert m["test_qini_auc"] > 0.05
    assert out["run_id"] in out["summary"]
    client = mlflow.MlflowClient()
    run = client.get_run(out["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["kequn.task"] == "uplift" and run.data.tags["kequn.treatment"] == "treatment"
    assert "kequn.author" in run.data.tags and "kequn.manifest_id" in run.data.tags
    arts = {a.path for a in client.list_artifacts(out["run_id"], "uplift_report")}
    assert {"uplift_report/uplift_report.html", "uplift_report/uplift_report.json"} <= arts
    local = mlflow.artifacts.download_artifacts(run_id=out["run_id"], dst_path=str(tmp_path / "dl"))
    html = open(f"{local}/uplift_report/uplift_report.html", encoding="utf-8").read()
    assert "tk_" not in html and "sleeping dogs" in html.lower() and "<script" not in html
    report = json.load(open(f"{local}/uplift_report/uplift_report.json", encoding="utf-8"))
    assert report["metrics"]["test_qini_auc"] == pytest.approx(m["test_qini_auc"])
    assert [d["decile"] for d in report["deciles"]] == list(range(1, 11))
    from experiments.heldout import materialise
    from experiments.uplift.model import plain_columns
    from experiments.uplift_metrics import qini_coefficient

    assert not os.path.exists(f"{local}/eval/test_set.parquet")  # by reference, no rows in MLflow
    held = materialise(json.load(open(f"{local}/eval/heldout_ref.json", encoding="utf-8")))
    model = mlflow.pyfunc.load_model(f"runs:/{out['run_id']}/model")
    assert "customer_no" not in model.metadata.get_input_schema().input_names()
    names = model.metadata.get_input_schema().input_names()
    pred = np.asarray(model.predict(plain_columns(held.rows[names])))
    assert pred.shape == (len(held.y),)
    assert qini_coefficient(held.y, held.treatment, pred) == pytest.approx(m["test_qini_auc"], abs=1e-9)
    assert model.metadata.to_dict().get("saved_input_example_info") is None  # no real row logged
    assert np.isfinite(pred).all()
    assert any(k.startswith("fairness_") and k.endswith("_gender") for k in m)  # top-30% selection


def test_train_uplift_warns_when_not_randomised(mlflow_uri, campaign_zone):
    data = campaign_zone(planted(900, confounded=True)[0])
    out = train_uplift(data=data, trials=0)
    assert "does not look randomised" in out["summary"]


@pytest.mark.parametrize(("change", "kwargs", "message"), [
    (lambda f: f.drop(columns=["treatment"]), {}, "treatment column 'treatment' not found"),
    (lambda f: f.assign(treatment=f["treatment"] * 2 + (f["x0"] > 0)), {}, "is not binary 0/1"),
    (lambda f: f.assign(treatment=1), {}, "no control customers"),
    (lambda f: f.assign(response=f["response"] * (1 - f["treatment"])), {}, "no responses in the treated arm"),
    (lambda f: f, {"label": "nope"}, "label column 'nope' not found"),
])
def test_bad_input_is_one_line_training_error(mlflow_uri, campaign_zone, change, kwargs, message):
    data = campaign_zone(change(planted(300)[0]))
    with pytest.raises(TrainingError, match=message) as info:
        train_uplift(data=data, trials=0, **kwargs)
    assert "\n" not in str(info.value)


def test_an_arm_with_one_response_trains_with_warnings(mlflow_uri, campaign_zone):
    frame = planted(400, 4)[0]
    control_responders = frame.index[(frame["treatment"] == 0) & (frame["response"] == 1)]
    frame.loc[control_responders[1:], "response"] = 0
    out = train_uplift(data=campaign_zone(frame), trials=0)
    assert "the control arm has only 1 responses" in out["summary"]
    assert "unreliable" in out["summary"]  # a split without control responses is named
