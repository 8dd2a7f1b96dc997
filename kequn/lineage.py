"""The privacy firewall: proof that a table comes from `kequn pseudonymise`.

A clean zone is a folder written by ``kequn pseudonymise``: ``<table>.parquet`` files plus
``manifest.json``. The manifest lists every published table with its SHA-256; its ``status``
is ``"passed"`` only when the policy was met and the residual scan was clean.

A derived table (the feature table of ``kequn features``) carries its lineage inside the
Parquet file, as the schema metadata key :data:`PARQUET_LINEAGE_KEY`: a JSON object with
``kind``, ``manifest_id``, ``policy_hash``, ``key_fingerprint`` and ``clean_dir``.

:func:`require_clean_table` is the one gate that ``features`` and ``train`` pass through.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kequn.errors import LineageError
from kequn.io import atomic_path, folder_hint, sha256_file

MANIFEST_NAME = "manifest.json"
PARQUET_LINEAGE_KEY = b"kequn.lineage"
FIX_HINT = "run `kequn pseudonymise RAW --out CLEAN_DIR` and use its output"


@dataclass(frozen=True)
class Lineage:
    """Where a clean table comes from; logged as tags with every training run."""

    kind: str  # "clean_table" or "features"
    manifest_id: str
    policy_hash: str
    key_fingerprint: str
    clean_dir: str
    table: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tags(self) -> dict[str, str]:
        """MLflow tags that name the data's provenance (no personal data)."""
        return {
            "kequn.lineage.kind": self.kind,
            "kequn.manifest_id": self.manifest_id,
            "kequn.policy_hash": self.policy_hash,
            "kequn.key_fingerprint": self.key_fingerprint,
            "kequn.clean_dir": self.clean_dir,
        }


def load_manifest(clean_dir: str | Path) -> dict[str, Any]:
    """Read and minimally validate ``clean_dir/manifest.json``."""
    path = Path(clean_dir) / MANIFEST_NAME
    if not path.is_file():
        raise LineageError(f"{clean_dir}: no {MANIFEST_NAME}; this is not a kequn clean zone ({FIX_HINT})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LineageError(f"{path}: the manifest is not valid JSON") from exc
    for key in ("manifest_id", "status", "policy_hash", "key_fingerprint", "outputs"):
        if key not in manifest:
            raise LineageError(f"{path}: the manifest lacks {key!r}")
    return manifest


def require_passing_manifest(clean_dir: str | Path) -> dict[str, Any]:
    """Return the manifest of a clean zone whose pseudonymisation passed."""
    manifest = load_manifest(clean_dir)
    if manifest["status"] != "passed":
        raise LineageError(
            f"{clean_dir}: the pseudonymisation did not pass (status {manifest['status']!r}); "
            "see privacy_report.html there"
        )
    return manifest


def lineage_from_manifest(manifest: dict[str, Any], clean_dir: Path, table: str | None, kind: str) -> Lineage:
    return Lineage(
        kind=kind,
        manifest_id=str(manifest["manifest_id"]),
        policy_hash=str(manifest["policy_hash"]),
        key_fingerprint=str(manifest["key_fingerprint"]),
        clean_dir=str(clean_dir.resolve()),
        table=table,
    )


def read_parquet_lineage(path: Path) -> dict[str, Any] | None:
    """The lineage JSON embedded in a Parquet file's schema metadata, if any."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None
    raw = meta.get(PARQUET_LINEAGE_KEY)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def require_clean_table(path: str | Path) -> Lineage:
    """Check that ``path`` is a table published by ``kequn pseudonymise`` or derived from one.

    Raises
    ------
    LineageError
        With a one-line explanation of how to fix it, for raw data or a broken lineage.
    """
    path = Path(path)
    if path.is_dir():
        raise LineageError(folder_hint(path))
    if not path.is_file():
        raise LineageError(f"{path}: no such file")
    if path.suffix.lower() != ".parquet":
        raise LineageError(
            f"{path}: kequn trains only on pseudonymised Parquet tables, not raw {path.suffix or 'files'}; {FIX_HINT}"
        )
    embedded = read_parquet_lineage(path)
    if embedded is not None:
        clean_dir = Path(embedded.get("clean_dir", ""))
        manifest = require_passing_manifest(clean_dir) if clean_dir.is_dir() else None
        if manifest is not None and manifest["manifest_id"] != embedded.get("manifest_id"):
            raise LineageError(f"{path}: its lineage names manifest {embedded.get('manifest_id')!r}, "
                               f"but {clean_dir} now holds another; rebuild the table")
        if manifest is None and embedded.get("status") != "passed":
            raise LineageError(f"{path}: its clean zone {clean_dir} is gone and the lineage does not record a pass")
        return Lineage(
            kind=str(embedded.get("kind", "features")),
            manifest_id=str(embedded["manifest_id"]),
            policy_hash=str(embedded["policy_hash"]),
            key_fingerprint=str(embedded["key_fingerprint"]),
            clean_dir=str(clean_dir),
            table=path.stem,
            extra={k: v for k, v in embedded.items() if k not in {"kind", "manifest_id", "policy_hash",
                                                                  "key_fingerprint", "clean_dir"}},
        )
    manifest_path = path.parent / MANIFEST_NAME
    if not manifest_path.is_file():
        raise LineageError(f"{path}: not a pseudonymised table (no {MANIFEST_NAME} beside it and no "
                           f"embedded lineage); {FIX_HINT}")
    manifest = require_passing_manifest(path.parent)
    outputs = {o.get("file"): o for o in manifest["outputs"]}
    entry = outputs.get(path.name)
    if entry is None:
        raise LineageError(f"{path}: the manifest beside it does not list this table; {FIX_HINT}")
    if entry.get("sha256") and entry["sha256"] != sha256_file(path):
        raise LineageError(f"{path}: the file changed after pseudonymisation (hash differs from the manifest)")
    return lineage_from_manifest(manifest, path.parent, path.stem, "clean_table")


def write_parquet_with_lineage(frame: pd.DataFrame, path: str | Path, lineage: dict[str, Any]) -> Path:
    """Atomically write ``frame`` to Parquet with ``lineage`` embedded in its schema metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PARQUET_LINEAGE_KEY] = json.dumps(lineage, ensure_ascii=False, default=str).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)
