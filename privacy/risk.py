"""Re-identification risk: k-anonymity over quasi-identifiers, with optional suppression.

A record's *equivalence class* is the set of records that share all its quasi-identifier
values (missing counts as a value of its own). The table is k-anonymous when every class has
at least ``k`` records. Suppression blanks the quasi-identifiers of the records in classes
smaller than ``k``; suppressed records carry no quasi-identifier any more and are left out of
the classes afterwards (as ARX and sdcMicro count them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

SUPPRESSED_COLUMN_NOTE = "quasi-identifiers blanked"


def class_sizes(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> pd.Series:
    """Size of each record's equivalence class (aligned with ``frame``'s rows)."""
    if not quasi_identifiers:
        return pd.Series(len(frame), index=frame.index, dtype="int64")
    keys = frame[list(quasi_identifiers)].astype("string").fillna("\x00<NA>")
    return keys.groupby(list(quasi_identifiers), sort=False, dropna=False)[quasi_identifiers[0]] \
        .transform("size").astype("int64")


def k_anonymity(frame: pd.DataFrame, quasi_identifiers: Sequence[str], k: int,
                *, exclude: pd.Series | None = None) -> dict[str, Any]:
    """Measure k-anonymity of ``frame`` over ``quasi_identifiers``.

    Parameters
    ----------
    frame:
        The table (after pseudonymisation and generalisation).
    quasi_identifiers:
        Column names.
    k:
        Required minimum class size.
    exclude:
        Boolean mask of records to leave out (suppressed records).

    Returns
    -------
    dict
        ``records`` (measured), ``classes``, ``min_class_size``, ``records_below_k``,
        ``share_below_k``, ``unique_records`` (classes of size 1), ``k`` and ``met``.
    """
    sub = frame if exclude is None else frame.loc[~exclude.to_numpy()]
    n = len(sub)
    if n == 0:
        return {"k": k, "quasi_identifiers": list(quasi_identifiers), "records": 0, "classes": 0,
                "min_class_size": None, "records_below_k": 0, "share_below_k": 0.0, "unique_records": 0,
                "met": True}
    sizes = class_sizes(sub, quasi_identifiers)
    below = int((sizes < k).sum())
    keys = sub[list(quasi_identifiers)].astype("string").fillna("\x00<NA>")
    classes = int(len(keys.drop_duplicates()))
    return {
        "k": int(k),
        "quasi_identifiers": list(quasi_identifiers),
        "records": int(n),
        "classes": classes,
        "min_class_size": int(sizes.min()),
        "records_below_k": below,
        "share_below_k": round(below / n, 6),
        "unique_records": int((sizes == 1).sum()),
        "met": below == 0,
    }


def enforce_k(frame: pd.DataFrame, quasi_identifiers: Sequence[str], k: int, *,
              on_violation: str = "suppress", max_suppression_share: float | None = None,
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Measure k-anonymity and, with ``on_violation="suppress"``, suppress to reach ``k``.

    Returns
    -------
    (frame, result)
        The (possibly suppressed) frame and a dict with ``before`` and ``after`` (see
        :func:`k_anonymity`), ``suppressed_records``, ``suppressed_share``, ``action``,
        ``k_reached`` (every class has at least ``k`` records) and ``met`` (whether the
        policy's requirement holds: with ``report`` it always does, the numbers are shown).
    """
    qis = list(quasi_identifiers)
    before = k_anonymity(frame, qis, k)
    result: dict[str, Any] = {"quasi_identifiers": qis, "k": int(k), "action": on_violation,
                              "before": before, "after": before, "suppressed_records": 0,
                              "suppressed_share": 0.0, "k_reached": before["met"],
                              "met": before["met"] or on_violation == "report"}
    if before["met"] or on_violation != "suppress":
        return frame, result
    small = (class_sizes(frame, qis) < k).to_numpy()
    share = float(small.mean()) if len(frame) else 0.0
    result["suppressed_share"] = round(share, 6)
    if max_suppression_share is not None and share > max_suppression_share:
        result["met"] = False
        result["reason"] = (f"{share:.1%} of records would need suppression, more than "
                            f"max_suppression_share {max_suppression_share:.1%}")
        return frame, result
    out = frame.copy()
    for col in qis:
        out[col] = out[col].mask(pd.Series(small, index=out.index))
    result["suppressed_records"] = int(small.sum())
    result["after"] = k_anonymity(out, qis, k, exclude=pd.Series(small, index=out.index))
    result["met"] = result["k_reached"] = bool(result["after"]["met"])
    return out, result
