"""``kequn scan`` and the residual scan: column classification plus span counts in free text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privacy import entities as E
from privacy.classify import ColumnFinding, classify_columns
from privacy.normalise import normalise_series
from privacy.recognizers import patterns as P
from privacy.text import find_spans, span_counts


def _known_names(frame: pd.DataFrame, findings: list[ColumnFinding]) -> pd.Series | None:
    """The table's first name column, if any (each row's own name helps find it in notes)."""
    for f in findings:
        if f.entity == E.PERSON:
            return frame[f.column]
    return None


def scan_frame(frame: pd.DataFrame, table: str) -> dict[str, Any]:
    """Classify every column of one table and count PII spans in its free-text columns.

    Returns
    -------
    dict
        ``{"table", "rows", "columns": [ColumnFinding.to_dict() + optional "span_counts"]}``;
        no values.
    """
    findings = classify_columns(frame, table)
    names = _known_names(frame, findings)
    columns = []
    for f in findings:
        entry = f.to_dict()
        if f.entity == E.FREE_TEXT:
            spans = find_spans(frame[f.column], known_names=names)
            entry["span_counts"] = span_counts(spans)
        columns.append(entry)
    return {"table": table, "rows": int(len(frame)), "columns": columns}


def scan_tables(tables: dict[str, Path], *, encoding: str | None = None) -> dict[str, Any]:
    """Scan tables for ``kequn scan``, changing nothing.

    Parameters
    ----------
    tables:
        ``{table name: path}`` as returned by :func:`pipelines.io.find_tables`.
    encoding:
        CSV encoding; detected (UTF-8 with or without BOM, GB18030/GBK) when ``None``.

    Returns
    -------
    dict
        ``{"tables": [{"table", "rows", "columns": [...]}, ...]}`` (see :func:`scan_frame`).
    """
    from pipelines.io import read_table

    out = []
    for name, path in tables.items():
        frame = read_table(path, as_text=True, encoding=encoding)
        out.append(scan_frame(frame, name))
    return {"tables": out}


def _valid_counts(values: pd.Series) -> dict[str, int]:
    """Number of cells of ``values`` that are, whole, a valid direct identifier (per entity)."""
    norm = normalise_series(values).dropna()
    if norm.empty:
        return {}
    vc = norm.value_counts(sort=False)
    uniq = vc.index.astype(str).to_numpy(dtype=object)
    counts = vc.to_numpy()
    tests = {
        E.CN_RESIDENT_ID: P.resident_id_valid(P.id_body(uniq)),
        E.BANK_CARD: (pd.Series(uniq, dtype="string").str.fullmatch(r"[0-9 \-]+").fillna(False)
                      .to_numpy(dtype=bool) & P.bank_card_valid(P.digits_only(uniq))),
        E.CN_MOBILE: (pd.Series(uniq, dtype="string").str.fullmatch(r"[0-9 \-()+]+")
                      .fillna(False).to_numpy(dtype=bool) & P.mobile_valid(P.mobile_canonical(uniq))),
        E.EMAIL_ADDRESS: P.email_valid(uniq),
        E.CUSTOMER_NO: pd.Series(uniq, dtype="string").str.fullmatch(r"KH\d{8,12}").fillna(False)
        .to_numpy(dtype=bool),
    }
    taken = np.zeros(len(uniq), dtype=bool)
    out: dict[str, int] = {}
    for entity, mask in tests.items():
        mask = mask & ~taken
        taken |= mask
        n = int(counts[mask].sum())
        if n:
            out[entity] = n
    return out


def residual_findings(frame: pd.DataFrame, table: str) -> list[dict[str, Any]]:
    """Direct identifiers still present in a (pseudonymised) table; counts only, no values.

    Three checks with the same detectors as the scan: a column classified as a direct
    identifier; cells of any other text column that are, whole, a valid ID, card, mobile,
    e-mail or customer number (stragglers); and PII spans in free-text columns. Tokens
    (``tk_`` + hex) are never identifiers.

    Returns
    -------
    list[dict]
        ``{"table", "column", "entity", "count", "level" ("column" | "cells" | "span"),
        "evidence"}`` per finding; empty when the table is clean.
    """
    out: list[dict[str, Any]] = []
    for f in classify_columns(frame, table):
        col = frame[f.column]
        if f.entity == E.FREE_TEXT:
            for entity, n in span_counts(find_spans(col)).items():
                if entity in E.DIRECT_IDENTIFIERS:
                    out.append({"table": table, "column": f.column, "entity": entity, "count": n,
                                "level": "span", "evidence": f"{n} {entity} span(s) in free text"})
            continue
        if f.entity in E.DIRECT_IDENTIFIERS:
            n = int(col.notna().sum())
            out.append({"table": table, "column": f.column, "entity": f.entity, "count": n,
                        "level": "column", "evidence": f.evidence})
            continue
        if pd.api.types.is_float_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        for entity, n in _valid_counts(col).items():
            out.append({"table": table, "column": f.column, "entity": entity, "count": n,
                        "level": "cells", "evidence": f"{n} cell(s) hold a valid {entity}"})
    return out
