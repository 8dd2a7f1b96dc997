"""Benchmark of ``kequn score``: customers per second for churn, segment and uplift champions.

The models are real ``kequn train`` runs on a synthetic bank (``--customers``, features at
2024-06-30), published, approved and promoted (bench/_serve_bank.py). The table scored is a
**scaled-up later snapshot**: the rows of the bank's 2024-09-30 feature table drawn with
replacement to ``--rows`` rows, each given a fresh token, written with that table's lineage (a
1M-customer bank through pseudonymise would take the box hours; the scorer's cost depends on the
rows and columns, not on where the rows came from). Each ``kequn score`` runs as a fresh child
process, timed end to end (start-up, verification, read, score, write, MLflow run).

Usage::

    python bench/bench_score.py --rows 1000000 [--customers 5000] [--workdir DIR] [--tasks churn,segment,uplift]

Prints one JSON line per task: rows, wall seconds, CPU seconds, peak RSS of the child (MB).
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _serve_bank import build_bank  # noqa: E402


def scaled_table(source: Path, rows: int, out: Path, seed: int = 0) -> Path:
    """``source``'s rows drawn with replacement to ``rows`` rows, fresh tokens, same lineage."""
    import pandas as pd

    from kequn.lineage import read_parquet_lineage, write_parquet_with_lineage
    from privacy.tokens import token_key_id

    frame = pd.read_parquet(source)
    rng = np.random.default_rng(seed)
    big = frame.iloc[rng.integers(0, len(frame), size=rows)].reset_index(drop=True)
    ids = np.arange(rows, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    head = f"tk_{token_key_id(str(frame['customer_no'].iloc[0]))}_"  # the source zone's key id
    big["customer_no"] = pd.array(np.char.add(head, np.char.mod("%016x", ids)).astype(object), dtype="string")
    return write_parquet_with_lineage(big, out, read_parquet_lineage(source))


def timed_child(argv: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"rc": proc.returncode, "wall_s": round(wall, 1),
            "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
            "peak_rss_mb": round(after.ru_maxrss / 1024), "stderr_tail": proc.stderr.strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--tasks", default="churn,segment,uplift")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kequn-bench-score-"))
    tasks = args.tasks.split(",")
    bank = build_bank(workdir, customers=args.customers, train_snapshot="2024-06-30", snapshots=["2024-09-30"],
                      tasks=tasks, log=lambda m: print(m, file=sys.stderr))
    table = workdir / f"scaled_{args.rows}.parquet"
    if not table.exists():
        scaled_table(bank["features"]["2024-09-30"], args.rows, table)
    for task in tasks:
        out = workdir / f"scores_{task}_{args.rows}.parquet"
        result = timed_child([sys.executable, "-m", "pipelines.cli.main", "-q", "score", "--model",
                              f"models:/{bank['models'][task]}@champion", "--data", str(table), "--out", str(out),
                              "--json", str(workdir / f"score_{task}.json")])
        if result["rc"] == 0:
            result["inner_s"] = json.loads((workdir / f"score_{task}.json").read_text(encoding="utf-8"))["seconds"]
        print(json.dumps({"task": task, "rows": args.rows, "bank_customers": args.customers,
                          "load_avg_1m": round(os.getloadavg()[0], 1), **result}), flush=True)


if __name__ == "__main__":
    main()
