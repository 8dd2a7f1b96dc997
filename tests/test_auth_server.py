"""Identity from authentication: a real `mlflow server --app-name basic-auth` on 127.0.0.1 with
users author, reviewer and owner. The acting person is the user the server authenticated."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

pytest.importorskip("flask_wtf", reason="mlflow[auth] is not installed")
pytestmark = pytest.mark.slow  # starts a real tracking server

ADMIN = ("admin", "admin-password-for-tests-0123")
USERS = {"author": "author-password-0123", "reviewer": "reviewer-password-0123", "owner": "owner-password-0123"}
MODEL = "churn-model"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth-server")
    ini = root / "auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = READ\n"
                   f"database_uri = sqlite:///{root / 'auth.db'}\n"
                   f"admin_username = {ADMIN[0]}\nadmin_password = {ADMIN[1]}\n"
                   "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                   "grant_default_workspace_access = false\n", encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-secret"}
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
                             "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                             "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(root / "server.log", "wb"))
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()[-500:]}")
            time.sleep(0.5)
        for name, password in USERS.items():
            response = requests.post(f"{uri}/api/2.0/mlflow/users/create", auth=ADMIN, timeout=30,
                                     json={"username": name, "password": password})
            assert response.status_code == 200, response.text
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def act_as(monkeypatch, uri: str, name: str, password: str | None = None) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)  # restored at teardown (configure_tracking exports it)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password or USERS[name])
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
            response = requests.post(f"{server}/api/3.0/mlflow/users/permissions/grant", auth=ADMIN, timeout=30,
                                     json={"username": who, "resource_type": resource_type,
                                           "resource_id": resource_id, "permission": "EDIT"})
            assert response.status_code == 200, response.text

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
