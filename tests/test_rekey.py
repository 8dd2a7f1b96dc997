"""Key ids in tokens, refusal of a zone mixing keys, and `kequn rekey` on a small synthetic bank."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import shutil
import stat
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kequn.errors import LineageError
from kequn.io import find_tables, sha256_file
from kequn.lineage import MANIFEST_NAME, require_clean_table
from kequn.signing import ensure_step_key, sign_record, signed_body
from pipelines.cli.main import main
from privacy.keys import key_fingerprint
from privacy.tokens import (
    LEGACY_TOKEN_RE,
    TOKEN_DOMAIN,
    TOKEN_PATTERN,
    TOKEN_RE,
    column_key_ids,
    key_id_of,
    token_key_id,
    token_of,
    tokenise_series,
)
from tests.conftest import kequn, make_clean_zone
from tests.leakscan import find_leaks, raw_pii_values

OLD = "rekey-test-old-key-0123456789abcdef0123"
NEW = "rekey-test-new-key-fedcba9876543210fedc"
SNAPSHOT = "2024-06-30"


def test_token_format_carries_the_key_id_and_keeps_the_hmac():
    key = OLD.encode()
    token = tokenise_series(pd.Series(["138-1234-5678"]), "CN_MOBILE", key).iloc[0]
    assert re.fullmatch(TOKEN_PATTERN, token) and token == token_of("13812345678", "CN_MOBILE", key)
    assert token_key_id(token) == key_fingerprint(key)[:6] == key_id_of(key)
    # the 16 hex are the HMAC of the format before key ids: only the prefix changed
    legacy = hmac.new(key, TOKEN_DOMAIN + b"\x00CN_MOBILE\x0013812345678", hashlib.sha256).hexdigest()[:16]
    assert token.endswith("_" + legacy) and re.fullmatch(LEGACY_TOKEN_RE, "tk_" + legacy)
    assert token_key_id("tk_" + legacy) is None and token_key_id("tk_a") is None and token_key_id(None) is None
    other = token_of("13812345678", "CN_MOBILE", NEW.encode())
    assert token_key_id(other) != token_key_id(token) and re.findall(TOKEN_RE, f"客户{token}，{other}") == [token, other]


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> dict:
    """A 200-customer bank, its zone under OLD and one under NEW (made by plain pseudonymise)."""
    from pipelines.synth import generate
    from privacy.pseudonymise import pseudonymise

    work = tmp_path_factory.mktemp("rekey")
    generate(n_customers=200, seed=5, out=work / "raw")
    for name, key in (("clean", OLD), ("clean_new", NEW)):
        pseudonymise(find_tables([work / "raw"]), out=work / name, policy_path=None, key=key.encode())
    (work / "old.key").write_text(OLD)
    (work / "new.key").write_text(NEW)
    return {"work": work, "raw": work / "raw", "clean": work / "clean", "clean_new": work / "clean_new"}


def test_a_table_spliced_from_another_key_is_refused(bank, tmp_path, capsys):
    """The attack: customers pseudonymised under NEW put into a zone signed for OLD (re-signed)."""
    tables = {"customers": pd.read_parquet(bank["clean_new"] / "customers.parquet"),
              "accounts_monthly": pd.read_parquet(bank["clean"] / "accounts_monthly.parquet")}
    zone = make_clean_zone(tmp_path / "mixed", tables, key_fingerprint=key_fingerprint(OLD.encode()))
    assert require_clean_table(zone / "accounts_monthly.parquet")  # the table of the zone's key passes
    with pytest.raises(LineageError) as caught:
        require_clean_table(zone / "customers.parquet")
    message = str(caught.value)
    assert "customers.parquet" in message and "'customer_no'" in message
    assert key_id_of(NEW.encode()) in message and key_id_of(OLD.encode()) in message
    code, _, err = kequn(capsys, "features", "--data", str(zone), "--snapshot", SNAPSHOT,
                         "--out", str(tmp_path / "f.parquet"))
    assert code != 0 and err.startswith("kequn: error:") and err.count("\n") == 1 and "mix keys" in err
    assert not (tmp_path / "f.parquet").exists()


def test_tokens_without_key_id_are_refused_with_the_way_out(bank, tmp_path):
    frame = pd.read_parquet(bank["clean"] / "customers.parquet")
    frame["customer_no"] = "tk_" + frame["customer_no"].str.rsplit("_", n=1).str[1]  # the old format
    zone = make_clean_zone(tmp_path / "legacy", {"customers": frame}, key_fingerprint=key_fingerprint(OLD.encode()))
    with pytest.raises(LineageError, match=r"predates key ids.*kequn rekey"):
        require_clean_table(zone / "customers.parquet")


@pytest.fixture(scope="module")
def rekeyed(bank, tmp_path_factory) -> dict:
    """`kequn rekey` of the OLD zone to NEW, migrating a feature table built from the OLD zone."""
    from features.build import build_features

    work = tmp_path_factory.mktemp("rekeyed")
    build_features(clean_dir=bank["clean"], snapshot=dt.date.fromisoformat(SNAPSHOT), out=work / "features.parquet",
                   allow_partial_labels=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    mp.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{work / 'mlflow.db'}")
    mp.setenv("KEQUN_AUDIT_LOG", str(work / "audit.jsonl"))
    code = 0
    try:
        main(["-q", "rekey", "--raw", str(bank["raw"]), "--clean", str(bank["clean"]), "--out", str(work / "new"),
              "--old-key-file", str(bank["work"] / "old.key"), "--new-key-file", str(bank["work"] / "new.key"),
              "--map", str(work / "secure" / "map.parquet"), "--migrate", str(work / "features.parquet"),
              "--migrated", str(work / "migrated"), "--json", str(work / "rekey.json")])
    except SystemExit as exc:
        code = int(exc.code or 0)
    yield {"work": work, "code": code, "new": work / "new", "map": work / "secure" / "map.parquet",
           "features": work / "features.parquet", "migrated": work / "migrated" / "features.parquet", "mp": mp}
    mp.undo()


def test_rekey_builds_a_verified_zone_under_the_new_key_and_joins_survive(bank, rekeyed):
    assert rekeyed["code"] == 0
    new_kid, old_kid = key_id_of(NEW.encode()), key_id_of(OLD.encode())
    manifest = json.loads((rekeyed["new"] / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["key_fingerprint"] == key_fingerprint(NEW.encode())
    for item in manifest["outputs"]:
        path = rekeyed["new"] / item["file"]
        assert require_clean_table(path).key_fingerprint == manifest["key_fingerprint"]
        table = pq.read_table(path)
        for column in manifest["columns"][item["table"]]:
            info = manifest["columns"][item["table"]][column]
            if info["action"] == "token":
                assert column_key_ids(table[column]) == {new_kid}, (item["file"], column)
    # the new zone is the zone `kequn pseudonymise` makes under the new key (same tables)
    for item in manifest["outputs"]:
        assert pd.read_parquet(rekeyed["new"] / item["file"]).equals(pd.read_parquet(bank["clean_new"] / item["file"]))
    mapping = pd.read_parquet(rekeyed["map"])
    assert list(mapping.columns) == ["entity", "old_token", "new_token"]
    assert {token_key_id(t) for t in mapping["old_token"]} == {old_kid}
    assert {token_key_id(t) for t in mapping["new_token"]} == {new_kid}
    assert mapping["old_token"].is_unique and mapping["new_token"].is_unique
    lookup = dict(zip(mapping["old_token"], mapping["new_token"], strict=True))
    for table in ("customers", "transactions", "campaigns"):
        old, new = pd.read_parquet(bank["clean"] / f"{table}.parquet"), pd.read_parquet(rekeyed["new"] / f"{table}.parquet")
        assert old["customer_no"].map(lookup).tolist() == new["customer_no"].tolist(), table
    old_ids = pd.read_parquet(bank["clean"] / "customers.parquet")["customer_no"]
    assert old_ids.map(lookup).nunique() == old_ids.nunique() == 200  # 1:1
    assert stat.S_IMODE(rekeyed["map"].stat().st_mode) == 0o600
    assert find_leaks(rekeyed["map"].parent, raw_pii_values(bank["raw"])) == []


def test_rekey_is_audited_without_keys_or_tokens(rekeyed):
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking
    from pipelines import audit

    configure_tracking()
    entries = [e for e in audit.read(MlflowClient()) if e["action"] == "rekey"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["old_key_fingerprint"] == key_fingerprint(OLD.encode())
    assert entry["new_key_fingerprint"] == key_fingerprint(NEW.encode())
    assert entry["map_sha256"] == sha256_file(rekeyed["map"]) and entry["tokens"]["CUSTOMER_NO"] == 200
    text = json.dumps(entry)
    assert OLD not in text and NEW not in text and not re.search(TOKEN_RE, text)


def test_the_migrated_feature_table_verifies_under_the_new_key(rekeyed, tmp_path):
    from features.build import build_features

    lineage = require_clean_table(rekeyed["migrated"])
    assert lineage.key_fingerprint == key_fingerprint(NEW.encode())
    migrated, old = pd.read_parquet(rekeyed["migrated"]), pd.read_parquet(rekeyed["features"])
    assert column_key_ids(pq.read_table(rekeyed["migrated"])["customer_no"]) == {key_id_of(NEW.encode())}
    # the same features as a table built from the new zone, row by row
    build_features(clean_dir=rekeyed["new"], snapshot=dt.date.fromisoformat(SNAPSHOT), out=tmp_path / "f.parquet",
                   allow_partial_labels=True)
    fresh = pd.read_parquet(tmp_path / "f.parquet")
    assert len(migrated) == len(old) and migrated.drop(columns="customer_no").equals(old.drop(columns="customer_no"))
    assert migrated.sort_values("customer_no", ignore_index=True).equals(fresh.sort_values("customer_no",
                                                                                            ignore_index=True))
    # an old-key feature table spliced into the new zone's lineage does not pass
    assert require_clean_table(rekeyed["features"]).key_fingerprint == key_fingerprint(OLD.encode())


def _resign(zone: Path, edit) -> None:
    """Rewrite every table of ``zone`` with ``edit`` and re-sign its manifest (the step key holder)."""
    manifest = signed_body(json.loads((zone / MANIFEST_NAME).read_text(encoding="utf-8")))
    for item in manifest["outputs"]:
        path = zone / item["file"]
        edit(path)
        item["sha256"] = sha256_file(path)
    key, _ = ensure_step_key()
    (zone / MANIFEST_NAME).write_text(json.dumps(sign_record(key, manifest, signer="privacy-step")))


def test_rekey_migrates_a_zone_of_tokens_without_key_id(bank, tmp_path, monkeypatch, capsys):
    """The way out for a zone that predates key ids: rekey it; the map's old tokens are the old format."""
    legacy = tmp_path / "legacy"
    shutil.copytree(bank["clean"], legacy)

    def strip(path: Path) -> None:
        frame = pd.read_parquet(path)
        for column in frame.columns:
            if pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object:
                frame[column] = frame[column].str.replace(r"tk_[0-9a-f]{6}_", "tk_", regex=True)
        frame.to_parquet(path, index=False)

    _resign(legacy, strip)
    with pytest.raises(LineageError, match="predates key ids"):
        require_clean_table(legacy / "customers.parquet")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KEQUN_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    code, _, err = kequn(capsys, "rekey", "--raw", str(bank["raw"]), "--clean", str(legacy), "--out",
                         str(tmp_path / "new"), "--old-key-file", str(bank["work"] / "old.key"),
                         "--new-key-file", str(bank["work"] / "new.key"), "--map", str(tmp_path / "map.parquet"))
    assert code == 0, err
    mapping = pd.read_parquet(tmp_path / "map.parquet")
    assert mapping["old_token"].str.fullmatch(LEGACY_TOKEN_RE).all()
    lookup = dict(zip(mapping["old_token"], mapping["new_token"], strict=True))
    old = pd.read_parquet(legacy / "customers.parquet")["customer_no"]
    assert old.map(lookup).tolist() == pd.read_parquet(tmp_path / "new" / "customers.parquet")["customer_no"].tolist()


@pytest.mark.parametrize("case", ["same key", "wrong old key", "raw changed", "raw missing", "typo"])
def test_rekey_refusals_are_one_line_and_make_nothing(bank, tmp_path, monkeypatch, capsys, case):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    raw, old_key, new_key = bank["raw"], bank["work"] / "old.key", bank["work"] / "new.key"
    if case in ("raw changed", "raw missing"):
        raw = tmp_path / "raw"
        shutil.copytree(bank["raw"], raw, ignore=shutil.ignore_patterns("ground_truth", "rekeys"))
        if case == "raw changed":
            with (raw / "products.csv").open("a", encoding="utf-8") as fh:
                fh.write("\n")
        else:
            (raw / "campaigns.csv").unlink()
    args = ["rekey", "--raw", str(raw), "--clean", str(bank["clean"]), "--out", str(tmp_path / "new"),
            "--old-key-file", str(old_key), "--new-key-file", str(new_key), "--map", str(tmp_path / "map.parquet")]
    if case == "same key":
        args[args.index(str(new_key))] = str(old_key)
    elif case == "wrong old key":
        (tmp_path / "third.key").write_text("rekey-test-third-key-0000000000000000000")
        args[args.index(str(old_key))] = str(tmp_path / "third.key")
    elif case == "typo":
        args[args.index("--new-key-file")] = "--new-keyfile"
    code, _, err = kequn(capsys, *args)
    expect = {"same key": "the new key is the old key", "wrong old key": "differs from",
              "raw changed": "changed since", "raw missing": "no table 'campaigns'",
              "typo": "Did you mean '--new-key-file'"}[case]
    assert code != 0 and err.startswith("kequn: error:") and err.count("\n") == 1 and expect in err, err
    assert not (tmp_path / "new").exists() and not (tmp_path / "map.parquet").exists()
    assert OLD not in err and NEW not in err


def test_a_plan_list_migrates_and_a_foreign_token_is_refused(bank, rekeyed, tmp_path):
    from kequn.lineage import read_parquet_lineage, write_parquet_with_lineage
    from pipelines.planning import tokens_digest
    from pipelines.rekey import RekeyError, migrate_file

    old_manifest = json.loads((bank["clean"] / MANIFEST_NAME).read_text(encoding="utf-8"))
    new_manifest = json.loads((rekeyed["new"] / MANIFEST_NAME).read_text(encoding="utf-8"))
    ids = pd.read_parquet(bank["clean"] / "customers.parquet")["customer_no"].iloc[:20]
    listing = pd.DataFrame({"customer_no": ids, "priority": range(20), "action": "call"})
    lineage = {"kind": "plan", "manifest_id": old_manifest["manifest_id"], "key_fingerprint":
               old_manifest["key_fingerprint"], "rows": 20, "tokens_sha256": tokens_digest(listing["customer_no"])}
    write_parquet_with_lineage(listing, tmp_path / "plan.parquet", lineage)
    mapping = pd.read_parquet(rekeyed["map"])
    lookup = dict(zip(mapping["old_token"], mapping["new_token"], strict=True))
    done = migrate_file(tmp_path / "plan.parquet", tmp_path / "out" / "plan.parquet", lookup,
                        old_manifest=old_manifest, new_manifest=new_manifest, new_clean=rekeyed["new"],
                        map_sha256="0" * 64)
    assert done["kind"] == "plan" and done["rows"] == 20
    migrated = pd.read_parquet(tmp_path / "out" / "plan.parquet")
    assert migrated["customer_no"].tolist() == ids.map(lookup).tolist()
    assert migrated[["priority", "action"]].equals(listing[["priority", "action"]])
    meta = read_parquet_lineage(tmp_path / "out" / "plan.parquet")
    assert meta["key_fingerprint"] == new_manifest["key_fingerprint"]
    assert meta["manifest_id"] == new_manifest["manifest_id"]
    assert meta["tokens_sha256"] == tokens_digest(migrated["customer_no"])  # relink accepts it
    listing.loc[0, "customer_no"] = token_of("not-a-customer", "CUSTOMER_NO", OLD.encode())
    write_parquet_with_lineage(listing, tmp_path / "foreign.parquet", lineage)
    with pytest.raises(RekeyError, match="does not hold"):
        migrate_file(tmp_path / "foreign.parquet", tmp_path / "out" / "foreign.parquet", lookup,
                     old_manifest=old_manifest, new_manifest=new_manifest, new_clean=rekeyed["new"],
                     map_sha256="0" * 64)
    assert not (tmp_path / "out" / "foreign.parquet").exists()


@pytest.mark.parametrize("rows", ["last row group", "one row"])
def test_rows_of_another_key_spliced_into_a_table_are_refused(bank, tmp_path, rows):
    """The check reads Parquet statistics first: a row group of other tokens, or one row inside a
    row group, is caught all the same."""
    old = pd.read_parquet(bank["clean"] / "customers.parquet")
    new = pd.read_parquet(bank["clean_new"] / "customers.parquet")
    spliced = old.copy()
    picked = slice(150, 200) if rows == "last row group" else slice(77, 78)
    spliced.iloc[picked, spliced.columns.get_loc("customer_no")] = new["customer_no"].iloc[picked].to_numpy()
    zone = make_clean_zone(tmp_path / "z", {"customers": old}, key_fingerprint=key_fingerprint(OLD.encode()))
    assert require_clean_table(zone / "customers.parquet")
    spliced.to_parquet(zone / "customers.parquet", index=False, row_group_size=50)
    _resign(zone, lambda path: None)
    assert pq.read_metadata(zone / "customers.parquet").num_row_groups == 4
    with pytest.raises(LineageError, match=f"key id {key_id_of(NEW.encode())}, but the manifest's key has id"):
        require_clean_table(zone / "customers.parquet")


def test_apply_map_migrates_a_file_later_and_refuses_another_zone(bank, rekeyed, tmp_path, capsys):
    args = ["rekey", "--apply-map", str(rekeyed["map"]), "--clean", str(bank["clean"]), "--out", str(rekeyed["new"]),
            "--migrate", str(rekeyed["features"]), "--migrated", str(tmp_path / "later")]
    code, _, err = kequn(capsys, *args)
    assert code == 0, err
    later = tmp_path / "later" / "features.parquet"
    assert require_clean_table(later).key_fingerprint == key_fingerprint(NEW.encode())
    assert pd.read_parquet(later).equals(pd.read_parquet(rekeyed["migrated"]))
    wrong = [a if a != str(bank["clean"]) else str(bank["clean_new"]) for a in args]
    wrong[wrong.index(str(tmp_path / "later"))] = str(tmp_path / "wrong")
    code, _, err = kequn(capsys, *wrong)
    assert code != 0 and err.startswith("kequn: error:") and err.count("\n") == 1 and "maps manifest" in err
    assert not (tmp_path / "wrong").exists()
    code, _, err = kequn(capsys, *args[:1], "--apply-map", str(rekeyed["map"]), "--clean", str(bank["clean"]),
                         "--out", str(rekeyed["new"]), "--raw", str(bank["raw"]))
    assert code != 0 and "belong to a rotation" in err
