"""Real servers for tests: PostgreSQL (Debian's package) and `mlflow server`, on 127.0.0.1.

:func:`postgres_server` runs ``initdb`` and ``pg_ctl`` in a temporary data directory on a free
port (as the unprivileged ``postgres`` user when the tests run as root: PostgreSQL refuses to
run as root); :func:`mlflow_server` starts ``mlflow server`` on any backend store, optionally with
MLflow's basic-auth app. Both are context managers that stop what they started.

When the PostgreSQL binaries are missing the tests that need them skip, except in CI (``CI``
set to true, as ``.ci/run`` does), where a missing server is a failure: CI must run them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_USER = "kequn"  # the superuser initdb creates; loopback connections are trusted
SERVER_START_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where every test must run."""
    if in_ci():
        pytest.fail(f"CI: {reason} (.ci/run installs it; a CI run must not skip these tests)")
    pytest.skip(reason)


def postgres_bin_dir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres (PATH first, then Debian's /usr/lib/postgresql)."""
    candidates = [shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)]
    for candidate in candidates:
        if candidate:
            bin_dir = Path(candidate).resolve().parent
            if all((bin_dir / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
                return bin_dir
    return None


def _unprivileged_user() -> str | None:
    """The account to run PostgreSQL as when we are root (``postgres``, else ``nobody``)."""
    import pwd

    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


@dataclass
class Postgres:
    """A running PostgreSQL server: ``url(db)`` is a SQLAlchemy URL, ``create_database`` adds one."""

    host: str
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        # psycopg 3 named explicitly: SQLAlchemy 2.0's default postgresql:// driver is psycopg2
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def query(self, database: str, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname=database) as conn:
            return conn.execute(sql, params).fetchall()


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """Start a throw-away PostgreSQL server (see the module docstring); skip/fail if impossible."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        skip_or_fail("the PostgreSQL server binaries (initdb, pg_ctl; Debian package postgresql) are not installed")
    pytest.importorskip("psycopg", reason="psycopg (kequn[postgres]) is not installed")
    prefix: list[str] = []
    # Not under pytest's 0700 root-owned tmp, and the commands run from it: the unprivileged user
    # must be able to enter every directory it is handed.
    root = Path(tempfile.mkdtemp(prefix="kequn-pg-"))
    if os.geteuid() == 0:
        user = _unprivileged_user()
        if user is None or shutil.which("runuser") is None:
            skip_or_fail("running as root without a 'postgres' user or runuser to start PostgreSQL")
        shutil.chown(root, user=user)
        prefix = ["runuser", "-u", user, "--"]
    data, log = root / "data", root / "server.log"
    port = free_port()
    try:
        try:
            subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                            "-E", "UTF8", "--locale=C", "--no-sync"],
                           check=True, capture_output=True, timeout=SERVER_START_SECONDS, cwd=root)
            # Throw-away data: no fsync; the socket lives in the data directory, TCP on loopback only.
            options = (f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c synchronous_commit=off "
                       "-c full_page_writes=off -c max_connections=100")
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                            "-w", "-t", str(SERVER_START_SECONDS), "start"],
                           check=True, capture_output=True, timeout=SERVER_START_SECONDS + 10, cwd=root)
        except subprocess.CalledProcessError as exc:
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            pytest.fail(f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')[-800:]} {tail}")
        yield Postgres(host="127.0.0.1", port=port, user=PG_USER)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=60, check=False, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


def wait_until_healthy(uri: str, proc: subprocess.Popen, log: Path) -> None:
    import requests

    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{uri}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text(errors='replace')[-800:]}")
        time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer within {SERVER_START_SECONDS} s: {log.read_text()[-800:]}")


@contextlib.contextmanager
def mlflow_server(root: Path, backend_store_uri: str, *, artifacts: str = "destination",
                  auth: dict[str, str] | None = None) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with ``backend_store_uri``; yields its http URI.

    ``artifacts``: ``"destination"`` proxies artifacts to ``root/artifacts`` through the server
    (``--artifacts-destination``); ``"root"`` has clients write there directly
    (``--default-artifact-root``). ``auth``: the basic-auth app with these ``auth.ini`` settings
    (``database_uri``, ``admin_username``, ``admin_password``, ...).
    """
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if artifacts == "root":
        cmd += ["--default-artifact-root", str(root / "artifacts"), "--no-serve-artifacts"]
    else:
        cmd += ["--artifacts-destination", str(root / "artifacts")]
    if auth is not None:
        ini = root / "auth.ini"
        ini.write_text("[mlflow]\n" + "".join(f"{k} = {v}\n" for k, v in auth.items()), encoding="utf-8")
        env.update({"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-secret"})
        cmd += ["--app-name", "basic-auth"]
    log = root / "server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(uri, proc, log)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def create_users(uri: str, admin: tuple[str, str], users: dict[str, str]) -> None:
    """Create basic-auth users (name → password) on a server started with ``auth``."""
    import requests

    for name, password in users.items():
        response = requests.post(f"{uri}/api/2.0/mlflow/users/create", auth=admin, timeout=30,
                                 json={"username": name, "password": password})
        assert response.status_code == 200, response.text


def grant(uri: str, admin: tuple[str, str], who: str, resource_type: str, resource_id: str,
          permission: str = "EDIT") -> None:
    import requests

    response = requests.post(f"{uri}/api/3.0/mlflow/users/permissions/grant", auth=admin, timeout=30,
                             json={"username": who, "resource_type": resource_type,
                                   "resource_id": resource_id, "permission": permission})
    assert response.status_code == 200, response.text


def act_as(monkeypatch, uri: str, name: str, password: str) -> None:
    """Point MLflow at the server ``uri`` as ``name`` (restored at teardown)."""
    from tests.conftest import use_tracking_store

    use_tracking_store(monkeypatch, uri)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
