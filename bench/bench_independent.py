"""Independent evaluation of ``kequn scan`` / ``kequn pseudonymise`` (issue 12, item 7).

Builds the corpus of :mod:`bench.independent_corpus` (Faker zh_CN/zh_TW people, places and
companies, note templates written for this benchmark, hand-written hard cases from
``bench/hard_cases.yaml``), writes it as UTF-8 CSV to ``WORKDIR/raw``, runs the *real* CLI in a
subprocess::

    python -m pipelines.cli.main scan RAW --json WORKDIR/scan.json
    KEQUN_PSEUDONYM_KEY=... python -m pipelines.cli.main pseudonymise RAW --out WORKDIR/clean

and scores what it published:

* **structured-column leak**, per identifier column and entity: a raw value of the column that
  survives anywhere in the published tables (exact cell in any column of any table, numbers as
  their decimal text and as floats; substring of any cell of the same row; substring of the
  customer's own notes);
* **free-text recall** per planted entity (and per written form): a span is caught only if none
  of its characters survives in the redacted note (the original and redacted note are aligned
  with :mod:`difflib`; placeholders such as ``<姓名>`` never align with text; separators such
  as spaces and dashes are not counted);
* **decoy survival**: every character of the decoy kept and the decoy text present unchanged;
  and **collateral damage**: characters outside every PII span that the redaction removed
  (e.g. "客户<姓名>份证号码" ate the 身 of 身份证);
* **business columns unchanged**: each value identical as text, or numerically identical when
  the raw text is a plain decimal that float64 holds exactly; the output dtype is reported;
* **column classification**: expected entity against ``privacy_report.json``'s entity;
* **hard cases**: per failure class of issue 12, cases where every PII span is caught and every
  decoy kept.

If ``pseudonymise`` refuses the run (non-zero exit, nothing published), the refusal is reported
(the run is unusable as it is: a refusal means every column counts as not published) and, *for
the bench only*, the tables the pseudonymiser would have published are rebuilt in-process with
the same library core (:func:`privacy.pseudonymise.pseudonymise_frames`, which the CLI calls
before the publish step) and scored as well, marked ``scored_from: in-process core (refused)``.

Usage::

    python bench/bench_independent.py [--rows 2000] [--seed 12] [--workdir DIR] [--json FILE]

Prints the score tables and writes JSON to ``bench/out/independent_s{seed}_n{rows}.json``.
Values are never printed; only counts and rates.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from independent_corpus import Corpus, build_corpus  # noqa: E402

from privacy.tokens import ANY_TOKEN_RE  # noqa: E402

BENCH_KEY = "kequn-independent-bench-key-0123456789abcdef"
OUT_DIR = REPO / "bench" / "out"
#: A redaction placeholder or token in the output; replaced by a character no input contains.
_PLACEHOLDER = re.compile(r"<[^<>\s]{1,16}>|\[[A-Z_]{3,24}\]|" + ANY_TOKEN_RE)
_NO_MATCH = "\ue000"
#: Entities whose free-text recall target is given by the issue.
TARGETS = {"CN_RESIDENT_ID": 0.995, "CN_MOBILE": 0.995, "BANK_CARD": 0.995, "EMAIL_ADDRESS": 0.995,
           "PERSON_CUSTOMER": 0.98, "PERSON_OTHER": 0.95, "CN_ADDRESS": 0.97}


# ----------------------------------------------------------------------------- running the CLI
def run_cli(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)
    return {"args": args[0], "rc": proc.returncode, "seconds": round(time.perf_counter() - start, 2),
            "stderr_last": proc.stderr.strip().splitlines()[-1][:300] if proc.stderr.strip() else ""}


def published_tables(clean: Path, raw_paths: dict[str, Path]) -> tuple[dict[str, pd.DataFrame], str]:
    """The published tables, or (bench only) the in-process core's tables when refused."""
    manifest = json.loads((clean / "manifest.json").read_text(encoding="utf-8"))
    if manifest["status"] == "passed":
        return {o["table"]: pd.read_parquet(clean / o["file"]) for o in manifest["outputs"]}, "published"
    from kequn import console
    from kequn.io import read_table
    from privacy.policy import load_policy
    from privacy.pseudonymise import pseudonymise_frames

    console.set_quiet(True)
    frames = {name: read_table(path, as_text=True) for name, path in raw_paths.items()}
    results = pseudonymise_frames(frames, policy=load_policy(None), key=BENCH_KEY.encode())
    return {r.table: r.frame for r in results}, "in-process core (refused)"


# ----------------------------------------------------------------------------- text of cells
def decimal_text(col: pd.Series) -> pd.Series:
    """Every cell as text; numbers as their plain decimal text (no exponent)."""
    if pd.api.types.is_bool_dtype(col.dtype):
        return col.astype("string")
    if pd.api.types.is_integer_dtype(col.dtype):
        return col.astype("Int64").astype("string")
    if pd.api.types.is_float_dtype(col.dtype):
        def fmt(x: float) -> Any:
            if x is None or (isinstance(x, float) and np.isnan(x)):
                return pd.NA
            if float(x).is_integer() and abs(x) < 1e22:
                return format(x, ".0f")
            return repr(float(x))
        return pd.Series([fmt(x) for x in col.to_numpy(dtype="float64", na_value=np.nan)], index=col.index,
                         dtype="string")
    return col.astype("string")


def _float_or_none(v: str) -> float | None:
    try:
        return float(v) if re.fullmatch(r"[+-]?\d+(\.\d+)?", v) else None
    except ValueError:
        return None


# ----------------------------------------------------------------------------- structured leak
def structured_leak(corpus: Corpus, out: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """Per identifier column: raw values that survive in the published tables.

    ``leaked_in_columns`` (the target: 0) counts survival in any output column other than the
    free-text note column (exact cell, float value, or substring of a cell of the same row);
    ``in_own_notes`` counts values found in the redacted notes of the same customer (the
    free-text recall measures those span by span); ``leaked`` is the union.
    """
    text_cols = {(c.table, c.column) for c in corpus.columns if c.role == "text"}
    texts = {t: {c: decimal_text(f[c]) for c in f.columns if (t, c) not in text_cols} for t, f in out.items()}
    floats = {t: {c: set(f[c].dropna().astype("float64").tolist()) for c in f.columns
                  if pd.api.types.is_numeric_dtype(f[c].dtype)} for t, f in out.items()}
    cell_sets = {t: set().union(*[set(s.dropna().tolist()) for s in cols.values()]) if cols else set()
                 for t, cols in texts.items()}
    notes_out = out.get("service_notes")
    raw_notes = corpus.tables["service_notes"]
    notes_by_cust: dict[str, list[str]] = defaultdict(list)
    if notes_out is not None and "note" in notes_out:
        for cid, text in zip(raw_notes["cust_id"], decimal_text(notes_out["note"]).fillna(""), strict=True):
            notes_by_cust[cid].append(str(text))
    rows = []
    for ct in corpus.columns:
        if ct.role != "identifier" or ct.entity == "FREE_TEXT":
            continue
        raw = corpus.tables[ct.table][ct.column].astype("string")
        present = raw.notna() & raw.str.len().gt(0)
        values = raw[present]
        distinct = set(values.tolist())
        # low-entropy values (dates) collide across rows: only the same row counts for them
        exact = set() if ct.entity == "BIRTH_DATE" else {v for v in distinct if any(v in cell_sets[t] for t in cell_sets)}
        fl = {v for v in distinct if (x := _float_or_none(v)) is not None and len(v.lstrip("+-0")) >= 6
              and any(x in s for fs in floats.values() for s in fs.values())}
        # substring of any cell of the same row of the same table
        same_row: set[str] = set()
        if ct.table in texts:
            cols = [s.fillna("").tolist() for s in texts[ct.table].values()]
            for i, v in zip(values.index, values.tolist(), strict=True):
                if v not in same_row and any(v in col[i] for col in cols):
                    same_row.add(v)
        in_notes: set[str] = set()
        if ct.table == "customers" and notes_by_cust:
            cids = corpus.tables["customers"]["cust_id"]
            for i, v in zip(values.index, values.tolist(), strict=True):
                if any(v in t for t in notes_by_cust.get(cids[i], ())):
                    in_notes.add(v)
        in_cols = exact | fl | same_row
        rows.append({"table": ct.table, "column": ct.column, "entity": ct.entity, "case": ct.case,
                     "values": len(distinct), "leaked_in_columns": len(in_cols),
                     "leaked": len(in_cols | in_notes), "exact_cell": len(exact),
                     "as_float": len(fl), "same_row_substring": len(same_row), "in_own_notes": len(in_notes),
                     "published_as": _published_as(out.get(ct.table), ct.column)})
    return rows


def _published_as(frame: pd.DataFrame | None, column: str) -> str:
    if frame is None:
        return "table not published"
    if column not in frame.columns:
        return "dropped/renamed"
    col = frame[column]
    sample = col.dropna().astype("string")
    if len(sample) and sample.str.startswith("tk_").mean() > 0.99:
        return "token"
    return str(col.dtype)


# ----------------------------------------------------------------------------- free text
def kept_mask(original: str, redacted: str) -> np.ndarray:
    """Per character of ``original``: does it survive in ``redacted`` (difflib alignment)."""
    mask = np.zeros(len(original), dtype=bool)
    if not redacted:
        return mask
    if redacted == original:
        mask[:] = True
        return mask
    b = _PLACEHOLDER.sub(_NO_MATCH, redacted)
    for a0, _b0, size in difflib.SequenceMatcher(None, original, b, autojunk=False).get_matching_blocks():
        mask[a0:a0 + size] = True
    return mask


def _significant(value: str) -> np.ndarray:
    return np.array([ch.isalnum() for ch in value], dtype=bool)


def score_text(corpus: Corpus, out: dict[str, pd.DataFrame]) -> dict[str, Any]:
    raw = corpus.tables["service_notes"]["note"].fillna("").tolist()
    frame = out.get("service_notes")
    if frame is None or "note" not in frame.columns:
        red = [""] * len(raw)
        how = "note column not published"
    else:
        red = decimal_text(frame["note"]).fillna("").tolist()
        how = "published"
        if len(red) != len(raw):
            raise SystemExit("bench: the published notes table has a different number of rows")
        if "note_id" in frame.columns and not (decimal_text(frame["note_id"]).tolist()
                                               == corpus.tables["service_notes"]["note_id"].tolist()):
            raise SystemExit("bench: the published notes are not in the input order; cannot align them")
    masks = [kept_mask(a, b) for a, b in zip(raw, red, strict=True)]
    in_pii = [np.zeros(len(t), dtype=bool) for t in raw]
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"planted": 0, "caught": 0, "partial": 0})
    per_variant: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"planted": 0, "caught": 0})
    decoys: dict[str, dict[str, int]] = defaultdict(lambda: {"planted": 0, "kept": 0})
    cases: dict[str, dict[str, Any]] = {}
    for s in corpus.spans:
        seg = masks[s.row][s.start:s.end]
        sig = _significant(s.value)
        if s.kind == "pii":
            in_pii[s.row][s.start:s.end] = True
            survived = seg[sig]
            caught = not survived.any()
            p = per[s.entity]
            p["planted"] += 1
            p["caught"] += caught
            p["partial"] += bool(survived.any() and not survived.all())
            v = per_variant[(s.entity, s.variant or "-")]
            v["planted"] += 1
            v["caught"] += caught
            ok = caught
        else:
            kept = bool(seg.all()) and s.value in red[s.row]
            d = decoys[s.entity]
            d["planted"] += 1
            d["kept"] += kept
            ok = kept
        if s.case:
            c = cases.setdefault(s.case, {"class": s.variant, "ok": True, "failed": []})
            if not ok:
                c["ok"] = False
                c["failed"].append(f"{s.kind}:{s.entity}")
    # collateral: significant characters outside any PII span that did not survive
    lost_notes, lost_chars = 0, 0
    for text, mask, pii in zip(raw, masks, in_pii, strict=True):
        sig = np.array([ch.isalnum() for ch in text], dtype=bool)
        lost = (~mask) & (~pii) & sig
        n = int(lost.sum())
        lost_chars += n
        lost_notes += n > 0
    by_class: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "passed": 0})
    for c in cases.values():
        by_class[c["class"]]["cases"] += 1
        by_class[c["class"]]["passed"] += c["ok"]
    return {
        "notes": len(raw), "note_column": how,
        "recall": {k: {**v, "recall": round(v["caught"] / v["planted"], 4)} for k, v in sorted(per.items())},
        "recall_by_form": {f"{k[0]}/{k[1]}": {**v, "recall": round(v["caught"] / v["planted"], 4)}
                           for k, v in sorted(per_variant.items())},
        "decoys": {k: {**v, "kept_share": round(v["kept"] / v["planted"], 4)} for k, v in sorted(decoys.items())},
        "decoys_all": _share({"planted": sum(d["planted"] for d in decoys.values()),
                              "kept": sum(d["kept"] for d in decoys.values())}),
        "collateral": {"notes_with_lost_text": lost_notes, "share_of_notes": round(lost_notes / max(len(raw), 1), 4),
                       "characters_lost_outside_pii": lost_chars},
        "hard_cases_by_class": {k: dict(v) for k, v in sorted(by_class.items())},
        "hard_cases_failed": {k: v["failed"] for k, v in sorted(cases.items()) if not v["ok"]},
    }


def _share(d: dict[str, int]) -> dict[str, Any]:
    return {**d, "kept_share": round(d["kept"] / max(d["planted"], 1), 4)}


# ----------------------------------------------------------------------------- business columns
def _same_number(raw: str, out: str) -> bool:
    if not re.fullmatch(r"-?(?:[1-9]\d*|0)(?:\.\d+)?", raw):
        return False  # leading zeros, codes: only identical text counts
    try:
        return Decimal(raw) == Decimal(out)
    except InvalidOperation:
        return False


def business_columns(corpus: Corpus, out: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    rows = []
    for ct in corpus.columns:
        if ct.role != "business":
            continue
        raw = corpus.tables[ct.table][ct.column].astype("string").fillna("")
        frame = out.get(ct.table)
        if frame is None or ct.column not in frame.columns:
            rows.append({"table": ct.table, "column": ct.column, "case": ct.case, "unchanged": 0.0,
                         "dtype": "not published", "scientific": False})
            continue
        col = frame[ct.column]
        text = decimal_text(col).fillna("")
        same = [a == b or _same_number(a, b) for a, b in zip(raw.tolist(), text.tolist(), strict=True)]
        sci = bool(pd.api.types.is_float_dtype(col.dtype)
                   and (col.dropna().abs() >= 1e16).any())
        rows.append({"table": ct.table, "column": ct.column, "case": ct.case,
                     "unchanged": round(float(np.mean(same)), 4), "dtype": str(col.dtype), "scientific": sci})
    return rows


# ----------------------------------------------------------------------------- classification
def classification(corpus: Corpus, report: dict[str, Any], scan: dict[str, Any] | None) -> list[dict[str, Any]]:
    inv = {(r["table"], r["column"]): r for r in report.get("inventory", [])}
    scanned = {}
    for t in (scan or {}).get("tables", []):
        for c in t["columns"]:
            scanned[(t["table"], c["column"])] = c
    rows = []
    for ct in corpus.columns:
        got = inv.get((ct.table, ct.column), {})
        ent = got.get("entity", "missing")
        s_ent = scanned.get((ct.table, ct.column), {}).get("entity", "missing")
        ok = {ct.entity, *ct.accept}
        rows.append({"table": ct.table, "column": ct.column, "case": ct.case, "role": ct.role,
                     "expected": ct.entity, "detected": ent, "action": got.get("action"),
                     "evidence": str(got.get("evidence", ""))[:80], "correct": ent in ok,
                     "scan_detected": s_ent, "scan_correct": s_ent in ok})
    return rows


# ----------------------------------------------------------------------------- printing
def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(header)]
    lines = [title, "  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def render(result: dict[str, Any]) -> str:
    parts = []
    run = result["run"]
    parts.append(f"independent corpus: seed {result['seed']}, {result['rows']} customers, "
                 f"{result['text']['notes']} notes; faker {result['corpus']['faker_version']}")
    parts.append(f"pseudonymise: rc {run['pseudonymise']['rc']} ({run['pseudonymise']['seconds']} s), "
                 f"status {run['status'].upper()}; scored from: {run['scored_from']}")
    if run["status"] != "passed":
        parts.append(f"  REFUSED (unusable: nothing published): {run['reasons']}")
        parts.append(f"  residual findings that refused it: {run['residual']}")
    leak = result["structured_leak"]
    if run["status"] != "passed":
        parts.append("  AS PUBLISHED: nothing (leak 0, but 0 % of decoys and business values delivered); "
                     "the numbers below score the tables the pseudonymiser would have published")
    by_ent: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in leak:
        b = by_ent[r["entity"]]
        b[0] += 1
        b[1] += r["leaked_in_columns"] > 0
        b[2] += r["values"]
        b[3] += r["leaked_in_columns"]
        b[4] += r["leaked"]
    parts.append(_table("\nstructured-column leak (target 0 in columns)",
                        ["entity", "columns", "leaking", "values", "leaked in columns", "incl. own notes"],
                        [[k, *v] for k, v in sorted(by_ent.items())]))
    parts.append(_table("\nleaking columns", ["table", "column", "entity", "in columns/values", "incl. notes",
                                              "published as"],
                        [[r["table"], r["column"], r["entity"], f"{r['leaked_in_columns']}/{r['values']}",
                          r["leaked"], r["published_as"]] for r in leak if r["leaked"]]))
    t = result["text"]
    parts.append(_table("\nfree-text recall (caught = no character of the span survives)",
                        ["entity", "planted", "caught", "partial", "recall", "target"],
                        [[k, v["planted"], v["caught"], v["partial"], f"{v['recall']:.2%}",
                          f"{TARGETS[k]:.1%}" if k in TARGETS else "-"] for k, v in t["recall"].items()]))
    parts.append(_table("\nrecall by written form", ["entity/form", "planted", "recall"],
                        [[k, v["planted"], f"{v['recall']:.2%}"] for k, v in t["recall_by_form"].items()]))
    parts.append(_table("\ndecoy survival (target ≥ 99 %)", ["decoy", "planted", "kept", "share"],
                        [[k, v["planted"], v["kept"], f"{v['kept_share']:.2%}"] for k, v in t["decoys"].items()]
                        + [["ALL", t["decoys_all"]["planted"], t["decoys_all"]["kept"],
                            f"{t['decoys_all']['kept_share']:.2%}"]]))
    if result.get("scan_span_counts"):
        planted = {k: v["planted"] for k, v in t["recall"].items()}
        for col, counts in result["scan_span_counts"].items():
            parts.append(f"\nscan --json spans in {col}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        parts.append(f"  (planted in service_notes.note: {', '.join(f'{k} {v}' for k, v in planted.items())})")
    c = t["collateral"]
    parts.append(f"\nover-redaction: {c['notes_with_lost_text']} notes ({c['share_of_notes']:.2%}) lost "
                 f"{c['characters_lost_outside_pii']} characters outside every PII span (decoys, job titles, "
                 "the character after a name)")
    parts.append(_table("\nhard cases (all PII caught and all decoys kept)", ["class", "passed/cases"],
                        [[k, f"{v['passed']}/{v['cases']}"] for k, v in t["hard_cases_by_class"].items()]))
    parts.append(_table("\nbusiness columns (target: unchanged)", ["table", "column", "unchanged", "dtype", "sci"],
                        [[r["table"], r["column"] + (f" [{r['case']}]" if r["case"] else ""),
                          f"{r['unchanged']:.2%}", r["dtype"], r["scientific"]] for r in result["business"]]))
    cl = result["classification"]
    parts.append(_table(f"\ncolumn classification ({sum(r['correct'] for r in cl)}/{len(cl)} correct; "
                        f"scan {sum(r['scan_correct'] for r in cl)}/{len(cl)})",
                        ["table", "column", "expected", "detected", "action", "ok"],
                        [[r["table"], r["column"], r["expected"], r["detected"], r["action"],
                          "ok" if r["correct"] else "WRONG"] for r in cl]))
    return "\n".join(parts)


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2000, help="Customers (notes: about 2 per customer).")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--workdir", type=Path, default=None, help="Default: a temporary folder, removed after.")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kequn-indep-"))
    raw_dir, clean = work / "raw", work / "clean"
    for d in (raw_dir, clean):
        if d.exists():
            shutil.rmtree(d)
    corpus = build_corpus(args.rows, args.seed)
    paths = corpus.write(raw_dir)
    (work / "truth.json").write_text(json.dumps(corpus.truth(), ensure_ascii=False), encoding="utf-8")

    env = {**os.environ, "PYTHONPATH": str(REPO), "KEQUN_PSEUDONYM_KEY": BENCH_KEY}
    scan_run = run_cli(["scan", str(raw_dir), "--json", str(work / "scan.json")], env)
    pseudo_run = run_cli(["pseudonymise", str(raw_dir), "--out", str(clean)], env)
    scan = json.loads((work / "scan.json").read_text(encoding="utf-8")) if scan_run["rc"] == 0 else None
    if not (clean / "privacy_report.json").exists():
        raise SystemExit(f"bench: pseudonymise wrote no report (rc {pseudo_run['rc']}): {pseudo_run['stderr_last']}")
    report = json.loads((clean / "privacy_report.json").read_text(encoding="utf-8"))
    manifest = json.loads((clean / "manifest.json").read_text(encoding="utf-8"))
    out, scored_from = published_tables(clean, paths)

    residual: dict[str, int] = defaultdict(int)
    for f in report.get("residual_scan", {}).get("details", []):
        residual[f"{f.get('table')}.{f.get('column')}:{f.get('entity')}"] += int(f.get("count", 1))
    result = {
        "seed": args.seed, "rows": args.rows, "corpus": corpus.meta,
        "run": {"scan": scan_run, "pseudonymise": pseudo_run, "status": manifest["status"],
                "usable": manifest["status"] == "passed",
                "reasons": manifest.get("reasons", []), "residual": dict(residual), "scored_from": scored_from},
        "structured_leak": structured_leak(corpus, out),
        "text": score_text(corpus, out),
        "business": business_columns(corpus, out),
        "classification": classification(corpus, report, scan),
        "scan_span_counts": {f"{t['table']}.{c['column']}": c.get("span_counts")
                             for t in (scan or {}).get("tables", []) for c in t["columns"] if c.get("span_counts")},
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(render(result))
    print(f"\n(bench wall time {result['seconds']} s)")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    target = args.json or OUT_DIR / f"independent_s{args.seed}_n{args.rows}.json"
    target.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"JSON: {target}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
