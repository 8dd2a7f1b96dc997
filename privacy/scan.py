"""``kequn scan`` and the residual scan: column classification plus span counts in free text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from privacy import entities as E
from privacy.classify import TOKEN_RE, ColumnFinding, classify_columns
from privacy.text import find_spans, span_counts


def _known_names(frame: pd.DataFrame, findings: list[ColumnFinding]) -> pd.Series | None:
    """The table's first name column, if any (each row's own name helps find it in notes)."""
    for f in findings:
        if f.entity == E.PERSON:
            return frame[f.column]
    return None


def scan_frame(frame: pd.DataFrame, table: str, *, custom: tuple = ()) -> dict[str, Any]:
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
            spans = find_spans(frame[f.column], known_names=names, custom=custom)
            entry["span_counts"] = span_counts(spans)
        columns.append(entry)
    return {"table": table, "rows": int(len(frame)), "columns": columns}


def scan_tables(tables: dict[str, Path], *, encoding: str | None = None, custom: tuple = ()) -> dict[str, Any]:
    """Scan tables for ``kequn scan``, changing nothing.

    Parameters
    ----------
    tables:
        ``{table name: path}`` as returned by :func:`kequn.io.find_tables`.
    encoding:
        CSV encoding; detected (UTF-8 with or without BOM, GB18030/GBK) when ``None``.
    custom:
        The policy's own recognizers (:attr:`privacy.policy.Policy.custom`).

    Returns
    -------
    dict
        ``{"tables": [{"table", "rows", "columns": [...]}, ...]}`` (see :func:`scan_frame`).
    """
    from kequn.io import read_table

    out = []
    for name, path in tables.items():
        frame = read_table(path, as_text=True, encoding=encoding)
        out.append(scan_frame(frame, name, custom=custom))
    return {"tables": out}


#: Whole values that cannot hold PII: dates/timestamps, numbers of at most 10 digits, decimals,
#: and codes whose letter prefix no identifier starts with (``T000000000001``; not E/G/P/S/D
#: passports, C/W permits or KH customer numbers).
_NO_PII_VALUE = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?"
                 r"|[+\-]?[0-9]{1,10}(?:\.[0-9]+)?|[+\-]?[0-9]+\.[0-9]+"
                 r"|[ABFHIJLMNOQRTUVXYZabfhijlmnoqrtuvxyz][0-9]{1,30}")


def residual_findings(frame: pd.DataFrame, table: str, *, custom: tuple = ()) -> list[dict[str, Any]]:
    """Direct identifiers still present in a (pseudonymised) table; counts only, no values.

    Two checks with the same detectors as the scan: a column classified as a direct
    identifier (every non-missing value counts), and PII spans in every other text column
    (free text, and stragglers left in token or category columns). Tokens (``tk_`` + hex)
    are never identifiers.

    Returns
    -------
    list[dict]
        ``{"table", "column", "entity", "count", "level" ("column" | "cells" | "span"),
        "evidence"}`` per finding; empty when the table is clean.
    """
    out: list[dict[str, Any]] = []
    for f in classify_columns(frame, table):
        col = frame[f.column]
        if f.entity in E.DIRECT_IDENTIFIERS:
            n = int(col.notna().sum())
            out.append({"table": table, "column": f.column, "entity": f.entity, "count": n,
                        "level": "column", "evidence": f.evidence})
            continue
        if not _is_text(col):
            continue
        # every other text column is scanned span by span: free text, and stragglers (a raw
        # value left in a token column, an ID inside a category) in any other column
        text = col.astype("string")
        text = text[~text.str.fullmatch(f"{TOKEN_RE}|{_NO_PII_VALUE}").fillna(True)]
        # each distinct value is scanned once; its spans count once per row holding it
        vc = text.value_counts(sort=False)
        spans = find_spans(pd.Series(vc.index, dtype="string"), custom=custom)
        weights = vc.to_numpy()[spans["row"].to_numpy()]
        counts = pd.Series(weights).groupby(spans["entity"].to_numpy()).sum()
        level = "span" if f.entity == E.FREE_TEXT else "cells"
        for entity, n in ((str(k), int(v)) for k, v in counts.items()):
            if entity in E.DIRECT_IDENTIFIERS:
                out.append({"table": table, "column": f.column, "entity": entity, "count": n,
                            "level": level, "evidence": f"{n} {entity} span(s) in the column's text"})
    return out


def _is_text(col: pd.Series) -> bool:
    """True for string/object columns (numbers, booleans and datetimes hold no spans)."""
    return not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
                or pd.api.types.is_datetime64_any_dtype(col.dtype))
