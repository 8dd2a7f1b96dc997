"""`kequn train` for churn/propensity: tracked runs, reload, reproducibility, privacy of artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pipelines.cli.main import main
from tests.test_train_data import synthetic_features

TRIALS = 3


@pytest.fixture
def churn_table(clean_zone_factory) -> Path:
    return clean_zone_factory({"features": synthetic_features(600)}) / "features.parquet"


def _train(path: Path, *extra: str, json_out: Path | None = None) -> dict:
    args = ["-q", "train", "--task", "churn", "--data", str(path), "--trials", str(TRIALS), *extra]
    if json_out is not None:
        args += ["--json", str(json_out)]
    main(args)
    return json.loads(json_out.read_text(encoding="utf-8")) if json_out is not None else {}


def _artifact_files(run_id: str, tmp: Path) -> tuple[Path, list[Path]]:
    local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp / "artifacts")))
    return local, [p for p in local.rglob("*") if p.is_file()]


def test_churn_run_is_complete_private_and_reloads(mlflow_uri, churn_table, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KEQUN_USER", "analyst_a")
    result = _train(churn_table, json_out=tmp_path / "out.json")
    run_id = result["run_id"]
    for name in ("test_roc_auc", "test_pr_auc", "test_brier", "test_lift_top_decile", "baseline_test_roc_auc"):
        assert 0.0 <= result["metrics"][name] <= 10.0
    assert result["metrics"]["test_roc_auc"] > 0.7  # planted drivers are learnable
    assert "fairness_demographic_parity_difference_gender" in result["metrics"]
    assert "tuned XGBoost held-out ROC-AUC" in capsys.readouterr().out

    client = MlflowClient(tracking_uri=mlflow_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["kequn.author"] == "analyst_a"
    assert tags["kequn.task"] == "churn"
    assert tags["kequn.policy_hash"] == "test-policy-hash"
    assert tags["kequn.git_commit"]
    assert tags["kequn.version.xgboost"]
    assert float(run.data.params["operating_threshold"]) > 0
    assert run.data.params["test_split_seed"] == "42"
    assert set(run.data.metrics) >= {"test_roc_auc", "test_lift_top_decile", "baseline_test_brier"}
    children = client.search_runs([run.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(children) == TRIALS
    assert all("cv_roc_auc" in c.data.metrics or c.data.tags["optuna.state"] == "PRUNED" for c in children)
    assert all("max_depth" in c.data.params for c in children)

    # dataset lineage: digest and schema only, no id column
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.digest == tags["kequn.table_digest"]
    assert "customer_no" not in dataset.schema
    assert json.loads(dataset.profile)["num_rows"] == 600

    local, files = _artifact_files(run_id, tmp_path)
    names = {p.relative_to(local).as_posix() for p in files}
    assert "eval/test_set.parquet" not in names  # no customer rows in MLflow: the held-out set by reference
    for expected in ("eval/heldout_ref.json", "evaluation/gain_lift_by_decile.csv",
                     "evaluation/gain_lift_by_decile.json", "evaluation/precision_recall_top_k.csv",
                     "evaluation/feature_importance.csv", "plots/reliability.png", "plots/roc.png",
                     "plots/pr.png", "plots/feature_importance.png", "plots/search_history.png",
                     "report/model_report.html"):
        assert expected in names, expected
    # no pseudonym token (let alone a raw id) in any artifact
    tokens = set(pd.read_parquet(churn_table)["customer_no"])
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        assert "tk_" not in text, path.name
    html = (local / "report" / "model_report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "roc_auc" in html and "data:image/png;base64," in html
    topk = pd.read_csv(local / "evaluation" / "precision_recall_top_k.csv")
    assert list(topk["top_percent"]) == [5, 10, 20, 30]

    # the model: signature without ids, synthetic example, same scores after reload
    model_info = mlflow.models.get_model_info(f"runs:/{run_id}/model")
    inputs_schema = model_info.signature.inputs.input_names()
    assert "customer_no" not in inputs_schema and "churn_label" not in inputs_schema
    assert "gender" not in inputs_schema
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    from sklearn.metrics import roc_auc_score

    from experiments.heldout import materialise

    ref = json.loads((local / "eval" / "heldout_ref.json").read_text(encoding="utf-8"))
    assert set(ref) >= {"table", "table_sha256", "positions", "positions_sha256", "label"} and "tk_" not in json.dumps(ref)
    held = materialise(ref)  # re-read from the training table: exactly the held-out rows
    assert len(held.y) == 120
    scores = np.asarray(model.predict(held.rows))
    assert roc_auc_score(held.y, scores) == pytest.approx(result["metrics"]["test_roc_auc"], abs=1e-12)
    assert abs(scores.mean() - held.y.mean()) < 0.1  # class weighting undone: calibrated
    clean = pd.read_parquet(churn_table)  # the whole clean table, id and label columns included
    full_scores = np.asarray(model.predict(clean))
    assert full_scores.shape == (600,) and np.all((full_scores > 0) & (full_scores < 1))
    # text columns as pandas category (how features.parquet reads back) score the same
    as_category = clean.copy()
    for col in as_category.columns:
        if as_category[col].dtype == object or pd.api.types.is_string_dtype(as_category[col]):
            as_category[col] = as_category[col].astype("category")
    assert np.allclose(np.asarray(model.predict(as_category)), full_scores)
    assert not tokens & set(map(str, model_info.signature.inputs.input_names()))


def test_same_data_seed_and_trials_reproduce_the_run(mlflow_uri, clean_zone_factory, tmp_path):
    table = clean_zone_factory({"features": synthetic_features(300, seed=3)}) / "features.parquet"
    first = _train(table, "--seed", "7", "--trials", "2", json_out=tmp_path / "a.json")
    second = _train(table, "--seed", "7", "--trials", "2", json_out=tmp_path / "b.json")
    client = MlflowClient(tracking_uri=mlflow_uri)
    p1, p2 = (client.get_run(r["run_id"]).data.params for r in (first, second))
    best = {k: v for k, v in p1.items() if k.startswith("best_")}
    assert best and best == {k: v for k, v in p2.items() if k.startswith("best_")}
    for name in ("test_roc_auc", "test_pr_auc", "test_brier", "test_lift_top_decile", "cv_best_roc_auc"):
        assert first["metrics"][name] == second["metrics"][name]


def _fail(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["-q", *args])
    assert exc.value.code != 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kequn:")]
    assert len(lines) == 1, lines
    return lines[0]


def _table(clean_zone_factory, frame: pd.DataFrame) -> str:
    return str(clean_zone_factory({"features": frame}) / "features.parquet")


@pytest.mark.parametrize(("change", "args", "expected"), [
    (lambda f: f.drop(columns=["churn_label"]), [], "no label column 'churn_label'"),
    (lambda f: f.assign(churn_label=1), [], "single class"),
    (lambda f: f.assign(churn_label=np.arange(len(f)) % 3), [], "pass --positive"),
    (lambda f: f.assign(aum=np.nan), [], "aum are missing in every row"),
    (lambda f: f.head(6), [], "fewer rows per class"),
    (lambda f: f, ["--label", "nope"], "no label column 'nope'"),
    (lambda f: f, ["--id", "nope"], "--id: the table has no column 'nope'"),
    (lambda f: f, ["--protected", "nope"], "--protected: the table has no column 'nope'"),
    (lambda f: f, ["--positive", "9"], "--positive: no row of label 'churn_label'"),
])
def test_bad_input_gives_one_line_and_no_run(mlflow_uri, clean_zone_factory, tmp_path, capsys, change, args,
                                             expected):
    path = _table(clean_zone_factory, change(synthetic_features(60)))
    err = _fail(["train", "--task", "churn", "--data", path, "--trials", "1", *args], capsys)
    assert expected in err
    assert "tk_" not in err
    assert not (tmp_path / "mlflow.db").exists()  # input is checked before any run (or store) is made


def test_raw_csv_and_unpassed_zone_are_refused(mlflow_uri, tmp_path, clean_zone_factory, capsys):
    raw = tmp_path / "customers.csv"
    synthetic_features(50).to_csv(raw, index=False)
    err = _fail(["train", "--task", "churn", "--data", str(raw)], capsys)
    assert "kequn pseudonymise" in err
    failed_zone = clean_zone_factory({"features": synthetic_features(50)}, status="failed", name="bad")
    err = _fail(["train", "--task", "churn", "--data", str(failed_zone / "features.parquet")], capsys)
    assert "did not pass" in err


def test_unknown_task_is_refused(mlflow_uri, churn_table, capsys):
    from experiments.train import run_training
    from kequn.errors import TrainingError

    with pytest.raises(TrainingError, match="unknown task 'cluster'"):
        run_training(task="cluster", data=churn_table)
    with pytest.raises(SystemExit) as exc:  # the CLI refuses it as a usage error (click, exit 2)
        main(["train", "--task", "cluster", "--data", str(churn_table)])
    assert exc.value.code == 2
    assert "Invalid value for '--task'" in capsys.readouterr().err


def test_a_run_that_fails_midway_ends_failed(mlflow_uri, churn_table, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KEQUN_OPTUNA_STORAGE", f"sqlite:///{tmp_path}/no/such/dir/optuna.db")
    err = _fail(["train", "--task", "churn", "--data", str(churn_table), "--trials", "1"], capsys)
    assert "KEQUN_OPTUNA_STORAGE" in err
    client = MlflowClient(tracking_uri=mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("kequn-churn").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert "KEQUN_OPTUNA_STORAGE" in runs[0].data.tags["kequn.error"]


def test_shared_optuna_storage_accumulates_trials(mlflow_uri, churn_table, tmp_path, monkeypatch):
    import optuna

    storage = f"sqlite:///{tmp_path}/optuna.db"
    monkeypatch.setenv("KEQUN_OPTUNA_STORAGE", storage)
    monkeypatch.setenv("KEQUN_OPTUNA_STUDY", "shared-churn")
    _train(churn_table, "--trials", "1", json_out=tmp_path / "a.json")
    _train(churn_table, "--trials", "1", json_out=tmp_path / "b.json")
    study = optuna.load_study(study_name="shared-churn", storage=storage)
    assert len(study.trials) == 2


def test_own_table_with_text_label_positive_value_and_timeout(mlflow_uri, clean_zone_factory, tmp_path, capsys):
    frame = synthetic_features(400, seed=5).drop(columns=["churn_label"])
    frame["bought"] = np.where(frame.pop("propensity_label") == 1, "是", "否")
    frame["order_id"] = np.arange(len(frame))  # an identifier by name: never a feature
    path = clean_zone_factory({"own": frame}) / "own.parquet"
    main(["train", "--task", "propensity", "--data", str(path), "--label", "bought", "--positive", "是",
          "--trials", "50", "--timeout", "0.001", "--experiment", "own-table", "--json", str(tmp_path / "o.json")])
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert result["metrics"]["n_trials"] == 1  # the timeout stops the search after the first trial
    assert "excluded (identifier name): order_id" in out
    run = MlflowClient(tracking_uri=mlflow_uri).get_run(result["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["positive"] == "是"
    assert run.data.tags["kequn.task"] == "propensity"
    assert MlflowClient(tracking_uri=mlflow_uri).get_experiment(run.info.experiment_id).name == "own-table"
    signature = mlflow.models.get_model_info(f"runs:/{result['run_id']}/model").signature.inputs.input_names()
    assert "order_id" not in signature and "bought" not in signature


def test_under_mlflow_run_the_project_run_is_the_parent(mlflow_uri, churn_table, tmp_path, monkeypatch):
    # `mlflow run . -e train` starts a run and passes its id in MLFLOW_RUN_ID; kequn logs into it.
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment_id = client.create_experiment("project")
    project_run = client.create_run(experiment_id).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", project_run)
    result = _train(churn_table, "--trials", "1", json_out=tmp_path / "out.json")
    assert result["run_id"] == project_run
    run = client.get_run(project_run)
    assert run.info.status == "FINISHED" and "test_roc_auc" in run.data.metrics
    assert run.data.tags["kequn.task"] == "churn"
