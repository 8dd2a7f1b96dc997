"""The privacy firewall: proof that a table comes from `kequn pseudonymise`.

A clean zone is a folder written by ``kequn pseudonymise``: ``<table>.parquet`` files plus
``manifest.json``. The manifest lists every published table with its SHA-256; its ``status``
is ``"passed"`` only when the policy was met and the residual scan was clean.

The manifest is signed (Ed25519) by the privacy step's key, and the signature covers the
SHA-256 of every published table (:mod:`kequn.signing`).

A derived table (the feature table of ``kequn features``) carries its lineage inside the
Parquet file, as the schema metadata key :data:`PARQUET_LINEAGE_KEY`: a JSON object with
``kind``, ``manifest_id``, ``policy_hash``, ``key_fingerprint``, ``clean_dir``, the clean zone's
whole signed ``manifest`` and ``table_sha256`` (the digest of the table's own data, per column
since ``table_digest`` :data:`COLUMN_DIGEST`: one column in memory at a time), signed by the
step key.

:func:`require_clean_table` is the one gate that ``features`` and ``train`` pass through (and
``score``, ``monitor``, ``plan`` and ``erase`` through them). Besides the signatures and digests it
refuses a table whose tokens carry another key id than the manifest's key (:mod:`kequn.tokens`):
every string column's distinct token prefixes are compared, so a table pseudonymised under another
key, spliced into a zone and re-signed, is refused, and so is a zone of tokens without key id.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kequn.errors import LineageError
from kequn.io import atomic_path, folder_hint, sha256_file
from kequn.signing import (
    SIGNATURE_KEY,
    StepKey,
    digests_equal,
    ensure_step_key,
    fingerprint,
    keyring_path,
    public_key_text,
    sign_record,
    step_key_path,
    trusted_step_keys,
    verify_signed,
)
from kequn.tokens import KEY_ID_CHARS, TOKEN_PREFIX, column_key_ids, key_id, mixed_key_message

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
    #: id of the step key that signed the manifest (:func:`kequn.signing.fingerprint`)
    manifest_key_id: str = ""

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
            "kequn.manifest_key_id": self.manifest_key_id,
        }


def load_manifest(clean_dir: str | Path) -> dict[str, Any]:
    """Read and minimally validate ``clean_dir/manifest.json`` (no signature check)."""
    path = Path(clean_dir) / MANIFEST_NAME
    if not path.is_file():
        raise LineageError(f"{clean_dir}: no {MANIFEST_NAME}; this is not a kequn clean zone ({FIX_HINT})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LineageError(f"{path}: the manifest is not valid JSON") from exc
    if not isinstance(manifest, dict):
        raise LineageError(f"{path}: the manifest is not a JSON object")
    _require_keys(manifest, path)
    return manifest


def _require_keys(manifest: dict[str, Any], where: Any) -> None:
    for key in ("manifest_id", "status", "policy_hash", "key_fingerprint", "outputs"):
        if key not in manifest:
            raise LineageError(f"{where}: the manifest lacks {key!r}")


def verify_manifest(manifest: dict[str, Any], where: Any) -> StepKey:
    """Check the manifest's Ed25519 signature by a trusted step key (:mod:`kequn.signing`).

    Threats: a hand-written manifest (no signature), a copied manifest whose table digests were
    recomputed or whose status was edited (the signature no longer verifies), a manifest signed
    with a key of one's own (not trusted).
    """
    return verify_signed(manifest, purpose="manifest", what=f"{where}")


def _require_passed(manifest: dict[str, Any], where: Any) -> None:
    if manifest["status"] != "passed":
        raise LineageError(f"{where}: the pseudonymisation did not pass (status {manifest['status']!r}); "
                           "see privacy_report.html there")
    residual = manifest.get("residual_scan")
    if isinstance(residual, dict) and residual.get("clean") is False:
        raise LineageError(f"{where}: the residual scan of the pseudonymisation was not clean")


def require_passing_manifest(clean_dir: str | Path) -> dict[str, Any]:
    """Return the signed manifest of a clean zone whose pseudonymisation passed."""
    manifest = load_manifest(clean_dir)
    verify_manifest(manifest, Path(clean_dir) / MANIFEST_NAME)
    _require_passed(manifest, clean_dir)
    return manifest


def _key_id(record: dict[str, Any]) -> str:
    sig = record.get(SIGNATURE_KEY)
    return str(sig.get("key_id", "")) if isinstance(sig, dict) else ""


def lineage_from_manifest(manifest: dict[str, Any], clean_dir: Path, table: str | None, kind: str) -> Lineage:
    return Lineage(
        manifest_key_id=_key_id(manifest),
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
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class _HashSink:
    """A write-only file that feeds SHA-256 (the IPC stream is hashed as it is written)."""

    closed = False

    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def write(self, data: Any) -> int:
        self.sha.update(data)
        return len(data) if isinstance(data, bytes) else memoryview(data).nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _defined(array: pa.Array) -> pa.Array:
    """``array`` with the value bytes under its null slots set to zero.

    Arrow leaves those bytes undefined and the Parquet reader leaves whatever the memory pool
    held there (stale values of another column, seen from ~1M rows on), so two reads of the same
    file can differ in them; a digest must cover only what the table holds. Where the bytes
    were already zero (small tables) the digest is unchanged.
    """
    if array.null_count == 0:
        return array
    typ = array.type
    if pa.types.is_dictionary(typ):
        return pa.DictionaryArray.from_arrays(_defined(array.indices), array.dictionary, ordered=typ.ordered)
    if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)
            or pa.types.is_temporal(typ) or pa.types.is_decimal(typ)):
        return array  # variable-width: a null slot's offsets repeat, it has no value bytes
    try:
        zero = pc.cast(pa.scalar(0, pa.int32() if pa.types.is_date32(typ) else pa.int64()), typ)
        filled = pc.fill_null(array, zero)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):  # pragma: no cover - exotic types
        return array
    valid = pc.is_valid(array)
    return pa.Array.from_buffers(typ, len(array), [valid.buffers()[1], filled.buffers()[1]], array.null_count, 0)


def table_data_sha256(table: pa.Table) -> str:
    """SHA-256 of a table's schema (names, types) and data, without its metadata.

    The Arrow IPC stream of the table with its schema metadata removed and its chunks combined:
    the same for every read of the same Parquet file, and changed by any edit of a value, a
    column or a row.
    """
    table = table.replace_schema_metadata(None)
    schema = pa.schema([f.remove_metadata() for f in table.schema])
    table = table.cast(schema).combine_chunks()
    table = pa.table([_defined(c.chunk(0)) if c.num_chunks == 1 else c for c in table.columns], schema=schema)
    digest = _HashSink()
    with pa.ipc.new_stream(pa.PythonFile(digest, mode="w"), schema) as writer:  # streamed: no copy of the table
        writer.write_table(table)
    return digest.sha.hexdigest()


#: ``table_digest`` of a lineage signed since the per-column digest (:func:`columns_data_sha256`);
#: a lineage without the field carries the whole-table digest (:func:`table_data_sha256`).
COLUMN_DIGEST = "sha256-arrow-ipc-per-column-v2"


def _column_sha256(fld: pa.Field, column: pa.ChunkedArray) -> bytes:
    """SHA-256 of one column as a one-field Arrow IPC stream (chunks combined, null slots zeroed)."""
    fld = fld.remove_metadata()
    if column.num_chunks == 1:
        array = column.chunk(0)
    elif column.num_chunks == 0:
        array = pa.array([], type=fld.type)
    else:
        array = column.combine_chunks()
    schema = pa.schema([fld])
    digest = _HashSink()
    with pa.ipc.new_stream(pa.PythonFile(digest, mode="w"), schema) as writer:
        writer.write_batch(pa.record_batch([_defined(array)], schema=schema))
    return digest.sha.digest()


def columns_data_sha256(columns: Any, num_rows: int) -> str:
    """SHA-256 of a table given column by column: ``columns`` yields ``(field, ChunkedArray)``.

    The digest of the row count and of each column's own digest (:func:`_column_sha256`: its
    name, type and data), in table order. Like :func:`table_data_sha256` it ignores metadata,
    chunking and the bytes under null slots and changes with any value, column, order or row;
    unlike it, it never needs more than one column in memory, so a feature table of millions of
    customers is signed and verified without a second copy of it (``columns`` may read each
    column from the file when asked).
    """
    top = hashlib.sha256(COLUMN_DIGEST.encode() + b"\0" + int(num_rows).to_bytes(8, "little"))
    for fld, column in columns:
        top.update(_column_sha256(fld, column))
    return top.hexdigest()


def _file_columns(path: Path) -> tuple[Any, int]:
    """The columns of a Parquet file read one at a time (for :func:`columns_data_sha256`)."""
    try:
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
    except (pa.ArrowInvalid, OSError) as exc:
        raise LineageError(f"{path}: not a readable Parquet file") from exc
    if len(set(schema.names)) != len(schema.names):
        raise LineageError(f"{path}: the table has duplicate column names")

    def columns() -> Any:
        for name in schema.names:
            try:
                one = handle.read(columns=[name])
            except (pa.ArrowInvalid, OSError) as exc:
                raise LineageError(f"{path}: not a readable Parquet file") from exc
            yield one.schema.field(0), one.column(0)
            del one

    return columns(), handle.metadata.num_rows


def parquet_data_sha256(path: Path, digest: str | None = None) -> str:
    """The data digest of a Parquet file: per column (``digest`` :data:`COLUMN_DIGEST`, one column
    in memory at a time) or, for a lineage signed before it (``None``), of the whole table."""
    if digest == COLUMN_DIGEST:
        return columns_data_sha256(*_file_columns(path))
    return table_data_sha256(_read(path))


def _round_trip_digest(table: pa.Table) -> str:
    """:func:`columns_data_sha256` of ``table`` as Parquet gives it back, one column at a time
    (each column written to a Parquet buffer and read back alone: the types and values a read of
    the whole file returns, without a second copy of the whole table)."""
    def columns() -> Any:
        for i, fld in enumerate(table.schema):
            sink = pa.BufferOutputStream()
            pq.write_table(pa.table([table.column(i)], schema=pa.schema([fld])), sink)
            back = pq.read_table(pa.BufferReader(sink.getvalue()))
            del sink
            yield back.schema.field(0), back.column(0)

    return columns_data_sha256(columns(), table.num_rows)


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns, read_dictionary=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LineageError(f"{path}: not a readable Parquet file") from exc


def string_columns(schema: pa.Schema) -> list[str]:
    def is_text(t: pa.DataType) -> bool:
        if pa.types.is_dictionary(t):
            t = t.value_type
        return pa.types.is_string(t) or pa.types.is_large_string(t)

    return [f.name for f in schema if is_text(f.type)]


def check_token_keys(path: Path, manifest: dict[str, Any], table: pa.Table | None = None) -> None:
    """Refuse ``path`` when a string column holds tokens of another key than ``manifest``'s.

    The distinct token prefixes of each string column are compared with the key id of the
    manifest's ``key_fingerprint``. From a file, the row-group statistics settle most columns
    (:func:`statistics_key_ids`); the others are read dictionary-encoded and only their distinct
    values are scanned (Arrow compute, never a Python loop over rows).
    """
    expected = key_id(str(manifest.get("key_fingerprint", "")))
    if table is None:
        columns = []
        meta = pq.read_metadata(path)
        for name in string_columns(pq.read_schema(path)):
            found = statistics_key_ids(meta, name)
            if found is None:
                columns.append(name)  # the statistics cannot tell: read the column's distinct values
                continue
            message = mixed_key_message(str(path), name, expected, found)
            if message:
                raise LineageError(message)
        if not columns:
            return
        table = _read(path, columns)
    for name in string_columns(table.schema):
        message = mixed_key_message(str(path), name, expected, column_key_ids(table[name]))
        if message:
            raise LineageError(message)


_HEAD = re.compile(re.escape(TOKEN_PREFIX) + rf"([0-9a-f]{{{KEY_ID_CHARS}}})_")  # the one format (kequn.tokens)


def statistics_key_ids(meta: pq.FileMetaData, column: str) -> set[str] | None:
    """Key ids of ``column``'s tokens from the Parquet row-group statistics alone, or ``None``.

    Every value of a row group lies between its min and max (byte order): when both start with
    the same ``tk_<kid>_``, so does every value in between (one key id, whatever the values); when
    max < ``"tk_"`` or min ≥ ``"tk`"`` (the byte after ``_``), no value starts with ``tk_``. Any
    other row group (or missing statistics) means the column must be read.
    """
    found: set[str] = set()
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        chunk = next((group.column(i) for i in range(group.num_columns)
                      if group.column(i).path_in_schema == column), None)
        stats = chunk.statistics if chunk is not None else None
        if stats is None or not stats.has_min_max:
            if stats is not None and stats.null_count == group.num_rows:
                continue  # all missing
            return None
        lo, hi = stats.min, stats.max
        lo = lo.decode("utf-8", "replace") if isinstance(lo, bytes) else str(lo)
        hi = hi.decode("utf-8", "replace") if isinstance(hi, bytes) else str(hi)
        if hi < "tk_" or lo >= "tk`":
            continue
        a, b = _HEAD.match(lo), _HEAD.match(hi)
        if a and b and a.group(0) == b.group(0):
            found.add(a.group(1))
            continue
        return None
    return found


def _feature_lineage(path: Path, embedded: dict[str, Any], check_tokens: bool = True) -> Lineage:
    """Verify a derived table's embedded lineage (see :func:`require_clean_table`)."""
    what = f"{path}: the embedded lineage"
    if SIGNATURE_KEY not in embedded or not isinstance(embedded.get("manifest"), dict):
        raise LineageError(f"{path}: the embedded lineage is not signed (written by an older kequn or by hand); "
                           "rebuild the table with `kequn features`")
    verify_signed(embedded, purpose="features", what=what)
    manifest = embedded["manifest"]
    _require_keys(manifest, f"{path}: the embedded manifest")
    verify_manifest(manifest, f"{path}: the embedded manifest")
    _require_passed(manifest, f"{path}: the embedded manifest")
    if embedded.get("manifest_id") != manifest["manifest_id"]:
        raise LineageError(f"{path}: the lineage names another manifest than the one it embeds")
    kind = embedded.get("table_digest")
    if kind not in (None, COLUMN_DIGEST):
        raise LineageError(f"{path}: the embedded lineage names an unknown data digest {str(kind)[:40]!r} "
                           "(written by a newer kequn?); rebuild the table with `kequn features`")
    if kind == COLUMN_DIGEST:  # one column in memory at a time
        table = None
        actual = parquet_data_sha256(path, COLUMN_DIGEST)
    else:  # signed before the per-column digest: the whole table
        table = _read(path)
        actual = table_data_sha256(table)
    if not digests_equal(embedded.get("table_sha256"), actual):
        raise LineageError(f"{path}: the table changed after `kequn features` wrote it (its data digest differs "
                           "from the signed one); rebuild it")
    if check_tokens:
        check_token_keys(path, manifest, table)
    del table
    clean_dir = Path(str(embedded.get("clean_dir", "")))
    if clean_dir.is_dir() and (clean_dir / MANIFEST_NAME).is_file():
        current = load_manifest(clean_dir)
        if current["manifest_id"] != manifest["manifest_id"]:
            raise LineageError(f"{path}: its lineage names manifest {manifest['manifest_id']!r}, "
                               f"but {clean_dir} now holds another; rebuild the table")
    skip = {"kind", "manifest_id", "policy_hash", "key_fingerprint", "clean_dir", "manifest", SIGNATURE_KEY}
    return Lineage(
        kind=str(embedded.get("kind", "features")),
        manifest_id=str(manifest["manifest_id"]),
        policy_hash=str(manifest["policy_hash"]),
        key_fingerprint=str(manifest["key_fingerprint"]),
        clean_dir=str(clean_dir),
        table=path.stem,
        extra={k: v for k, v in embedded.items() if k not in skip},
        manifest_key_id=_key_id(manifest),
    )


def require_clean_table(path: str | Path, *, check_tokens: bool = True) -> Lineage:
    """Check that ``path`` is a table published by ``kequn pseudonymise`` or derived from one.

    A clean table is listed, with its SHA-256, in the signed manifest beside it. A derived table
    (the feature table) embeds a lineage signed by the step key: the signed manifest of its clean
    zone and the digest of its own data. Threats stopped, each with a test that performs it: raw
    data, a hand-written or edited manifest, a table edited or swapped after pseudonymisation, a
    feature table edited after ``kequn features``, embedded lineage edited to say ``passed``, and
    anything signed by a key that is not a trusted step key.

    ``check_tokens=False`` skips only the key-id check of the tokens (``kequn rekey`` reads a table
    of the zone it replaces, whose tokens may predate key ids).

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
        return _feature_lineage(path, embedded, check_tokens)
    manifest_path = path.parent / MANIFEST_NAME
    if not manifest_path.is_file():
        raise LineageError(f"{path}: not a pseudonymised table (no {MANIFEST_NAME} beside it and no "
                           f"embedded lineage); {FIX_HINT}")
    manifest = require_passing_manifest(path.parent)
    outputs = {o.get("file"): o for o in manifest["outputs"] if isinstance(o, dict)}
    entry = outputs.get(path.name)
    if entry is None:
        raise LineageError(f"{path}: the manifest beside it does not list this table; {FIX_HINT}")
    if not digests_equal(entry.get("sha256"), sha256_file(path)):
        raise LineageError(f"{path}: the file changed after pseudonymisation (hash differs from the manifest)")
    if check_tokens:
        check_token_keys(path, manifest)
    return lineage_from_manifest(manifest, path.parent, path.stem, "clean_table")


def write_parquet_with_lineage(frame: pd.DataFrame, path: str | Path, lineage: dict[str, Any]) -> Path:
    """Atomically write ``frame`` to Parquet with ``lineage`` embedded in its schema metadata (unsigned)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    _write_with_lineage(table, Path(path), lineage)
    return Path(path)


def _write_with_lineage(table: pa.Table, path: Path, lineage: dict[str, Any]) -> None:
    meta = dict(table.schema.metadata or {})
    meta[PARQUET_LINEAGE_KEY] = json.dumps(lineage, ensure_ascii=False, default=str).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_signed_features(frame: pd.DataFrame, path: str | Path, lineage: dict[str, Any],
                          manifest: dict[str, Any]) -> Path:
    """Write a derived table whose embedded lineage is signed by the step key.

    The lineage carries ``manifest`` (the clean zone's signed manifest, verified by the caller)
    and ``table_sha256`` (:func:`columns_data_sha256` of the data as it reads back from the file,
    ``table_digest`` :data:`COLUMN_DIGEST`);
    the step key (:func:`kequn.signing.ensure_step_key`) signs all of it. The step key must be a
    trusted one, else the table would be refused by ``train``: that is checked first.
    """
    return write_signed_table(pa.Table.from_pandas(frame, preserve_index=False), path, lineage, manifest)


def write_signed_table(table: pa.Table, path: str | Path, lineage: dict[str, Any],
                       manifest: dict[str, Any]) -> Path:
    """:func:`write_signed_features` for an Arrow table (``kequn erase`` re-signs one without pandas)."""
    from kequn import console

    path = Path(path)
    key, note = ensure_step_key()
    if note:
        console.info(f"  {note}")
    public = public_key_text(key.public_key())
    if not any(k.public_key == public and "features" in k.signs for k in trusted_step_keys()):
        raise LineageError(f"{step_key_path()}: this step key ({fingerprint(public)}) is not a trusted step key "
                           f"for feature tables (steps: in {keyring_path()}); `kequn train` would refuse the table")
    table = table.replace_schema_metadata({k: v for k, v in (table.schema.metadata or {}).items()
                                           if k != PARQUET_LINEAGE_KEY})
    # The digest is of the data exactly as Parquet gives it back, column by column (a whole-table
    # round trip and its digest held three copies of the table: 13 GiB at 10M customers).
    body = {**lineage, "manifest": manifest, "table_sha256": _round_trip_digest(table),
            "table_digest": COLUMN_DIGEST}
    signed = sign_record(key, body, signer="privacy-step")
    _write_with_lineage(table, path, signed)
    del table
    if not digests_equal(parquet_data_sha256(path, COLUMN_DIGEST), body["table_sha256"]):  # pragma: no cover - guard
        raise LineageError(f"{path}: the written table does not read back as signed")
    return path
