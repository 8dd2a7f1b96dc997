"""`kequn train --workers N`: N processes on one Optuna study (journal file here, PostgreSQL in
tests/test_postgres.py); the parent run holds every worker's trials and the best trial's params."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from experiments.workers import split_trials, threads_per_worker
from tests.conftest import kequn
from tests.test_train_data import synthetic_features

TRIALS = 4


def synthetic_table(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A tuning-ready (X, y): two informative numbers, one noise column."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "noise": rng.normal(size=n)})
    y = pd.Series((X["a"] + 0.5 * X["b"] + rng.normal(size=n) > 0).astype(int))
    return X, y


def check_parallel_run(client: MlflowClient, run_id: str, *, workers: int, trials: int) -> list:
    """The parent run of a `--workers` training: returns its nested trial runs after checking them."""
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["tuning_workers"] == str(workers)
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'",
                                  max_results=1000)
    assert len(children) == trials == int(run.data.metrics["n_trials"])
    assert sorted(int(c.data.tags["optuna.trial"]) for c in children) == list(range(trials))
    assert {c.data.tags["kequn.worker"] for c in children} == {str(i) for i in range(workers)}
    complete = [c for c in children if "cv_roc_auc" in c.data.metrics]
    best = max(complete, key=lambda c: c.data.metrics["cv_roc_auc"])
    assert run.data.metrics["cv_best_roc_auc"] == pytest.approx(best.data.metrics["cv_roc_auc"])
    for name, value in best.data.params.items():  # the logged best_* are the best trial's own
        assert run.data.params[f"best_{name}"] == value, name
    return children


def test_trials_are_split_and_cores_shared():
    assert split_trials(5, 2) == [3, 2] and split_trials(4, 2) == [2, 2]
    assert split_trials(1, 4) == [1]  # never a worker with nothing to do
    assert sum(split_trials(37, 5)) == 37
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(1, cores=2) == 2
    assert threads_per_worker(8, cores=2) == 1 and threads_per_worker(2, cores=16) == 8


@pytest.mark.slow  # two spawned tuning processes and a whole training
def test_two_workers_on_a_journal_file_fill_one_parent_run(mlflow_uri, clean_zone_factory, tmp_path, capsys,
                                                         monkeypatch):
    import tempfile

    monkeypatch.delenv("KEQUN_OPTUNA_STORAGE", raising=False)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the journal goes
    data = clean_zone_factory({"features": synthetic_features(400)}) / "features.parquet"
    code, out, err = kequn(capsys, "train", "--task", "churn", "--data", str(data), "--trials", str(TRIALS),
                           "--workers", "2", "--json", str(tmp_path / "out.json"))
    assert code == 0, err
    run_id = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["run_id"]
    run = MlflowClient().get_run(run_id)
    assert run.data.params["optuna_storage"] == "journal"
    check_parallel_run(MlflowClient(), run_id, workers=2, trials=TRIALS)
    assert not list((tmp_path / "tmp").glob("kequn-optuna-*"))  # the temporary journal is gone


@pytest.mark.parametrize(("argv", "message"), [
    (["--workers", "0"], "kequn: error: --workers must be between 1 and 64. Got 0"),
    (["--workers", "65"], "kequn: error: --workers must be between 1 and 64. Got 65"),
    (["--workers", "2", "--task", "segment"],
     "kequn: error: --workers applies to the Optuna search of churn and propensity; segment is tuned in one "
     "process (omit --workers)"),
])
def test_bad_workers_are_one_line_errors(argv, message, mlflow_uri, clean_zone_factory, capsys):
    data = clean_zone_factory({"features": synthetic_features(200)}) / "features.parquet"
    task = [] if "--task" in argv else ["--task", "churn"]
    code, out, err = kequn(capsys, "train", *task, "--data", str(data), *argv)
    assert code == 1 and err.strip() == message


def test_an_unreachable_study_database_is_one_line_without_the_url(mlflow_uri, clean_zone_factory, capsys,
                                                                  monkeypatch):
    secret = "s3cret-pw"
    monkeypatch.setenv("KEQUN_OPTUNA_STORAGE", f"postgresql://kequn:{secret}@127.0.0.1:9/optuna")
    data = clean_zone_factory({"features": synthetic_features(200)}) / "features.parquet"
    code, out, err = kequn(capsys, "train", "--task", "churn", "--data", str(data), "--workers", "2",
                           "--trials", "2")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("kequn: error: KEQUN_OPTUNA_STORAGE: cannot open the Optuna study storage")
    assert secret not in out + err
