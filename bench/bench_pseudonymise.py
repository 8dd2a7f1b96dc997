"""Benchmark of ``kequn pseudonymise`` against presidio-structured on one synthetic table.

The table is the synthetic bank's customers joined with their service notes (a customer with
several notes appears once per note; one without notes once, with an empty note) plus the
customer's AUM at the last month end (a numeric business column that must survive). Both tools
get the same rows:

* **kequn**: :func:`privacy.pseudonymise.pseudonymise` end to end on the CSV (read, classify,
  tokenise/drop/generalise, redact spans in the notes, k-anonymity, residual scan, Parquet +
  manifest + reports). If the run fails the policy, the in-memory core
  (:func:`privacy.pseudonymise.pseudonymise_frames`) is used for the recall numbers.
* **presidio-structured**: ``PandasAnalysisBuilder`` (with kequn's Chinese recognizers in a
  Presidio ``AnalyzerEngine``, since the default English model cannot detect Chinese PII and no
  model can be downloaded) + ``StructuredEngine`` with Presidio's ``hash`` operator for every
  detected column. It is timed on a random subsample (``--presidio-rows``) and its rows/s
  extrapolated to the whole table.

Recall per entity type: the share of PII strings planted in the notes
(``ground_truth/notes_pii``, exactly as written) that no longer appear in the output note of
their row. For presidio-structured a note column mapped to an entity is hashed as a whole
(recall is then trivially 100 % but the text is gone); the benchmark says which happened.

Usage::

    python bench/bench_pseudonymise.py --customers 200000 --workdir /tmp/kbench [--presidio-rows 2000]

Prints a JSON document (and ``--json FILE``) with rows, seconds, rows/s, speed-up, recall per
entity, and the numeric-column check.

Throughput baseline (issue 12: "measure it first on a 500k-row, 11-column table with a note in
every row")::

    python bench/bench_pseudonymise.py --throughput 500000 --workdir /tmp/ktp

builds that table from ``kequn synth --customers N`` (customer_no, name, gender, id_number,
birth_date, mobile, email, address, occupation, aum, note: each customer's first note, or a
note drawn at random for customers without one), then times the whole ``kequn pseudonymise``
process (interpreter start, imports, read, classify, tokenise, redact, k-anonymity, residual
scan, Parquet, reports) under ``/usr/bin/time -v`` and reports rows/s and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kequn import console  # noqa: E402
from kequn.errors import PolicyNotMetError  # noqa: E402

BENCH_KEY = b"kequn-benchmark-key-0123456789abcdef-0123456789"
TABLE = "customer_notes"
NUMERIC = "aum"


def build_table(raw: Path, dest: Path) -> tuple[Path, pd.DataFrame]:
    """Customers ⟕ service notes (+ AUM at the last month end) → ``dest``; returns the path and the truth."""
    customers = pd.read_csv(raw / "customers.csv", dtype=str)
    notes = pd.read_csv(raw / "service_notes.csv", dtype=str, usecols=["note_id", "customer_no", "note"])
    months = pd.read_csv(raw / "accounts_monthly.csv", dtype={"customer_no": str, "month_end": str},
                         usecols=["customer_no", "month_end", "aum"])
    last = months.sort_values("month_end").drop_duplicates("customer_no", keep="last")[["customer_no", "aum"]]
    table = customers.merge(notes, on="customer_no", how="left").merge(last, on="customer_no", how="left")
    table = table.sample(frac=1.0, random_state=0).reset_index(drop=True)  # notes spread over the file
    table.to_csv(dest, index=False, encoding="utf-8")
    truth = pd.read_csv(raw / "ground_truth" / "notes_pii.csv", dtype=str)
    return dest, table[["note_id"]].assign(pos=np.arange(len(table))).merge(truth, on="note_id", how="inner")


def recall(notes_out: pd.Series, truth: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Share of planted PII strings absent from the output note of their row, per entity type."""
    texts = notes_out.astype("string").fillna("").to_numpy(dtype=object)
    gone = np.fromiter((v not in texts[p] for p, v in zip(truth["pos"].to_numpy(), truth["value"].to_numpy(),
                                                             strict=True)), dtype=bool, count=len(truth))
    frame = truth.assign(gone=gone)
    out = {}
    for entity, group in frame.groupby("entity_type"):
        out[str(entity)] = {"planted": int(len(group)), "recall": round(float(group["gone"].mean()), 4)}
    out["ALL"] = {"planted": int(len(frame)), "recall": round(float(frame["gone"].mean()), 4)}
    return out


def numeric_kept(before: pd.Series, after: pd.Series) -> bool:
    """The business column is still numeric and holds the same numbers."""
    if not pd.api.types.is_numeric_dtype(after):
        return False
    a = pd.to_numeric(before, errors="coerce").to_numpy(dtype="float64")
    b = after.to_numpy(dtype="float64", na_value=np.nan)
    return bool(np.allclose(a, b, equal_nan=True))


def run_kequn(path: Path, workdir: Path, truth: pd.DataFrame, raw_numeric: pd.Series) -> dict[str, Any]:
    from privacy.policy import load_policy
    from privacy.pseudonymise import pseudonymise, pseudonymise_frames

    out = workdir / "clean"
    start, cpu = time.perf_counter(), time.process_time()
    status, reason = "passed", None
    try:
        pseudonymise({TABLE: path}, out=out, policy_path=None, key=BENCH_KEY)
    except PolicyNotMetError as exc:
        status, reason = "failed", str(exc)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if status == "passed":
        frame = pd.read_parquet(out / f"{TABLE}.parquet")
        residual = 0
    else:  # recall from the in-memory core (nothing was published)
        from kequn.io import read_table

        results = pseudonymise_frames({TABLE: read_table(path, as_text=True)}, policy=load_policy(None),
                                      key=BENCH_KEY)
        frame = results[0].frame
        residual = sum(int(f.get("count", 1)) for f in results[0].residual)
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    return {"status": status, "reason": reason, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "rows": int(len(frame)), "rows_per_s": round(len(frame) / seconds, 1),
            "rows_per_cpu_s": round(len(frame) / cpu, 1), "recall": recall(frame["note"], truth),
            "numeric_column_kept": numeric_kept(raw_numeric, frame[NUMERIC]) if NUMERIC in frame else False,
            "residual_findings": residual, "k_anonymity": report["k_anonymity"],
            "columns": {r["column"]: r["action"] for r in report["inventory"]}}


def run_presidio(path: Path, rows: int, truth: pd.DataFrame, total_rows: int) -> dict[str, Any]:
    from presidio_anonymizer.entities import OperatorConfig
    from presidio_structured import PandasAnalysisBuilder, StructuredEngine
    from presidio_structured.data import PandasDataProcessor

    from privacy.analyzer import LANGUAGE, build_analyzer

    frame = pd.read_csv(path, dtype=str, keep_default_na=True)
    sample_pos = np.sort(np.random.default_rng(0).choice(len(frame), size=min(rows, len(frame)), replace=False))
    sample = frame.iloc[sample_pos].reset_index(drop=True)
    sample = sample.astype(object).where(sample.notna(), "")  # presidio analyses str cells
    analyzer = build_analyzer()
    start, cpu = time.perf_counter(), time.process_time()
    analysis = PandasAnalysisBuilder(analyzer=analyzer).generate_analysis(sample, language=LANGUAGE)
    operators = {entity: OperatorConfig("hash", {"hash_type": "sha256"})
                 for entity in set(analysis.entity_mapping.values())}
    anonymised = StructuredEngine(data_processor=PandasDataProcessor()).anonymize(sample, analysis, operators)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    sub_truth = truth[truth["pos"].isin(sample_pos)].copy()
    sub_truth["pos"] = np.searchsorted(sample_pos, sub_truth["pos"].to_numpy())
    rps = len(sample) / seconds
    return {"rows_measured": int(len(sample)), "seconds_measured": round(seconds, 2),
            "cpu_seconds_measured": round(cpu, 2), "rows_per_s": round(rps, 1),
            "rows_per_cpu_s": round(len(sample) / cpu, 1),
            "extrapolated_seconds_full_table": round(total_rows / rps, 1),
            "entity_mapping": dict(analysis.entity_mapping),
            "note_column": ("hashed whole (text destroyed)" if "note" in analysis.entity_mapping
                            else "left as is (not detected)"),
            "recall": recall(anonymised["note"], sub_truth),
            "numeric_column_kept": numeric_kept(sample[NUMERIC].replace("", np.nan), pd.to_numeric(
                anonymised[NUMERIC].replace("", np.nan), errors="coerce")) and NUMERIC not in analysis.entity_mapping}


WIDE11 = ["customer_no", "name", "gender", "id_number", "birth_date", "mobile", "email", "address",
          "occupation", "aum", "note"]


def build_wide11(raw: Path, dest: Path, seed: int) -> int:
    """customers (9 columns) + a random ``aum`` + one note per row → ``dest``; returns the rows."""
    customers = pd.read_csv(raw / "customers.csv", dtype=str)
    notes = pd.read_csv(raw / "service_notes.csv", dtype=str, usecols=["customer_no", "note"])
    first = notes.drop_duplicates("customer_no").set_index("customer_no")["note"]
    rng = np.random.default_rng(seed)
    note = customers["customer_no"].map(first)
    missing = note.isna().to_numpy()
    note[missing] = notes["note"].to_numpy()[rng.integers(0, len(notes), int(missing.sum()))]
    table = customers[WIDE11[:9]].assign(aum=np.round(rng.lognormal(10, 1.5, len(customers)), 2), note=note)
    table[WIDE11].to_csv(dest, index=False, encoding="utf-8")
    return int(len(table))


def _time_v(stderr: str) -> dict[str, float]:
    """Wall, user, sys seconds and peak RSS (MiB) from ``/usr/bin/time -v`` output."""
    def grab(label: str) -> str:
        for line in stderr.splitlines():
            if line.strip().startswith(label):
                return line.split(": ", 1)[1].strip()
        return "nan"
    wall = grab("Elapsed (wall clock) time")
    parts = [float(p) for p in wall.split(":")] if wall != "nan" else [float("nan")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return {"wall_s": round(seconds, 2), "user_s": float(grab("User time (seconds)")),
            "sys_s": float(grab("System time (seconds)")),
            "peak_rss_mib": round(float(grab("Maximum resident set size (kbytes)")) / 1024, 1)}


def throughput(rows: int, workdir: Path, seed: int) -> dict[str, Any]:
    """Whole-process ``kequn pseudonymise`` on the 11-column table (see the module docstring)."""
    import subprocess

    raw = workdir / "raw_tp"
    if not (raw / "customers.csv").exists():
        from pipelines.synth import generate

        generate(n_customers=rows, seed=seed, out=raw)
    table = workdir / "wide11" / f"{TABLE}.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    n = build_wide11(raw, table, seed)
    out = workdir / "clean_tp"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KEQUN_PSEUDONYM_KEY": BENCH_KEY.decode()}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "pipelines.cli.main", "pseudonymise", str(table),
           "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    t = _time_v(proc.stderr)
    cpu = t["user_s"] + t["sys_s"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {"rows": n, "columns": len(WIDE11), "rc": proc.returncode, "status": manifest["status"],
            "reasons": manifest.get("reasons", []), **t, "rows_per_s": round(n / t["wall_s"], 1),
            "rows_per_cpu_s": round(n / cpu, 1), "cpu_count": os.cpu_count(),
            "command": " ".join(cmd[2:]).replace(str(REPO) + "/", "")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("bench-pseudonymise"))
    parser.add_argument("--presidio-rows", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--throughput", type=int, default=0, metavar="ROWS",
                        help="Only the whole-process throughput baseline on an 11-column table of ROWS rows.")
    args = parser.parse_args(argv)
    console.set_quiet(True)
    work = args.workdir
    if args.throughput:
        text = json.dumps(throughput(args.throughput, work, args.seed), ensure_ascii=False, indent=2)
        print(text)
        if args.json:
            args.json.write_text(text + "\n", encoding="utf-8")
        return 0
    raw = work / "raw"
    if not (raw / "customers.csv").exists():
        from pipelines.synth import generate

        generate(n_customers=args.customers, seed=args.seed, out=raw)
    n_customers = sum(1 for _ in open(raw / "customers.csv", encoding="utf-8")) - 1
    bench_dir = work / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    path, truth = build_table(raw, bench_dir / f"{TABLE}.csv")
    del_clean = work / "clean"
    if del_clean.exists():  # an earlier run's clean zone
        import shutil

        shutil.rmtree(del_clean)
    raw_numeric = pd.read_csv(path, usecols=[NUMERIC])[NUMERIC]
    kequn = run_kequn(path, work, truth, raw_numeric)
    presidio = run_presidio(path, args.presidio_rows, truth, kequn["rows"])
    result = {
        "customers": n_customers, "rows": kequn["rows"], "cpu_count": os.cpu_count(),
        "kequn": kequn, "presidio_structured": presidio,
        "speedup_wall": round(kequn["rows_per_s"] / presidio["rows_per_s"], 1),
        "speedup_cpu": round(kequn["rows_per_cpu_s"] / presidio["rows_per_cpu_s"], 1),
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
