"""``kequn erase``: honour an erasure request (PIPL Art. 47) across the clean zone, feature tables
and the model registry.

Steps (key holder, secure zone):

1. read the ids file and the pseudonymisation key; refuse a key whose fingerprint differs from
   the clean zone's manifest (its tokens would match nobody);
2. recompute the people's tokens (:mod:`privacy.erase`), stage the erased clean zone (new signed
   manifest) and every ``--features`` table (:mod:`features.erase`) in temporary siblings;
3. find the registered model versions whose training run names a manifest of this zone that held
   them (the zone's current manifest id or one it replaced by an earlier erasure; run tag
   ``kequn.manifest_id``), so their owners can retrain;
4. write the erasure record (tokens only) to the secure zone, swap every staged file into place at
   once (:func:`kequn.io.replace_all`), and append an ``erase`` entry to the audit trail.

A failure before step 4's swap leaves every file as it was. When none of the people is in the
zone or the feature tables (a second run with the same ids), nothing is written and the summary
says so.

Where the record lives: the secure zone, because it holds the tokens of people who must no longer
appear in the clean zone: ``--records DIR``, default ``erasures/`` inside the raw folder (beside
a raw file), mode 0600, one JSON file per erasure. The manifest and the audit entry carry only its
SHA-256 and the counts.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from kequn.errors import InputError, KequnError, RegistryError
from kequn.io import find_tables, replace_all, write_json
from kequn.lineage import require_passing_manifest

RECORD_KIND = "kequn.erasure.v1"
RECORDS_DIRNAME = "erasures"


def default_records_dir(raw: Path) -> Path:
    raw = Path(raw)
    return raw / RECORDS_DIRNAME if raw.is_dir() else raw.parent / RECORDS_DIRNAME


def affected_versions(manifest_ids: list[str], clean_dir: Path) -> list[dict[str, Any]]:
    """Registered model versions whose training run names one of ``manifest_ids`` (run tags)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from kequn.tracking import AUTHOR_TAG, configure_tracking

    configure_tracking(must_exist=True)  # a registry that cannot be read must not look like "no model"
    client = MlflowClient()
    wanted = set(manifest_ids)
    found = []
    try:
        versions = client.search_model_versions(max_results=10_000)
    except MlflowException as exc:
        raise RegistryError(f"cannot read the model registry to find the versions trained on them "
                            f"({type(exc).__name__}); nothing changed") from None
    for mv in versions:
        if not mv.run_id:
            continue
        try:
            tags = client.get_run(mv.run_id).data.tags
        except MlflowException:
            continue
        if tags.get("kequn.manifest_id") in wanted:
            # search_model_versions leaves aliases empty on MLflow's SQL store; get_model_version fills them
            try:
                aliases = client.get_model_version(mv.name, str(mv.version)).aliases
            except MlflowException:
                aliases = getattr(mv, "aliases", [])
            found.append({"name": mv.name, "version": str(mv.version), "run_id": mv.run_id,
                          "aliases": sorted(aliases or []),
                          "owner": tags.get(AUTHOR_TAG, ""), "manifest_id": tags.get("kequn.manifest_id"),
                          "table": tags.get("kequn.table", "")})
    return sorted(found, key=lambda v: (v["name"], int(v["version"]) if v["version"].isdigit() else 0))


def erase(*, ids_file: Path, raw: Path, clean_dir: Path, features: list[Path], key: bytes,
          column: str | None = None, records_dir: Path | None = None) -> dict[str, Any]:
    """Erase the people of ``ids_file`` from ``clean_dir`` and ``features`` (see the module docstring).

    Returns
    -------
    dict
        ``summary`` (lines), ``changed``, ``people_requested``, ``people_found``, ``rows_removed``,
        ``features``, ``record`` (path or ``None``), ``manifest_id`` (before/after), ``models``.
    """
    from features.erase import check_feature_table, stage_feature_table
    from privacy.erase import (
        check_key,
        manifest_chain,
        person_key_columns,
        read_ids,
        record_digest,
        resolve_people,
        stage_clean_zone,
        utc_now,
    )

    clean_dir = Path(clean_dir)
    manifest = require_passing_manifest(clean_dir)
    check_key(manifest, key, clean_dir)
    keys = person_key_columns(manifest)
    if not keys:
        raise InputError(f"{clean_dir}: the manifest names no customer-number token column; cannot find people")
    candidates = sorted({c for cols in keys.values() for c, _ in cols})
    ids, used_column = read_ids(Path(ids_file), column, candidates)
    raw_tables = find_tables([raw])
    for path in features:
        check_feature_table(Path(path), str(manifest["manifest_id"]))
    people = resolve_people(ids, key=key, manifest=manifest, raw=raw_tables)
    erasure_id = uuid.uuid4().hex
    erased_at = utc_now()
    records_dir = Path(records_dir) if records_dir else default_records_dir(Path(raw))
    record_holder: dict[str, Any] = {}

    def record_for(previous: dict[str, Any], new_id: str, counts: dict[str, Any],
                   found: set[str]) -> tuple[dict[str, Any], str]:
        record = {"kind": RECORD_KIND, "erasure_id": erasure_id, "erased_at": erased_at,
                  "clean_dir": str(clean_dir.resolve()), "previous_manifest_id": previous["manifest_id"],
                  "manifest_id": new_id, "key_fingerprint": previous["key_fingerprint"],
                  "people_requested": people.requested, "people_in_raw": people.in_raw, **counts,
                  "tokens": sorted(found),
                  "other_tokens": {ent: sorted(t) for ent, t in sorted(people.other.items())}}
        record_holder["record"] = record
        return record, record_digest(record)

    staged = stage_clean_zone(clean_dir, people, record_for=record_for)
    staged_features = []
    try:
        if not staged.changed:
            staged.discard()
            summary = (f"erase: nothing to erase - none of the {people.requested} id(s) in {ids_file} is in "
                       f"{clean_dir} (already erased, or never pseudonymised); nothing changed")
            earlier = _earlier_records(records_dir, people.person)
            if earlier:
                summary += f"; {earlier[1]} of them erased before (record {earlier[0]})"
            elif people.in_raw == 0:
                raise InputError(f"--ids {ids_file}: none of the {people.requested} id(s) in column {used_column!r} "
                                 f"is a customer in {raw}, in {clean_dir} or in an erasure record of "
                                 f"{records_dir}; check --ids and --column")
            return {"summary": summary, "changed": False, "people_requested": people.requested,
                    "people_found": 0, "rows_removed": {}, "features": [], "record": None,
                    "manifest_id": {"before": manifest["manifest_id"], "after": manifest["manifest_id"]},
                    "models": []}
        new_manifest = staged.manifest
        entry = new_manifest["erasures"][-1]
        for path in features:
            staged_features.append(stage_feature_table(Path(path), people.person, manifest=new_manifest,
                                                       erasure={k: entry[k] for k in ("erasure_id", "erased_at",
                                                                                       "previous_manifest_id",
                                                                                       "record_sha256")}))
        models = affected_versions(manifest_chain(manifest), clean_dir)
        record = record_holder["record"]
        record_sha = entry["record_sha256"]
        # The record file also names the feature tables and models; its digest is of the core above.
        full = {**record, "record_sha256": record_sha,
                "features": [{"path": str(s.path.resolve()), "rows_removed": s.rows_removed,
                              "sha256_before": s.sha256_before} for s in staged_features],
                "models": models}
        records_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        record_path = records_dir / f"erasure-{erased_at[:19].replace(':', '').replace('-', '')}-{erasure_id[:8]}.json"
        write_json(record_path, full)
        os.chmod(record_path, 0o600)
        try:
            replace_all([(staged.tmp, clean_dir), *[(s.tmp, s.path) for s in staged_features]])
        except BaseException:
            record_path.unlink(missing_ok=True)
            raise
    except BaseException:
        staged.discard()
        for s in staged_features:
            s.discard()
        raise
    try:
        audit_entry = _audit(record_sha, erasure_id, staged, staged_features, models, manifest, new_manifest)
    except KequnError as exc:
        raise RegistryError(f"the erasure is done (record {record_path}) but its audit entry could not be "
                            f"written: {exc}") from None
    n_rows = sum(staged.rows_removed.values())
    lines = [f"erase: {staged.people_found} of {people.requested} person(s) erased - {n_rows:,} row(s) removed "
             f"from {len(staged.rows_removed)} clean table(s)"
             + (f", {staged.text_cells_redacted} text cell(s) redacted" if staged.text_cells_redacted else "")
             + (f", {sum(s.rows_removed for s in staged_features)} row(s) from {len(staged_features)} feature "
                "table(s)" if staged_features else ""),
             f"  manifest {manifest['manifest_id']} → {new_manifest['manifest_id']} (re-signed, table digests "
             "recomputed)"]
    not_found = people.requested - staged.people_found
    if not_found:
        lines.append(f"  {not_found} id(s) not in the clean zone (already erased, or never pseudonymised)")
    if staged.shared_tokens_kept:
        lines.append(f"  {staged.shared_tokens_kept} identifier token(s) of theirs kept in other customers' rows "
                     "(a shared value, e.g. a landline)")
    lines.append(f"  erasure record (tokens only, secure zone): {record_path}")
    if audit_entry:
        lines.append(f"  audit entry {audit_entry['seq']} (erase)")
    if models:
        lines.append(f"  {len(models)} model version(s) trained on data that included them; their owners must retrain:")
        lines += [f"    {m['name']} v{m['version']}{' @' + ','.join(m['aliases']) if m['aliases'] else ''} "
                  f"(run {m['run_id']}, owner {m['owner'] or 'unknown'})" for m in models]
    else:
        lines.append("  no registered model version was trained on data that included them")
    return {"summary": "\n".join(lines), "changed": True, "people_requested": people.requested,
            "people_found": staged.people_found, "rows_removed": staged.rows_removed,
            "features": [{"path": str(s.path), "rows_removed": s.rows_removed} for s in staged_features],
            "record": str(record_path), "record_sha256": record_sha,
            "manifest_id": {"before": manifest["manifest_id"], "after": new_manifest["manifest_id"]},
            "models": models, "audit_seq": audit_entry.get("seq") if audit_entry else None,
            "id_column": used_column}


def _earlier_records(records_dir: Path, tokens: set[str]) -> tuple[str, int] | None:
    """The latest erasure record in ``records_dir`` holding some of ``tokens``, and how many."""
    if not records_dir.is_dir():
        return None
    for path in sorted(records_dir.glob("erasure-*.json"), reverse=True):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        n = len(tokens & set(record.get("tokens") or []))
        if n:
            return str(path), n
    return None


def _audit(record_sha: str, erasure_id: str, staged: Any, staged_features: list[Any], models: list[dict[str, Any]],
           before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Append the ``erase`` entry (counts and digests, no token) to the hash-chained trail."""
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking, current_user
    from pipelines import audit

    configure_tracking()
    client = MlflowClient()
    entry = audit.make_entry("erase", actor=current_user(), model="-", version="-",
                             reason=f"erasure {erasure_id}", erasure_id=erasure_id, record_sha256=record_sha,
                             clean_dir=str(staged.clean_dir.resolve()), people=staged.people_found,
                             rows_removed=staged.rows_removed,
                             features=[{"path": str(s.path.resolve()), "rows_removed": s.rows_removed}
                                       for s in staged_features],
                             manifest_before=before["manifest_id"], manifest_after=after["manifest_id"],
                             models=[f"{m['name']}/{m['version']}" for m in models])
    with audit.locked(client):
        return audit.append(client, entry)


def write_summary_json(path: Path, result: dict[str, Any]) -> None:
    write_json(path, {k: v for k, v in result.items() if k != "summary"})


__all__ = ["affected_versions", "default_records_dir", "erase", "write_summary_json"]
