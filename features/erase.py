"""Erasure from a feature table: remove listed people's rows and re-sign the embedded lineage.

``kequn erase --features FILE`` (:mod:`pipelines.erase`) passes the people's customer-number
tokens (computed in :mod:`privacy.erase`; this floor never sees the key) and the clean zone's new
signed manifest. The table must be derived from the zone's *current* manifest (verified by
:func:`kequn.lineage.require_clean_table`); its rows of those people are removed, and its lineage
is signed again by the step key with the new manifest embedded, the data digest recomputed and
the erasure appended to ``erasures`` (counts and the record's digest, no token).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.registry import ID_COLUMN
from kequn.errors import LineageError
from kequn.io import sha256_file
from kequn.lineage import read_parquet_lineage, require_clean_table, write_signed_table
from kequn.signing import signed_body

__all__ = ["StagedFeatures", "check_feature_table", "feature_rows_of", "stage_feature_table"]


@dataclass
class StagedFeatures:
    """A re-signed feature table written to ``tmp`` (not yet in place)."""

    path: Path
    tmp: Path
    rows_removed: int
    sha256_before: str
    manifest_id_before: str

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def check_feature_table(path: Path, manifest_id: str) -> dict[str, Any]:
    """Verify ``path`` (signature, data digest) and that it derives from manifest ``manifest_id``."""
    path = Path(path)
    if read_parquet_lineage(path) is None:
        raise LineageError(f"--features {path}: not a feature table written by `kequn features` (no lineage)")
    lineage = require_clean_table(path)
    if lineage.kind != "features":
        raise LineageError(f"--features {path}: a {lineage.kind}, not a feature table")
    if lineage.manifest_id != manifest_id:
        raise LineageError(f"--features {path}: derived from manifest {lineage.manifest_id}, not the zone's current "
                           f"{manifest_id}; rebuild it with `kequn features`")
    if ID_COLUMN not in pq.read_schema(path).names:
        raise LineageError(f"--features {path}: no {ID_COLUMN} column")
    return read_parquet_lineage(path) or {}


def _hits(table: pa.Table, tokens: set[str]) -> pa.ChunkedArray:
    values = pa.array(sorted(tokens), type=pa.string())
    return pc.fill_null(pc.is_in(pc.cast(table[ID_COLUMN], pa.string()), value_set=values), False)


def feature_rows_of(path: Path, tokens: set[str]) -> int:
    """How many rows of the feature table belong to the people (their tokens)."""
    table = pq.read_table(path, columns=[ID_COLUMN])
    return int(pc.sum(pc.cast(_hits(table, tokens), pa.int64())).as_py() or 0)


def stage_feature_table(path: Path, tokens: set[str], *, manifest: dict[str, Any],
                        erasure: dict[str, Any]) -> StagedFeatures:
    """Write the table without the people's rows, its lineage re-signed for ``manifest``, to a hidden
    sibling of ``path``; ``path`` itself is not touched."""
    path = Path(path)
    embedded = check_feature_table(path, str(erasure["previous_manifest_id"]))
    table = pq.read_table(path)
    kept = table.filter(pc.invert(_hits(table, tokens)))
    body = {k: v for k, v in signed_body(embedded).items() if k not in ("manifest", "table_sha256", "table_digest")}
    body.update({"manifest_id": manifest["manifest_id"],
                 "erasures": [*(embedded.get("erasures") or []),
                              {**erasure, "rows_removed": int(table.num_rows - kept.num_rows)}]})
    tmp = path.with_name(f".{path.stem}.erase-{os.getpid()}.parquet")
    try:
        write_signed_table(kept, tmp, body, manifest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return StagedFeatures(path, tmp, int(table.num_rows - kept.num_rows), sha256_file(path),
                          str(embedded.get("manifest_id")))
