"""`kequn pseudonymise --engine spark` gives the local engine's clean zone, and the key stays out of Spark.

One Spark session (local[2]) for the module; a small synthetic bank (200 customers; customers,
products with an all-missing column, service notes with free text).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from kequn.errors import InputError, PolicyNotMetError
from kequn.spark import spark_session
from privacy import spark_engine
from privacy.policy import DEFAULT_POLICY_PATH
from privacy.pseudonymise import pseudonymise

pytestmark = pytest.mark.spark

KEY = b"spark-engine-test-key-0123456789abcdef-QWERTY"
TABLES = ("customers", "products", "service_notes")


def _bank(tmp):
    raw = tmp / "raw_all"
    subprocess.run([sys.executable, "-m", "pipelines.cli.main", "synth", "--customers", "200", "--out", str(raw)],
                   check=True, capture_output=True, timeout=120)
    picked = tmp / "raw"
    picked.mkdir()
    for name in TABLES:
        shutil.copy(raw / f"{name}.csv", picked / f"{name}.csv")
    return {name: picked / f"{name}.csv" for name in TABLES}


@pytest.fixture(scope="module")
def spark_dirs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spark_pseudonymise")
    local_dir = tmp / "spark_local"
    local_dir.mkdir()
    # cut even these small tables into 2 partitions, so results are joined across tasks
    old, spark_engine.MIN_ROWS_PER_PARTITION = spark_engine.MIN_ROWS_PER_PARTITION, 50
    try:
        with spark_session("local[2]", conf={"spark.local.dir": str(local_dir)}) as spark:
            yield {"tmp": tmp, "spark": spark, "local_dir": local_dir, "tables": _bank(tmp)}
    finally:
        spark_engine.MIN_ROWS_PER_PARTITION = old


@pytest.fixture(scope="module")
def runs(spark_dirs):
    tmp, tables = spark_dirs["tmp"], spark_dirs["tables"]
    local = pseudonymise(tables, out=tmp / "local", policy_path=None, key=KEY, workers=1)
    spark = pseudonymise(tables, out=tmp / "spark", policy_path=None, key=KEY, engine="spark")
    return {"local": local, "spark": spark, "tmp": tmp}


def _json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_table_is_byte_identical(runs):
    tmp = runs["tmp"]
    assert runs["spark"]["status"] == "passed"
    for name in TABLES:
        local, spark = (tmp / "local" / f"{name}.parquet").read_bytes(), (tmp / "spark" / f"{name}.parquet").read_bytes()
        assert local == spark, name
    notes = (tmp / "spark" / "service_notes.parquet").read_bytes()
    assert b"tk_" in notes  # the notes were really redacted into tokens, not copied


def test_manifest_and_report_match_apart_from_engine_and_time(runs):
    tmp = runs["tmp"]
    ml, ms = _json(tmp / "local" / "manifest.json"), _json(tmp / "spark" / "manifest.json")
    assert (ml["engine"], ms["engine"]) == ("local", "spark")
    varying = {"manifest_id", "created_at", "engine", "signature"}
    assert set(ml) == set(ms)
    assert {k: v for k, v in ml.items() if k not in varying} == {k: v for k, v in ms.items() if k not in varying}
    assert [o["sha256"] for o in ml["outputs"]] == [o["sha256"] for o in ms["outputs"]]
    rl, rs = _json(tmp / "local" / "privacy_report.json"), _json(tmp / "spark" / "privacy_report.json")
    assert {k: v for k, v in rl.items() if k not in varying} == {k: v for k, v in rs.items() if k not in varying}
    spans = ml["columns"]["service_notes"]
    assert any(c["action"] == "redact" for c in spans.values())


def _files_bytes(root):
    for path in root.rglob("*"):
        if path.is_file():
            try:
                yield path, path.read_bytes()
            except OSError:
                continue


def test_the_key_is_not_in_spark_conf_output_or_local_dirs(runs, spark_dirs):
    secrets = (KEY, KEY.hex().encode(), KEY.decode())
    conf = spark_dirs["spark"].sparkContext.getConf().getAll()
    for name, value in conf:
        assert all(s not in f"{name}={value}" for s in secrets if isinstance(s, str)), name
    assert spark_dirs["spark"].conf.get("spark.local.dir") == str(spark_dirs["local_dir"])
    searched = 0
    for root in (runs["tmp"] / "spark", spark_dirs["local_dir"]):
        for path, data in _files_bytes(root):
            searched += 1
            assert all(s not in data for s in secrets if isinstance(s, bytes)), path
    assert searched >= 4  # the clean zone's files at least


def test_a_failed_policy_publishes_nothing_under_spark(runs, spark_dirs):
    tmp = runs["tmp"]
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["k_anonymity"].update({"k": 100, "on_violation": "fail"})
    policy = tmp / "strict.yaml"
    policy.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = tmp / "spark_failed"
    with pytest.raises(PolicyNotMetError, match="k-anonymity"):
        pseudonymise(spark_dirs["tables"], out=out, policy_path=policy, key=KEY, engine="spark")
    assert not list(out.glob("*.parquet"))
    manifest = _json(out / "manifest.json")
    assert manifest["status"] == "failed" and manifest["outputs"] == [] and manifest["engine"] == "spark"


def test_a_typod_engine_is_one_line_error(tmp_path, spark_dirs):
    with pytest.raises(InputError, match="unknown engine 'sprak'"):
        pseudonymise(spark_dirs["tables"], out=tmp_path / "o", policy_path=None, key=KEY, engine="sprak")
    env = {**os.environ, "KEQUN_PSEUDONYM_KEY": KEY.decode()}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "pseudonymise", str(spark_dirs["tables"]["customers"]),
                           "--out", str(tmp_path / "o"), "--engine", "sprak"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip() == "kequn: error: unknown engine 'sprak': choose one of local, spark"
    assert not (tmp_path / "o").exists()


def test_the_cli_keeps_the_jvms_start_up_lines_off_stderr(tmp_path, spark_dirs):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "KEQUN_PSEUDONYM_KEY": KEY.decode(), "TMPDIR": str(tmp)}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "pseudonymise",
                           str(spark_dirs["tables"]["customers"]), "--out", str(tmp_path / "o"), "--engine", "spark"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    for line in ("Using incubator modules", "Setting default log level", "sc.setLogLevel"):
        assert line not in done.stderr, done.stderr
    assert not list(tmp.glob("kequn-spark-*.log"))  # the JVM's private log is gone with the process


def test_what_the_jvm_writes_besides_its_start_up_lines_is_forwarded(tmp_path, capsys):
    from kequn.spark import _JvmLog

    log = tmp_path / "jvm.log"
    log.write_text("WARNING: Using incubator modules: jdk.incubator.vector\n"
                   'Setting default log level to "WARN".\n'
                   "To adjust logging level use sc.setLogLevel(newLevel). For SparkR, use setLogLevel(newLevel).\n"
                   "ERROR Executor: task 3 failed\npartial", encoding="utf-8")
    jvm = _JvmLog(log)
    jvm.forward()
    assert capsys.readouterr().err == "ERROR Executor: task 3 failed\n"
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(" line\n")
    jvm.close()
    assert capsys.readouterr().err == "partial line\n" and not log.exists()
