"""Free-text PII spans: vectorised detection over a whole column, and redaction.

The bulk path never runs Presidio per cell. For a column of texts it

1. normalises full-width characters (length-preserving, so offsets stay those of the original);
2. pre-filters the column with cheap vectorised ``str.contains`` tests (4+ digits, ``@``,
   ``号``, a name context word, the row's own name) so only candidate cells are analysed;
3. joins the candidate cells into one string (cells separated by ``\\x00``) and runs one
   compiled expression per entity over it (C speed), mapping match offsets back to
   ``(row, start)`` with ``numpy.searchsorted``;
4. validates candidates in bulk on their distinct canonical strings (GB 11643 and Luhn check
   digits vectorised in NumPy, birth dates and region codes, mobile prefixes);
5. scores them (context words just before a match raise the score of weak patterns), and
   keeps the best non-overlapping span at each place.

The expressions, context words and validators are those of the Presidio recognizers
(:mod:`privacy.recognizers.patterns`), so both paths agree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from privacy import entities as E
from privacy.normalise import to_halfwidth
from privacy.recognizers import patterns as P

SPAN_COLUMNS = ["row", "start", "end", "entity", "score"]
#: Spans scoring below this are not reported.
MIN_SCORE = 0.5
#: Characters before a match searched for a context word.
CONTEXT_WINDOW = 12
#: Cell separator in the joined text; no pattern matches it and every lookaround treats it as
#: a boundary.
_SEP = "\x00"

_PREFILTER_DIGITS = r"\d{4}"


@functools.lru_cache(maxsize=1)
def _compiled() -> dict[str, re.Pattern[str]]:
    """Compile every expression once."""
    return {
        "id18": re.compile(P.RESIDENT_ID_18),
        "id15": re.compile(P.RESIDENT_ID_15),
        "mobile": re.compile(P.MOBILE),
        "landline": re.compile(P.LANDLINE),
        "card_plain": re.compile(P.BANK_CARD_PLAIN),
        "card_grouped": re.compile(P.BANK_CARD_GROUPED),
        "card_tail": re.compile(P.BANK_CARD_GROUPED_TAIL),
        "email": re.compile(P.EMAIL),
        "passport": re.compile(P.PASSPORT),
        "permit": re.compile(P.HK_MACAU_PERMIT),
        "customer_no": re.compile(P.CUSTOMER_NO),
        "birth_date": re.compile(P.BIRTH_DATE),
        "address": re.compile(P.ADDRESS),
        "person_prefix": re.compile(P.person_prefix_regex()),
        "person_suffix": re.compile(P.person_suffix_regex()),
    }


@functools.lru_cache(maxsize=1)
def _person_prefilter() -> str:
    words = sorted(set(P.NAME_PREFIX_CONTEXT) | set(P.NAME_SUFFIX_CONTEXT), key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


def _empty_spans() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "start": pd.Series(dtype="int64"),
                         "end": pd.Series(dtype="int64"), "entity": pd.Series(dtype="object"),
                         "score": pd.Series(dtype="float64")})


class _Joined:
    """Candidate cells joined into one string, with the map back to rows."""

    def __init__(self, texts: list[str], rows: np.ndarray) -> None:
        self.text = _SEP.join(texts)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        self.starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
        self.rows = rows

    def locate(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map positions in the joined text to ``(row, offset in cell)``."""
        idx = np.searchsorted(self.starts, pos, side="right") - 1
        return self.rows[idx], pos - self.starts[idx]

    def has_context(self, starts: np.ndarray, words: list[str] | tuple[str, ...]) -> np.ndarray:
        """True where a context word occurs in the window before each start (same cell)."""
        if len(starts) == 0:
            return np.zeros(0, dtype=bool)
        cell_idx = np.searchsorted(self.starts, starts, side="right") - 1
        lo = np.maximum(self.starts[cell_idx], starts - CONTEXT_WINDOW)
        lowered = [w.lower() for w in words]
        text = self.text
        # one short slice per weak-pattern candidate (passports, permits, landlines, dates)
        return np.fromiter((any(w in text[a:b].lower() for w in lowered)
                            for a, b in zip(lo.tolist(), starts.tolist(), strict=True)),
                           dtype=bool, count=len(starts))


def _matches(regex: re.Pattern[str], text: str, group: str | int = 0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All matches of ``regex`` as (starts, ends, matched strings)."""
    spans = [(m.start(group), m.end(group), m.group(group)) for m in regex.finditer(text)]
    if not spans:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, dtype=object)
    s, e, t = zip(*spans, strict=True)
    return np.asarray(s, np.int64), np.asarray(e, np.int64), np.asarray(t, dtype=object)


def _validate_unique(values: np.ndarray, canon: Callable[[np.ndarray], np.ndarray],
                     valid: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Validate each distinct canonical value once; return the per-candidate result."""
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    canonical = canon(values)
    uniq, inverse = np.unique(canonical.astype(str), return_inverse=True)
    return valid(uniq.astype(object))[inverse]


def _collect(joined: _Joined) -> list[tuple[np.ndarray, np.ndarray, str, np.ndarray]]:
    """Run every expression on the joined text; return validated (starts, ends, entity, scores)."""
    rx = _compiled()
    text = joined.text
    out: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []

    def add(s: np.ndarray, e: np.ndarray, entity: str, score: np.ndarray | float,
            keep: np.ndarray | None = None) -> None:
        score = np.broadcast_to(np.asarray(score, dtype=float), s.shape)
        if keep is not None:
            s, e, score = s[keep], e[keep], score[keep]
        keep2 = score >= MIN_SCORE
        if keep2.any():
            out.append((s[keep2], e[keep2], entity, score[keep2]))

    # resident IDs: valid check digit → 1.0; right structure, wrong check digit, with context → 0.6
    for key in ("id18", "id15"):
        s, e, t = _matches(rx[key], text)
        if s.size:
            valid = _validate_unique(t, P.id_body, P.resident_id_valid)
            structure = _validate_unique(t, P.id_body, P.resident_id_structure_valid)
            typo = structure & ~valid
            score = np.where(valid, 1.0, 0.0)
            if typo.any():
                ctx = joined.has_context(s[typo], P.RESIDENT_ID_CONTEXT)
                score[np.flatnonzero(typo)[ctx]] = 0.6
            add(s, e, E.CN_RESIDENT_ID, score)
    # bank cards (plain, grouped by 4, grouped with a 1-3 digit tail)
    for key in ("card_plain", "card_grouped", "card_tail"):
        s, e, t = _matches(rx[key], text)
        if s.size:
            valid = _validate_unique(t, P.digits_only, P.bank_card_valid)
            add(s, e, E.BANK_CARD, 0.95, valid)
    # mobiles
    s, e, t = _matches(rx["mobile"], text)
    if s.size:
        add(s, e, E.CN_MOBILE, 0.9, _validate_unique(t, P.mobile_canonical, P.mobile_valid))
    # landlines: a valid area code is enough (0.6); context raises it
    s, e, t = _matches(rx["landline"], text)
    if s.size:
        valid = _validate_unique(t, P.landline_canonical, P.landline_valid)
        s, e = s[valid], e[valid]
        add(s, e, E.CN_LANDLINE, np.where(joined.has_context(s, P.LANDLINE_CONTEXT), 0.9, 0.6))
    # e-mail
    s, e, _ = _matches(rx["email"], text)
    add(s, e, E.EMAIL_ADDRESS, 1.0)
    # customer numbers
    s, e, _ = _matches(rx["customer_no"], text)
    add(s, e, E.CUSTOMER_NO, 0.9)
    # passports, permits, birth dates: only with a context word
    for key, entity, words in (("passport", E.CN_PASSPORT, P.PASSPORT_CONTEXT),
                               ("permit", E.HK_MACAU_PERMIT, P.HK_MACAU_PERMIT_CONTEXT),
                               ("birth_date", E.BIRTH_DATE, P.BIRTH_DATE_CONTEXT)):
        s, e, _ = _matches(rx[key], text)
        if s.size:
            add(s, e, entity, np.where(joined.has_context(s, words), 0.85, 0.3))
    # addresses
    s, e, _ = _matches(rx["address"], text)
    add(s, e, E.CN_ADDRESS, 0.85)
    # names next to a context word
    for key in ("person_prefix", "person_suffix"):
        s, e, _ = _matches(rx[key], text, "name")
        add(s, e, E.PERSON, 0.85)
    return out


def _known_name_spans(texts: pd.Series, names: pd.Series
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every occurrence of each row's own name in its text: (rows, starts, ends)."""
    names = names.astype("string").str.replace(r"\s+", "", regex=True)
    ok = names.notna() & (names.str.len() >= 2) & texts.notna()
    if not ok.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    pos = np.flatnonzero(ok.to_numpy(dtype=bool))
    tx = texts.iloc[pos].tolist()
    nm = names.iloc[pos].tolist()
    rows: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    # str.find per row with a name: the name differs per row, so there is no shared pattern
    for r, t, n in zip(pos.tolist(), tx, nm, strict=True):
        i = t.find(n)
        while i >= 0:
            rows.append(r)
            starts.append(i)
            ends.append(i + len(n))
            i = t.find(n, i + len(n))
    return (np.asarray(rows, np.int64), np.asarray(starts, np.int64), np.asarray(ends, np.int64))


def find_spans(texts: pd.Series, *, known_names: pd.Series | None = None) -> pd.DataFrame:
    """Find PII spans in every text cell.

    Parameters
    ----------
    texts:
        Free text, one cell per row; missing values have no spans.
    known_names:
        Optional, aligned with ``texts`` by position: each row's own name (e.g. the customer's
        name column). An occurrence of it is the strongest evidence of a ``PERSON`` span.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (position in ``texts``), ``start``, ``end`` (offsets in the original
        text, end exclusive), ``entity`` (a :mod:`privacy.entities` constant) and ``score``
        (0-1), sorted by row and start; spans do not overlap.
    """
    if known_names is not None and len(known_names) != len(texts):
        from pipelines.errors import InputError

        raise InputError(f"find_spans: known_names has {len(known_names)} rows, texts has "
                         f"{len(texts)}; they must be aligned")
    if len(texts) == 0:
        return _empty_spans()
    norm = to_halfwidth(texts.reset_index(drop=True))
    filled = norm.fillna("")
    mask = (filled.str.contains(_PREFILTER_DIGITS, regex=True)
            | filled.str.contains("@", regex=False)
            | filled.str.contains("号", regex=False)
            | filled.str.contains(_person_prefilter(), regex=True))
    mask = mask.fillna(False).to_numpy(dtype=bool)
    parts: list[pd.DataFrame] = []
    if mask.any():
        rows = np.flatnonzero(mask)
        joined = _Joined(filled.iloc[rows].tolist(), rows)
        for s, e, entity, score in _collect(joined):
            r, off = joined.locate(s)
            parts.append(pd.DataFrame({"row": r, "start": off, "end": off + (e - s),
                                       "entity": entity, "score": score}))
    if known_names is not None:
        r, s, e = _known_name_spans(filled.mask(filled == ""), known_names.reset_index(drop=True))
        if r.size:
            parts.append(pd.DataFrame({"row": r, "start": s, "end": e, "entity": E.PERSON,
                                       "score": 1.0}))
    if not parts:
        return _empty_spans()
    spans = pd.concat(parts, ignore_index=True)
    return _resolve_overlaps(spans)


def _resolve_overlaps(spans: pd.DataFrame) -> pd.DataFrame:
    """Keep the best span wherever spans overlap (higher score, then longer, then earlier)."""
    spans = spans.assign(length=spans["end"] - spans["start"])
    spans = spans.sort_values(["row", "score", "length", "start"],
                              ascending=[True, False, False, True], kind="mergesort")
    row = spans["row"].to_numpy()
    start = spans["start"].to_numpy()
    end = spans["end"].to_numpy()
    keep = np.ones(len(spans), dtype=bool)
    # only rows with more than one span can overlap
    multi = np.flatnonzero(np.r_[row[1:] == row[:-1], False] | np.r_[False, row[1:] == row[:-1]])
    taken: dict[int, list[tuple[int, int]]] = {}
    for i in multi.tolist():  # a few spans per row; greedy in priority order
        r = int(row[i])
        a, b = int(start[i]), int(end[i])
        occupied = taken.setdefault(r, [])
        if any(a < y and x < b for x, y in occupied):
            keep[i] = False
        else:
            occupied.append((a, b))
    out = spans.loc[keep, SPAN_COLUMNS].sort_values(["row", "start"], kind="mergesort")
    out = out.reset_index(drop=True)
    return out.astype({"row": "int64", "start": "int64", "end": "int64", "entity": "object",
                       "score": "float64"})


def span_counts(spans: pd.DataFrame) -> dict[str, int]:
    """Number of spans per entity (``{entity: n}``), entities in :data:`TEXT_ENTITIES` order."""
    counts = spans["entity"].value_counts()
    order = [e for e in E.TEXT_ENTITIES if e in counts.index]
    order += [e for e in counts.index if e not in order]
    return {str(e): int(counts[e]) for e in order}


def redact_texts(texts: pd.Series, spans: pd.DataFrame,
                 replace: Callable[[str, str], str] | None = None) -> pd.Series:
    """Replace each span by a typed placeholder (or ``replace(entity, span_text)``).

    Parameters
    ----------
    texts:
        The texts the spans were found in (same order; ``spans.row`` is a position).
    spans:
        Output of :func:`find_spans`.
    replace:
        Optional function of ``(entity, span text)`` returning the replacement, e.g. a keyed
        token function. Default: :data:`privacy.entities.TEXT_PLACEHOLDERS`.

    Returns
    -------
    pandas.Series
        Same index as ``texts``; text outside the spans is unchanged.
    """
    out = texts.astype("string")
    if spans.empty:
        return out.copy()
    spans = spans.sort_values(["row", "start"], kind="mergesort")
    rows = spans["row"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1], True])
    starts = spans["start"].to_numpy().tolist()
    ends = spans["end"].to_numpy().tolist()
    ents = spans["entity"].tolist()
    values = out.to_numpy(dtype=object, na_value=None).copy()
    # one pass per row that has spans, rebuilding its string from pieces
    for g in range(len(bounds) - 1):
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        r = int(rows[lo])
        text = values[r]
        if text is None:
            continue
        pieces, pos = [], 0
        for k in range(lo, hi):
            a, b, ent = starts[k], ends[k], ents[k]
            if a < pos:  # overlapping input: skip the later span
                continue
            pieces.append(text[pos:a])
            pieces.append(replace(ent, text[a:b]) if replace else E.TEXT_PLACEHOLDERS[ent])
            pos = b
        pieces.append(text[pos:])
        values[r] = "".join(pieces)
    return pd.Series(values, index=texts.index, dtype="string", name=texts.name)
