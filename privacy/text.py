"""Free-text PII spans: vectorised detection and redaction."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from privacy import entities as E

SPAN_COLUMNS = ["row", "start", "end", "entity", "score"]


def find_spans(texts: pd.Series, *, known_names: pd.Series | None = None) -> pd.DataFrame:
    """Find PII spans (placeholder: being implemented)."""
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "start": pd.Series(dtype="int64"),
                         "end": pd.Series(dtype="int64"), "entity": pd.Series(dtype="object"),
                         "score": pd.Series(dtype="float64")})


def redact_texts(texts: pd.Series, spans: pd.DataFrame,
                 replace: Callable[[str, str], str] | None = None) -> pd.Series:
    """Replace each span by its placeholder (placeholder implementation)."""
    out = texts.astype("string").copy()
    for row, group in spans.sort_values(["row", "start"]).groupby("row"):
        text = out.iloc[row]
        pieces, pos = [], 0
        for start, end, entity in zip(group["start"], group["end"], group["entity"], strict=True):
            pieces.append(text[pos:start])
            span = text[start:end]
            pieces.append(replace(entity, span) if replace else E.TEXT_PLACEHOLDERS[entity])
            pos = end
        pieces.append(text[pos:])
        out.iloc[row] = "".join(pieces)
    return out
