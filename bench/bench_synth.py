"""Benchmark ``kequn synth``: wall time and peak RSS of :func:`pipelines.synth.generate`.

Usage::

    nice python bench/bench_synth.py --customers 100000 --out /tmp/bench_synth [--format csv]

Prints one JSON line (customers, rows per table, seconds, peak RSS in MiB, output size in MiB).
The output folder is removed afterwards unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_synth"))
    parser.add_argument("--format", dest="fmt", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--encoding", choices=["utf-8", "gbk"], default="utf-8")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    from pipelines.synth import generate

    start = time.perf_counter()
    summary = generate(n_customers=args.customers, seed=args.seed, out=args.out, fmt=args.fmt,
                       encoding=args.encoding)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(json.dumps({
        "customers": args.customers, "format": args.fmt, "encoding": args.encoding,
        "rows": summary["rows"], "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak_kib / 1024), "output_mib": round(size / 2**20),
        "cpus": os.cpu_count(),
    }))
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
