"""Model privacy benchmarks: membership-inference AUC of the default models, and the utility cost of DP.

1. The synthetic bank (`kequn synth` → pseudonymise → features, as the demo builds it): train the
   default churn, propensity and uplift models (`run_training`, the same code as `kequn train`)
   and read their logged ``privacy_mia_*`` metrics; then the DP logistic regression of
   ``train --dp-epsilon`` at ε = 1, 3, 10 (several seeds: the noise is random) against the same
   model without privacy on the same held-out rows.
2. Optionally the public CoIL 2000 ``Caravan`` table (``--caravan``; from the ISLP package when it
   is installed): the default churn-style binary model (label ``Purchase``), same audit.

       python bench/bench_model_privacy.py [--customers 8000] [--trials 5] [--caravan]

Everything goes to a temporary directory and a temporary SQLite MLflow store.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MIA_KEYS = ("privacy_mia_auc", "privacy_mia_advantage", "privacy_mia_threshold_auc", "privacy_mia_attack_model_auc",
            "privacy_mia_shadow_auc")


def _mia(metrics: dict) -> dict:
    return {k: round(metrics[k], 4) for k in MIA_KEYS if k in metrics}


def synthetic_bank(tmp: Path, customers: int, seed: int) -> Path:
    from features.build import build_features
    from kequn.io import find_tables
    from pipelines.demo import DEFAULT_HORIZON_DAYS, DEFAULT_SNAPSHOT
    from pipelines.synth import generate
    from privacy.pseudonymise import pseudonymise

    raw, clean, features = tmp / "raw", tmp / "clean", tmp / "features.parquet"
    generate(n_customers=customers, seed=seed, out=raw, fmt="parquet", encoding="utf-8")
    pseudonymise(find_tables([raw]), out=clean, policy_path=None, key=b"bench-model-privacy-key-0123456789abcdef")
    build_features(clean_dir=clean, snapshot=DEFAULT_SNAPSHOT, out=features, horizon_days=DEFAULT_HORIZON_DAYS)
    return features


def train(task: str, data: Path, trials: int, seed: int, **kw) -> dict:
    from experiments.train import run_training

    t0 = time.perf_counter()
    result = run_training(task=task, data=data, trials=trials, seed=seed, experiment=f"bench-{task}", **kw)
    return {"task": task, "seconds": round(time.perf_counter() - t0, 1), **_mia(result["metrics"]),
            "test_metric": round(result["metrics"].get("test_roc_auc", result["metrics"].get("test_qini_auc",
                                                                                                 float("nan"))), 4)}


def dp_costs(data: Path, task: str, epsilons: list[float], seeds: list[int]) -> list[dict]:
    from experiments.data import load_training_table, prepare, table_digest
    from experiments.dp import train_dp

    frame, _ = load_training_table(data)
    prepared = prepare(frame, task=task, label=None, positive=None, id_col=None, treatment=None, protected=[])
    digest = table_digest(frame)
    rows = []
    for eps in epsilons:
        runs = [train_dp(prepared, task=task, frame=frame, digest=digest, epsilon=eps, seed=s)["metrics"]
                for s in seeds]
        rows.append({"task": task, "epsilon": eps, "seeds": len(seeds),
                     "dp_test_roc_auc_mean": round(statistics.mean(r["test_roc_auc"] for r in runs), 4),
                     "dp_test_roc_auc_min": round(min(r["test_roc_auc"] for r in runs), 4),
                     # each seed draws its own split: the cost is paired (same rows), the baseline a mean
                     "baseline_test_roc_auc_mean": round(statistics.mean(r["dp_baseline_test_roc_auc"]
                                                                         for r in runs), 4),
                     "utility_cost_mean": round(statistics.mean(r["dp_utility_cost_roc_auc"] for r in runs), 4),
                     "mia_auc_mean": round(statistics.mean(r["privacy_mia_auc"] for r in runs), 4)})
    return rows


def caravan(tmp: Path, trials: int, seed: int) -> dict | None:
    try:
        from ISLP import load_data
    except ImportError:
        return None
    from bench_tracking import make_clean_zone

    frame = load_data("Caravan")
    frame["purchase_label"] = (frame.pop("Purchase") == "Yes").astype(int)
    path = make_clean_zone(tmp / "caravan", "caravan", frame)
    return train("propensity", path, trials, seed, label="purchase_label")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--caravan", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kequn-bench-mia-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        out: dict = {"customers": args.customers, "trials": args.trials, "seed": args.seed}
        data = synthetic_bank(tmp, args.customers, args.seed)
        out["models"] = [train(t, data, args.trials, args.seed) for t in ("churn", "propensity", "uplift")]
        out["dp"] = [*dp_costs(data, "churn", [1.0, 3.0, 10.0], [0, 1, 2]),
                     *dp_costs(data, "propensity", [1.0, 3.0, 10.0], [0, 1, 2])]
        if args.caravan:
            out["caravan"] = caravan(tmp, args.trials, args.seed)
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
