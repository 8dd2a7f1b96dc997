"""Parallel tuning: `kequn train --workers N` against one process, same data and total trials.

    python bench/bench_workers.py [--rows 5000] [--trials 12] [--workers 1 2]

Each setting runs `kequn train --task churn` as a subprocess on the same synthetic feature table
(bench_tracking.synthetic_table: planted churn drivers, no real data) into a temporary SQLite
MLflow store, and reports wall time, CPU time (the process and its worker processes), the tuning
time the run logs (metric ``tuning_seconds``), trials completed/pruned and the best CV and
held-out ROC-AUC. The study is a journal file, or ``KEQUN_OPTUNA_STORAGE`` when set (a fresh
study name per setting via ``KEQUN_OPTUNA_STUDY``). Nothing is written into the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tracking import make_clean_zone, synthetic_table  # noqa: E402


def one(data: Path, work: Path, trials: int, workers: int) -> dict:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
           "KEQUN_OPTUNA_STUDY": f"bench-{uuid.uuid4().hex[:8]}", "PYTHONPATH": str(ROOT)}
    out = work / f"w{workers}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "-q", "train", "--task", "churn",
                           "--data", str(data), "--trials", str(trials), "--workers", str(workers),
                           "--json", str(out)], env=env, capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    metrics = json.loads(out.read_text(encoding="utf-8"))["metrics"]
    return {"workers": workers, "wall_s": round(wall, 1),
            "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
            "tuning_s": round(metrics["tuning_seconds"], 1), "trials": int(metrics["n_trials"]),
            "pruned": int(metrics["n_trials_pruned"]), "cv_best_roc_auc": round(metrics["cv_best_roc_auc"], 4),
            "test_roc_auc": round(metrics["test_roc_auc"], 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kequn-bench-workers-"))
    data = make_clean_zone(work / "clean", "features", synthetic_table(args.rows))
    rows = []
    for workers in args.workers:
        rows.append(one(data, work, args.trials, workers))
        print(json.dumps(rows[-1]), flush=True)
    load = os.getloadavg()
    print(json.dumps({"rows": args.rows, "trials": args.trials, "cores": len(os.sched_getaffinity(0)),
                      "loadavg_1_5_15": [round(x, 1) for x in load],
                      "storage": "KEQUN_OPTUNA_STORAGE" if os.environ.get("KEQUN_OPTUNA_STORAGE") else "journal",
                      "results": rows}, indent=2))


if __name__ == "__main__":
    main()
