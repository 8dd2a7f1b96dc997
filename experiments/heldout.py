"""The held-out set of a training run, kept by reference: never a copy of customer rows in MLflow.

Pseudonymised rows are still personal information under PIPL, and an MLflow artifact store sits
outside the clean zone's access control. So a run logs only :data:`REFERENCE_ARTIFACT`, a small
JSON object that says *which* rows were held out:

- ``table``: the resolved path of the training table (a clean table or a feature table);
- ``table_sha256``: the SHA-256 of that file, so a changed or swapped table is detected;
- ``positions``: the held-out rows' positions in the table as read (integers, not values), and
  ``positions_sha256``;
- ``label``, ``positive``, ``treatment``: how the 0/1 outcome (and the uplift arm) is read from
  the table's own columns; ``task``, ``seed``, ``n_rows``.

No row content, no token, no label value is in it. The champion comparison at ``publish``
(:func:`pipelines.gates.regression_gate`) re-materialises the rows with :func:`materialise`,
through the privacy firewall, and fails with one line when the table is missing or changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kequn.errors import KequnError

__all__ = ["REFERENCE_ARTIFACT", "HeldOut", "HeldOutError", "materialise", "reference", "write_reference"]

REFERENCE_ARTIFACT = "eval/heldout_ref.json"
KIND = "kequn.heldout_ref.v1"


class HeldOutError(KequnError):
    """The held-out set of a run cannot be re-materialised."""


@dataclass(frozen=True)
class HeldOut:
    """Re-materialised held-out rows: the table's rows, the 0/1 outcome and (uplift) the arm."""

    rows: pd.DataFrame
    y: np.ndarray
    treatment: np.ndarray | None


def _positions_sha256(positions: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(positions, dtype="<i8").tobytes()).hexdigest()


def reference(*, path: Path, positions: np.ndarray, n_rows: int, task: str, label: str,
              positive: str | None, treatment: str | None, seed: int) -> dict[str, Any]:
    """The reference object of a run's held-out rows (positions into the table at ``path``)."""
    from kequn.io import sha256_file

    positions = np.sort(np.asarray(positions, dtype=np.int64))
    return {
        "kind": KIND,
        "table": str(Path(path).resolve()),
        "table_sha256": sha256_file(Path(path)),
        "n_rows": int(n_rows),
        "n_heldout": int(len(positions)),
        "positions": [int(p) for p in positions],
        "positions_sha256": _positions_sha256(positions),
        "task": task,
        "label": label,
        "positive": positive,
        "treatment": treatment,
        "seed": int(seed),
    }


def write_reference(folder: Path, ref: dict[str, Any]) -> Path:
    """Write ``ref`` as ``folder/eval/heldout_ref.json`` (to be logged as run artifacts)."""
    out = Path(folder) / REFERENCE_ARTIFACT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(ref, indent=1), encoding="utf-8")
    return out


def materialise(ref: dict[str, Any]) -> HeldOut:
    """The held-out rows a reference names, read again from the training table.

    Threats: a table replaced or edited since training (its SHA-256 differs), a table that no
    longer passes the privacy firewall, positions edited in the artifact (their digest).

    Raises
    ------
    HeldOutError
        One line: the table is missing, changed, not a clean table any more, or the reference
        is malformed.
    """
    from experiments.data import binary_values
    from kequn.errors import LineageError
    from kequn.io import read_table, sha256_file
    from kequn.lineage import require_clean_table
    from kequn.signing import digests_equal

    if not isinstance(ref, dict) or ref.get("kind") != KIND:
        raise HeldOutError(f"{REFERENCE_ARTIFACT}: not a held-out reference (kind {KIND!r} expected)")
    path = Path(str(ref.get("table", "")))
    if not path.is_file():
        raise HeldOutError(f"the held-out set's table {path} is missing (it is kept by reference, not copied "
                           "into MLflow); restore it there or retrain")
    if not digests_equal(sha256_file(path), ref.get("table_sha256")):
        raise HeldOutError(f"the held-out set's table {path} changed since training (SHA-256 differs); "
                           "restore the table the run was trained on, or retrain")
    try:
        require_clean_table(path)
    except LineageError as exc:
        raise HeldOutError(f"the held-out set's table fails the privacy firewall: {exc}") from None
    positions = np.asarray(ref.get("positions") or [], dtype=np.int64)
    if not digests_equal(_positions_sha256(np.sort(positions)), ref.get("positions_sha256")):
        raise HeldOutError(f"{REFERENCE_ARTIFACT}: the row positions were edited (digest differs)")
    frame = read_table(path)
    if len(frame) != ref.get("n_rows") or (len(positions) and (positions.min() < 0 or positions.max() >= len(frame))):
        raise HeldOutError(f"the held-out set's table {path} does not have the rows the reference names")
    rows = frame.iloc[positions].reset_index(drop=True)
    label = str(ref.get("label") or "")
    if label not in rows.columns:
        raise HeldOutError(f"the held-out set's table {path} has no label column {label!r}")
    y = binary_values(rows[label], column=label, positive=ref.get("positive"))[0].to_numpy(dtype=int)
    treatment = None
    if ref.get("treatment"):
        col = str(ref["treatment"])
        if col not in rows.columns:
            raise HeldOutError(f"the held-out set's table {path} has no treatment column {col!r}")
        treatment = binary_values(rows[col], column=col, what="treatment")[0].to_numpy(dtype=int)
    return HeldOut(rows=rows, y=y, treatment=treatment)
