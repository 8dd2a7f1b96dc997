"""Benchmark of ``kequn monitor`` on the synthetic bank: quiet on a stable snapshot, loud on drift.

Two governed models (bench/_serve_bank.py; publish → approve → promote, signed):

- a segment model trained at 2024-03-31 (after the bank's Q1 campaign of 2024-03-01), monitored
  on the 2024-06-30 snapshot (no campaign in between: the **stable** case), on that snapshot with
  one column shifted (``aum`` × 1.5, × 2, × 3: every customer's assets multiplied, written with the
  snapshot's lineage: the **planted** drift), and on 2024-09-30;
- a churn model trained at 2024-06-30 (earlier snapshots hold too few churners in the synthetic
  bank to pass the quality gate), monitored on 2024-09-30, after the Q3 campaign of 2024-07-01,
  which really changes the campaign-history features (``campaigns_before`` …), and on that
  snapshot with ``aum`` multiplied by the same factors.

Every case also monitors the training table itself (PSI must be 0).

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
    parser.add_argument("--factors", type=lambda t: [float(x) for x in t.split(",")], default=[1.5, 2.0, 3.0],
                        help="planted drifts: aum multiplied by each factor")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kequn-bench-monitor-"))
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    seg = build_bank(workdir, customers=args.customers, train_snapshot=args.train_snapshot,
                     snapshots=[args.stable_snapshot, "2024-09-30"], tasks=["segment"], log=log)
    churn = build_bank(workdir, customers=args.customers, train_snapshot="2024-06-30", snapshots=["2024-09-30"],
                       tasks=["churn"], log=log)
    stable, later = seg["features"][args.stable_snapshot], seg["features"]["2024-09-30"]
    plans = {
        ("segment", seg["models"]["segment"]): {
            "training-table": seg["features"][args.train_snapshot], "stable": stable, "later": later,
            **{f"stable, aum x{f:g}": planted(stable, workdir / f"planted_{stable.stem}_aum_x{f:g}.parquet", factor=f)
               for f in args.factors}},
        ("churn", churn["models"]["churn"]): {
            "training-table": churn["features"]["2024-06-30"], "after-campaign": later,
            **{f"after-campaign, aum x{f:g}": planted(later, workdir / f"planted_{later.stem}_aum_x{f:g}.parquet",
                                                      factor=f) for f in args.factors}},
    }
    for (task, model), cases in plans.items():
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
