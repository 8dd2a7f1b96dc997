"""Cost of the key-id check of :func:`kequn.lineage.require_clean_table` on a clean zone.

The zone is :func:`bench_features.make_zone`'s (token customer and card numbers with a key id,
generated with NumPy). For every table, ``require_clean_table`` is timed without the key-id
check (``check_tokens=False``: signature, manifest and the file's SHA-256, as before key ids) and
with it; the best of ``--repeat`` runs each.

Usage::

    python bench/bench_token_keys.py --customers 100000 --txns-per-customer 10 [--repeat 3]

Prints one JSON line per table and a total.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_features import make_zone  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--txns-per-customer", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from kequn.lineage import require_clean_table

    with tempfile.TemporaryDirectory() as tmp:
        zone = make_zone(Path(tmp) / "clean", args.customers, args.txns_per_customer)
        total = {"before_s": 0.0, "after_s": 0.0}
        for path in sorted(zone.glob("*.parquet")):
            before = best(lambda p=path: require_clean_table(p, check_tokens=False), args.repeat)
            after = best(lambda p=path: require_clean_table(p), args.repeat)
            total["before_s"] += before
            total["after_s"] += after
            print(json.dumps({"table": path.stem, "rows": pq.read_metadata(path).num_rows,
                              "before_s": round(before, 3), "after_s": round(after, 3)}))
        print(json.dumps({"table": "TOTAL", **{k: round(v, 3) for k, v in total.items()}}))


if __name__ == "__main__":
    main()
