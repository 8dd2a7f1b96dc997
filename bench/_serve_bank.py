"""A governed synthetic bank for the score and monitor benchmarks.

``kequn synth`` → ``pseudonymise`` → ``features`` at the given snapshots → ``kequn train`` for the
given tasks at the training snapshot → publish (alice) → approve (bob, signed) → promote (carol,
signed), in ``WORKDIR`` with its own MLflow SQLite store, keyring and keys. Everything runs
through kequn's own functions, as the CLI would; the environment is set for the calling process
(and inherited by the ``kequn`` subprocesses the benchmarks time).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEY = "bench-serve-key-0123456789abcdef0123456789abcdef"


def environment(workdir: Path) -> None:
    os.environ.update({
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "KEQUN_KEY_DIR": str(workdir / "keys"),
        "KEQUN_KEYRING": str(workdir / "keyring.yaml"),
        "KEQUN_PSEUDONYM_KEY": KEY,
        "PYTHONPATH": str(ROOT),
    })
    os.environ.pop("MLFLOW_REGISTRY_URI", None)


def build_bank(workdir: Path, *, customers: int, train_snapshot: str, snapshots: list[str], tasks: list[str],
               trials: int = 3, seed: int = 11, log=print) -> dict:
    """Build (or reuse) the bank in ``workdir``; return paths and the models' names."""
    from experiments.train import run_training
    from features.build import build_features
    from kequn.io import find_tables
    from pipelines.registry import approve, promote, publish
    from pipelines.signing import init_key
    from pipelines.synth import generate
    from privacy.keys import load_key
    from privacy.pseudonymise import pseudonymise

    workdir.mkdir(parents=True, exist_ok=True)
    environment(workdir)
    timings = {}
    if not (workdir / "keyring.yaml").exists():
        lines = ["people:"]
        for name, role in (("alice", "author"), ("bob", "reviewer"), ("carol", "owner")):
            _, public = init_key(name)
            lines.append(f"  {name}: {{public_key: \"{public}\", roles: [{role}]}}")
        (workdir / "keyring.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not (workdir / "clean" / "manifest.json").exists():
        t0 = time.perf_counter()
        generate(n_customers=customers, seed=seed, out=workdir / "raw", fmt="parquet", encoding="utf-8")
        pseudonymise(find_tables([workdir / "raw"]), out=workdir / "clean", policy_path=None, key=load_key(None))
        timings["synth+pseudonymise"] = round(time.perf_counter() - t0, 1)
    features = {}
    for day in sorted({train_snapshot, *snapshots}):
        path = workdir / f"features_{day}.parquet"
        if not path.exists():
            build_features(clean_dir=workdir / "clean", snapshot=dt.date.fromisoformat(day), out=path)
        features[day] = path
    models = {}
    for task in tasks:
        name = f"{task}-{train_snapshot}"
        models[task] = name
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        from kequn.tracking import configure_tracking

        configure_tracking()
        try:
            MlflowClient().get_model_version_by_alias(name, "champion")
            continue
        except MlflowException:
            pass
        t0 = time.perf_counter()
        os.environ["KEQUN_USER"] = "alice"
        run = run_training(task=task, data=features[train_snapshot], trials=trials, seed=seed)
        version = publish(run_id=run["run_id"], name=name)["version"]
        os.environ["KEQUN_USER"] = "bob"
        approve(name=name, version=version, reason="benchmark")
        os.environ["KEQUN_USER"] = "carol"
        promote(name=name, version=version)
        timings[f"train+publish {task}"] = round(time.perf_counter() - t0, 1)
        log(f"{name}: trained on {features[train_snapshot].name}, v{version} @champion")
    os.environ["KEQUN_USER"] = "dave"
    return {"features": features, "models": models, "timings": timings}
