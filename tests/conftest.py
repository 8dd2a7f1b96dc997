"""Shared fixtures: an isolated MLflow store per test and a way to make a small clean zone."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pandas as pd
import pytest

import kequn.threads  # noqa: F401  (passive OpenMP waiting, as the CLI root does)
from kequn.io import sha256_file
from kequn.lineage import MANIFEST_NAME
from kequn.signing import STEP_KEY_ENV, ensure_step_key, generate_key_file, sign_record


@pytest.fixture(scope="session", autouse=True)
def step_key(tmp_path_factory):
    """The privacy step's signing key of the test session ($KEQUN_STEP_KEY), outside ~/.kequn.

    Every clean zone a test makes (by `kequn pseudonymise` or :func:`make_clean_zone`) is signed
    with it, and, the shipped keyring listing no step keys, it is the one trusted key.
    """
    path = tmp_path_factory.mktemp("step-key") / "privacy.key"
    generate_key_file(path)
    old = os.environ.get(STEP_KEY_ENV)
    os.environ[STEP_KEY_ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(STEP_KEY_ENV, None)
    else:
        os.environ[STEP_KEY_ENV] = old


def use_tracking_store(monkeypatch, uri: str) -> str:
    """Point MLflow at ``uri`` for one test (a store or a server; restored at teardown)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # mlflow.set_registry_uri (kequn.tracking.configure_tracking) exports MLFLOW_REGISTRY_URI; set it
    # here so teardown removes it and later subprocesses do not inherit a deleted test store.
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    # An experiment an earlier test set active belongs to that test's store, not this one.
    import mlflow.tracking.fluent

    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    return uri


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch) -> str:
    """A fresh SQLite tracking store in the test's temp dir, set as MLFLOW_TRACKING_URI."""
    monkeypatch.chdir(tmp_path)
    return use_tracking_store(monkeypatch, f"sqlite:///{tmp_path / 'mlflow.db'}")


#: key fingerprint of the zones :func:`make_clean_zone` makes; tokens in them must carry its key id
TEST_KEY_FINGERPRINT = "7e57c0de7e57c0de"


def fake_token(i: int, fingerprint: str = TEST_KEY_FINGERPRINT) -> str:
    """A token-shaped value (``tk_<key id>_<16 hex>``) for test tables of a zone with ``fingerprint``."""
    return f"tk_{fingerprint[:6]}_{i:016x}"


def make_clean_zone(directory: Path, tables: dict[str, pd.DataFrame], *, status: str = "passed",
                    key_fingerprint: str = TEST_KEY_FINGERPRINT) -> Path:
    """Write ``tables`` as a clean zone with a minimal manifest, signed with the step key, as
    `kequn pseudonymise` would.

    For tests of the steps downstream of pseudonymisation; the real manifest carries more.
    """
    directory.mkdir(parents=True, exist_ok=True)
    outputs = []
    for name, frame in tables.items():
        path = directory / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        outputs.append({"table": name, "file": path.name, "sha256": sha256_file(path), "rows": len(frame)})
    manifest = {
        "manifest_id": uuid.uuid4().hex,
        "status": status,
        "policy_hash": "test-policy-hash",
        "key_fingerprint": key_fingerprint,
        "outputs": outputs,
        "residual_scan": {"clean": status == "passed", "findings": 0},
    }
    key, _ = ensure_step_key()
    signed = sign_record(key, manifest, signer="privacy-step")
    (directory / MANIFEST_NAME).write_text(json.dumps(signed), encoding="utf-8")
    return directory


@pytest.fixture
def clean_zone_factory(tmp_path):
    """``factory(tables, status="passed", name="clean") -> Path`` writing a clean zone under tmp_path."""

    def factory(tables: dict[str, pd.DataFrame], *, status: str = "passed", name: str = "clean") -> Path:
        return make_clean_zone(tmp_path / name, tables, status=status)

    return factory


@pytest.fixture(scope="session")
def postgres():
    """One throw-away PostgreSQL server for the session (tests/servers.py); each test creates its
    own databases. Skips where the binaries are missing, fails instead in CI."""
    from tests.servers import postgres_server

    with postgres_server() as server:
        yield server


def kequn(capsys, *argv: str) -> tuple[int, str, str]:
    """``kequn -q ARGV`` in this process: ``(exit code, stdout, stderr)``."""
    from pipelines.cli.main import main

    code = 0
    try:
        main(["-q", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
