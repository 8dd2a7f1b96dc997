"""Benchmark of ``kequn monitor`` on the synthetic bank: quiet on a stable snapshot, loud on drift.

A churn and a segment model are trained at ``--train-snapshot`` (default 2024-03-31, after the
bank's Q1 campaign) and governed (bench/_serve_bank.py). ``kequn monitor`` then compares:

1. ``stable``: a later snapshot with no campaign in between (``kequn features --snapshot
   2024-06-30``); nothing should breach;
2. ``planted``: the same later snapshot with one column shifted (``aum`` × 1.5: every customer's
   assets up by half), written with the snapshot's lineage; ``aum`` must breach, the others not;
3. ``after-campaign``: the 2024-09-30 snapshot, after the Q3 campaign of 2024-07-01 (a real change
   of the campaign-history features, which the monitor should see).

Usage::

    python bench/bench_monitor.py [--customers 5000] [--workdir DIR]

Prints one JSON line per (model, case): exit code, breaches, the largest input PSIs, the output
PSI and, for the segment model, the tier migration counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _serve_bank import build_bank  # noqa: E402


def planted(source: Path, out: Path, column: str = "aum", factor: float = 1.5) -> Path:
    import pandas as pd

    from kequn.lineage import read_parquet_lineage, write_parquet_with_lineage

    frame = pd.read_parquet(source)
    frame[column] = frame[column] * factor
    return write_parquet_with_lineage(frame, out, read_parquet_lineage(source))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--train-snapshot", default="2024-03-31")
    parser.add_argument("--stable-snapshot", default="2024-06-30")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kequn-bench-monitor-"))
    bank = build_bank(workdir, customers=args.customers, train_snapshot=args.train_snapshot,
                      snapshots=[args.stable_snapshot, "2024-09-30"], tasks=["churn", "segment"],
                      log=lambda m: print(m, file=sys.stderr))
    stable = bank["features"][args.stable_snapshot]
    cases = {"training-table": bank["features"][args.train_snapshot], "stable": stable,
             "planted": planted(stable, workdir / "planted_aum_x1.5.parquet"),
             "after-campaign": bank["features"]["2024-09-30"]}
    for task, model in bank["models"].items():
        for case, table in cases.items():
            out = workdir / f"monitor_{task}_{case}"
            proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "-q", "monitor", "--model",
                                   f"models:/{model}@champion", "--data", str(table), "--out", str(out)],
                                  capture_output=True, text=True, env=dict(os.environ))
            line = {"model": task, "case": case, "table": table.name, "exit_code": proc.returncode}
            report_path = out / "monitor_report.json"
            if report_path.exists():
                report = json.loads(report_path.read_text(encoding="utf-8"))
                line.update({
                    "breaches": report["breaches"],
                    "top_psi": {f["column"]: round(f["psi"], 4) for f in report["features"][:4]},
                    "n_inputs": len(report["features"]), "n_drift": report["n_drifted"], "n_shift": report["n_shifted"],
                    "output_psi": {o["column"]: round(o["psi"], 4) for o in report["outputs"]},
                    "performance": {k: round(v, 4) for k, v in (report["performance"].get("metrics") or {}).items()
                                    if v is not None} or report["performance"].get("why"),
                })
                moves = report.get("migration")
                if moves and moves.get("available"):
                    tier = moves["value_tier"]
                    line["tier_migration"] = {k: tier.get(k) for k in ("upgraded", "downgraded", "stayed")}
            else:
                line["stderr"] = proc.stderr.strip().splitlines()[-1:]
            print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
