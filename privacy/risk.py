"""Re-identification risk: k-anonymity over quasi-identifiers, with optional suppression.

A record's *equivalence class* is the set of records that share all its quasi-identifier
values (missing counts as a value of its own). The table is k-anonymous when every class has
at least ``k`` records. Suppression blanks the quasi-identifiers of the records in classes
smaller than ``k``; suppressed records carry no quasi-identifier any more and are left out of
the classes afterwards (as ARX and sdcMicro count them).

Beyond k (:func:`risk_beyond_k`, every function a pandas group-by or a NumPy pass, no per-class
Python loop, so it runs on 500k-row tables): distinct and entropy l-diversity and t-closeness of
the policy's sensitive attributes (:func:`sensitive_attribute_measures`), and the prosecutor,
journalist and marketer re-identification risk models that ARX reports
(:func:`reidentification_risk`), with a plain-language reading (:data:`READINGS`, :func:`risk_reading`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
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


# --------------------------------------------------------------------------------------------
# Beyond k: l-diversity, t-closeness and the ARX re-identification risk models

#: How the report reads each measure (plain language for the reviewer).
READINGS = {
    "l_diversity": "Distinct l-diversity: every group of customers who look alike on the quasi-identifiers "
                   "shows at least l different values of the sensitive attribute, so knowing someone's group "
                   "narrows their value to no fewer than l options (l = 1: some group reveals it outright).",
    "entropy_l": "Entropy l: the same, counting how evenly the values are spread (a group with 99 R1 and one "
                 "R5 has distinct l = 2 but entropy l close to 1).",
    "t_closeness": "t-closeness: the largest distance (Earth Mover's, 0 to 1) between the sensitive attribute's "
                   "distribution in a group and in the whole table; small t means learning the group teaches an "
                   "attacker little beyond what the whole table already says.",
    "prosecutor": "Prosecutor risk: an attacker who knows the person is in this table and knows their "
                  "quasi-identifiers; a record's risk is 1 / its group size.",
    "journalist": "Journalist risk: an attacker who does not know whether the person is in the table and "
                  "matches against the population; with the whole customer base in the table "
                  "(population_fraction 1) it equals prosecutor risk.",
    "marketer": "Marketer risk: the share of all records an attacker re-identifying everyone at once would "
                "expect to get right.",
}
_NA = "\x00<NA>"
MAX_EXACT_VALUES = 1000
BINS = 100


def _class_codes(frame: pd.DataFrame, quasi_identifiers: Sequence[str]) -> np.ndarray:
    if not quasi_identifiers:
        return np.zeros(len(frame), dtype="int64")
    keys = frame[list(quasi_identifiers)].astype("string").fillna(_NA)
    return keys.groupby(list(quasi_identifiers), sort=False, dropna=False).ngroup().to_numpy()


def _sensitive_values(values: pd.Series) -> tuple[pd.Series, bool, bool]:
    """(values to count, numeric?, binned?): numbers with many distinct values go to quantile bins."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numeric = pd.to_numeric(values, errors="coerce").astype("float64")
        if numeric.nunique() > MAX_EXACT_VALUES:
            return pd.qcut(numeric, BINS, labels=False, duplicates="drop"), True, True
        return numeric, True, False
    return values.astype("string").fillna(_NA), False, False


def _counts(codes: np.ndarray, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Class × value count matrix (values sorted) and the class sizes."""
    table = pd.crosstab(pd.Series(codes, name="c"), pd.Series(values.to_numpy(), name="v"), dropna=False)
    table = table.reindex(sorted(table.columns, key=lambda v: (isinstance(v, str), v)), axis=1)
    counts = table.to_numpy(dtype="float64")
    return counts, counts.sum(axis=1)


def sensitive_attribute_measures(frame: pd.DataFrame, quasi_identifiers: Sequence[str], attribute: str,
                                 *, l_target: int = 2, t_target: float = 0.5) -> dict[str, Any]:
    """Distinct and entropy l-diversity and t-closeness of one sensitive attribute.

    t uses the ordered-distance EMD for numeric attributes and the equal-distance EMD (half the
    L1 distance) for categories, as Li et al. (2007), ARX and pycanon define them. Missing values
    count as a value of their own (as in the equivalence classes).
    """
    values, numeric, binned = _sensitive_values(frame[attribute])
    codes = _class_codes(frame, quasi_identifiers)
    counts, sizes = _counts(codes, values.fillna(np.inf) if numeric else values)  # missing: a value, last
    present = counts > 0
    distinct = present.sum(axis=1)
    share = counts / sizes[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(present, share * np.log(share), 0.0).sum(axis=1)
    overall = counts.sum(axis=0) / counts.sum()
    diff = share - overall[None, :]
    m = counts.shape[1]
    if m <= 1:
        emd = np.zeros(len(counts))
    elif numeric:
        emd = np.abs(np.cumsum(diff, axis=1)).sum(axis=1) / (m - 1)
    else:
        emd = 0.5 * np.abs(diff).sum(axis=1)
    l_value = int(distinct.min())
    t_value = float(emd.max())
    below_l = distinct < l_target
    return {
        "attribute": attribute, "kind": "numeric" if numeric else "categorical", "binned": binned,
        "values": int(m), "l": l_value, "entropy_l": round(float(np.exp(entropy.min())), 6),
        "l_target": int(l_target), "l_met": l_value >= l_target,
        "classes_below_l": int(below_l.sum()), "records_below_l": int(sizes[below_l].sum()),
        "t": round(t_value, 6), "t_target": float(t_target), "t_met": t_value <= t_target,
        "classes_above_t": int((emd > t_target).sum()),
    }


def reidentification_risk(frame: pd.DataFrame, quasi_identifiers: Sequence[str], *,
                          population_fraction: float = 1.0, threshold: float = 0.2) -> dict[str, Any]:
    """Prosecutor, journalist and marketer re-identification risk, as ARX reports them.

    For equivalence classes of sizes ``f_j`` in the table and estimated population sizes
    ``F_j = f_j / population_fraction`` (the table is that share of the population, sampled
    uniformly; 1 = the table is the population):

    - prosecutor: record risk ``1 / f_j``; ``highest`` = ``1 / min f_j``, ``average`` = classes / records,
      ``records_at_risk`` = share of records whose risk exceeds ``threshold``;
    - journalist: the same with ``F_j``;
    - marketer: ``(1 / n) Σ_j f_j / F_j``, the expected share of records re-identified.
    """
    n = len(frame)
    if n == 0:
        empty = {"highest": 0.0, "average": 0.0, "records_at_risk": 0.0}
        return {"records": 0, "classes": 0, "threshold": threshold, "population_fraction": population_fraction,
                "prosecutor": empty, "journalist": dict(empty), "marketer": 0.0}
    codes = _class_codes(frame, quasi_identifiers)
    f = np.bincount(codes).astype("float64")
    f = f[f > 0]
    population = np.maximum(f / population_fraction, f)
    record_f = np.repeat(f, f.astype("int64"))
    record_pop = np.repeat(population, f.astype("int64"))

    def model(sizes: np.ndarray, per_record: np.ndarray) -> dict[str, float]:
        return {"highest": round(float(1.0 / sizes.min()), 6),
                "average": round(float((1.0 / per_record).mean()), 6),
                "records_at_risk": round(float((1.0 / per_record > threshold).mean()), 6)}

    return {"records": int(n), "classes": int(len(f)), "threshold": float(threshold),
            "population_fraction": float(population_fraction),
            "prosecutor": model(f, record_f), "journalist": model(population, record_pop),
            "marketer": round(float((f / population).sum() / n), 6)}


def risk_reading(risk: dict[str, Any], sensitive: list[dict[str, Any]]) -> list[str]:
    """Plain-language sentences for the reviewer (numbers only, never a value of the data)."""
    p = risk["prosecutor"]
    lines = [f"An attacker who knows a customer is in this table and knows their quasi-identifiers picks the "
             f"right record with probability at most {p['highest']:.0%} (1 in {1 / p['highest']:.0f}) for the "
             f"most exposed customer and {p['average']:.1%} on average; {p['records_at_risk']:.1%} of records are "
             f"above the {risk['threshold']:.0%} risk threshold.",
             f"Someone re-identifying every record at once would expect to be right for {risk['marketer']:.1%} "
             "of them (marketer risk)."]
    if risk["population_fraction"] < 1:
        j = risk["journalist"]
        lines.append(f"Treating the table as a {risk['population_fraction']:.0%} sample of the population, an "
                     f"attacker unsure who is in it succeeds with at most {j['highest']:.0%} (journalist risk).")
    for s in sensitive:
        verdict = "meets" if s["l_met"] and s["t_met"] else "misses"
        lines.append(f"{s['attribute']}: every look-alike group shows at least {s['l']} different value(s) "
                     f"(target {s['l_target']}) and its distribution is within t = {s['t']:.3f} of the whole "
                     f"table's (target {s['t_target']:g}); {verdict} the targets"
                     + (f"; {s['records_below_l']} record(s) sit in groups below l." if s["records_below_l"]
                        else "."))
    lines.append("These numbers assume the attacker knows only the listed quasi-identifiers; any other column "
                 "they know (e.g. a transaction date) can make records unique again.")
    return lines


def risk_beyond_k(frame: pd.DataFrame, quasi_identifiers: Sequence[str], sensitive_attributes: Sequence[str],
                  *, l_target: int = 2, t_target: float = 0.5, population_fraction: float = 1.0,
                  threshold: float = 0.2, exclude: pd.Series | None = None) -> dict[str, Any]:
    """Everything beyond k for one table: risk models, l-diversity / t-closeness per attribute, reading.

    ``exclude`` masks suppressed records (no quasi-identifier left), left out as in :func:`k_anonymity`.
    """
    sub = frame if exclude is None else frame.loc[~exclude.to_numpy()]
    qis = list(quasi_identifiers)
    risk = reidentification_risk(sub, qis, population_fraction=population_fraction, threshold=threshold)
    sensitive = [sensitive_attribute_measures(sub, qis, a, l_target=l_target, t_target=t_target)
                 for a in sensitive_attributes if a in sub.columns and a not in qis] if len(sub) else []
    return {**risk, "sensitive": sensitive, "reading": risk_reading(risk, sensitive) if len(sub) else []}
