"""The newcomer's paper cuts (issue 11 item 5): each mistake is one exact line and nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli.main import main
from tests.test_train_data import synthetic_features

ROOT = Path(__file__).resolve().parents[1]


def _fail(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 1
    return capsys.readouterr().err


def test_train_on_a_folder_names_the_file_to_pass(mlflow_uri, clean_zone_factory, capsys):
    zone = clean_zone_factory({"features": synthetic_features(50), "customers": synthetic_features(50)})
    err = _fail(["train", "--task", "churn", "--data", str(zone)], capsys)
    assert err.endswith(f"kequn: error: {zone}: is a folder; pass a Parquet file such as "
                        f"{zone}/features.parquet or {zone}/customers.parquet\n")
    assert len(err.strip().splitlines()[-1:]) == 1 and "kequn: error:" in err.strip().splitlines()[-1]


def test_a_gbk_file_read_as_utf8_suggests_gbk(tmp_path, capsys):
    raw = tmp_path / "customers.csv"
    raw.write_bytes("姓名,手机号\n王伟,13911223344\n".encode("gbk"))
    err = _fail(["-q", "scan", str(raw), "--encoding", "utf-8"], capsys)
    assert err == (f"kequn: error: {raw}: cannot decode the file as utf-8; it reads as GBK: pass --encoding gbk, "
                   "or leave --encoding out to detect it\n")
    err = _fail(["-q", "scan", str(raw), "--encoding", "klingon"], capsys)
    assert err == "kequn: error: --encoding: unknown encoding. Got 'klingon'\n"


def test_features_refuses_to_overwrite_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "features.parquet"
    pd.DataFrame({"thesis": [1, 2, 3]}).to_parquet(out)
    before = out.read_bytes()
    err = _fail(["-q", "features", "--data", str(tmp_path / "clean"), "--snapshot", "2024-06-30",
                 "--out", str(out)], capsys)
    assert err == (f"kequn: error: --out {out}: the file exists and is not an earlier kequn output; "
                   "choose another --out\n")
    assert out.read_bytes() == before


def test_an_earlier_feature_table_counts_as_kequn_output(tmp_path):
    from kequn.errors import InputError
    from kequn.io import check_output_file
    from kequn.lineage import read_parquet_lineage, write_parquet_with_lineage

    ours = write_parquet_with_lineage(pd.DataFrame({"x": [1]}), tmp_path / "ours.parquet", {"kind": "features"})
    foreign = tmp_path / "foreign.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(foreign)
    is_ours = lambda path: read_parquet_lineage(path) is not None  # noqa: E731 - as the CLI decides
    check_output_file(ours, is_earlier_output=is_ours)  # replaced without complaint
    check_output_file(tmp_path / "new.parquet", is_earlier_output=is_ours)
    with pytest.raises(InputError, match="not an earlier kequn output"):
        check_output_file(foreign, is_earlier_output=is_ours)
    with pytest.raises(InputError, match="is a folder"):
        check_output_file(tmp_path, is_earlier_output=is_ours)


@pytest.mark.parametrize(("args", "line"), [
    (["train", "--task", "churn", "--data", "missing.parquet"], "kequn: error: missing.parquet: no such file"),
    (["publish", "--run", "0123abcd", "--name", "churn-model"],
     "kequn: error: no MLflow store here ({cwd} has no mlflow.db); run kequn in the folder where you trained, "
     "or set MLFLOW_TRACKING_URI"),
    (["registry"], "kequn: error: no MLflow store here ({cwd} has no mlflow.db); run kequn in the folder where "
                   "you trained, or set MLFLOW_TRACKING_URI"),
])
def test_a_failing_command_in_another_folder_leaves_no_mlflow_db(tmp_path, monkeypatch, capsys, args, line):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    err = _fail(["-q", *args], capsys)
    assert err == line.format(cwd=tmp_path) + "\n"
    assert list(tmp_path.iterdir()) == []


def test_the_input_example_warning_of_mlflow_is_silenced(mlflow_uri):
    import mlflow
    from mlflow.models import infer_signature

    from kequn.tracking import configure_tracking

    class Echo(mlflow.pyfunc.PythonModel):  # logged as segment and uplift models are: no example
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
            return model_input

    frame = pd.DataFrame({"aum": [1.0, 2.0]})

    def logged_warnings() -> list[str]:
        with mlflow.start_run():
            mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow"],
                                    signature=infer_signature(frame, frame))
        return [str(w.message) for w in caught]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mlflow.set_tracking_uri(mlflow_uri)
        assert any("An input example was not provided" in m for m in logged_warnings())  # MLflow warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        configure_tracking()
        assert not any("input example" in m for m in logged_warnings())


def test_the_audit_log_is_git_ignored():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert {"kequn_audit.jsonl", "mlflow.db", "mlruns/"} <= set(ignored)


@pytest.mark.slow
def test_mlflow_run_lands_in_the_experiment_it_prints(mlflow_uri, clean_zone_factory, tmp_path):
    from mlflow.tracking import MlflowClient

    table = clean_zone_factory({"features": synthetic_features(300)}) / "features.parquet"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "train", "--env-manager", "local",
         "-P", "task=churn", "-P", f"data={table}", "-P", "trials=1", "-P", f"json={tmp_path / 'train.json'}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.get_experiment_by_name("kequn-churn")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`kequn.task` = 'churn'")
    assert len(runs) == 1
    study = runs[0]
    assert f"MLflow run {study.info.run_id} (experiment kequn-churn)" in proc.stdout
    assert study.info.status == "FINISHED" and "test_roc_auc" in study.data.metrics
    project = client.get_run(study.data.tags["kequn.project_run_id"])  # the run `mlflow run` made
    assert project.data.tags["kequn.study_run_id"] == study.info.run_id
    assert project.info.experiment_id != experiment.experiment_id
