"""`kequn train --dp-epsilon`: the differentially private logistic regression (experiments/dp.py)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.cli.main import main
from tests.test_train_data import synthetic_features

# diffprivlib is the optional extra kequn[dp]; it is imported through experiments.dp (see there why).
pytestmark = pytest.mark.skipif(importlib.util.find_spec("diffprivlib") is None,
                                reason="diffprivlib (kequn[dp]) is not installed")


def test_design_row_norm_is_bounded_by_the_documented_data_norm():
    from experiments.dp import ClippedDesign

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.standard_cauchy(500), "b": rng.normal(size=500),
                          "c": rng.choice(["x", "y", "z", "rare"], 500, p=[0.5, 0.3, 0.195, 0.005])})
    frame.loc[:5, "a"] = np.nan
    design = ClippedDesign(numeric=["a", "b"], categorical=["c"], clip=3.0).fit(frame)
    Z = design.transform(frame)
    assert design.bound == pytest.approx(math.sqrt(2 * 9 + 1)) and design.data_norm == 1.0
    assert np.linalg.norm(Z, axis=1).max() <= design.data_norm + 1e-9
    assert np.abs(Z[:, :2]).max() * design.bound == pytest.approx(3.0)  # the Cauchy column hit the clip
    assert "rare" not in design.levels_["c"] or (frame["c"] == "rare").sum() >= 5


def test_smaller_epsilon_costs_more_utility():
    from sklearn.metrics import roc_auc_score

    from experiments.dp import fit_dp_logistic

    rng = np.random.default_rng(1)
    X = np.clip(rng.normal(size=(4000, 4)), -3, 3)
    y = (X @ np.array([1.5, -1.0, 0.5, 0.0]) + rng.logistic(size=4000) > 0).astype(int)
    norm = math.sqrt(4 * 9)
    aucs = {}
    for eps in (0.01, 10.0):
        runs = [roc_auc_score(y, X @ w + b) for w, b in
                (fit_dp_logistic(X, y, epsilon=eps, data_norm=norm, seed=s) for s in range(3))]
        aucs[eps] = float(np.mean(runs))
    assert aucs[10.0] > 0.8 and aucs[10.0] > aucs[0.01] + 0.05, aucs
    w1, _ = fit_dp_logistic(X, y, epsilon=1.0, data_norm=norm, seed=0)
    w2, _ = fit_dp_logistic(X, y, epsilon=1.0, data_norm=norm, seed=1)
    assert not np.allclose(w1, w2)  # the noise is real: two seeds give two models


def test_train_dp_epsilon_records_budget_clipping_and_cost(mlflow_uri, clean_zone_factory, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    table = clean_zone_factory({"features": synthetic_features(1500)}) / "features.parquet"
    out = tmp_path / "o.json"
    main(["-q", "train", "--task", "churn", "--data", str(table), "--dp-epsilon", "3", "--json", str(out)])
    result = json.loads(out.read_text(encoding="utf-8"))
    metrics = result["metrics"]
    assert metrics["dp_epsilon"] == 3.0
    assert metrics["dp_utility_cost_roc_auc"] == pytest.approx(metrics["dp_baseline_test_roc_auc"]
                                                               - metrics["test_roc_auc"])
    assert metrics["test_roc_auc"] > 0.55 and "privacy_mia_auc" in metrics
    assert "differentially private logistic regression (epsilon 3" in capsys.readouterr().out
    run = MlflowClient(tracking_uri=mlflow_uri).get_run(result["run_id"])
    assert run.data.params["dp_epsilon"] == "3.0"
    assert "clipped to [-2, 2]" in run.data.params["dp_clip"] and run.data.params["dp_data_norm"] == "1.0"
    assert run.data.tags["kequn.dp_epsilon"] == "3"

    import mlflow

    model = mlflow.pyfunc.load_model(f"runs:/{result['run_id']}/model")
    scores = np.asarray(model.predict(pd.read_parquet(table)))
    assert scores.shape == (1500,) and ((scores > 0) & (scores < 1)).all()

    from pipelines.model_card import card_context

    context = card_context(name="m", version="1", run=run, gates={}, approval_status="pending",
                           published_by="x", published_at="now")
    assert context["differential_privacy"]["epsilon"] == "3.0"
    assert context["model_privacy"]["auc"] != "—"


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "segment", "--dp-epsilon", "1"], "kequn: error: --dp-epsilon applies to churn and propensity only. "
                                                  "Got --task segment"),
    (["--task", "churn", "--dp-epsilon", "0"], "kequn: error: --dp-epsilon must be a positive number. Got 0.0"),
])
def test_dp_epsilon_bad_use_is_one_line(mlflow_uri, clean_zone_factory, capsys, args, message):
    table = clean_zone_factory({"features": synthetic_features(200)}) / "features.parquet"
    with pytest.raises(SystemExit) as exc:
        main(["-q", "train", "--data", str(Path(table)), *args])
    assert exc.value.code != 0
    assert capsys.readouterr().err.strip().splitlines() == [message]
