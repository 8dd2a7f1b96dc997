"""Free-text PII detection: throughput and per-entity recall against the generator's truth.

Usage::

    kequn synth --customers 20000 --out /tmp/bank
    python bench/bench_detect.py /tmp/bank [--repeat N] [--with-names]

Reads ``service_notes`` and ``ground_truth/notes_pii`` (every planted PII string exactly as
written), runs :func:`privacy.text.find_spans` over the whole note column, and reports notes/s
and, per entity, the share of planted strings fully covered by a detected span of the same
entity. ``--with-names`` passes each note's customer name (joined from ``customers``) as
``known_names``; without it, names are found from context only (as in the pseudonymiser, where
the notes table has no name column). Also reports spans on decoy-only cells and a few
false-positive counts. Prints numbers only, never a value.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kequn.io import read_table  # noqa: E402
from privacy.text import find_spans  # noqa: E402


def _table(folder: Path, name: str) -> Path:
    for suffix in (".parquet", ".csv"):
        if (folder / f"{name}{suffix}").exists():
            return folder / f"{name}{suffix}"
    raise SystemExit(f"{folder}: no table {name}")


def recall(notes: pd.DataFrame, spans: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per entity: planted strings, how many are covered by a same-entity span."""
    pos = pd.Series(np.arange(len(notes)), index=notes["note_id"].astype(str))
    t = truth.assign(row=pos.reindex(truth["note_id"].astype(str)).to_numpy())
    t = t.dropna(subset=["row"]).astype({"row": "int64"})
    texts = notes["note"].astype(str).tolist()
    # position of each planted string in its note (first occurrence)
    t["start"] = [texts[r].find(v) for r, v in zip(t["row"], t["value"].astype(str), strict=True)]
    t["end"] = t["start"] + t["value"].astype(str).str.len()
    m = t.reset_index().merge(spans, on=["row"], how="left", suffixes=("", "_s"))
    m["hit"] = ((m["entity"] == m["entity_type"]) & (m["start_s"] <= m["start"])
                & (m["end_s"] >= m["end"]) & (m["start"] >= 0))
    hits = m.groupby("index")["hit"].any()
    t["hit"] = hits.reindex(t.index).fillna(False).to_numpy()
    return t.groupby("entity_type")["hit"].agg(planted="size", found="sum", recall="mean")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--repeat", type=int, default=1, help="Replicate the notes N times for timing.")
    ap.add_argument("--with-names", action="store_true", help="Pass each note's customer name.")
    ap.add_argument("--presidio", type=int, default=0, metavar="N",
                    help="Also run the Presidio AnalyzerEngine (our recognizers) cell by cell on N notes.")
    args = ap.parse_args()
    notes = read_table(_table(args.folder, "service_notes"), as_text=True)
    truth = read_table(_table(args.folder / "ground_truth", "notes_pii"), as_text=True)
    names = None
    if args.with_names:
        cust = read_table(_table(args.folder, "customers"), as_text=True)
        names = notes["customer_no"].map(cust.set_index("customer_no")["name"])

    find_spans(notes["note"].head(200))  # warm up (compile patterns, load surnames)
    texts = pd.concat([notes["note"]] * args.repeat, ignore_index=True)
    big_names = None if names is None else pd.concat([names] * args.repeat, ignore_index=True)
    t0, c0 = time.perf_counter(), time.process_time()
    spans_all = find_spans(texts, known_names=big_names)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(texts)
    # CPU time is the single-core figure when the machine is shared; wall time is what a user sees
    print(f"find_spans: {n:,} notes, wall {secs:.2f} s = {n / secs:,.0f} notes/s, "
          f"CPU {cpu:.2f} s = {n / cpu:,.0f} notes/s per core "
          f"({len(spans_all):,} spans; known names: {'yes' if names is not None else 'no'})")

    spans = spans_all[spans_all["row"] < len(notes)]
    rec = recall(notes, spans, truth)
    print(rec.to_string(float_format=lambda x: f"{x:.4f}"))
    truth_counts = truth.groupby("entity_type").size()
    extra = spans.groupby("entity").size().reindex(truth_counts.index.union(spans["entity"].unique()))
    print("spans per entity (detected vs planted):")
    for ent, k in extra.fillna(0).astype(int).items():
        print(f"  {ent:<16} detected {k:>8,}  planted {int(truth_counts.get(ent, 0)):>8,}")

    if args.presidio:
        presidio(notes.head(args.presidio), truth)


def presidio(notes: pd.DataFrame, truth: pd.DataFrame) -> None:
    """Cell-by-cell Presidio ``AnalyzerEngine`` on the same notes (for comparison only)."""
    from privacy.analyzer import analyze_text, build_analyzer

    engine = build_analyzer()
    texts = notes["note"].astype(str).tolist()
    analyze_text(texts[0], analyzer=engine)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = []
    for i, text in enumerate(texts):
        for r in analyze_text(text, analyzer=engine):
            rows.append((i, r.start, r.end, r.entity_type, r.score))
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"presidio AnalyzerEngine per cell: {len(texts):,} notes, wall {secs:.2f} s = "
          f"{len(texts) / secs:,.0f} notes/s, CPU {cpu:.2f} s = {len(texts) / cpu:,.0f} notes/s per core")
    spans = pd.DataFrame(rows, columns=["row", "start", "end", "entity", "score"])
    # overlapping results are possible in Presidio's output; recall counts any covering span
    print(recall(notes, spans, truth[truth["note_id"].isin(notes["note_id"])])
          .to_string(float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
