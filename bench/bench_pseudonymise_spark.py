"""``kequn pseudonymise`` local vs ``--engine spark`` (local[*]) on the same 11-column table.

The table is the throughput table of ``bench/bench_pseudonymise.py`` (customers' 9 columns, an
``aum`` and a note in every row, from ``kequn synth --customers ROWS``). Each engine runs as a
whole ``kequn pseudonymise`` process under ``/usr/bin/time -v`` (wall, CPU, peak RSS of the
largest process: for Spark that is the JVM or the driver, whichever is larger), then the
published Parquet files of the two runs are compared byte for byte.

Usage::

    python bench/bench_pseudonymise_spark.py --rows 20000 --workdir /tmp/kbench_spark
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_pseudonymise import BENCH_KEY, TABLE, _time_v, build_wide11  # noqa: E402


def run(engine: str, table: Path, out: Path) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEQUN_PSEUDONYM_KEY": BENCH_KEY.decode()}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "pipelines.cli.main", "pseudonymise", str(table),
           "--out", str(out), "--engine", engine]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {"engine": engine, "rc": proc.returncode, "status": manifest["status"], **_time_v(proc.stderr)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("bench-pseudonymise-spark"))
    args = parser.parse_args(argv)
    raw = args.workdir / "raw"
    if not (raw / "customers.csv").exists():
        from pipelines.synth import generate

        generate(n_customers=args.rows, seed=args.seed, out=raw)
    table = args.workdir / "wide11" / f"{TABLE}.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    rows = build_wide11(raw, table, args.seed)
    results = [run(engine, table, args.workdir / f"clean_{engine}") for engine in ("local", "spark")]
    for r in results:
        r["rows_per_s"] = round(rows / r["wall_s"], 1)
    a, b = (args.workdir / f"clean_{e}" / f"{TABLE}.parquet" for e in ("local", "spark"))
    identical = a.exists() and b.exists() and a.read_bytes() == b.read_bytes()
    print(json.dumps({"rows": rows, "columns": 11, "cpu_count": os.cpu_count(), "runs": results,
                      "parquet_byte_identical": identical}, indent=2))
    return 0 if identical and all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
