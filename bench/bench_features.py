"""Benchmark of ``kequn features`` on a clean zone generated with NumPy.

The clean zone has the shape of ``kequn pseudonymise`` output (pipelines/schema.py, "Clean
tables"): token customer numbers, generalised attributes, tokenised card numbers. It is made
directly with vectorised NumPy so the benchmark does not depend on the synthetic bank.

Usage::

    python bench/bench_features.py --customers 100000 --txns-per-customer 30 [--workdir DIR]
    python bench/bench_features.py --customers 100000 --engines   # compare engines on transactions

Prints one JSON line with rows, seconds and peak RSS (MB) of the child process that builds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.io import sha256_file  # noqa: E402
from pipelines.lineage import MANIFEST_NAME  # noqa: E402

START = np.datetime64("2023-01-01")
END = np.datetime64("2024-12-31")
SNAPSHOT = dt.date(2024, 6, 30)


def _tokens(prefix: str, ids: np.ndarray) -> np.ndarray:
    """Token-shaped strings (``tk_`` + 16 hex) for integer ids, vectorised."""
    hexed = np.char.mod("%016x", (ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64))
    return np.char.add(prefix, hexed).astype(object)


def make_zone(directory: Path, n_customers: int, txns_per_customer: int, seed: int = 7) -> Path:
    """Write a clean zone with ``n_customers`` and about ``n * txns_per_customer`` transactions."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    n = n_customers
    ids = np.arange(n)
    cust_tok = _tokens("tk_", ids)
    days_total = int((END - START).astype(int))
    open_off = rng.integers(-2000, days_total - 200, n)
    open_date = START + open_off.astype("timedelta64[D]")
    closes = rng.random(n) < 0.08
    close_date = np.where(closes, open_date + rng.integers(30, 900, n).astype("timedelta64[D]"),
                          np.datetime64("NaT"))
    close_date = np.where(close_date > END, np.datetime64("NaT"), close_date)
    ages = np.array(["18-29", "30-39", "40-49", "50-59", "60-69", "70+"])
    cities = np.array([f"city{i:02d}" for i in range(40)])
    customers = pd.DataFrame({
        "customer_no": cust_tok,
        "gender": rng.choice(np.array(["男", "女"]), n),
        "age_band": rng.choice(ages, n),
        "province": rng.choice(np.array([f"prov{i:02d}" for i in range(10)]), n),
        "city": rng.choice(cities, n),
        "occupation": rng.choice(np.array(["企业职员", "公务员", "个体经营", "退休", "学生"]), n),
        "education": rng.choice(np.array(["本科", "硕士", "高中", "大专"]), n),
        "risk_level": rng.choice(np.array(["R1", "R2", "R3", "R4", "R5"]), n),
        "branch_code": rng.choice(np.array([f"BR{i:03d}" for i in range(50)]), n),
        "open_date": pd.to_datetime(open_date),
        "close_date": pd.to_datetime(close_date),
    })
    # accounts_monthly: 24 month ends for every customer (kept simple: open or not)
    month_ends = pd.date_range("2023-01-31", "2024-12-31", freq="ME").values
    m = len(month_ends)
    base = rng.lognormal(11, 1.3, n)
    drift = rng.normal(0, 0.03, (n, m)).cumsum(axis=1)
    aum = (base[:, None] * np.exp(drift)).ravel()
    split = rng.dirichlet([4, 2, 1, 1], n * m)
    acc = pd.DataFrame({
        "customer_no": np.repeat(cust_tok, m),
        "month_end": np.tile(month_ends, n),
        "deposit_balance": aum * split[:, 0],
        "wealth_balance": aum * split[:, 1],
        "fund_balance": aum * split[:, 2],
        "insurance_balance": aum * split[:, 3],
        "aum": aum,
    })
    t = n * txns_per_customer
    card_tok = _tokens("tk_", ids + 10_000_000)
    who = rng.integers(0, n, t)
    secs = rng.integers(0, days_total * 86400, t)
    txns = pd.DataFrame({
        "txn_id": np.arange(t).astype(str).astype(object),
        "customer_no": cust_tok[who],
        "card_no": card_tok[who],
        "txn_time": START.astype("datetime64[s]") + secs.astype("timedelta64[s]"),
        "amount": np.round(rng.lognormal(6, 1.5, t), 2),
        "direction": rng.choice(np.array(["in", "out"]), t),
        "channel": rng.choice(np.array(["mobile_app", "online", "counter", "atm", "pos"]), t),
        "txn_type": rng.choice(np.array(["salary", "transfer", "consumption", "repayment", "investment",
                                         "withdrawal", "interest"]), t),
    })
    h = n * 2
    hw = rng.integers(0, n, h)
    p_open = START + rng.integers(-1000, days_total, h).astype("timedelta64[D]")
    ptype = rng.choice(np.array(["time_deposit", "wealth", "fund", "insurance", "credit_card", "loan"]), h)
    maturity = np.where(np.isin(ptype, ["time_deposit", "wealth"]),
                        p_open + rng.integers(90, 1100, h).astype("timedelta64[D]"), np.datetime64("NaT"))
    amount = np.round(rng.lognormal(10, 1, h), 2)
    products = pd.DataFrame({
        "holding_id": np.arange(h).astype(str).astype(object),
        "customer_no": cust_tok[hw],
        "product_type": ptype,
        "open_date": pd.to_datetime(p_open),
        "maturity_date": pd.to_datetime(maturity),
        "close_date": pd.to_datetime(np.full(h, np.datetime64("NaT"), dtype="datetime64[D]")),
        "amount": amount,
        "used_amount": np.round(amount * rng.random(h), 2),
        "rate_sensitive": rng.integers(0, 2, h),
    })
    c = n // 2
    cw = rng.choice(n, c, replace=False)
    cdate = START + rng.integers(0, days_total, c).astype("timedelta64[D]")
    response = rng.random(c) < 0.1
    campaigns = pd.DataFrame({
        "campaign_id": np.char.add("C", (np.arange(c) % 20).astype(str)).astype(object),
        "customer_no": cust_tok[cw],
        "campaign_date": pd.to_datetime(cdate),
        "channel": rng.choice(np.array(["sms", "phone", "app_push"]), c),
        "treatment": rng.integers(0, 2, c),
        "response": response.astype(int),
        "response_date": pd.to_datetime(np.where(response, cdate + rng.integers(1, 30, c).astype("timedelta64[D]"),
                                                 np.datetime64("NaT"))),
    })
    s = n
    sw = rng.integers(0, n, s)
    notes = pd.DataFrame({
        "note_id": np.arange(s).astype(str).astype(object),
        "customer_no": cust_tok[sw],
        "note_time": START.astype("datetime64[s]") + rng.integers(0, days_total * 86400, s).astype("timedelta64[s]"),
        "category": rng.choice(np.array(["咨询", "投诉", "业务办理", "回访"]), s),
        "staff_no": "tk_staff",
        "note": "客户来电咨询<手机号>",
    })
    tables = {"customers": customers, "accounts_monthly": acc, "transactions": txns, "products": products,
              "campaigns": campaigns, "service_notes": notes}
    outputs = []
    for name, frame in tables.items():
        path = directory / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        outputs.append({"table": name, "file": path.name, "sha256": sha256_file(path), "rows": len(frame)})
    manifest = {"manifest_id": uuid.uuid4().hex, "status": "passed", "policy_hash": "bench",
                "key_fingerprint": "bench", "outputs": outputs}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    return directory


def run_build(zone: Path, out: Path) -> dict:
    """Build features in this process; return timing and peak RSS."""
    from features.build import build_features

    start = time.perf_counter()
    result = build_features(clean_dir=zone, snapshot=SNAPSHOT, out=out)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": result["n_rows"], "features": result["n_features"], "seconds": round(elapsed, 1),
            "peak_rss_mb": round(peak_mb)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--txns-per-customer", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kequn-bench-"))
    zone = workdir / f"clean_{args.customers}"
    out = workdir / f"features_{args.customers}.parquet"
    if args.child:
        print(json.dumps(run_build(zone, out)))
        return
    if not (zone / MANIFEST_NAME).exists():
        t0 = time.perf_counter()
        make_zone(zone, args.customers, args.txns_per_customer)
        print(f"generated {zone} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    # Build in a fresh child process so peak RSS measures the build alone, not the generator.
    cmd = [sys.executable, __file__, "--customers", str(args.customers), "--workdir", str(workdir), "--child"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update({"customers": args.customers, "transactions": args.customers * args.txns_per_customer})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
