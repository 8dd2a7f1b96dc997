"""Does default `kequn train` ship a model at least as good as the better hand-written one?

On ISLP's public Caravan (CoIL 2000 insurance marketing) and Default (credit-card default)
tables, read from the ``ISLP`` wheel's package data (a bench-only extra:
``pip install --no-deps ISLP==0.6.0``; nothing is downloaded at run time), this runs the
default ``kequn train --task propensity`` (20 Optuna trials, seed 42) and, on the same rows and
the same stratified 80/20 split, two hand-written models:

- logistic regression: one-hot categories, standardised numbers, scikit-learn defaults;
- XGBoost: native categoricals, ``learning_rate=0.05, max_depth=4, subsample=0.8,
  colsample_bytree=0.8``, early stopping on 10 % of the training part.

Target: kequn's held-out ROC-AUC ≥ max(hand-written) - 0.003. The public tables are not
pseudonymised clean-zone data, so each is wrapped in a minimal clean zone (a passed manifest),
as ``bench/bench_tracking.py public`` does.

    python bench/bench_model_choice.py [--tables Caravan Default] [--trials 20] [--json OUT]

Runs go to a temporary SQLite MLflow store; nothing is written into the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_tracking import hand_written_xgboost, make_clean_zone  # noqa: E402

#: table → (label column, positive value)
TABLES = {"Caravan": ("Purchase", "Yes"), "Default": ("default", "Yes")}
TOLERANCE = 0.003


def islp_table(name: str) -> pd.DataFrame:
    """An ISLP data table, read from the installed wheel's files (no network)."""
    try:
        root = resources.files("ISLP") / "data"
    except ModuleNotFoundError as exc:
        raise SystemExit("bench needs the ISLP wheel: pip install --no-deps ISLP==0.6.0") from exc
    with resources.as_file(root / f"{name}.csv") as path:
        return pd.read_csv(path)


def hand_written_logistic(frame: pd.DataFrame, label: str, positive: str, seed: int) -> float:
    """Same split; one-hot categories, standardised numbers, LogisticRegression defaults."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    y = (frame[label].astype(str) == positive).astype(int).to_numpy()
    X = frame.drop(columns=[label])
    cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    nums = [c for c in X.columns if c not in cats]
    tr, te = train_test_split(np.arange(len(X)), test_size=0.2, random_state=seed, stratify=y)
    model = make_pipeline(ColumnTransformer([("num", StandardScaler(), nums),
                                             ("cat", OneHotEncoder(handle_unknown="ignore"), cats)]),
                          LogisticRegression(max_iter=5000))
    model.fit(X.iloc[np.sort(tr)], y[np.sort(tr)])
    te = np.sort(te)
    return float(roc_auc_score(y[te], model.predict_proba(X.iloc[te])[:, 1]))


def run_table(name: str, trials: int, work: Path) -> dict:
    from experiments.train import run_training

    label, positive = TABLES[name]
    frame = islp_table(name)
    path = make_clean_zone(work / name.lower(), name.lower(), frame)
    t0 = time.perf_counter()
    result = run_training(task="propensity", data=path, label=label, positive=positive, trials=trials, seed=42,
                          experiment=f"bench-{name.lower()}")
    kequn_s = time.perf_counter() - t0
    m = result["metrics"]
    hand_lr = hand_written_logistic(frame, label, positive, seed=42)
    hand_xgb = hand_written_xgboost(frame, label, positive, seed=42)
    best_hand = max(hand_lr, hand_xgb)
    out = {"table": name, "rows": len(frame), "positive_share": round(float((frame[label] == positive).mean()), 4),
           "trials": trials, "kequn_test_roc_auc": round(m["test_roc_auc"], 4),
           "kequn_baseline_test_roc_auc": round(m["baseline_test_roc_auc"], 4),
           "hand_logistic_test_roc_auc": round(hand_lr, 4), "hand_xgboost_test_roc_auc": round(hand_xgb, 4),
           "target": round(best_hand - TOLERANCE, 4), "met": bool(m["test_roc_auc"] >= best_hand - TOLERANCE),
           "kequn_s": round(kequn_s, 1)}
    for key in ("xgboost_test_roc_auc", "logistic_cv_roc_auc", "xgboost_cv_roc_auc", "cv_best_roc_auc"):
        if key in m:
            out[f"kequn_{key}"] = round(m[key], 4)
    shipped = [line for line in result["summary"].splitlines() if "shipped" in line or "model choice" in line]
    out["summary"] = shipped or result["summary"].splitlines()[:1]
    return out


def main() -> None:
    from kequn import console

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    console.set_quiet(True)
    work = Path(tempfile.mkdtemp(prefix="kequn-bench-choice-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    os.environ.pop("KEQUN_OPTUNA_STORAGE", None)
    os.environ.pop("KEQUN_OPTUNA_STUDY", None)
    results = [run_table(name, args.trials, work) for name in args.tables]
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
