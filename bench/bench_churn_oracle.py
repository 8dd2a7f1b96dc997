"""The churn model `kequn train` ships on the synthetic bank, next to the planted oracle.

Chain (same ``KEQUN_PSEUDONYM_KEY`` throughout)::

    kequn synth --customers 20000 --seed 42 --out raw --format parquet
    kequn pseudonymise raw --out clean
    kequn features --data clean --snapshot 2024-06-30 --out feat/features.parquet
    python bench/bench_churn_oracle.py --raw raw --features feat/features.parquet [--trials 10]

It runs ``kequn train --task churn`` (seed 42) and scores the planted ``churn_prob`` of
``raw/ground_truth`` (the oracle: the probability the generator drew the label from) on the
*same* held-out rows, so the two ROC-AUCs compare. The truth is joined by tokenising the raw
``customer_no`` with the pseudonymisation key (bench only; it never enters training).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import pandas as pd
    from _truth import tokenised_truth
    from sklearn.metrics import roc_auc_score

    from experiments.binary import split
    from experiments.data import load_training_table, prepare
    from experiments.train import run_training
    from kequn import console

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--key-file", type=Path, default=None)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    console.set_quiet(True)
    work = Path(tempfile.mkdtemp(prefix="kequn-bench-oracle-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    os.environ.pop("KEQUN_OPTUNA_STORAGE", None)
    os.environ.pop("KEQUN_OPTUNA_STUDY", None)

    t0 = time.perf_counter()
    result = run_training(task="churn", data=args.features, trials=args.trials, seed=42, experiment="bench-oracle")
    seconds = time.perf_counter() - t0
    frame, _ = load_training_table(args.features)
    prepared = prepare(frame, task="churn")
    _, test_idx = split(prepared, 42)
    truth = tokenised_truth(args.raw, args.key_file)
    ids = prepared.ids.iloc[test_idx]
    prob = pd.to_numeric(ids.to_frame("customer_no").merge(truth, on="customer_no", how="left")["churn_prob"])
    y_te = prepared.y.iloc[test_idx].to_numpy()
    ok = prob.notna().to_numpy()
    m = result["metrics"]
    out = {"customers": len(frame), "n_test": len(test_idx), "trials": args.trials,
           "oracle_test_roc_auc": round(float(roc_auc_score(y_te[ok], prob.to_numpy()[ok])), 4),
           "kequn_test_roc_auc": round(m["test_roc_auc"], 4),
           "kequn_baseline_test_roc_auc": round(m["baseline_test_roc_auc"], 4),
           "seconds": round(seconds, 1)}
    for key in ("xgboost_test_roc_auc", "logistic_cv_roc_auc", "xgboost_cv_roc_auc", "cv_best_roc_auc"):
        if key in m:
            out[f"kequn_{key}"] = round(m[key], 4)
    out["summary"] = result["summary"].splitlines()[:3]
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
