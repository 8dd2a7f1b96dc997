"""The privacy firewall cannot be forged (issue 13, item 5): each attack is performed and refused.

A clean zone's manifest is signed by the privacy step's Ed25519 key and lists the SHA-256 of
every table; a feature table embeds that signed manifest and the digest of its own data, signed
by the step key. ``features`` and ``train`` verify both against the trusted step keys.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kequn.errors import LineageError
from kequn.io import sha256_file
from kequn.lineage import (
    MANIFEST_NAME,
    PARQUET_LINEAGE_KEY,
    read_parquet_lineage,
    require_clean_table,
)
from kequn.signing import (
    STEP_KEY_ENV,
    fingerprint,
    generate_key_file,
    load_private_key_file,
    sign_record,
    trusted_step_keys,
)
from privacy.pseudonymise import pseudonymise
from tests.test_features import HORIZON, SNAP, bank

KEY = b"signed-lineage-test-key-0123456789abcdef"
N = 240


def raw_customers(n: int = N) -> pd.DataFrame:
    """Raw rows with a name, a mobile and a label (as the contract check makes them)."""
    surnames, given = "王李张刘陈", "伟芳娜敏静强磊军洋"
    return pd.DataFrame({
        "customer_no": [f"K{i:06d}" for i in range(n)],
        "name": [surnames[i % 5] + given[(i * 7) % 9] + given[(i * 3) % 9] for i in range(n)],
        "mobile": [f"139{(i * 7919) % 100_000_000:08d}" for i in range(n)],
        "balance": [float(1000 + (i * 37) % 9000) for i in range(n)],
        "gender": ["男" if i % 2 else "女" for i in range(n)],
        "bought": [int((i * 13) % 5 == 0) for i in range(n)],
    })


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """A real clean zone written by `pseudonymise` (signed with the session's step key)."""
    work = tmp_path_factory.mktemp("signed")
    raw = work / "raw"
    raw.mkdir()
    raw_customers().to_csv(raw / "customers.csv", index=False)
    pseudonymise({"customers": raw / "customers.csv"}, out=work / "clean", policy_path=None, key=KEY)
    return work / "clean"


def run_train(data: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", "-q", "train", "--task", "propensity",
                           "--data", str(data), "--label", "bought", "--positive", "1", "--trials", "1"],
                          capture_output=True, text=True, cwd=cwd, timeout=300, env=os.environ.copy())


def refused(proc: subprocess.CompletedProcess, needle: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr[-1500:]
    assert len(lines) == 1 and lines[0].startswith("kequn: error:"), proc.stderr[-1500:]
    assert needle in lines[0], lines[0]


def copy_zone(clean: Path, dst: Path) -> Path:
    shutil.copytree(clean, dst)
    return dst


def test_pseudonymise_signs_the_manifest_with_every_table_digest(clean):
    manifest = json.loads((clean / MANIFEST_NAME).read_text(encoding="utf-8"))
    sig = manifest["signature"]
    assert sig["alg"] == "ed25519" and sig["public_key"] == trusted_step_keys()[0].public_key
    entry = {o["file"]: o for o in manifest["outputs"]}["customers.parquet"]
    assert entry["sha256"] == sha256_file(clean / "customers.parquet")
    # the step key is not the pseudonymisation key: neither appears in the manifest
    assert KEY.decode() not in json.dumps(manifest)
    assert require_clean_table(clean / "customers.parquet").kind == "clean_table"


def test_hand_written_manifest_is_refused(clean, tmp_path, mlflow_uri):
    zone = copy_zone(clean, tmp_path / "forged")
    manifest = json.loads((zone / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest.pop("signature")
    (zone / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    refused(run_train(zone / "customers.parquet", tmp_path), "not signed by the privacy step (no signature)")


def test_copied_manifest_with_recomputed_digest_over_a_raw_table_is_refused(clean, tmp_path, mlflow_uri):
    """The attack of the issue: a raw table with a raw name column beside a copied manifest."""
    zone = tmp_path / "copied"
    zone.mkdir()
    table = pd.read_parquet(clean / "customers.parquet")
    table["customer_name"] = raw_customers()["name"]  # the raw name column
    table.to_parquet(zone / "customers.parquet", index=False)
    manifest = json.loads((clean / MANIFEST_NAME).read_text(encoding="utf-8"))
    for out in manifest["outputs"]:
        out["sha256"] = sha256_file(zone / "customers.parquet")
        out["columns"] = list(table.columns)
    (zone / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    refused(run_train(zone / "customers.parquet", tmp_path), "the signature does not verify")


def test_edited_clean_parquet_is_refused(clean, tmp_path):
    zone = copy_zone(clean, tmp_path / "edited")
    table = pd.read_parquet(zone / "customers.parquet")
    table.loc[0, "balance"] = table.loc[0, "balance"] + 1
    table.to_parquet(zone / "customers.parquet", index=False)
    with pytest.raises(LineageError, match="changed after pseudonymisation"):
        require_clean_table(zone / "customers.parquet")


def test_manifest_edited_to_passed_is_refused(clean, tmp_path):
    zone = copy_zone(clean, tmp_path / "status")
    manifest = json.loads((zone / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["residual_scan"] = {"clean": True, "findings": 0}
    manifest["reasons"] = ["edited"]
    (zone / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(LineageError, match="signature does not verify"):
        require_clean_table(zone / "customers.parquet")


def test_signature_by_an_untrusted_key_is_refused(clean, tmp_path, mlflow_uri):
    zone = copy_zone(clean, tmp_path / "untrusted")
    own = tmp_path / "own.key"
    generate_key_file(own)
    manifest = json.loads((zone / MANIFEST_NAME).read_text(encoding="utf-8"))
    resigned = sign_record(load_private_key_file(own, missing_hint=""), manifest, signer="privacy-step")
    (zone / MANIFEST_NAME).write_text(json.dumps(resigned), encoding="utf-8")
    refused(run_train(zone / "customers.parquet", tmp_path), "which is not a trusted step key")


def test_keyring_steps_replace_the_local_key(clean, tmp_path, monkeypatch):
    """Once conf/keyring.yaml lists step keys, only they are trusted (the local key is not)."""
    service = tmp_path / "service.key"
    public = generate_key_file(service)
    keyring = tmp_path / "keyring.yaml"
    keyring.write_text(f'people: {{}}\nsteps:\n  privacy-step: {{public_key: "{public}"}}\n', encoding="utf-8")
    monkeypatch.setenv("KEQUN_KEYRING", str(keyring))
    with pytest.raises(LineageError, match="not a trusted step key"):
        require_clean_table(clean / "customers.parquet")
    zone = copy_zone(clean, tmp_path / "service")
    manifest = json.loads((zone / MANIFEST_NAME).read_text(encoding="utf-8"))
    signed = sign_record(load_private_key_file(service, missing_hint=""), manifest, signer="privacy-step")
    (zone / MANIFEST_NAME).write_text(json.dumps(signed), encoding="utf-8")
    assert require_clean_table(zone / "customers.parquet").manifest_id == manifest["manifest_id"]


def test_keyring_step_limited_to_manifests_cannot_sign_feature_tables(clean_zone_factory, tmp_path, monkeypatch):
    from features.build import build_features

    zone = clean_zone_factory(bank())
    local_public = trusted_step_keys()[0].public_key
    keyring = tmp_path / "keyring.yaml"
    keyring.write_text(f'steps:\n  privacy-step: {{public_key: "{local_public}", signs: [manifest]}}\n',
                       encoding="utf-8")
    monkeypatch.setenv("KEQUN_KEYRING", str(keyring))
    with pytest.raises(LineageError, match="not a trusted step key for feature tables"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet", horizon_days=HORIZON)
    assert not (tmp_path / "f.parquet").exists()


@pytest.fixture
def feature_table(clean_zone_factory, tmp_path) -> Path:
    from features.build import build_features

    zone = clean_zone_factory(bank())
    out = tmp_path / "out" / "features.parquet"
    build_features(clean_dir=zone, snapshot=SNAP, out=out, horizon_days=HORIZON)
    return out


def _rewrite(path: Path, table: pa.Table, lineage: dict) -> None:
    meta = dict(table.schema.metadata or {})
    meta[PARQUET_LINEAGE_KEY] = json.dumps(lineage, ensure_ascii=False).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def test_feature_table_carries_the_signed_manifest(feature_table):
    lineage = read_parquet_lineage(feature_table)
    assert lineage["manifest"]["signature"]["alg"] == "ed25519" and lineage["signature"]["alg"] == "ed25519"
    assert lineage["manifest"]["manifest_id"] == lineage["manifest_id"]
    assert len(lineage["table_sha256"]) == 64
    assert require_clean_table(feature_table).kind == "features"


def test_edited_feature_table_is_refused(feature_table, tmp_path, mlflow_uri):
    table = pq.read_table(feature_table)
    lineage = read_parquet_lineage(feature_table)
    frame = table.to_pandas()
    frame["customer_name"] = "王伟"  # a raw name column added, the signed lineage kept
    edited = tmp_path / "edited.parquet"
    _rewrite(edited, pa.Table.from_pandas(frame, preserve_index=False), lineage)
    refused(run_train(edited, tmp_path), "the table changed after `kequn features` wrote it")


def test_edited_embedded_lineage_is_refused(feature_table, tmp_path):
    table = pq.read_table(feature_table)
    lineage = read_parquet_lineage(feature_table)
    lineage["manifest"]["status"] = "passed"
    lineage["manifest"]["residual_scan"] = {"clean": True, "findings": 0, "edited": True}
    _rewrite(tmp_path / "a.parquet", table, lineage)
    with pytest.raises(LineageError, match="the embedded lineage: the signature does not verify"):
        require_clean_table(tmp_path / "a.parquet")
    lineage = read_parquet_lineage(feature_table)
    lineage["snapshot"] = "2099-01-01"
    _rewrite(tmp_path / "b.parquet", table, lineage)
    with pytest.raises(LineageError, match="embedded lineage: the signature does not verify"):
        require_clean_table(tmp_path / "b.parquet")


def test_hand_written_embedded_lineage_saying_passed_is_refused(tmp_path, mlflow_uri):
    """What the firewall trusted before: a lineage whose clean zone is gone and that says passed."""
    frame = raw_customers()
    lineage = {"kind": "features", "manifest_id": "m", "policy_hash": "p", "key_fingerprint": "k",
               "clean_dir": str(tmp_path / "gone"), "status": "passed"}
    _rewrite(tmp_path / "raw.parquet", pa.Table.from_pandas(frame, preserve_index=False), lineage)
    refused(run_train(tmp_path / "raw.parquet", tmp_path), "the embedded lineage is not signed")


def test_a_missing_named_step_key_is_one_line(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    raw_customers(40).to_csv(raw / "customers.csv", index=False)
    env = {**os.environ, STEP_KEY_ENV: str(tmp_path / "nope.key"), "KEQUN_PSEUDONYM_KEY": KEY.decode()}
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli.main", "-q", "pseudonymise", str(raw), "--out",
                           str(tmp_path / "clean")], capture_output=True, text=True, env=env, timeout=300)
    refused(proc, "nope.key: no such private key")
    assert not (tmp_path / "clean").exists()


def test_default_step_key_is_created_private_on_first_use(tmp_path, monkeypatch):
    from kequn.signing import ensure_step_key, step_key_path

    monkeypatch.delenv(STEP_KEY_ENV)
    monkeypatch.setenv("KEQUN_KEY_DIR", str(tmp_path / "keys"))
    _, note = ensure_step_key()
    path = step_key_path()
    assert path == tmp_path / "keys" / "steps" / "privacy.key" and "created the privacy step's signing key" in note
    assert (path.stat().st_mode & 0o777) == 0o600
    assert ensure_step_key()[1] is None  # reused, not replaced
    path.chmod(0o644)
    with pytest.raises(Exception, match="readable by group or others"):
        ensure_step_key()


def test_publish_privacy_gate_refuses_an_unsigned_manifest_on_disk(clean, tmp_path):
    from pipelines.gates import load_gates, privacy_gate

    lineage = require_clean_table(clean / "customers.parquet")
    tags = lineage.tags()
    assert tags["kequn.manifest_key_id"] == fingerprint(trusted_step_keys()[0].public_key)
    assert privacy_gate(tags, load_gates(None))["passed"] is True
    zone = copy_zone(clean, tmp_path / "unsigned")
    manifest = json.loads((zone / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest.pop("signature")
    (zone / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    result = privacy_gate({**tags, "kequn.clean_dir": str(zone)}, load_gates(None))
    assert result["passed"] is False and "not signed by the privacy step" in result["detail"]


def _resign(path: Path, out: Path, **changes) -> None:
    """``path``'s table with its lineage changed and signed again by the trusted step key
    (what `kequn features` itself could have written)."""
    from kequn.signing import SIGNATURE_KEY, ensure_step_key

    table = pq.read_table(path)
    body = {k: v for k, v in read_parquet_lineage(path).items() if k != SIGNATURE_KEY}
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    key, _ = ensure_step_key()
    _rewrite(out, table, sign_record(key, body, signer="privacy-step"))


def test_feature_table_is_signed_with_the_per_column_digest_and_tables_signed_before_still_verify(
        feature_table, tmp_path):
    from kequn.lineage import COLUMN_DIGEST, table_data_sha256

    assert read_parquet_lineage(feature_table)["table_digest"] == COLUMN_DIGEST
    # a table signed before the per-column digest: whole-table digest, no table_digest field
    legacy = tmp_path / "legacy.parquet"
    _resign(feature_table, legacy, table_digest=None,
            table_sha256=table_data_sha256(pq.read_table(feature_table)))
    assert "table_digest" not in read_parquet_lineage(legacy)
    assert require_clean_table(legacy).kind == "features"
    # ... and an edit of such a table is still refused
    frame = pq.read_table(legacy).to_pandas()
    frame.loc[0, "aum"] = 1e9
    edited = tmp_path / "legacy_edited.parquet"
    _rewrite(edited, pa.Table.from_pandas(frame, preserve_index=False), read_parquet_lineage(legacy))
    with pytest.raises(LineageError, match="the table changed after `kequn features` wrote it"):
        require_clean_table(edited)


def test_the_digest_kind_cannot_be_downgraded_or_unknown(feature_table, tmp_path):
    from kequn.lineage import table_data_sha256

    table = pq.read_table(feature_table)
    # downgrade without the key: the old digest put in, table_digest removed, signature kept
    lineage = read_parquet_lineage(feature_table)
    lineage.pop("table_digest")
    lineage["table_sha256"] = table_data_sha256(table)
    _rewrite(tmp_path / "down.parquet", table, lineage)
    with pytest.raises(LineageError, match="signature does not verify"):
        require_clean_table(tmp_path / "down.parquet")
    # a digest kind this kequn does not know (signed): refused, never skipped
    _resign(feature_table, tmp_path / "new.parquet", table_digest="sha3-something-v9")
    with pytest.raises(LineageError, match="unknown data digest"):
        require_clean_table(tmp_path / "new.parquet")
    # a per-column digest over other data (signed by the key, the file then edited)
    frame = table.to_pandas()
    frame.loc[1, "aum"] = 123.0
    _rewrite(tmp_path / "ed.parquet", pa.Table.from_pandas(frame, preserve_index=False),
             read_parquet_lineage(feature_table))
    with pytest.raises(LineageError, match="the table changed after `kequn features` wrote it"):
        require_clean_table(tmp_path / "ed.parquet")
