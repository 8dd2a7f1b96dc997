"""Benchmark of ``kequn features`` on a clean zone generated with NumPy.

The clean zone has the shape of ``kequn pseudonymise`` output (kequn/schema.py, "Clean
tables"): token customer numbers, generalised attributes, tokenised card numbers. It is made
directly with vectorised NumPy so the benchmark does not depend on the synthetic bank.

Usage::

    python bench/bench_features.py --customers 100000 --txns-per-customer 30 [--workdir DIR]
    python bench/bench_features.py --customers 100000 --engines   # compare engines on transactions

Prints one JSON line with rows, seconds and peak RSS (MB) of a fresh child process that builds
(the zone is generated in another child, so the parent stays small).
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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kequn.io import sha256_file  # noqa: E402
from kequn.lineage import MANIFEST_NAME  # noqa: E402

START = np.datetime64("2023-01-01")
END = np.datetime64("2024-12-31")
SNAPSHOT = dt.date(2024, 6, 30)


#: the zone's key fingerprint; its first 6 hex are the key id every token carries
FINGERPRINT = "b3ac40e1b3ac40e1"
PREFIX = f"tk_{FINGERPRINT[:6]}_"


def _tokens(prefix: str, ids: np.ndarray) -> np.ndarray:
    """Token-shaped strings (``tk_<key id>_`` + 16 hex) for integer ids, vectorised."""
    hexed = np.char.mod("%016x", (ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64))
    return np.char.add(prefix, hexed).astype(object)


def make_zone(directory: Path, n_customers: int, txns_per_customer: int, seed: int = 7) -> Path:
    """Write a clean zone with ``n_customers`` and about ``n * txns_per_customer`` transactions."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    n = n_customers
    ids = np.arange(n)
    cust_tok = _tokens(PREFIX, ids)
    days_total = int((END - START).astype(int))
    open_off = rng.integers(-2000, days_total - 200, n)
    open_date = START + open_off.astype("timedelta64[D]")
    closes = rng.random(n) < 0.08
    close_date = np.where(closes, open_date + rng.integers(30, 900, n).astype("timedelta64[D]"),
                          np.datetime64("NaT"))
    close_date = np.where(close_date > END, np.datetime64("NaT"), close_date)
    cities = np.array([f"city{i:02d}" for i in range(40)])
    customers = pd.DataFrame({
        "customer_no": cust_tok,
        "gender": rng.choice(np.array(["男", "女"]), n),
        "birth_month": pd.Series(rng.integers(1940, 2005, n)).astype(str).str.cat(
            pd.Series(rng.integers(1, 13, n)).astype(str).str.zfill(2), sep="-").to_numpy(),
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
    tok = pa.array(cust_tok, type=pa.string())
    acc = pa.table({
        "customer_no": pc.take(tok, pa.array(np.repeat(ids, m))),
        "month_end": pa.array(np.tile(month_ends.astype("datetime64[D]"), n)),
        "deposit_balance": aum * split[:, 0],
        "wealth_balance": aum * split[:, 1],
        "fund_balance": aum * split[:, 2],
        "insurance_balance": aum * split[:, 3],
        "aum": aum,
        "credit_limit": np.repeat(np.where(rng.random(n) < 0.4, 20_000.0, 0.0), m),
        "credit_used_amount": np.repeat(np.where(rng.random(n) < 0.4, 5_000.0, 0.0), m),
        "loan_balance": np.repeat(np.where(rng.random(n) < 0.2, 1e5, 0.0), m),
    })
    del drift, split
    t = n * txns_per_customer
    card_tok = _tokens(PREFIX, ids + 10_000_000)
    who = rng.integers(0, n, t)
    secs = rng.integers(0, days_total * 86400, t)
    txn_id = pc.binary_join_element_wise("T", pc.cast(pa.array(np.arange(t)), pa.string()), "")
    txns = pa.table({
        "txn_id": txn_id,
        "customer_no": pc.take(tok, pa.array(who)),
        "card_no": pc.take(pa.array(card_tok, type=pa.string()), pa.array(who)),
        "txn_time": pa.array(START.astype("datetime64[s]") + secs.astype("timedelta64[s]")),
        "amount": np.round(rng.lognormal(6, 1.5, t), 2),
        "direction": pc.take(pa.array(["in", "out"]), pa.array(rng.integers(0, 2, t))),
        "channel": pc.take(pa.array(["mobile_app", "online", "counter", "atm", "pos"]),
                           pa.array(rng.integers(0, 5, t))),
        "txn_type": pc.take(pa.array(["salary", "transfer", "consumption", "repayment", "investment",
                                      "withdrawal", "interest"]), pa.array(rng.integers(0, 7, t))),
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
    # dated profile records and risk assessments: one at opening, a third change once later
    changes = rng.random(n) < 0.33
    later = open_date + rng.integers(30, 600, n).astype("timedelta64[D]")
    hist_ids = np.concatenate([ids, ids[changes]])
    hist_day = np.concatenate([open_date, later[changes]])
    profile = pd.DataFrame({
        "customer_no": cust_tok[hist_ids], "effective_from": pd.to_datetime(hist_day),
        "occupation": rng.choice(np.array(["企业职员", "公务员", "个体经营", "退休", "学生"]), hist_ids.size),
        "province": customers["province"].to_numpy()[hist_ids], "city": rng.choice(cities, hist_ids.size),
    })
    risk = pd.DataFrame({"customer_no": cust_tok[hist_ids], "assessed_on": pd.to_datetime(hist_day),
                         "risk_level": rng.choice(np.array(["R1", "R2", "R3", "R4", "R5"]), hist_ids.size)})
    tables = {"customers": customers, "accounts_monthly": acc, "transactions": txns, "products": products,
              "campaigns": campaigns, "service_notes": notes, "risk_assessments": risk,
              "customer_profile_history": profile}
    outputs = []
    for name, frame in tables.items():
        path = directory / f"{name}.parquet"
        if isinstance(frame, pa.Table):
            pq.write_table(frame, path)
        else:
            frame.to_parquet(path, index=False)
        outputs.append({"table": name, "file": path.name, "sha256": sha256_file(path), "rows": len(frame)})
    manifest = {"manifest_id": uuid.uuid4().hex, "status": "passed", "policy_hash": "bench",
                "key_fingerprint": FINGERPRINT, "outputs": outputs}
    from kequn.signing import ensure_step_key, sign_record  # signed like pseudonymise's

    (directory / MANIFEST_NAME).write_text(json.dumps(sign_record(ensure_step_key()[0], manifest, signer="privacy-step")), encoding="utf-8")
    return directory


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _cpu_seconds() -> float:
    """User + system CPU time of this process (less sensitive than wall time to a busy machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 1)


def run_build(zone: Path, out: Path) -> dict:
    """Build features in this process; return timing and peak RSS."""
    from features.build import build_features

    start = time.perf_counter()
    result = build_features(clean_dir=zone, snapshot=SNAPSHOT, out=out)
    elapsed = time.perf_counter() - start
    return {"rows": result["n_rows"], "features": result["n_features"], "seconds": round(elapsed, 1),
            "cpu_seconds": _cpu_seconds(), "peak_rss_mb": _peak_mb()}


def run_engine(zone: Path, engine: str) -> dict:
    """The heaviest step alone (transactions → per-customer windowed counts, sums, channel counts,
    recency) with one engine, reading the Parquet file; returns timing and peak RSS."""
    tx_path, cust_path = zone / "transactions.parquet", zone / "customers.parquet"
    start = time.perf_counter()
    if engine == "pandas":
        cust = pd.read_parquet(cust_path, columns=["customer_no"])["customer_no"]
        tx = pd.read_parquet(tx_path, columns=["customer_no", "txn_time", "amount", "channel"])
        code = pd.Index(cust).get_indexer(tx["customer_no"])
        snap = np.datetime64(SNAPSHOT + dt.timedelta(days=1), "s")
        age = (snap - tx["txn_time"].to_numpy("datetime64[s]")).astype("timedelta64[D]").astype(np.int64)
        amount = tx["amount"].to_numpy(float)
        n, keep = len(cust), (age >= 0) & (code >= 0)
        for w in (30, 90, 180):
            m = keep & (age < w)
            np.bincount(code[m], minlength=n)
            np.bincount(code[m], amount[m], minlength=n)
        ch = pd.Categorical(tx["channel"]).codes
        m = keep & (age < 180)
        np.bincount(code[m] * 8 + ch[m], minlength=n * 8)
        recency = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(recency, code[keep], age[keep])
    elif engine == "polars":
        import polars as pl

        snap = pl.datetime(SNAPSHOT.year, SNAPSHOT.month, SNAPSHOT.day) + pl.duration(days=1)
        lazy = (pl.scan_parquet(tx_path).filter(pl.col("txn_time") < snap)
                .with_columns(age=(snap - pl.col("txn_time")).dt.total_days()))
        aggs = []
        for w in (30, 90, 180):
            aggs += [(pl.col("age") < w).sum().alias(f"c{w}"),
                     pl.col("amount").filter(pl.col("age") < w).sum().alias(f"a{w}")]
        for ch in ("mobile_app", "online", "counter", "atm", "pos"):
            aggs.append(((pl.col("age") < 180) & (pl.col("channel") == ch)).sum().alias(ch))
        aggs.append(pl.col("age").min().alias("recency"))
        agg = lazy.group_by("customer_no").agg(aggs).collect()
        pl.read_parquet(cust_path, columns=["customer_no"]).join(agg, on="customer_no", how="left").to_pandas()
    elif engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        nxt = (SNAPSHOT + dt.timedelta(days=1)).isoformat()
        parts = []
        for w in (30, 90, 180):
            parts += [f"count(*) FILTER (WHERE age < {w}) c{w}", f"sum(amount) FILTER (WHERE age < {w}) a{w}"]
        for ch in ("mobile_app", "online", "counter", "atm", "pos"):
            parts.append(f"count(*) FILTER (WHERE age < 180 AND channel = '{ch}') n_{ch}")
        con.execute(f"""
            WITH t AS (SELECT customer_no, date_diff('day', CAST(txn_time AS DATE), DATE '{nxt}') - 1 AS age,
                              amount, channel
                       FROM read_parquet('{tx_path}') WHERE txn_time < TIMESTAMP '{nxt}')
            SELECT c.customer_no, {', '.join(parts)}, min(age) AS recency
            FROM read_parquet('{cust_path}') c LEFT JOIN t USING (customer_no) GROUP BY c.customer_no
        """).df()
    else:
        raise SystemExit(f"unknown engine {engine!r}")
    return {"engine": engine, "seconds": round(time.perf_counter() - start, 2),
            "cpu_seconds": _cpu_seconds(), "peak_rss_mb": _peak_mb()}


def _child(args: list[str]) -> dict:
    """Run this script in a fresh process (peak RSS of a forked child would include the parent's)."""
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--txns-per-customer", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--engines", action="store_true",
                        help="compare pandas, polars and DuckDB on the transactions aggregation")
    parser.add_argument("--child", choices=["generate", "build", "pandas", "polars", "duckdb"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kequn-bench-"))
    zone = workdir / f"clean_{args.customers}"
    out = workdir / f"features_{args.customers}.parquet"
    base = ["--customers", str(args.customers), "--txns-per-customer", str(args.txns_per_customer),
            "--workdir", str(workdir)]
    if args.child == "generate":
        t0 = time.perf_counter()
        make_zone(zone, args.customers, args.txns_per_customer)
        print(json.dumps({"generated_seconds": round(time.perf_counter() - t0, 1)}))
        return
    if args.child == "build":
        print(json.dumps(run_build(zone, out)))
        return
    if args.child:
        print(json.dumps(run_engine(zone, args.child)))
        return
    if not (zone / MANIFEST_NAME).exists():
        print(f"generating {zone}: {_child([*base, '--child', 'generate'])}", file=sys.stderr)
    if args.engines:
        for engine in ("pandas", "polars", "duckdb"):
            print(json.dumps(_child([*base, "--child", engine])))
        return
    result = _child([*base, "--child", "build"])
    result.update({"customers": args.customers, "transactions": args.customers * args.txns_per_customer})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
