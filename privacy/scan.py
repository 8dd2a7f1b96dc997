"""``kequn scan`` and the residual scan: column classification plus span counts in free text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privacy import entities as E
from privacy.classify import EMPLOYER_NAME, JOB_TITLE, TOKEN_RE, ColumnFinding, classify_columns
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


def residual_findings(frame: pd.DataFrame, table: str, *, custom: tuple = (),
                      verified: frozenset[str] | set[str] = frozenset()) -> list[dict[str, Any]]:
    """Direct identifiers still present in a (pseudonymised) table; counts only, no values.

    Two checks with the same detectors as the scan: a column classified as a direct
    identifier (every non-missing value counts), and PII spans in every other text column
    (free text, and stragglers left in token or category columns). Tokens (``tk_`` + hex)
    are never identifiers.

    ``verified`` names free-text columns whose every cell the same span finder has just
    found empty (the last redaction pass of :func:`privacy.pseudonymise.redact_column`); their
    span scan would repeat that work with the same result and is skipped (the column is
    still classified).

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
        if f.entity == E.FREE_TEXT and f.column in verified:
            continue
        text = as_decimal_text(col)
        if text is None:
            continue
        # every other column is scanned span by span, numbers as their decimal text: free
        # text, and stragglers (a raw value left in a token column, an ID inside a category, a
        # card number in an int64 column)
        text = text[~text.str.fullmatch(f"{TOKEN_RE}|{_NO_PII_VALUE}").fillna(True)]
        # each distinct value is scanned once; its spans count once per row holding it
        vc = text.value_counts(sort=False)
        distinct = pd.Series(vc.index, dtype="string")
        spans = find_spans(distinct, custom=custom)
        if f.kind == E.KIND_QUASI or len(spans) == 0:
            # a quasi-identifier column's values are categories (job titles such as 商务经理,
            # places): a name-shaped span inside them is not a person
            spans = spans[spans["entity"] != E.PERSON] if len(spans) else spans
        elif (spans["entity"] == E.PERSON).any():
            # a job title or an organisation name is not a person, whatever column it is in
            job = _not_a_person(distinct).to_numpy()[spans["row"].to_numpy()]
            spans = spans[~((spans["entity"] == E.PERSON).to_numpy() & job)]
        if f.entity != E.FREE_TEXT and len(spans):
            spans = spans[~_chance_hits(spans, distinct, vc.to_numpy())]
        weights = vc.to_numpy()[spans["row"].to_numpy()]
        counts = pd.Series(weights).groupby(spans["entity"].to_numpy()).sum()
        level = "span" if f.entity == E.FREE_TEXT else "cells"
        for entity, n in ((str(k), int(v)) for k, v in counts.items()):
            if entity in E.DIRECT_IDENTIFIERS:
                out.append({"table": table, "column": f.column, "entity": entity, "count": n,
                            "level": level, "evidence": f"{n} {entity} span(s) in the column's text"})
    return out


#: In a column of same-shaped codes, at most this share may pass an identifier check by chance
#: (about 1 in 20 random digit strings passes Luhn with a card prefix) before the passes count as identifiers.
CHANCE_SHARE = 0.2
#: Share of a column's values that must have one shape for it to be a code column.
CODE_COLUMN_SHARE = 0.8


def _chance_hits(spans: pd.DataFrame, distinct: pd.Series, counts: np.ndarray) -> np.ndarray:
    """True for whole-cell identifier spans that are chance passes in a column of codes.

    An 18-digit serial-number column has about 5% of values that pass Luhn with a card
    prefix; they are serials like the rest, not cards. A span is a chance hit when it covers
    the whole cell, at least 80% of the column's values have the cell's shape (all digits, same
    length), and at most 20% of those values are found as that entity. A card number in an
    amount column, or a column of real cards (≈100% pass), is never a chance hit.
    """
    text = distinct.astype("string").fillna("")
    lengths = text.str.len().to_numpy()
    digits = text.str.fullmatch(r"[0-9]+").fillna(False).to_numpy(dtype=bool)
    total = max(int(counts.sum()), 1)
    rows = spans["row"].to_numpy()
    whole = (spans["start"].to_numpy() == 0) & (spans["end"].to_numpy() == lengths[rows]) & digits[rows]
    out = np.zeros(len(spans), dtype=bool)
    for entity in pd.unique(spans["entity"]):
        for length in np.unique(lengths[rows][whole & (spans["entity"].to_numpy() == entity)]):
            same = digits & (lengths == length)
            same_share = counts[same].sum() / total
            sel = whole & (spans["entity"].to_numpy() == entity) & (lengths[rows] == length)
            hit_share = counts[np.unique(rows[sel])].sum() / max(counts[same].sum(), 1)
            if same_share >= CODE_COLUMN_SHARE and hit_share <= CHANCE_SHARE:
                out |= sel
    return out


def _not_a_person(values: pd.Series) -> pd.Series:
    """True for values that are a whole job title or organisation name."""
    compact = values.astype("string").str.replace(r"\s+", "", regex=True)
    job = compact.str.fullmatch(JOB_TITLE).fillna(False) & compact.str.len().le(12).fillna(False)
    return (job | compact.str.fullmatch(EMPLOYER_NAME).fillna(False)).astype(bool)


def as_decimal_text(col: pd.Series) -> pd.Series | None:
    """A column as text for the span scan: text as it is, numbers as their plain decimal text
    (``6222021234567890123``, never ``6.22e+18``); ``None`` for booleans and datetimes."""
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_datetime64_any_dtype(col.dtype):
        return None
    if pd.api.types.is_integer_dtype(col.dtype):  # int64, uint64 (19-digit cards), Int64
        return col.astype("string")
    if pd.api.types.is_float_dtype(col.dtype):
        # Only integral floats of 11+ digits can be an identifier's digits; every other float
        # is shown as "0" (no value of it reaches the span scan). The rest, per distinct value,
        # in positional notation (no exponent, no ".0").
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        u = np.asarray(uniques, dtype="float64")
        big = np.isfinite(u) & (np.abs(u) >= 1e10) & (np.mod(u, 1) == 0)
        shown = np.full(len(u) + 1, None, dtype=object)
        shown[: len(u)][~big & np.isfinite(u)] = "0"
        shown[np.flatnonzero(big)] = [np.format_float_positional(v, trim="-") for v in u[big]]
        return pd.Series(shown[np.where(codes < 0, len(uniques), codes)], index=col.index, dtype="string")
    if pd.api.types.is_numeric_dtype(col.dtype):
        return col.astype("string")
    return col.astype("string")
