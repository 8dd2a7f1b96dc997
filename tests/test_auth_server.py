"""Identity from authentication: a real `mlflow server --app-name basic-auth` on 127.0.0.1 with
users author, reviewer and owner. The acting person is the user the server authenticated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests import servers
from tests.servers import create_users, grant, mlflow_server

pytest.importorskip("flask_wtf", reason="mlflow[auth] is not installed")
pytestmark = pytest.mark.slow  # starts a real tracking server

ADMIN = ("admin", "admin-password-for-tests-0123")
USERS = {"author": "author-password-0123", "reviewer": "reviewer-password-0123", "owner": "owner-password-0123"}
MODEL = "churn-model"


AUTH = {"default_permission": "READ", "admin_username": ADMIN[0], "admin_password": ADMIN[1],
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        "grant_default_workspace_access": "false"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth-server")
    with mlflow_server(root, f"sqlite:///{root / 'mlflow.db'}",
                       auth={**AUTH, "database_uri": f"sqlite:///{root / 'auth.db'}"}) as uri:
        create_users(uri, ADMIN, USERS)
        yield uri


def act_as(monkeypatch, uri: str, name: str, password: str | None = None) -> None:
    servers.act_as(monkeypatch, uri, name, password or USERS[name])
    monkeypatch.setenv("KEQUN_USER", "someone-typed-this")  # ignored: the server says who you are


def kequn(capsys, *argv: str) -> tuple[int, str, str]:
    from pipelines.cli.main import main

    code = 0
    try:
        main(["-q", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_identity_comes_from_the_server(server, tmp_path, monkeypatch, capsys, clean_zone_factory):
    from mlflow import MlflowClient

    from tests.test_registry_support import make_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.setenv("KEQUN_KEYRING", str(tmp_path / "keyring.yaml"))
    (tmp_path / "keyring.yaml").write_text("people: {}\n", encoding="utf-8")
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})

    act_as(monkeypatch, server, "author")
    run = make_run(tmp_path, clean_dir=clean)
    assert MlflowClient().get_run(run).data.tags["kequn.author"] == "author"  # not what KEQUN_USER says
    code, out, err = kequn(capsys, "publish", "--run", run, "--name", MODEL)
    assert code == 0, err
    tags = MlflowClient().get_model_version(MODEL, "1").tags
    assert tags["kequn.published_by"] == "author" and tags["kequn.publisher_identity"] == "authenticated"

    # the server's permissions: reviewers and owners may edit this model and append to the trail
    experiment_id = MlflowClient().get_experiment_by_name("kequn-audit").experiment_id
    for who in ("reviewer", "owner"):
        for resource_type, resource_id in (("registered_model", MODEL), ("experiment", experiment_id)):
            grant(server, ADMIN, who, resource_type, resource_id)

    code, _, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--approver", "reviewer")
    assert code == 1 and err.strip() == (f"kequn: error: --approver 'reviewer' is not the authenticated user "
                                         f"'author' of {server}; act as yourself (omit the option)")
    code, _, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1")
    assert code == 1 and "'author' is the author of its training run" in err

    act_as(monkeypatch, server, "reviewer", "wrong-password")
    code, _, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1")
    assert code == 1 and "the tracking server refused the credentials of 'reviewer' (HTTP 401)" in err
    assert len(err.strip().splitlines()) == 1

    act_as(monkeypatch, server, "reviewer")
    code, out, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--reason", "reviewed")
    assert code == 0 and "approved by reviewer" in out and "unsigned, identity authenticated" in out, err
    tags = MlflowClient().get_model_version(MODEL, "1").tags
    assert tags["identity"] == "authenticated" and tags["kequn.approved_by"] == "reviewer"

    act_as(monkeypatch, server, "owner")
    code, out, err = kequn(capsys, "promote", "--name", MODEL, "--version", "1")
    assert code == 0 and "promoted to @champion by owner" in out, err
    code, out, err = kequn(capsys, "audit", "verify")
    assert code == 0 and "3 entries, chain intact" in out, err
    from pipelines.audit import verify_chain

    entries = verify_chain(MlflowClient())
    assert [(e["action"], e["actor"], e["identity"]) for e in entries] == [
        ("publish", "author", "authenticated"), ("approve", "reviewer", "authenticated"),
        ("promote", "owner", "authenticated")]
    assert Path(tmp_path).exists()
