"""Search a tree of outputs for raw PII values taken from the raw input.

Used by the end-to-end tests: every file is read, Parquet as data (its bytes are compressed and
would hide strings), zip/gzip archives decompressed, everything else as bytes decoded leniently.
"""

from __future__ import annotations

import gzip
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
_DIGITS_ONLY = re.compile(r"[\s\-]")


def file_texts(path: Path) -> Iterable[str]:
    """Every text a file holds, as strings to search."""
    data = path.read_bytes()
    name = path.name.lower()
    if name.endswith(".parquet"):
        table = pq.read_table(path)
        frame = table.to_pandas()
        yield "\n".join(frame.astype(str).agg("\t".join, axis=1)) if len(frame) else ""
        yield "\t".join(map(str, frame.columns))
        meta = table.schema.metadata or {}
        yield "\n".join(v.decode("utf-8", "ignore") for v in meta.values())
        return
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.namelist():
                yield zf.read(member).decode("utf-8", "ignore")
        return
    yield data.decode("utf-8", "ignore")
    yield data.decode("gb18030", "ignore")


def static_han_text() -> str:
    """All text shipped in kequn's own source: a name found there is template text, not a leak."""
    parts = []
    for pattern in ("pipelines/**/*", "privacy/**/*", "features/**/*", "experiments/**/*", "conf/**/*"):
        for p in REPO.glob(pattern):
            if p.is_file() and p.suffix in {".py", ".yaml", ".html", ".md", ".txt", ".json", ".j2"}:
                parts.append(p.read_text(encoding="utf-8", errors="ignore"))
    return "\n".join(parts)


def find_leaks(root: Path, values: dict[str, set[str]], *, exclude: Iterable[Path] = ()) -> list[str]:
    """Return ``"<file>: <entity>"`` for every raw value found under ``root`` (values not shown)."""
    excluded = [p.resolve() for p in exclude]
    static = static_han_text()
    needles: list[tuple[str, str]] = []
    for entity, vals in values.items():
        for v in vals:
            v = str(v).strip()
            if len(v) < 2 or (entity == "PERSON" and v in static):
                continue
            needles.append((entity, v))
    # Long digit values are also looked for with separators removed.
    by_text: dict[str, str] = {v: e for e, v in needles}
    pattern = re.compile("|".join(re.escape(v) for v in sorted(by_text, key=len, reverse=True)))
    leaks = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(path.resolve().is_relative_to(e) for e in excluded):
            continue
        for text in file_texts(path):
            hits = {by_text[m.group(0)] for m in pattern.finditer(text)}
            squeezed = _DIGITS_ONLY.sub("", text)
            hits |= {by_text[m.group(0)] for m in pattern.finditer(squeezed) if by_text[m.group(0)] != "PERSON"}
            for entity in sorted(hits):
                leaks.append(f"{path.relative_to(root)}: {entity}")
    return sorted(set(leaks))


def raw_pii_values(raw: Path) -> dict[str, set[str]]:
    """Raw identifiers from a synthetic bank's raw tables and planted note PII."""
    customers = pd.read_csv(raw / "customers.csv", dtype=str)
    values: dict[str, set[str]] = {
        "CN_RESIDENT_ID": set(customers["id_number"].dropna()),
        "CN_MOBILE": {_DIGITS_ONLY.sub("", unicodedata.normalize("NFKC", m))[-11:]
                      for m in customers["mobile"].dropna()},
        "PERSON": set(customers["name"].dropna()),
        "EMAIL_ADDRESS": set(customers["email"].dropna()),
        "CN_ADDRESS": set(customers["address"].dropna()),
    }
    cards = pd.read_csv(raw / "transactions.csv", dtype=str, usecols=["card_no"])["card_no"].dropna()
    values["BANK_CARD"] = {_DIGITS_ONLY.sub("", c) for c in cards.unique()}
    truth = raw / "ground_truth" / "notes_pii.csv"
    if truth.exists():
        notes = pd.read_csv(truth, dtype=str)
        for entity, group in notes.groupby("entity_type"):
            values.setdefault(str(entity), set()).update(group["value"].dropna())
    return values
