"""Benchmarks for `kequn train` (churn/propensity).

1. Tracking overhead: the same tuned run with and without MLflow logging (nested trial runs,
   params, metrics, artifacts, dataset input, pyfunc model). Both do the same computation,
   including the plots and the HTML report; only the logging differs. Target: < 10% extra.

       python bench/bench_tracking.py overhead [--data FEATURES.parquet] [--rows 5000] [--trials 10]

   Without ``--data`` a synthetic feature table (planted churn drivers, no real data) is used.

2. Quality against a hand-written XGBoost script on a public table with no PII, e.g. the
   CoIL 2000 insurance-marketing table ``Caravan.csv`` or the credit-default table
   ``Default.csv`` that ship inside the ISLP wheel (``pip download ISLP==0.6.0 --no-deps`` and
   unzip; nothing is installed). Same rows, same stratified 80/20 split and seed.

       python bench/bench_tracking.py public --csv Caravan.csv --label Purchase --positive Yes

Runs go to a temporary SQLite MLflow store; nothing is written into the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_clean_zone(directory: Path, name: str, frame: pd.DataFrame) -> Path:
    """A minimal clean zone (manifest with status passed), as the tests' fixture makes."""
    from kequn.io import sha256_file

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.parquet"
    frame.to_parquet(path, index=False)
    manifest = {"manifest_id": uuid.uuid4().hex, "status": "passed", "policy_hash": "bench",
                "key_fingerprint": "bench", "outputs": [{"table": name, "file": path.name,
                                                         "sha256": sha256_file(path), "rows": len(frame)}]}
    from kequn.signing import ensure_step_key, sign_record  # signed like pseudonymise's

    (directory / "manifest.json").write_text(json.dumps(sign_record(ensure_step_key()[0], manifest, signer="privacy-step")), encoding="utf-8")
    return path


def synthetic_table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    aum_change = rng.normal(0, 1, n)
    txn = rng.poisson(10, n)
    risk = rng.choice(["R1", "R2", "R3", "R4", "R5"], n)
    logit = -1.8 - 1.2 * aum_change - 0.08 * (txn - 10) + np.where(risk == "R5", 0.8, 0.0) \
        + 0.6 * np.sin(3 * rng.normal(size=n)) * (aum_change > 0)
    frame = pd.DataFrame({
        "customer_no": [f"tk_{i:012x}" for i in range(n)],
        "gender": rng.choice(["男", "女"], n), "age_band": rng.choice(["20-29", "30-39", "40-49"], n),
        "aum": rng.lognormal(10, 1, n), "aum_change_90d": aum_change, "txn_count_90d": txn,
        "risk_level": risk, **{f"noise_{i}": rng.normal(size=n) for i in range(10)},
        "churn_label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
    })
    return frame


def overhead(args: argparse.Namespace) -> dict:
    from experiments.binary import train_binary
    from experiments.data import load_training_table, prepare, table_digest
    from experiments.train import train_tracked_binary
    from kequn import console

    console.set_quiet(True)
    work = Path(tempfile.mkdtemp(prefix="kequn-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    path = Path(args.data) if args.data else make_clean_zone(work / "clean", "features", synthetic_table(args.rows))
    frame, lineage = load_training_table(path)
    prepared = prepare(frame, task="churn")
    digest = table_digest(frame)
    common = {"task": "churn", "lineage": lineage, "frame": frame, "digest": digest, "trials": args.trials,
              "timeout": None, "seed": 42}
    # warm-up: imports, store creation and migrations are one-time costs, not per-run overhead
    train_tracked_binary(prepared, data=path, experiment="bench-warmup", **{**common, "trials": 1})
    times: dict[str, list[float]] = {"untracked": [], "tracked": [], "untracked_cpu": [], "tracked_cpu": []}
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        train_binary(prepared, data_path=path, tracker=None, **common)
        times["untracked"].append(time.perf_counter() - t0)
        times["untracked_cpu"].append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        train_tracked_binary(prepared, data=path, experiment="bench", **common)
        times["tracked"].append(time.perf_counter() - t0)
        times["tracked_cpu"].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"rows": len(frame), "features": len(prepared.feature_names), "trials": args.trials,
            "repeats": args.repeats, "untracked_s": med["untracked"], "tracked_s": med["tracked"],
            "overhead_pct": 100 * (med["tracked"] / med["untracked"] - 1),
            "untracked_cpu_s": med["untracked_cpu"], "tracked_cpu_s": med["tracked_cpu"],
            "overhead_cpu_pct": 100 * (med["tracked_cpu"] / med["untracked_cpu"] - 1), "all": times}


def hand_written_xgboost(frame: pd.DataFrame, label: str, positive: str, seed: int) -> float:
    """What a competent engineer writes by hand: same split, one-hot-free native categoricals,
    a 10% early-stopping slice of the training part, sensible defaults."""
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    y = (frame[label].astype(str) == positive).astype(int).to_numpy()
    X = frame.drop(columns=[label])
    for col in X.columns:
        if not pd.api.types.is_numeric_dtype(X[col]):
            X[col] = X[col].astype("category")
    pos = np.arange(len(X))
    tr, te = train_test_split(pos, test_size=0.2, random_state=seed, stratify=y)
    tr, te = np.sort(tr), np.sort(te)
    fit, val = train_test_split(tr, test_size=0.1, random_state=seed, stratify=y[tr])
    model = xgb.XGBClassifier(n_estimators=2000, learning_rate=0.05, max_depth=4, subsample=0.8,
                              colsample_bytree=0.8, early_stopping_rounds=50, eval_metric="auc",
                              enable_categorical=True, tree_method="hist", n_jobs=2, random_state=seed)
    model.fit(X.iloc[fit], y[fit], eval_set=[(X.iloc[val], y[val])], verbose=False)
    return float(roc_auc_score(y[te], model.predict_proba(X.iloc[te])[:, 1]))


def public(args: argparse.Namespace) -> dict:
    from experiments.train import run_training
    from kequn import console

    console.set_quiet(True)
    work = Path(tempfile.mkdtemp(prefix="kequn-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    frame = pd.read_csv(args.csv)
    path = make_clean_zone(work / "clean", Path(args.csv).stem.lower(), frame)
    t0 = time.perf_counter()
    result = run_training(task="propensity", data=path, label=args.label, positive=args.positive,
                          trials=args.trials, seed=42, experiment="bench-public")
    kequn_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    hand = hand_written_xgboost(frame, args.label, args.positive, seed=42)
    hand_s = time.perf_counter() - t0
    m = result["metrics"]
    return {"table": Path(args.csv).name, "rows": len(frame), "trials": args.trials,
            "kequn_test_roc_auc": m["test_roc_auc"], "kequn_baseline_test_roc_auc": m["baseline_test_roc_auc"],
            "hand_written_xgboost_test_roc_auc": hand, "kequn_s": kequn_s, "hand_s": hand_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--data")
    o.add_argument("--rows", type=int, default=5000)
    o.add_argument("--trials", type=int, default=10)
    o.add_argument("--repeats", type=int, default=2)
    p = sub.add_parser("public")
    p.add_argument("--csv", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--positive", required=True)
    p.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    out = overhead(args) if args.mode == "overhead" else public(args)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
