"""Erasure (PIPL Art. 47): remove listed people from a clean zone and re-sign its manifest.

The people come as raw customer numbers (secure zone, key holder); their tokens are recomputed
with the pseudonymisation key exactly as :func:`privacy.pseudonymise.pseudonymise` made them
(:func:`privacy.tokens.tokenise_series`, the entity the manifest recorded for the column). Then:

* every row of every clean table whose customer-number token column (entity ``CUSTOMER_NO``,
  action ``token`` in the manifest's ``columns``) holds one of their tokens is removed;
* their other identifiers' tokens (mobile, resident ID, card, e-mail ... gathered from their raw
  rows) are replaced by the typed placeholder wherever they still occur *inside text* of the
  remaining rows (free text redacted in token mode); a whole token column of another customer
  that holds the same value (a shared landline) is left as it is and counted (it is that
  customer's data too);
* the manifest is re-signed with the privacy step's key under a new ``manifest_id``, with every
  table digest recomputed and an ``erasures`` entry (count of people, rows removed per table, the
  previous manifest id and the SHA-256 of the erasure record; never an identifier or token).

The new manifest id is deliberate: a feature table built before the erasure names the old one
and is refused by ``features``/``train`` until rebuilt or erased with ``--features``; a run
trained before it no longer passes ``publish``'s privacy gate on this zone.

Everything is staged in a temporary sibling of the zone (:func:`stage_clean_zone`); the caller
swaps it in with the feature tables in one step (:func:`kequn.io.replace_all`).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kequn.errors import InputError, PrivacyError
from kequn.io import read_table, sha256_file
from kequn.lineage import MANIFEST_NAME, require_clean_table, require_passing_manifest
from kequn.signing import ensure_step_key, sha256_text, sign_record, signed_body
from privacy import entities as E
from privacy.keys import key_fingerprint
from privacy.risk import k_anonymity
from privacy.tokens import TOKEN_RE, tokenise_series

__all__ = ["ErasureError", "PersonTokens", "StagedZone", "manifest_chain", "person_key_columns", "read_ids",
           "resolve_people", "stage_clean_zone"]

#: The entity whose token identifies a person's rows.
PERSON_ENTITY = E.CUSTOMER_NO
_TOKEN_IN_TEXT = re.compile(TOKEN_RE)


class ErasureError(PrivacyError):
    """An erasure cannot be carried out; nothing was changed."""


@dataclass
class PersonTokens:
    """The tokens of the people to erase (no raw value)."""

    requested: int  #: distinct ids in the ids file
    person: set[str]  #: customer-number tokens
    other: dict[str, set[str]] = field(default_factory=dict)  #: entity -> tokens of their other identifiers
    in_raw: int = 0  #: how many of the ids are customers in the raw zone

    def all_tokens(self) -> dict[str, str]:
        """``{token: entity}`` of every token of theirs."""
        out = {t: ent for ent, tokens in self.other.items() for t in tokens}
        out.update({t: PERSON_ENTITY for t in self.person})
        return out


@dataclass
class StagedZone:
    """The erased clean zone, written to ``tmp`` (not yet in place)."""

    clean_dir: Path
    tmp: Path
    previous: dict[str, Any]
    manifest: dict[str, Any] | None  #: the new signed manifest; ``None`` when nothing changes
    rows_removed: dict[str, int]
    text_cells_redacted: int
    shared_tokens_kept: int
    people_found: int
    k_anonymity: dict[str, Any]

    @property
    def changed(self) -> bool:
        return self.manifest is not None

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_ids(path: Path, column: str | None, candidates: list[str]) -> tuple[pd.Series, str]:
    """The distinct, non-empty raw ids of ``path`` (CSV or Parquet, read as text), and the column used.

    Without ``column``, a file of one column uses it, else the first of ``candidates`` (the clean
    zone's customer-number columns) the file has.
    """
    if not Path(path).is_file():
        raise InputError(f"--ids {path}: no such file")
    frame = read_table(path, as_text=True)
    if column is None:
        if frame.shape[1] == 1:
            column = str(frame.columns[0])
        else:
            column = next((c for c in candidates if c in frame.columns), None)
            if column is None:
                raise InputError(f"--ids {path}: no customer-number column ({', '.join(candidates) or 'none known'}) "
                                 f"among its columns {', '.join(map(str, frame.columns))}; pass --column")
    elif column not in frame.columns:
        raise InputError(f"--ids {path}: no column {column!r}; it has {', '.join(map(str, frame.columns))}")
    ids = frame[column].astype("string").str.strip()
    ids = ids[ids.notna() & ids.ne("")].drop_duplicates().reset_index(drop=True)
    if ids.empty:
        raise InputError(f"--ids {path}: column {column!r} holds no id")
    return ids, column


def person_key_columns(manifest: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """``{table: [(output column, entity)]}`` of the customer-number token columns, from the manifest."""
    out: dict[str, list[tuple[str, str]]] = {}
    for table, columns in (manifest.get("columns") or {}).items():
        for column, info in (columns or {}).items():
            if isinstance(info, dict) and info.get("action") == "token" and info.get("entity") == PERSON_ENTITY:
                for output in info.get("outputs") or [column]:
                    out.setdefault(str(table), []).append((str(output), PERSON_ENTITY))
    return out


def manifest_chain(manifest: dict[str, Any]) -> list[str]:
    """This manifest's id and the ids of the manifests it replaced by earlier erasures, newest first."""
    earlier = [str(e.get("previous_manifest_id")) for e in reversed(manifest.get("erasures") or [])
               if isinstance(e, dict) and e.get("previous_manifest_id")]
    return [str(manifest["manifest_id"]), *earlier]


def check_key(manifest: dict[str, Any], key: bytes, clean_dir: Path) -> None:
    """Refuse a key other than the one that pseudonymised the zone (its tokens would match nobody)."""
    mine = key_fingerprint(key)
    if mine != manifest.get("key_fingerprint"):
        raise ErasureError(f"{clean_dir}: the pseudonymisation key's fingerprint {mine} differs from the "
                           f"manifest's {manifest.get('key_fingerprint')}; use the key that pseudonymised this "
                           "zone (--key-file or $KEQUN_PSEUDONYM_KEY); nothing changed")


def resolve_people(ids: pd.Series, *, key: bytes, manifest: dict[str, Any], raw: dict[str, Path]) -> PersonTokens:
    """The tokens of the listed people: their customer-number tokens, and the tokens of their other
    identifiers read from their rows of the raw tables the manifest lists."""
    person = set(tokenise_series(ids, PERSON_ENTITY, key).dropna())
    columns = manifest.get("columns") or {}
    other: dict[str, set[str]] = {}
    found: set[str] = set()
    for table, path in raw.items():
        spec = columns.get(table) or {}
        tokened = {c: i["entity"] for c, i in spec.items() if isinstance(i, dict) and i.get("action") == "token"}
        keys = [c for c, ent in tokened.items() if ent == PERSON_ENTITY]
        if not keys:
            continue
        frame = read_table(path, as_text=True)
        key_col = keys[0]
        if key_col not in frame.columns:
            continue
        tokens = tokenise_series(frame[key_col], PERSON_ENTITY, key)
        mine = tokens.isin(person).fillna(False).to_numpy(dtype=bool)
        found.update(tokens[mine].dropna())
        rows = frame.loc[mine]
        for column, entity in tokened.items():
            if column == key_col or column not in rows.columns or rows.empty:
                continue
            ent = entity if entity != E.NONE else "VALUE"
            other.setdefault(ent, set()).update(tokenise_series(rows[column], ent, key).dropna())
    return PersonTokens(requested=int(len(ids)), person=person, other=other, in_raw=len(found))


def _filter_table(table: pa.Table, key_columns: list[str], person: set[str]) -> tuple[pa.Table, int]:
    keep = None
    values = pa.array(sorted(person), type=pa.string())
    for column in key_columns:
        if column not in table.column_names:
            continue
        hit = pc.fill_null(pc.is_in(pc.cast(table[column], pa.string()), value_set=values), False)
        keep = pc.invert(hit) if keep is None else pc.and_(keep, pc.invert(hit))
    if keep is None:
        return table, 0
    out = table.filter(keep)
    return out, table.num_rows - out.num_rows


def _token_columns(manifest: dict[str, Any], table: str) -> tuple[list[str], list[str]]:
    """``(text columns, other token columns)`` of ``table``: where ``pseudonymise`` put tokens, besides
    the customer-number column (free text redacted in token mode; identifier columns)."""
    text, tokened = [], []
    for column, info in ((manifest.get("columns") or {}).get(table) or {}).items():
        if not isinstance(info, dict):
            continue
        outputs = [str(o) for o in info.get("outputs") or [column]]
        if info.get("entity") == E.FREE_TEXT:
            text += outputs
        elif info.get("action") == "token" and info.get("entity") != PERSON_ENTITY:
            tokened += outputs
    return text, tokened


def _redact_text(table: pa.Table, tokens: dict[str, str], text_columns: list[str],
                 token_columns: list[str]) -> tuple[pa.Table, int, int]:
    """Replace their tokens inside text cells by the typed placeholder; count the identifier cells of
    other customers that hold one of their tokens (a shared value), which are kept."""
    redacted = shared = 0
    values_set = pa.array(sorted(tokens), type=pa.string())
    for name in token_columns:
        if name in table.column_names:
            hit = pc.is_in(pc.cast(table[name], pa.string()), value_set=values_set)
            shared += int(pc.sum(pc.cast(pc.fill_null(hit, False), pa.int64())).as_py() or 0)
    for name in text_columns:
        if name not in table.column_names:
            continue
        i = table.column_names.index(name)
        typ = table.schema.field(name).type
        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            continue
        values = table[name].to_pandas().astype("string")
        has = values.str.contains(TOKEN_RE, regex=True).fillna(False)
        if not has.any():
            continue

        def swap(match: re.Match[str]) -> str:
            ent = tokens.get(match.group(0))
            return match.group(0) if ent is None else E.TEXT_PLACEHOLDERS.get(ent, "<已删除>")

        new = values.copy()
        new[has] = values[has].map(lambda text: _TOKEN_IN_TEXT.sub(swap, text))
        changed = int((new[has] != values[has]).sum())
        if changed:
            redacted += changed
            table = table.set_column(i, table.schema.field(name), pa.Array.from_pandas(new, type=typ))
    return table, redacted, shared


def stage_clean_zone(clean_dir: Path, people: PersonTokens, *, record_for: Any) -> StagedZone:
    """Write the erased zone to a temporary sibling of ``clean_dir`` and sign its new manifest.

    ``record_for(previous manifest, new manifest id, counts, tokens found) -> (record, record_sha256)`` builds the
    erasure record (it is kept in the secure zone by the caller); its digest goes into the manifest.
    Nothing in ``clean_dir`` is touched. Every table is verified against the signed manifest first.
    """
    clean_dir = Path(clean_dir)
    manifest = require_passing_manifest(clean_dir)
    keys = person_key_columns(manifest)
    tokens = people.all_tokens()
    tmp = Path(tempfile.mkdtemp(prefix=f".{clean_dir.name}.erase-", dir=clean_dir.resolve().parent))
    try:
        shutil.copytree(clean_dir, tmp, dirs_exist_ok=True)  # reports and anything else the zone holds
        outputs = [dict(o) for o in manifest["outputs"] if isinstance(o, dict)]
        rows_removed: dict[str, int] = {}
        redacted = shared = 0
        found: set[str] = set()
        staged: dict[str, pa.Table] = {}
        for out in outputs:
            path = clean_dir / str(out["file"])
            require_clean_table(path)  # listed and unchanged since it was signed
            table = pq.read_table(path)
            key_cols = [c for c, _ in keys.get(str(out["table"]), [])]
            for column in key_cols:
                if column in table.column_names:
                    col = pc.cast(table[column], pa.string())
                    hit = pc.fill_null(pc.is_in(col, value_set=pa.array(sorted(people.person), type=pa.string())),
                                       False)
                    found.update(x for x in pc.filter(col, hit).to_pylist() if x)
            new, removed = _filter_table(table, key_cols, people.person)
            new, n_red, n_shared = _redact_text(new, tokens, *_token_columns(manifest, str(out["table"])))
            redacted += n_red
            shared += n_shared
            if removed or n_red:
                rows_removed[str(out["table"])] = removed
                staged[str(out["table"])] = new
        if not staged:
            return StagedZone(clean_dir, tmp, manifest, None, {}, 0, shared, 0, {})
        for out in outputs:
            table = staged.get(str(out["table"]))
            if table is None:
                continue
            file = tmp / str(out["file"])
            file.unlink()
            pq.write_table(table, file)
            out["sha256"] = sha256_file(file)
            out["rows"] = int(table.num_rows)
        k_after = _k_after(manifest, staged)
        new_id = uuid.uuid4().hex
        counts = {"people": len(found), "rows_removed": rows_removed, "text_cells_redacted": redacted,
                  "shared_tokens_kept": shared, "k_anonymity_after": k_after}
        _record, record_sha256 = record_for(manifest, new_id, counts, found)
        body = signed_body(manifest)
        entry = {"erasure_id": _record["erasure_id"], "erased_at": _record["erased_at"],
                 "previous_manifest_id": manifest["manifest_id"], "people": len(found),
                 "rows_removed": rows_removed, "text_cells_redacted": redacted, "record_sha256": record_sha256,
                 "k_anonymity_after": k_after}
        body.update({"manifest_id": new_id, "outputs": outputs,
                     "updated_at": _record["erased_at"],
                     "erasures": [*(manifest.get("erasures") or []), entry]})
        step_key, _note = ensure_step_key()
        signed = sign_record(step_key, body, signer="privacy-step")
        from kequn.io import write_json

        write_json(tmp / MANIFEST_NAME, signed)
        return StagedZone(clean_dir, tmp, manifest, signed, rows_removed, redacted, shared, len(found), k_after)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _k_after(manifest: dict[str, Any], staged: dict[str, pa.Table]) -> dict[str, Any]:
    """k-anonymity measured again on the tables rows were removed from (classes only shrink)."""
    out: dict[str, Any] = {}
    for table, summary in (manifest.get("k_anonymity") or {}).items():
        if table not in staged or not isinstance(summary, dict):
            continue
        qis = [q for q in summary.get("quasi_identifiers") or [] if q in staged[table].column_names]
        if not qis:
            continue
        k = k_anonymity(staged[table].select(qis).to_pandas(), qis, int(summary.get("k", 5)))
        out[table] = {key: k[key] for key in ("k", "min_class_size", "share_below_k", "unique_records", "met")}
    return out


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of the canonical erasure record (what the manifest and the audit entry name)."""
    from kequn.signing import canonical

    return sha256_text(canonical(record))
