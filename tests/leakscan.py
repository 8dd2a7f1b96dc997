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
        yield frame.to_csv(sep="\t", index=False)  # every cell and the header, as text
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


_DIGIT_RUN = re.compile(r"[0-9Xx]{11,}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


class _Needles:
    """Raw values grouped by how they can be found quickly (set look-ups, not one huge regex)."""

    def __init__(self, values: dict[str, set[str]], static: str) -> None:
        self.digits: dict[str, str] = {}
        self.emails: dict[str, str] = {}
        self.han: dict[str, str] = {}
        self.other: dict[str, str] = {}
        for entity, vals in values.items():
            for v in vals:
                v = unicodedata.normalize("NFKC", str(v)).strip()
                squeezed = _DIGITS_ONLY.sub("", v)
                if len(v) < 2 or (entity == "PERSON" and v in static):
                    continue
                if re.fullmatch(r"(?:\+?86)?[0-9Xx]{11,19}", squeezed):
                    self.digits[squeezed.upper()] = entity
                elif "@" in v:
                    self.emails[v.lower()] = entity
                elif re.fullmatch(r"[\u4e00-\u9fff]{2,6}", v):
                    self.han[v] = entity
                else:
                    self.other[v] = entity
        self.digit_lengths = sorted({len(d) for d in self.digits})
        self.han_lengths = sorted({len(h) for h in self.han})

    def hits(self, text: str) -> set[str]:
        found: set[str] = set()
        text = unicodedata.normalize("NFKC", text)
        for source in (text, _DIGITS_ONLY.sub("", text)):
            for run in _DIGIT_RUN.findall(source):
                run = run.upper()
                for n in self.digit_lengths:
                    for i in range(0, len(run) - n + 1):
                        if run[i:i + n] in self.digits:
                            found.add(self.digits[run[i:i + n]])
        for email in _EMAIL.findall(text):
            if email.lower() in self.emails:
                found.add(self.emails[email.lower()])
        for run in _HAN_RUN.findall(text):
            for n in self.han_lengths:
                for i in range(0, len(run) - n + 1):
                    if run[i:i + n] in self.han:
                        found.add(self.han[run[i:i + n]])
        for value, entity in self.other.items():
            if entity not in found and value in text:
                found.add(entity)
        return found


def find_leaks(root: Path, values: dict[str, set[str]], *, exclude: Iterable[Path] = ()) -> list[str]:
    """Return ``"<file>: <entity>"`` for every raw value found under ``root`` (values not shown)."""
    excluded = [p.resolve() for p in exclude]
    needles = _Needles(values, static_han_text())
    leaks = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(path.resolve().is_relative_to(e) for e in excluded):
            continue
        for text in file_texts(path):
            for entity in sorted(needles.hits(text)):
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


#: A table artifact with more rows than this is row-level data, not an aggregate (the largest
#: aggregate kequn logs is the feature importance table, one row per feature).
MAX_AGGREGATE_ROWS = 100
_TOKEN = re.compile(r"^tk_[0-9a-z]")


def _row_table(path: Path) -> pd.DataFrame | None:
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pq.read_table(path).to_pandas()
        if name.endswith(".csv"):
            return pd.read_csv(path, dtype=str)
        if name.endswith(".json"):
            import json

            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
                return pd.DataFrame(data)
    except (ValueError, OSError, UnicodeDecodeError):
        return None
    return None


def row_level_tables(root: Path, *, max_rows: int = MAX_AGGREGATE_ROWS) -> list[str]:
    """``"<file>: <why>"`` for every table under ``root`` that holds row-level data: more than
    ``max_rows`` rows, or a column of pseudonym tokens (tokens are row-level personal data too)."""
    found = []
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file():
            continue
        frame = _row_table(path)
        if frame is None:
            continue
        rel = path.relative_to(root)
        if len(frame) > max_rows:
            found.append(f"{rel}: {len(frame)} rows")
            continue
        for col in frame.columns:
            values = frame[col].dropna().astype(str)
            if len(values) and values.str.match(_TOKEN).any():
                found.append(f"{rel}: token column {col!r}")
                break
    return found


def artifact_roots(tracking_uri: str) -> list[Path]:
    """The local artifact folders of every experiment in a tracking store."""
    from urllib.parse import unquote, urlparse

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    roots = []
    for exp in client.search_experiments(view_type=3):  # ViewType.ALL
        loc = exp.artifact_location
        path = Path(unquote(urlparse(loc).path)) if loc.startswith("file:") else Path(loc)
        if path.exists():
            roots.append(path)
    return roots
