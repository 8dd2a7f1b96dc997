"""``kequn rekey``: rotate the pseudonymisation key (secure zone, key holder, audited).

Steps:

1. check the old zone (signed, passed, no erasure since: rebuilding from raw would bring erased
   people back), that the old key is the zone's (fingerprint), that the new key differs (and so
   does its key id), and that the raw zone is the one the old zone was made from (every table of
   the old manifest's ``inputs`` present, same SHA-256);
2. pseudonymise the raw zone under the new key into ``--out`` (:func:`privacy.pseudonymise.pseudonymise`:
   the same policy, report and signed manifest as ``kequn pseudonymise``) and verify every new table;
3. write the old→new token map (Parquet: ``entity``, ``old_token``, ``new_token``; tokens only, never
   a raw value) to the secure zone, mode 0600, atomically: for every column the policy tokenises, the
   tokens of its distinct canonical values under both keys;
4. migrate ``--migrate`` files (feature tables, re-signed for the new zone; ``kequn plan`` lists, with
   their token digest recomputed) by token replacement into ``--migrated DIR``; a token of the file
   that the map does not hold is refused (it would stay under the old key);
5. append a ``rekey`` entry to the audit trail (key fingerprints, manifest ids, counts, the map's
   SHA-256; never a key, token or raw value). If a step fails, the new zone and the map are removed.

The old zone is left as it was: models trained on it keep its tokens (see the README).
"""

from __future__ import annotations

import hmac
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kequn import console
from kequn.errors import InputError, KequnError

MAP_MODE = 0o600
MAP_DIRNAME = "rekeys"
MAP_COLUMNS = ("entity", "old_token", "new_token")
MAP_KIND = "kequn.token-map.v1"
#: Parquet schema metadata of the map: which keys (fingerprints) and manifests it joins
MAP_META = b"kequn.token_map"


class RekeyError(KequnError):
    """A key rotation is refused; nothing was changed."""


def default_map_path(raw: Path, old_kid: str, new_kid: str) -> Path:
    raw = Path(raw)
    folder = raw / MAP_DIRNAME if raw.is_dir() else raw.parent / MAP_DIRNAME
    return folder / f"rekey-{old_kid}-{new_kid}.parquet"


def _check_raw(manifest: dict[str, Any], raw: Path, clean_dir: Path) -> dict[str, Path]:
    """The raw tables of the old zone, refused when one is missing or changed since."""
    from kequn.io import find_tables, sha256_file

    found = find_tables([raw])
    inputs = [i for i in manifest.get("inputs") or [] if isinstance(i, dict) and i.get("table")]
    if not inputs:
        raise RekeyError(f"--clean {clean_dir}: the manifest lists no input tables; cannot tell which raw zone "
                         "it was made from")
    tables: dict[str, Path] = {}
    for item in inputs:
        name = str(item["table"])
        if name not in found:
            raise RekeyError(f"--raw {raw}: no table {name!r}, which {clean_dir} was pseudonymised from")
        if not hmac.compare_digest(str(item.get("sha256", "")), sha256_file(found[name])):
            raise RekeyError(f"--raw {found[name]}: changed since {clean_dir} was pseudonymised (SHA-256 differs "
                             "from the manifest's input); rekey rebuilds the same data under a new key")
        tables[name] = found[name]
    return tables


def _old_format(clean_dir: Path, manifest: dict[str, Any]) -> bool:
    """Whether the old zone's tokens predate key ids (``True``); refuses a zone that mixes keys."""
    from kequn.lineage import string_columns
    from kequn.tokens import LEGACY, column_key_ids, key_id

    expected = key_id(str(manifest["key_fingerprint"]))
    seen: set[str] = set()
    for item in manifest["outputs"]:
        path = clean_dir / str(item.get("file"))
        columns = string_columns(pq.read_schema(path))
        if columns:
            table = pq.read_table(path, columns=columns, read_dictionary=columns)
            for name in columns:
                seen |= column_key_ids(table[name])
    if seen - {expected, LEGACY}:
        raise RekeyError(f"--clean {clean_dir}: holds tokens of key id(s) {', '.join(sorted(seen - {expected, LEGACY}))} "
                         f"besides the manifest key's {expected}; rebuild it with `kequn pseudonymise` first")
    if {expected, LEGACY} <= seen:
        raise RekeyError(f"--clean {clean_dir}: mixes tokens with and without key id; rebuild it with "
                         "`kequn pseudonymise` first")
    return LEGACY in seen


def build_map(tables: dict[str, Path], new_manifest: dict[str, Any], *, old_key: bytes, new_key: bytes,
              legacy: bool, encoding: str | None = None) -> pd.DataFrame:
    """``entity, old_token, new_token`` for every distinct value of every tokenised column."""
    from kequn.io import read_table
    from kequn.tokens import TOKEN_PREFIX
    from privacy import entities as E
    from privacy.tokens import distinct_canonical, tokenise_uniques

    parts = []
    for table, columns in (new_manifest.get("columns") or {}).items():
        wanted = {c: info["entity"] for c, info in columns.items()
                  if isinstance(info, dict) and info.get("action") == "token"}
        if not wanted:
            continue
        frame = read_table(tables[table], as_text=True, encoding=encoding)
        for column, entity in wanted.items():
            entity = entity if entity != E.NONE else "VALUE"  # as privacy.pseudonymise tokenises it
            _, uniques = distinct_canonical(frame[column], entity)
            if not len(uniques):
                continue
            old = tokenise_uniques(uniques, entity, old_key)
            if legacy:  # the old zone's tokens have no key id: tk_<16 hex>
                old = [TOKEN_PREFIX + t.rsplit("_", 1)[1] for t in old]
            parts.append(pd.DataFrame({"entity": entity, "old_token": old,
                                       "new_token": tokenise_uniques(uniques, entity, new_key)}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in MAP_COLUMNS})
    out = pd.concat(parts, ignore_index=True).drop_duplicates(["entity", "old_token"])
    return out.sort_values(["entity", "old_token"], ignore_index=True).astype("string")


def _replace_tokens(table: pa.Table, lookup: dict[str, str], where: str) -> tuple[pa.Table, int]:
    """Every token-shaped value of every string column replaced by the map; unknown tokens refused."""
    import re

    from kequn.lineage import string_columns
    from kequn.tokens import ANY_TOKEN_RE

    shape = re.compile(ANY_TOKEN_RE)
    replaced = 0
    for name in string_columns(table.schema):
        i = table.column_names.index(name)
        encoded = pc.dictionary_encode(pc.cast(table[name], pa.string())).combine_chunks()
        values = encoded.dictionary.to_pylist()
        if not any(v is not None and shape.fullmatch(v) for v in values):
            continue
        new_values = []
        for v in values:
            if v is not None and shape.fullmatch(v):
                if v not in lookup:
                    raise RekeyError(f"{where}: column {name!r} holds a token the map does not hold (made from "
                                     "another raw zone or key); nothing was migrated")
                new_values.append(lookup[v])
                replaced += 1
            else:
                new_values.append(v)
        column = pa.DictionaryArray.from_arrays(encoded.indices, pa.array(new_values, pa.string()))
        table = table.set_column(i, table.schema.field(name).with_type(pa.string()), pc.cast(column, pa.string()))
    return table, replaced


def migrate_file(path: Path, out: Path, lookup: dict[str, str], *, old_manifest: dict[str, Any],
                 new_manifest: dict[str, Any], new_clean: Path, map_sha256: str) -> dict[str, Any]:
    """Write ``path`` (a feature table or a ``kequn plan`` list of the old zone) under the new key to ``out``."""
    from kequn.lineage import (
        read_parquet_lineage,
        require_clean_table,
        write_parquet_with_lineage,
        write_signed_table,
    )
    from kequn.signing import signed_body

    lineage = read_parquet_lineage(path) if path.suffix.lower() == ".parquet" and path.is_file() else None
    if not path.is_file():
        raise InputError(f"--migrate {path}: no such file")
    if not lineage or lineage.get("kind") not in ("features", "plan"):
        raise RekeyError(f"--migrate {path}: not a feature table or a list written by kequn (no lineage)")
    if lineage.get("manifest_id") != old_manifest["manifest_id"]:
        raise RekeyError(f"--migrate {path}: derived from manifest {lineage.get('manifest_id')}, not the old zone's "
                         f"{old_manifest['manifest_id']}")
    kind = lineage["kind"]
    if kind == "features":
        require_clean_table(path, check_tokens=False)  # signatures and data digest
    table = pq.read_table(path)
    table, replaced = _replace_tokens(table, lookup, f"--migrate {path}")  # pandas metadata kept
    rekeyed = {"from_manifest_id": old_manifest["manifest_id"], "from_key_fingerprint": old_manifest["key_fingerprint"],
               "map_sha256": map_sha256}
    update = {"manifest_id": new_manifest["manifest_id"], "policy_hash": new_manifest["policy_hash"],
              "key_fingerprint": new_manifest["key_fingerprint"], "clean_dir": str(new_clean.resolve()),
              "rekeyed": [*(lineage.get("rekeyed") or []), rekeyed]}
    if kind == "features":
        body = {k: v for k, v in signed_body(lineage).items() if k not in ("manifest", "table_sha256", "table_digest")}
        write_signed_table(table, out, {**body, **update}, new_manifest)
        require_clean_table(out)  # verifies under the new zone, tokens included
    else:
        from pipelines.planning import ID_COLUMN, tokens_digest

        frame = table.to_pandas()
        if ID_COLUMN not in frame.columns:
            raise RekeyError(f"--migrate {path}: no {ID_COLUMN!r} column")
        update["tokens_sha256"] = tokens_digest(frame[ID_COLUMN])
        write_parquet_with_lineage(frame, out, {**lineage, **update})
    return {"file": path.name, "kind": kind, "rows": int(table.num_rows), "tokens_replaced": replaced}


def rekey(*, raw: Path, clean_dir: Path, out: Path, old_key: bytes, new_key: bytes, map_path: Path | None = None,
          policy_path: Path | None = None, migrate: list[Path] | None = None, migrated_dir: Path | None = None,
          encoding: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Rotate the key (see the module docstring). Returns ``summary`` and the counts."""
    from kequn.io import atomic_path, sha256_file
    from kequn.lineage import (
        MANIFEST_NAME,
        load_manifest,
        require_clean_table,
        require_passing_manifest,
    )
    from kequn.tokens import key_id
    from privacy.keys import key_fingerprint
    from privacy.pseudonymise import pseudonymise

    raw, clean_dir, out = Path(raw), Path(clean_dir), Path(out)
    migrate = [Path(p) for p in migrate or []]
    if migrate and migrated_dir is None:
        raise InputError("--migrate needs --migrated DIR (where the migrated files are written)")
    old_fp, new_fp = key_fingerprint(old_key), key_fingerprint(new_key)
    if hmac.compare_digest(old_fp, new_fp):
        raise RekeyError("--new-key-file: the new key is the old key; a rotation needs a new key")
    if key_id(old_fp) == key_id(new_fp):
        raise RekeyError(f"--new-key-file: the new key's id {key_id(new_fp)} equals the old key's (a 1 in 16 million "
                         "coincidence); generate another new key so that their tokens stay distinguishable")
    manifest = require_passing_manifest(clean_dir)
    if not hmac.compare_digest(old_fp, str(manifest["key_fingerprint"])):
        raise RekeyError(f"--old-key-file: its fingerprint {old_fp} differs from {clean_dir}'s key "
                         f"{manifest['key_fingerprint']}; give the key the zone was made with")
    if manifest.get("erasures"):
        raise RekeyError(f"--clean {clean_dir}: {len(manifest['erasures'])} erasure(s) were applied to it after "
                         "pseudonymisation; rebuilding from the raw zone would bring those people back - remove them "
                         "from the raw zone first")
    for item in manifest["outputs"]:
        require_clean_table(clean_dir / str(item.get("file")), check_tokens=False)
    legacy = _old_format(clean_dir, manifest)
    tables = _check_raw(manifest, raw, clean_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: exists and is not empty; rekey writes a new clean zone into a new folder")
    if out.resolve() == clean_dir.resolve():
        raise InputError("--out: give a new folder, not the old zone")
    map_path = Path(map_path) if map_path else default_map_path(raw, key_id(old_fp), key_id(new_fp))
    if map_path.exists():
        raise InputError(f"--map {map_path}: exists; a token map is never replaced, choose a new name")
    if map_path.suffix.lower() != ".parquet":
        raise InputError(f"--map {map_path}: the map is written as Parquet; give a .parquet file name")
    targets = []
    for path in migrate:
        target = Path(migrated_dir) / path.name
        if target.exists() or target.resolve() == path.resolve():
            raise InputError(f"--migrated {migrated_dir}: {path.name} exists there; choose an empty folder")
        targets.append(target)

    from kequn.tracking import configure_tracking

    configure_tracking()  # the audit trail's store (as `kequn erase`), before anything is made
    result = pseudonymise(tables, out=out, policy_path=policy_path, key=new_key, encoding=encoding, workers=workers)
    written: list[Path] = []
    try:
        new_manifest = load_manifest(out)
        for item in new_manifest["outputs"]:
            require_clean_table(out / str(item["file"]))  # signed, unchanged, every token of the new key
        with console.stage("token map old → new") as st:
            mapping = build_map(tables, new_manifest, old_key=old_key, new_key=new_key, legacy=legacy,
                                encoding=encoding)
            table = pa.Table.from_pandas(mapping, preserve_index=False)
            about = {"kind": MAP_KIND, "old_key_fingerprint": old_fp, "new_key_fingerprint": new_fp,
                     "old_manifest_id": manifest["manifest_id"], "new_manifest_id": new_manifest["manifest_id"]}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), MAP_META: json.dumps(about)})
            with atomic_path(map_path, mode=MAP_MODE) as tmp:
                pq.write_table(table, tmp)
            written.append(map_path)
            map_sha = sha256_file(map_path)
            st.done(f"{len(mapping):,} tokens")
        lookup = dict(zip(mapping["old_token"].tolist(), mapping["new_token"].tolist(), strict=True))
        migrated = []
        for path, target in zip(migrate, targets, strict=True):
            with console.stage(f"migrate {path.name}") as st:
                migrated.append(migrate_file(path, target, lookup, old_manifest=manifest, new_manifest=new_manifest,
                                             new_clean=out, map_sha256=map_sha))
                written.append(target)
                st.done(f"{migrated[-1]['tokens_replaced']:,} distinct tokens replaced")
        counts = {str(k): int(v) for k, v in mapping.groupby("entity").size().items()}
        entry = _audit(old_fp=old_fp, new_fp=new_fp, before=manifest, after=new_manifest, map_sha=map_sha,
                       counts=counts, migrated=migrated, clean_dir=clean_dir, out=out)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if (out / MANIFEST_NAME).is_file():
            shutil.rmtree(out, ignore_errors=True)
        raise
    lines = [f"rekey: {clean_dir} (key {key_id(old_fp)}{', tokens without key id' if legacy else ''}) → {out} "
             f"(key {key_id(new_fp)}), {len(new_manifest['outputs'])} table(s), manifest "
             f"{manifest['manifest_id']} → {new_manifest['manifest_id']}",
             f"  token map (tokens only, secure zone, mode 0600): {map_path} - {len(mapping):,} tokens "
             f"({', '.join(f'{k} {v:,}' for k, v in counts.items())})"]
    lines += [f"  migrated {m['kind']} {m['file']}: {m['rows']:,} rows → {Path(migrated_dir) / m['file']}"
              for m in migrated]
    lines.append(f"  audit entry {entry['seq']} (rekey)")
    lines.append("  models trained on the old zone keep its tokens until retrained on the new zone")
    return {"summary": "\n".join(lines), "out": str(out), "map": str(map_path), "map_sha256": map_sha,
            "tokens": counts, "migrated": migrated, "legacy": legacy, "audit_seq": entry["seq"],
            "key_id": {"old": key_id(old_fp), "new": key_id(new_fp)}, "pseudonymise": result["status"],
            "manifest_id": {"before": manifest["manifest_id"], "after": new_manifest["manifest_id"]}}


def read_map(map_path: Path) -> tuple[dict[str, Any], dict[str, str], str]:
    """``(about, old→new lookup, SHA-256)`` of a map written by :func:`rekey`."""
    from kequn.io import sha256_file

    map_path = Path(map_path)
    if not map_path.is_file():
        raise InputError(f"--apply-map {map_path}: no such file")
    try:
        table = pq.read_table(map_path)
        about = json.loads((table.schema.metadata or {})[MAP_META])
    except (pa.ArrowInvalid, OSError, KeyError, json.JSONDecodeError):
        raise RekeyError(f"--apply-map {map_path}: not a token map written by `kequn rekey`") from None
    if about.get("kind") != MAP_KIND or set(MAP_COLUMNS) - set(table.column_names):
        raise RekeyError(f"--apply-map {map_path}: not a token map written by `kequn rekey`")
    lookup = dict(zip(table["old_token"].to_pylist(), table["new_token"].to_pylist(), strict=True))
    return about, lookup, sha256_file(map_path)


def apply_map(*, map_path: Path, clean_dir: Path, out: Path, migrate: list[Path], migrated_dir: Path | None
              ) -> dict[str, Any]:
    """Migrate files of the old zone ``clean_dir`` to the new zone ``out`` with an existing map (no key needed)."""
    from kequn.lineage import require_passing_manifest

    if not migrate:
        raise InputError("--apply-map needs at least one --migrate FILE")
    if migrated_dir is None:
        raise InputError("--migrate needs --migrated DIR (where the migrated files are written)")
    about, lookup, map_sha = read_map(map_path)
    old, new = require_passing_manifest(clean_dir), require_passing_manifest(out)
    if (old["manifest_id"], new["manifest_id"]) != (about.get("old_manifest_id"), about.get("new_manifest_id")):
        raise RekeyError(f"--apply-map {map_path}: maps manifest {about.get('old_manifest_id')} → "
                         f"{about.get('new_manifest_id')}, not --clean {old['manifest_id']} → --out {new['manifest_id']}")
    targets = []
    for path in migrate:
        target = Path(migrated_dir) / Path(path).name
        if target.exists():
            raise InputError(f"--migrated {migrated_dir}: {Path(path).name} exists there; choose an empty folder")
        targets.append(target)
    migrated, written = [], []
    try:
        for path, target in zip(migrate, targets, strict=True):
            migrated.append(migrate_file(Path(path), target, lookup, old_manifest=old, new_manifest=new,
                                         new_clean=Path(out), map_sha256=map_sha))
            written.append(target)
        entry = _audit(old_fp=old["key_fingerprint"], new_fp=new["key_fingerprint"], before=old, after=new,
                       map_sha=map_sha, counts={}, migrated=migrated, clean_dir=Path(clean_dir), out=Path(out),
                       mode="apply-map")
    except BaseException:
        for target in written:
            target.unlink(missing_ok=True)
        raise
    lines = [f"rekey --apply-map: {len(migrated)} file(s) migrated to {out} (key {new['key_fingerprint'][:6]})"]
    lines += [f"  {m['kind']} {m['file']}: {m['rows']:,} rows → {Path(migrated_dir) / m['file']}" for m in migrated]
    lines.append(f"  audit entry {entry['seq']} (rekey)")
    return {"summary": "\n".join(lines), "migrated": migrated, "map_sha256": map_sha, "audit_seq": entry["seq"]}


def _audit(*, old_fp: str, new_fp: str, before: dict[str, Any], after: dict[str, Any], map_sha: str,
           counts: dict[str, int], migrated: list[dict[str, Any]], clean_dir: Path, out: Path,
           mode: str = "rotate") -> dict[str, Any]:
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking, current_user
    from pipelines import audit

    configure_tracking()
    client = MlflowClient()
    entry = audit.make_entry("rekey", actor=current_user(), model="-", version="-",
                             reason=f"key rotation {old_fp[:6]} → {new_fp[:6]}",
                             mode=mode, old_key_fingerprint=old_fp, new_key_fingerprint=new_fp,
                             clean_dir_before=str(clean_dir.resolve()), clean_dir_after=str(out.resolve()),
                             manifest_before=before["manifest_id"], manifest_after=after["manifest_id"],
                             map_sha256=map_sha, tokens=counts,
                             migrated=[{k: m[k] for k in ("file", "kind", "rows")} for m in migrated])
    with audit.locked(client):
        return audit.append(client, entry)


__all__ = ["RekeyError", "apply_map", "build_map", "default_map_path", "migrate_file", "read_map", "rekey"]
