"""Logged models load anywhere MLflow runs: from their own requirements.txt, without kequn.

No package index serves kequn, so a model must carry the code it unpickles (MLflow
``code_paths``) and name only third-party packages. The fast tests check what
``model_env`` gives the three kinds of pyfunc model; the slow ones (they train, start
interpreters and build a virtualenv) load a churn champion in this interpreter with our packages
made unimportable, then build a fresh virtualenv from the model's requirements.txt (pip from
PyPI, one venv per session), score the champion there, serve it with ``mlflow models serve`` on
loopback, and load an uplift and a segment model.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.packaging import FIRST_PARTY, model_env
from tests.conftest import make_clean_zone

ROOT = Path(__file__).resolve().parent.parent
MODEL = "churn-model"

#: Run in another interpreter (cwd and PYTHONPATH nowhere near our source): hide our packages
#: (the editable install's finder) unless HIDE is "0", load MODEL_URI, predict on the input of
#: INPUT (a Parquet file, or the model's own input example when empty) and write OUT.
DRIVER = r'''
import importlib.util, json, os, sys
if os.environ["HIDE"] == "1":
    def editable(finder):
        return (finder if isinstance(finder, type) else type(finder)).__module__.startswith("__editable__")
    sys.meta_path[:] = [f for f in sys.meta_path if not editable(f)]
    sys.path[:] = [p for p in sys.path if not p.startswith("__editable__")]
    for name in ("kequn", "experiments", "pipelines", "privacy", "features"):
        assert importlib.util.find_spec(name) is None, f"{name} is importable before the model loads"
import mlflow, pandas as pd
from mlflow.models import Model

uri = os.environ["MODEL_URI"]
model = mlflow.pyfunc.load_model(uri)
if os.environ["INPUT"]:
    frame = pd.read_parquet(os.environ["INPUT"])
else:
    local = mlflow.artifacts.download_artifacts(uri)
    frame = Model.load(local).load_input_example(local)
pred = model.predict(frame)
pred = pred.to_dict(orient="list") if isinstance(pred, pd.DataFrame) else [float(v) for v in pred]
import experiments
out = {"pred": pred, "experiments": list(experiments.__path__)}
if os.environ.get("THEN_IMPORT"):
    module = importlib.import_module(os.environ["THEN_IMPORT"])
    out["then_imported"] = module.__file__
json.dump(out, open(os.environ["OUT"], "w", encoding="utf-8"))
'''


def run_driver(python: str | Path, workdir: Path, uri: str, *, tracking_uri: str, hide: bool = True,
               data: Path | None = None, pythonpath: str | None = None, then_import: str = "") -> dict:
    empty = workdir / f"cwd-{time.monotonic_ns()}"
    empty.mkdir(parents=True)
    script = empty / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(MODEL_URI=uri, MLFLOW_TRACKING_URI=tracking_uri, HIDE="1" if hide else "0",
               INPUT=str(data or ""), OUT=str(empty / "out.json"), THEN_IMPORT=then_import,
               OMP_WAIT_POLICY="PASSIVE")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    proc = subprocess.run([str(python), str(script)], cwd=empty, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((empty / "out.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- models

@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A module-wide SQLite tracking store (training three models once, not per test)."""
    base = tmp_path_factory.mktemp("model_env")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.chdir(base)
        yield {"uri": uri, "dir": base}


def expected(uri: str, frame: pd.DataFrame | None = None):
    """The model's predictions in this (kequn's own) environment."""
    import mlflow
    from mlflow.models import Model

    model = mlflow.pyfunc.load_model(uri)
    if frame is None:
        local = mlflow.artifacts.download_artifacts(uri)
        frame = Model.load(local).load_input_example(local)
    pred = model.predict(frame)
    return pred.to_dict(orient="list") if isinstance(pred, pd.DataFrame) else [float(v) for v in pred]


@pytest.fixture(scope="module")
def churn(store):
    """A churn model trained through the CLI, registered and aliased @champion."""
    import mlflow

    from pipelines.cli.main import main
    from tests.test_train_data import synthetic_features

    data = make_clean_zone(store["dir"] / "clean", {"features": synthetic_features(400)}) / "features.parquet"
    out = store["dir"] / "train.json"
    try:
        main(["-q", "train", "--task", "churn", "--data", str(data), "--trials", "1", "--json", str(out)])
    except SystemExit as exc:
        assert not exc.code
    run_id = json.loads(out.read_text(encoding="utf-8"))["run_id"]
    version = mlflow.register_model(f"runs:/{run_id}/model", MODEL)
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version.version)
    uri = f"models:/{MODEL}@champion"
    return {"uri": uri, "local": Path(mlflow.artifacts.download_artifacts(uri)), "expected": expected(uri)}


@pytest.fixture(scope="module")
def uplift(store):
    from experiments.uplift import train_uplift
    from tests.test_uplift import planted

    frame = planted(800)[0]
    data = make_clean_zone(store["dir"] / "campaign", {"campaign": frame}) / "campaign.parquet"
    run_id = train_uplift(data=data, trials=0, experiment="t-model-env-uplift")["run_id"]
    features = store["dir"] / "uplift_input.parquet"
    frame.drop(columns=["customer_no", "treatment", "response"]).head(50).to_parquet(features, index=False)
    uri = f"runs:/{run_id}/model"
    return {"uri": uri, "data": features, "expected": expected(uri, pd.read_parquet(features))}


@pytest.fixture(scope="module")
def segment(store):
    from experiments.segment import train_segment
    from tests.test_segment import planted_customers

    frame = planted_customers(300)[0]
    data = make_clean_zone(store["dir"] / "customers", {"features": frame}) / "features.parquet"
    run_id = train_segment(data=data, seed=3, experiment="t-model-env-segment")["run_id"]
    features = store["dir"] / "segment_input.parquet"
    frame.drop(columns=["customer_no"]).head(50).to_parquet(features, index=False)
    uri = f"runs:/{run_id}/model"
    return {"uri": uri, "data": features, "expected": expected(uri, pd.read_parquet(features))}


# --------------------------------------------------------------------------- the champion

def requirement_names(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert all("==" in line for line in lines), lines  # every requirement pinned
    return dict(line.split("==", 1) for line in lines)


@pytest.mark.slow
def test_champion_requirements_name_no_package_of_ours_and_its_code_ships(churn):
    reqs = requirement_names(churn["local"] / "requirements.txt")
    assert not set(reqs) & {*FIRST_PARTY, "kequn"}
    assert {"mlflow", "xgboost", "pandas", "numpy", "cloudpickle"} <= set(reqs)
    from importlib.metadata import version

    assert reqs["xgboost"] == version("xgboost") and reqs["mlflow"] == version("mlflow")
    code = churn["local"] / "code"
    shipped = {p.relative_to(code).as_posix() for p in code.rglob("*.py")}
    assert "experiments/model.py" in shipped and "kequn/errors.py" in shipped
    # only what unpickling imports: no CLI, no privacy engine, no training loop (features/ may
    # ship: experiments.data reads the feature registry's label names)
    assert not {p for p in shipped if p.split("/")[0] in ("pipelines", "privacy")}
    assert "experiments/train.py" not in shipped


def test_every_pyfunc_model_ships_its_modules_and_pins_only_third_party():
    from experiments.model import BinaryScorer
    from experiments.segment import SegmentModel, load_segments_config, segment_encoder
    from experiments.segment.selection import _kmeans
    from experiments.uplift import TableEncoder, UpliftModel, fit_learner
    from tests.test_uplift import planted

    frame = planted(300)[0]
    enc = TableEncoder(exclude=("customer_no", "treatment", "response")).fit(frame)
    learner = fit_learner("t_learner", enc.transform(frame).to_numpy(), frame["treatment"], frame["response"],
                          params={"n_estimators": 5})
    seg_enc = segment_encoder(["x0", "x1"]).fit(frame)
    seg = SegmentModel(seg_enc, _kmeans(2, 0).fit(seg_enc.transform(frame)), {0: "a", 1: "b"},
                       load_segments_config().tiers_desc())
    for model, module, extra in ((BinaryScorer(), "model.py", "xgboost"),
                                 (UpliftModel(enc, learner), "uplift/model.py", "xgboost"),
                                 (seg, "segment/model.py", "pydantic")):
        env = model_env(model)
        names = [r.split("==")[0] for r in env["pip_requirements"]]
        assert extra in names and not set(names) & {*FIRST_PARTY, "kequn"}
        tops = {Path(p).name for p in env["code_paths"]}
        # the segment model assigns value tiers with features.config (which reads conf/)
        assert {"experiments", "kequn"} <= tops <= {"experiments", "kequn", "features", "conf"}
        assert not tops & {"pipelines", "privacy"}
        staged = Path(env["code_paths"][0]).parent
        assert (staged / "experiments" / module).is_file()
        assert not (staged / "experiments" / "train.py").exists()
        assert not list((staged / "experiments").rglob("train.py"))  # no training loop ships
        assert all(r.split("==")[1] for r in env["pip_requirements"])  # pinned


@pytest.mark.slow
def test_champion_loads_where_our_packages_are_not_importable(churn, store, tmp_path):
    """This interpreter's packages, but kequn's own hidden: the model's shipped code is enough."""
    got = run_driver(sys.executable, tmp_path, churn["uri"], tracking_uri=store["uri"])
    assert got["pred"] == churn["expected"]
    assert len(got["experiments"]) == 1 and "code" in Path(got["experiments"][0]).parts  # the model's copy


@pytest.mark.slow
def test_loading_a_model_first_keeps_the_installed_packages_importable(churn, store, tmp_path):
    """kequn installed and not imported yet (a notebook's first cell loads a model): the model's
    few shipped modules must not hide the rest of the installed package."""
    got = run_driver(sys.executable, tmp_path, churn["uri"], tracking_uri=store["uri"], hide=False,
                     pythonpath=str(ROOT), then_import="experiments.train")
    assert got["pred"] == churn["expected"]
    assert Path(got["then_imported"]) == ROOT / "experiments" / "train.py"
    assert Path(got["experiments"][0]) == ROOT / "experiments"


# --------------------------------------------------------------------------- a fresh virtualenv

@pytest.fixture(scope="module")
def fresh_python(churn, tmp_path_factory) -> Path:
    """A virtualenv made from nothing but the champion's requirements.txt (no kequn anywhere)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    install(python, churn["local"] / "requirements.txt")
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('kequn'))"],
                           capture_output=True, text=True, cwd=venv, env=clean_env(), check=True)
    assert probe.stdout.strip() == "None"
    return python


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def install(python: Path, requirements: Path) -> None:
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           "--root-user-action=ignore", "-r", str(requirements)],
                          capture_output=True, text=True, env=clean_env(), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_champion_scores_and_serves_in_a_fresh_virtualenv(churn, store, fresh_python, tmp_path):
    got = run_driver(fresh_python, tmp_path, churn["uri"], tracking_uri=store["uri"])
    assert got["pred"] == churn["expected"]
    assert all("code" in Path(p).parts for p in got["experiments"])  # the model's own copy

    from mlflow.models import Model

    example = Model.load(churn["local"]).load_input_example(str(churn["local"]))
    # full precision: pandas' default 10 decimals would move a continuous (logistic) score by ~1e-11
    body = json.dumps({"dataframe_split": json.loads(example.to_json(orient="split", index=False,
                                                                     double_precision=15))})
    port = free_port()
    cwd = tmp_path / "serve"
    cwd.mkdir()
    # as `source venv/bin/activate` would: mlflow starts the scoring server with `exec uvicorn`
    env = {**clean_env(), "MLFLOW_TRACKING_URI": store["uri"], "OMP_WAIT_POLICY": "PASSIVE",
           "VIRTUAL_ENV": str(fresh_python.parent.parent),
           "PATH": f"{fresh_python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen([str(fresh_python.parent / "mlflow"), "models", "serve", "-m", churn["uri"],
                               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
                              cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=open(cwd / "log", "w"),
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (cwd / "log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, (cwd / "log").read_text()[-3000:]
                time.sleep(1)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        np.testing.assert_allclose(answer["predictions"], churn["expected"], rtol=1e-12, atol=0)
    finally:
        stop(server)


def stop(server: subprocess.Popen) -> None:
    """End the server we started and its workers (its own process group), politely first."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, None)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            pass
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
def test_uplift_and_segment_models_load_in_a_fresh_virtualenv(uplift, segment, store, fresh_python, tmp_path):
    import mlflow

    for model in (uplift, segment):
        local = Path(mlflow.artifacts.download_artifacts(model["uri"], dst_path=str(tmp_path / "dl")))
        reqs = requirement_names(local / "requirements.txt")
        assert not set(reqs) & {*FIRST_PARTY, "kequn"}
        install(fresh_python, local / "requirements.txt")  # segment adds pydantic
        got = run_driver(fresh_python, tmp_path, model["uri"], tracking_uri=store["uri"], data=model["data"])
        assert got["pred"] == model["expected"]
        assert all("code" in Path(p).parts for p in got["experiments"])
