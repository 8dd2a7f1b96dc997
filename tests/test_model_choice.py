"""Clean splits and honest model choice in `kequn train` (churn/propensity).

Whatever the training part decides (category lists, the shipped family, the operating
threshold, the tuned parameters) must not move when only the held-out rows change; the shipped
family is the one that wins cross-validation on the training part; a shared Optuna study refuses
trials of another task or table.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from experiments.binary import split, train_binary
from experiments.choice import CandidateCV, choose
from experiments.data import prepare, table_digest
from experiments.tuning import claim_study, study_key, tune_xgboost
from kequn import console
from kequn.errors import TrainingError
from kequn.lineage import Lineage
from pipelines.cli.main import main
from tests.test_train_data import synthetic_features

PLANTED = "BR_only_in_test"
LINEAGE = Lineage(kind="clean_table", manifest_id="test", policy_hash="test", key_fingerprint="test",
                  clean_dir="test")


def _train(frame: pd.DataFrame, *, task: str = "churn", trials: int = 1, seed: int = 42) -> dict:
    console.set_quiet(True)
    try:
        prepared = prepare(frame, task=task)
        return train_binary(prepared, task=task, lineage=LINEAGE,
                            frame=frame, data_path=None, digest=table_digest(frame), trials=trials,
                            timeout=None, seed=seed, tracker=None)
    finally:
        console.set_quiet(False)


def test_held_out_rows_move_nothing_the_training_part_decides():
    frame = synthetic_features(400, seed=11)
    _, test_idx = split(prepare(frame, task="churn"), 42)
    attacked = frame.copy()
    rows = attacked.index[test_idx]
    rng = np.random.default_rng(0)
    # the held-out rows get other feature values and a category level no training row has
    for col in ("aum", "aum_change_90d", "txn_count_90d", "noise"):
        attacked.loc[rows, col] = rng.permutation(attacked.loc[rows, col].to_numpy())
    attacked.loc[rows[::3], "branch_code"] = PLANTED
    assert split(prepare(attacked, task="churn"), 42)[1].tolist() == test_idx.tolist()  # same split

    before, after = _train(frame), _train(attacked)
    assert PLANTED not in after["feature_spec"]["categories"]["branch_code"]
    assert after["feature_spec"] == before["feature_spec"]
    assert after["operating_threshold"] == before["operating_threshold"]
    assert after["shipped_family"] == before["shipped_family"]
    assert after["best_params"] == before["best_params"]
    for name in ("logistic_cv_roc_auc", "xgboost_cv_roc_auc"):
        assert after["metrics"][name] == before["metrics"][name]
    assert after["metrics"]["test_roc_auc"] != before["metrics"]["test_roc_auc"]  # the attack did reach the test


def _linear_table(n: int = 500, seed: int = 3) -> pd.DataFrame:
    """Many small additive effects: a logistic regression's home ground, hard for shallow trees."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12))
    logit = -1.0 + X @ np.full(12, 0.45)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(12)])
    frame.insert(0, "customer_no", [f"tk_{i:012x}" for i in range(n)])
    frame["churn_label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def test_logistic_ships_when_it_wins_cross_validation_and_reloads(mlflow_uri, clean_zone_factory, tmp_path):
    path = clean_zone_factory({"linear": _linear_table()}) / "linear.parquet"
    main(["-q", "train", "--task", "churn", "--data", str(path), "--trials", "1", "--json", str(tmp_path / "o.json")])
    result = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    m = result["metrics"]
    assert m["logistic_cv_roc_auc"] > m["xgboost_cv_roc_auc"]
    assert m["cv_roc_auc"] == m["logistic_cv_roc_auc"]
    assert m["test_roc_auc"] == m["baseline_test_roc_auc"]  # the shipped model is the baseline
    run = mlflow.MlflowClient().get_run(result["run_id"])
    assert run.data.params["shipped_family"] == "logistic"
    assert {"xgboost_test_roc_auc", "xgboost_cv_roc_auc", "logistic_cv_roc_auc_std"} <= set(run.data.metrics)
    local = mlflow.artifacts.download_artifacts(run_id=result["run_id"], dst_path=str(tmp_path / "a"))
    html = (tmp_path / "a" / "report" / "model_report.html").read_text(encoding="utf-8")
    assert "Model choice" in html and "Shipped: <b>logistic regression</b>" in html
    assert "the held-out part was not used for the choice" in html
    model = mlflow.pyfunc.load_model(f"runs:/{result['run_id']}/model")
    from sklearn.metrics import roc_auc_score

    from experiments.heldout import materialise

    held = materialise(json.loads((Path(local) / "eval" / "heldout_ref.json").read_text(encoding="utf-8")))
    scores = np.asarray(model.predict(held.rows))
    assert roc_auc_score(held.y, scores) == pytest.approx(m["test_roc_auc"], abs=1e-12)


def _cv(family: str, mean: float) -> CandidateCV:
    return CandidateCV(family=family, fold_scores=[mean - 0.01, mean, mean + 0.01], oof=np.zeros(3))


def test_choice_takes_the_cv_winner_and_ties_go_to_the_baseline():
    assert choose({"logistic": _cv("logistic", 0.70), "xgboost": _cv("xgboost", 0.75)})[0] == "xgboost"
    family, reason = choose({"logistic": _cv("logistic", 0.75), "xgboost": _cv("xgboost", 0.70)})
    assert family == "logistic" and "0.7500 vs tuned XGBoost 0.7000" in reason
    family, reason = choose({"logistic": _cv("logistic", 0.75), "xgboost": _cv("xgboost", 0.75)})
    assert family == "logistic" and "simpler" in reason


def _tiny() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    return X, pd.Series((X["a"] + rng.normal(size=120) > 0).astype(int))


def test_a_shared_study_refuses_another_task_or_table(tmp_path, monkeypatch):
    import optuna

    storage = f"sqlite:///{tmp_path}/optuna.db"
    monkeypatch.setenv("KEQUN_OPTUNA_STORAGE", storage)
    X, y = _tiny()
    common = {"seed": 1, "trials": 1, "timeout": None, "n_folds": 3, "name": "shared"}
    tune_xgboost(X, y, key=study_key("churn", "d1", 1), **common)
    tune_xgboost(X, y, key=study_key("churn", "d1", 1), **common)  # same key: joins the study
    assert len(optuna.load_study(study_name="shared", storage=storage).trials) == 2
    with pytest.raises(TrainingError, match=r"another task \(task churn, table digest d1\); refusing"):
        tune_xgboost(X, y, key=study_key("propensity", "d1", 1), **common)
    with pytest.raises(TrainingError, match="another table digest"):
        tune_xgboost(X, y, key=study_key("churn", "d2", 1), **common)
    assert len(optuna.load_study(study_name="shared", storage=storage).trials) == 2  # nothing was added

    legacy = optuna.create_study(study_name="legacy", storage=storage)
    legacy.enqueue_trial({"x": 1.0})
    legacy.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=1)
    with pytest.raises(TrainingError, match="no task or table key"):
        claim_study(legacy, study_key("churn", "d1", 1))


def test_cli_refuses_a_shared_study_of_another_task_in_one_line(mlflow_uri, clean_zone_factory, tmp_path,
                                                                 monkeypatch, capsys):
    monkeypatch.setenv("KEQUN_OPTUNA_STORAGE", f"sqlite:///{tmp_path}/optuna.db")
    monkeypatch.setenv("KEQUN_OPTUNA_STUDY", "team-study")
    path = clean_zone_factory({"features": synthetic_features(300, seed=2)}) / "features.parquet"
    main(["-q", "train", "--task", "churn", "--data", str(path), "--trials", "1"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["-q", "train", "--task", "propensity", "--data", str(path), "--trials", "1"])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kequn: error: Optuna study 'team-study' was tuned on another task")
