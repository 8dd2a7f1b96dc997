"""MLflow and Optuna on a real PostgreSQL server (Debian's package, on 127.0.0.1, tests/servers.py).

A basic-auth `mlflow server` keeps its runs, registry and users in PostgreSQL; the demo chain and
the governance flow (publish → approve by a second person → promote, audit verify) run against it,
and `kequn train --workers 2` shares one Optuna study in PostgreSQL. Skipped where PostgreSQL is
not installed, except in CI (tests/servers.py).
"""

from __future__ import annotations

import json
import os

import pytest
from mlflow.tracking import MlflowClient

from kequn.tracking import display_uri
from tests import servers
from tests.conftest import kequn
from tests.servers import create_users, grant, mlflow_server
from tests.test_train_data import synthetic_features
from tests.test_workers import check_parallel_run

ADMIN = ("admin", "admin-password-for-tests-0123")
USERS = {"author": "author-password-0123", "reviewer": "reviewer-password-0123", "owner": "owner-password-0123"}
MODEL = "churn-demo"


def act_as(monkeypatch, server: dict, name: str) -> None:
    servers.act_as(monkeypatch, server["uri"], name, USERS[name])


@pytest.fixture(scope="module")
def pg_mlflow(postgres, tmp_path_factory):
    """A basic-auth `mlflow server` whose backend store and user database are PostgreSQL."""
    pytest.importorskip("flask_wtf", reason="mlflow[auth] is not installed")
    root = tmp_path_factory.mktemp("pg-mlflow")
    store, users = postgres.create_database("mlflow"), postgres.create_database("mlflow_auth")
    auth = {"default_permission": "READ", "database_uri": users, "admin_username": ADMIN[0],
            "admin_password": ADMIN[1], "grant_default_workspace_access": "false",
            "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth"}
    with mlflow_server(root, store, artifacts="root", auth=auth) as uri:
        create_users(uri, ADMIN, USERS)
        yield {"uri": uri, "pg": postgres, "root": root}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.setenv("KEQUN_KEYRING", str(tmp_path / "keyring.yaml"))
    monkeypatch.setenv("KEQUN_KEY_DIR", str(tmp_path / "keys"))
    (tmp_path / "keyring.yaml").write_text("people: {}\n", encoding="utf-8")
    monkeypatch.delenv("KEQUN_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("KEQUN_OPTUNA_STORAGE", raising=False)
    return tmp_path


def test_a_password_in_a_store_url_never_reaches_a_message():
    assert display_uri("postgresql://kequn:s3cret@db:5432/mlflow") == "postgresql://kequn:***@db:5432/mlflow"
    assert display_uri("postgresql://kequn@db/mlflow") == "postgresql://kequn@db/mlflow"
    assert "s3cret" not in display_uri("postgresql://kequn:s3cret@[::1/mlflow")


@pytest.mark.postgres
def test_an_optuna_study_in_postgresql_is_shared_by_name(postgres, monkeypatch):
    """Fast (runs in the lowest-versions step too): the driver, SQLAlchemy and Optuna's RDB storage."""
    import optuna

    from experiments.tuning import STORAGE_ENV, tune_xgboost
    from tests.test_workers import synthetic_table

    url = postgres.create_database("optuna_shared")
    monkeypatch.setenv(STORAGE_ENV, url)
    X, y = synthetic_table(200)
    first = tune_xgboost(X, y, seed=1, trials=2, timeout=None, n_folds=2, name="shared")
    second = tune_xgboost(X, y, seed=1, trials=1, timeout=None, n_folds=2, name="shared")
    assert (first.n_trials, second.n_trials) == (2, 3)  # the second process added to the first's study
    assert len(optuna.load_study(study_name="shared", storage=url).trials) == 3
    assert postgres.query("optuna_shared", "SELECT count(*) FROM trials")[0][0] == 3


@pytest.mark.postgres
@pytest.mark.slow  # the demo chain and a tracking server
def test_demo_chain_and_governance_on_postgresql(pg_mlflow, isolated, monkeypatch, capsys):
    pg = pg_mlflow["pg"]
    act_as(monkeypatch, pg_mlflow, "author")
    code, out, err = kequn(capsys, "demo", "--customers", "1000", "--out", "demo", "--trials", "2")
    assert code == 0, err
    summary = json.loads((isolated / "demo" / "demo_summary.json").read_text(encoding="utf-8"))
    run_id = summary["run_id"]
    assert summary["tracking_uri"] == pg_mlflow["uri"] and f"open {pg_mlflow['uri']}" in out
    client = MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["kequn.author"] == "author"
    assert run.data.metrics["test_roc_auc"] > 0.5
    # the run is a row of PostgreSQL, with its metrics
    assert pg.query("mlflow", "SELECT status FROM runs WHERE run_uuid = %s", (run_id,)) == [("FINISHED",)]
    assert pg.query("mlflow", "SELECT count(*) FROM metrics WHERE run_uuid = %s AND key = 'test_roc_auc'",
                    (run_id,))[0][0] == 1

    code, out, err = kequn(capsys, "publish", "--run", run_id, "--name", MODEL)
    assert code == 0, err
    assert client.get_model_version(MODEL, "1").tags["approval_status"] == "pending", out
    audit_experiment = client.get_experiment_by_name("kequn-audit").experiment_id
    for who in ("reviewer", "owner"):
        for resource_type, resource_id in (("registered_model", MODEL), ("experiment", audit_experiment)):
            grant(pg_mlflow["uri"], ADMIN, who, resource_type, resource_id)
    code, _, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1")
    assert code == 1 and "is the author of its training run" in err  # four eyes, on PostgreSQL too

    act_as(monkeypatch, pg_mlflow, "reviewer")
    code, out, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--reason", "gates reviewed")
    assert code == 0 and "approved by reviewer" in out, err
    act_as(monkeypatch, pg_mlflow, "owner")
    code, out, err = kequn(capsys, "promote", "--name", MODEL, "--version", "1")
    assert code == 0 and "promoted to @champion by owner" in out, err
    code, out, err = kequn(capsys, "audit", "verify")
    # 5: the demo published its two models and stopped (a shared server), then publish, approve, promote
    assert code == 0 and "5 entries, chain intact" in out, err

    assert pg.query("mlflow", "SELECT version FROM registered_model_aliases WHERE name = %s AND alias = 'champion'",
                    (MODEL,)) == [(1,)]
    actors = pg.query("mlflow", "SELECT t.value FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid "
                                "WHERE r.experiment_id = %s AND t.key = 'kequn.audit.seq' ORDER BY t.value",
                      (int(audit_experiment),))
    assert [a[0] for a in actors] == [f"{i:08d}" for i in range(1, 6)]  # the five entries, as PostgreSQL rows
    # the users live in PostgreSQL too
    names = {r[0] for r in pg.query("mlflow_auth", "SELECT username FROM users")}
    assert {"author", "reviewer", "owner", ADMIN[0]} <= names


@pytest.mark.postgres
@pytest.mark.slow  # two spawned tuning processes and a whole training
def test_two_workers_share_one_study_in_postgresql(pg_mlflow, isolated, clean_zone_factory, monkeypatch, capsys):
    pg = pg_mlflow["pg"]
    monkeypatch.setenv("KEQUN_OPTUNA_STORAGE", pg.create_database("optuna_workers"))
    act_as(monkeypatch, pg_mlflow, "author")
    data = clean_zone_factory({"features": synthetic_features(400)}) / "features.parquet"
    code, out, err = kequn(capsys, "train", "--task", "churn", "--data", str(data), "--trials", "4",
                           "--workers", "2", "--json", str(isolated / "out.json"))
    assert code == 0, err
    run_id = json.loads((isolated / "out.json").read_text(encoding="utf-8"))["run_id"]
    client = MlflowClient()
    assert client.get_run(run_id).data.params["optuna_storage"] == "postgresql"
    check_parallel_run(client, run_id, workers=2, trials=4)
    assert pg.query("optuna_workers", "SELECT count(*) FROM trials WHERE state = 'COMPLETE' OR state = 'PRUNED'"
                    )[0][0] == 4

    # a second host on the same database and data: its run logs its own trials, the study has all
    code, out, err = kequn(capsys, "train", "--task", "churn", "--data", str(data), "--trials", "2",
                           "--workers", "2", "--json", str(isolated / "second.json"))
    assert code == 0, err
    second = client.get_run(json.loads((isolated / "second.json").read_text(encoding="utf-8"))["run_id"])
    children = client.search_runs([second.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{second.info.run_id}'")
    assert sorted(int(c.data.tags["optuna.trial"]) for c in children) == [4, 5]
    assert second.data.metrics["n_trials"] == 6
    import optuna

    best = optuna.load_study(study_name=children[0].data.tags["optuna.study"],
                             storage=os.environ["KEQUN_OPTUNA_STORAGE"]).best_trial
    assert second.data.metrics["cv_best_roc_auc"] == pytest.approx(best.value)
    assert {k: second.data.params[f"best_{k}"] for k in best.params} == {k: str(v) for k, v in best.params.items()}


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_postgresql_skips_on_a_laptop_and_fails_in_ci(ci, outcome, monkeypatch):
    monkeypatch.setattr(servers, "postgres_bin_dir", lambda: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome) as info:
        with servers.postgres_server():
            pass
    assert "PostgreSQL server binaries" in str(info.value)
