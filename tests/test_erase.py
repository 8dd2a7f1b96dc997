"""``kequn erase`` (issue 17, item 4) on a tiny synthetic bank.

The people are gone from every clean table and the feature table, the zone still verifies,
builds features and trains, the model version trained on them is listed, a second run changes
nothing, and a wrong key, a bad ids file or a failure half-way leave every file as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kequn.io import find_tables, read_table, sha256_file
from kequn.lineage import MANIFEST_NAME, require_clean_table, require_passing_manifest
from privacy.tokens import TOKEN_RE, tokenise_series

KEY = "erase-test-pseudonymisation-key-0123456789abcdef"
SNAPSHOT = "2024-06-30"
N = 60


def cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", "-q", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    """Raw bank, its clean zone, and a store holding a model version trained on its features."""
    from features.build import build_features
    from pipelines.synth import generate
    from privacy.pseudonymise import pseudonymise

    work = tmp_path_factory.mktemp("erase")
    generate(n_customers=N, seed=11, out=work / "raw")
    pseudonymise(find_tables([work / "raw"]), out=work / "clean", policy_path=None, key=KEY.encode())
    import datetime as dt

    build_features(clean_dir=work / "clean", snapshot=dt.date.fromisoformat(SNAPSHOT), out=work / "features.parquet",
                   allow_partial_labels=True)
    env = {**os.environ, "KEQUN_PSEUDONYM_KEY": KEY, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
           "MLFLOW_REGISTRY_URI": f"sqlite:///{work / 'mlflow.db'}", "KEQUN_AUDIT_LOG": str(work / "audit.jsonl")}
    trained = cli("train", "--task", "propensity", "--data", str(work / "features.parquet"), "--trials", "1",
                  "--json", str(work / "train.json"), cwd=work, env=env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    run_id = json.loads((work / "train.json").read_text())["run_id"]
    cli("publish", "--run", run_id, "--name", "erase-propensity", cwd=work, env=env)  # registered either way
    customers = read_table(work / "raw" / "customers.csv", as_text=True)
    return {"work": work, "raw": work / "raw", "run_id": run_id, "ids": customers["customer_no"].tolist()}


@pytest.fixture
def zone(base, tmp_path) -> dict:
    """A private copy of the clean zone and the tracking store, and a feature table built from it."""
    import datetime as dt

    from features.build import build_features

    clean = tmp_path / "clean"
    shutil.copytree(base["work"] / "clean", clean)
    shutil.copy(base["work"] / "mlflow.db", tmp_path / "mlflow.db")
    build_features(clean_dir=clean, snapshot=dt.date.fromisoformat(SNAPSHOT), out=tmp_path / "features.parquet",
                   allow_partial_labels=True)
    env = {**os.environ, "KEQUN_PSEUDONYM_KEY": KEY, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "MLFLOW_REGISTRY_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "KEQUN_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    return {"dir": tmp_path, "clean": clean, "features": tmp_path / "features.parquet", "env": env,
            "records": tmp_path / "records"}


def snapshot_files(*paths: Path) -> dict[str, str]:
    out = {}
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        out.update({str(f): sha256_file(f) for f in files})
    return out


def strings_of(path: Path) -> set[str]:
    """Every string value of a Parquet table (cells, and tokens inside text)."""
    frame = pq.read_table(path).to_pandas()
    found: set[str] = set()
    for column in frame.columns:
        values = frame[column].dropna()
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            texts = values.astype(str)
            found.update(texts)
            found.update(t for text in texts for t in re.findall(TOKEN_RE, text))
    return found


def erase_args(zone: dict, ids: Path, *extra: str, raw: Path) -> list[str]:
    return ["erase", "--ids", str(ids), "--raw", str(raw), "--clean", str(zone["clean"]),
            "--features", str(zone["features"]), "--records", str(zone["records"]), *extra]


def test_erased_people_are_gone_and_the_zone_verifies_trains_and_lists_the_model(base, zone):
    victims = base["ids"][:3]
    ids = zone["dir"] / "ids.csv"
    pd.DataFrame({"customer_no": victims + ["KH9999999999"]}).to_csv(ids, index=False)
    tokens = set(tokenise_series(pd.Series(victims, dtype="string"), "CUSTOMER_NO", KEY.encode()))
    before = require_passing_manifest(zone["clean"])
    assert any(tokens & strings_of(zone["clean"] / o["file"]) for o in before["outputs"])  # they were there

    proc = cli(*erase_args(zone, ids, "--json", str(zone["dir"] / "erase.json"), raw=base["raw"]),
               cwd=zone["dir"], env=zone["env"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((zone["dir"] / "erase.json").read_text())
    assert result["people_found"] == 3 and result["people_requested"] == 4
    assert "1 id(s) not in the clean zone" in proc.stdout

    # Gone from every clean table and the feature table; every table verifies against the new signature.
    after = require_passing_manifest(zone["clean"])
    assert after["manifest_id"] != before["manifest_id"]
    for out in after["outputs"]:
        path = zone["clean"] / out["file"]
        require_clean_table(path)
        assert not tokens & strings_of(path), out["file"]
    lineage = require_clean_table(zone["features"])
    assert lineage.manifest_id == after["manifest_id"]
    assert not tokens & strings_of(zone["features"])
    assert result["features"][0]["rows_removed"] >= 1

    # The manifest records the erasure by count and digest, never an id or a token.
    entry = after["erasures"][-1]
    assert entry["people"] == 3 and entry["previous_manifest_id"] == before["manifest_id"]
    record_path = Path(result["record"])
    assert entry["record_sha256"] == result["record_sha256"]
    text = (zone["clean"] / MANIFEST_NAME).read_text()
    assert not any(t in text for t in tokens) and not any(v in text for v in victims)

    # The record (secure zone, owner-only) holds their tokens, never their customer numbers.
    assert record_path.parent == zone["records"] and (record_path.stat().st_mode & 0o077) == 0
    record = json.loads(record_path.read_text())
    assert set(record["tokens"]) == tokens
    others = {t for group in record["other_tokens"].values() for t in group}
    assert others and record["shared_tokens_kept"] == 0  # mobiles, IDs, cards, e-mails of theirs
    for out in after["outputs"]:
        assert not others & strings_of(zone["clean"] / out["file"]), out["file"]
    assert not any(v in record_path.read_text() for v in victims)

    # The version trained on them is listed for retraining; the audit trail has the erase entry.
    assert [(m["name"], m["run_id"]) for m in result["models"]] == [("erase-propensity", base["run_id"])]
    assert "erase-propensity v1" in proc.stdout
    audit = cli("audit", "verify", cwd=zone["dir"], env=zone["env"])
    assert audit.returncode == 0 and "erase" in audit.stdout, audit.stderr
    log = (zone["dir"] / "audit.jsonl").read_text()
    assert '"action": "erase"' in log and not any(t in log for t in tokens)

    # features and train accept the erased zone.
    rebuilt = cli("features", "--data", str(zone["clean"]), "--snapshot", SNAPSHOT, "--out",
                  str(zone["dir"] / "f2.parquet"), "--allow-partial-labels", cwd=zone["dir"], env=zone["env"])
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert not tokens & strings_of(zone["dir"] / "f2.parquet")
    trained = cli("train", "--task", "propensity", "--data", str(zone["features"]), "--trials", "1",
                  cwd=zone["dir"], env=zone["env"])
    assert trained.returncode == 0, trained.stderr[-2000:]


def test_a_second_run_with_the_same_ids_changes_nothing(base, zone):
    ids = zone["dir"] / "ids.csv"
    pd.DataFrame({"customer_no": base["ids"][3:5]}).to_csv(ids, index=False)
    first = cli(*erase_args(zone, ids, raw=base["raw"]), cwd=zone["dir"], env=zone["env"])
    assert first.returncode == 0, first.stderr
    files = snapshot_files(zone["clean"], zone["features"], zone["records"])
    audit_lines = (zone["dir"] / "audit.jsonl").read_text().count("\n")
    second = cli(*erase_args(zone, ids, raw=base["raw"]), cwd=zone["dir"], env=zone["env"])
    assert second.returncode == 0, second.stderr
    assert "nothing to erase" in second.stdout and "nothing changed" in second.stdout
    assert "2 of them erased before" in second.stdout
    assert snapshot_files(zone["clean"], zone["features"], zone["records"]) == files
    assert (zone["dir"] / "audit.jsonl").read_text().count("\n") == audit_lines


def test_a_wrong_key_is_refused_and_nothing_changes(base, zone):
    ids = zone["dir"] / "ids.csv"
    pd.DataFrame({"customer_no": base["ids"][:2]}).to_csv(ids, index=False)
    files = snapshot_files(zone["clean"], zone["features"])
    env = {**zone["env"], "KEQUN_PSEUDONYM_KEY": "another-key-that-did-not-pseudonymise-it-0123"}
    proc = cli(*erase_args(zone, ids, raw=base["raw"]), cwd=zone["dir"], env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("kequn: error:"), proc.stderr
    assert "fingerprint" in lines[0] and "differs from the manifest" in lines[0]
    assert snapshot_files(zone["clean"], zone["features"]) == files and not zone["records"].exists()


@pytest.mark.parametrize("content, extra, needle", [
    (None, (), "no such file"),
    ("customer_no\n", (), "holds no id"),
    ("customer_no\nKH1\n", ("--column", "cust"), "no column 'cust'"),
    ("a,b\nKH1,x\n", (), "no customer-number column"),
    ("customer_no\nKH0000000000\nKH0000000001\n", (), "none of the 2 id(s)"),
])
def test_bad_ids_are_one_line_and_change_nothing(base, zone, content, extra, needle):
    ids = zone["dir"] / "ids.csv"
    if content is not None:
        ids.write_text(content, encoding="utf-8")
    files = snapshot_files(zone["clean"], zone["features"])
    proc = cli(*erase_args(zone, ids, *extra, raw=base["raw"]), cwd=zone["dir"], env=zone["env"])
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("kequn: error:"), proc.stderr
    assert needle in lines[0], lines[0]
    assert not any(v in lines[0] for v in base["ids"])
    assert snapshot_files(zone["clean"], zone["features"]) == files and not zone["records"].exists()


def test_a_failure_while_swapping_leaves_every_file_as_it_was(base, zone, monkeypatch):
    """Fault injection: the second rename of the swap fails; the first is rolled back."""
    import kequn.io
    from pipelines.erase import erase

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "KEQUN_AUDIT_LOG"):
        monkeypatch.setenv(name, zone["env"][name])
    ids = zone["dir"] / "ids.csv"
    pd.DataFrame({"customer_no": base["ids"][:2]}).to_csv(ids, index=False)
    files = snapshot_files(zone["clean"], zone["features"])
    real = os.replace
    target = str(zone["features"])

    def flaky(src, dst):
        if str(dst) == target and ".erase-" in str(src):  # the new feature table, after the zone's swap
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(kequn.io.os, "replace", flaky)
    with pytest.raises(OSError):
        erase(ids_file=ids, raw=base["raw"], clean_dir=zone["clean"], features=[zone["features"]],
              key=KEY.encode(), records_dir=zone["records"])
    monkeypatch.setattr(kequn.io.os, "replace", real)
    assert snapshot_files(zone["clean"], zone["features"]) == files
    require_clean_table(zone["features"])
    assert not list(zone["records"].glob("*.json")) if zone["records"].exists() else True
    assert not [p for p in zone["dir"].iterdir() if p.name.startswith(".")]  # no staged leftovers


def test_their_tokens_inside_other_rows_text_are_redacted_and_shared_cells_kept(tmp_path):
    """Token-mode free text: a note of another customer that mentions their mobile loses it; a
    shared landline cell of another customer stays (it is that customer's data too) and is counted."""
    from kequn.signing import ensure_step_key, sign_record
    from privacy.erase import PersonTokens, stage_clean_zone

    me, other = "tk_abcdef_" + "a" * 16, "tk_abcdef_" + "b" * 16
    my_mobile, shared_phone = "tk_abcdef_" + "c" * 16, "tk_abcdef_" + "d" * 16
    clean = tmp_path / "clean"
    clean.mkdir()
    tables = {
        "customers": pd.DataFrame({"customer_no": [me, other], "landline": [shared_phone, shared_phone]}),
        "service_notes": pd.DataFrame({"customer_no": [other, me, other],
                                       "note": [f"客户提到联系人手机{my_mobile}已更新", f"本人{my_mobile}", None]}),
    }
    outputs = []
    for name, frame in tables.items():
        frame.to_parquet(clean / f"{name}.parquet", index=False)
        outputs.append({"table": name, "file": f"{name}.parquet", "sha256": sha256_file(clean / f"{name}.parquet"),
                        "rows": len(frame)})
    columns = {"customers": {"customer_no": {"entity": "CUSTOMER_NO", "action": "token", "outputs": ["customer_no"]},
                             "landline": {"entity": "CN_LANDLINE", "action": "token", "outputs": ["landline"]}},
               "service_notes": {"customer_no": {"entity": "CUSTOMER_NO", "action": "token",
                                                 "outputs": ["customer_no"]},
                                 "note": {"entity": "FREE_TEXT", "action": "redact", "outputs": ["note"]}}}
    manifest = {"manifest_id": "m1", "status": "passed", "policy_hash": "p", "key_fingerprint": "abcdef0123456789",
                "outputs": outputs, "columns": columns, "residual_scan": {"clean": True, "findings": 0}}
    key, _ = ensure_step_key()
    (clean / MANIFEST_NAME).write_text(json.dumps(sign_record(key, manifest, signer="privacy-step")))
    people = PersonTokens(requested=1, person={me}, other={"CN_MOBILE": {my_mobile}, "CN_LANDLINE": {shared_phone}},
                          in_raw=1)

    def record_for(previous, new_id, counts, found):
        return {"erasure_id": "e1", "erased_at": "2024-07-01T00:00:00+00:00"}, "0" * 64

    staged = stage_clean_zone(clean, people, record_for=record_for)
    try:
        assert staged.rows_removed == {"customers": 1, "service_notes": 1}
        assert staged.text_cells_redacted == 1 and staged.shared_tokens_kept == 1
        notes = pd.read_parquet(staged.tmp / "service_notes.parquet")
        assert notes["note"].iloc[0] == "客户提到联系人手机<手机号>已更新" and notes["note"].isna().iloc[1]
        assert len(notes) == 2
        customers = pd.read_parquet(staged.tmp / "customers.parquet")
        assert customers.to_dict("records") == [{"customer_no": other, "landline": shared_phone}]
        assert staged.manifest["erasures"][0]["previous_manifest_id"] == "m1"
        assert require_passing_manifest(staged.tmp)["manifest_id"] == staged.manifest["manifest_id"]
        assert snapshot_files(clean) and pd.read_parquet(clean / "customers.parquet").shape[0] == 2  # untouched
    finally:
        staged.discard()


def test_without_a_registry_to_consult_nothing_changes(base, zone):
    """The versions to retrain must be found: no store here is a refusal before any file changes."""
    ids = zone["dir"] / "ids.csv"
    pd.DataFrame({"customer_no": base["ids"][:1]}).to_csv(ids, index=False)
    elsewhere = zone["dir"] / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in zone["env"].items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    files = snapshot_files(zone["clean"], zone["features"])
    proc = cli(*erase_args(zone, ids, raw=base["raw"]), cwd=elsewhere, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "no MLflow store here" in lines[0], proc.stderr
    assert snapshot_files(zone["clean"], zone["features"]) == files and not zone["records"].exists()
    assert not [p for p in zone["dir"].iterdir() if p.name.startswith(".")]


def test_the_listed_model_versions_name_their_aliases(base, zone, monkeypatch):
    """A version serving as @champion is listed as such (MLflow's search leaves aliases empty)."""
    from mlflow import MlflowClient

    from pipelines.erase import affected_versions
    from privacy.erase import manifest_chain

    uri = zone["env"]["MLFLOW_TRACKING_URI"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias("erase-propensity", "champion", "1")
    found = affected_versions(manifest_chain(require_passing_manifest(zone["clean"])), zone["clean"])
    assert [(m["name"], m["version"], m["aliases"]) for m in found] == [("erase-propensity", "1", ["champion"])]
