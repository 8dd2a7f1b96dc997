"""Governance that holds against a careless or dishonest user: each test performs the attack.

Signed approvals and promotions against a reviewed keyring, `kequn verify` and load_champion
(an approval tag set by hand, an alias moved by hand, a swapped model file), the reviewed gates
file digest, keys, and identity notes. Real MLflow SQLite store, real Ed25519 keys."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kequn.errors import RegistryError
from pipelines.cli.main import main
from tests.test_registry_support import bank_frame, make_run

MODEL = "churn-model"


def kequn(capsys, *argv: str, quiet: bool = True) -> tuple[int, str, str]:
    code = 0
    try:
        main(["-q", *argv] if quiet else list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(mlflow_uri, tmp_path, monkeypatch, clean_zone_factory):
    """A SQLite store, a private key folder outside the repo and an empty keyring."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.setenv("KEQUN_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    keyring = tmp_path / "keyring.yaml"
    keyring.write_text("people: {}\n", encoding="utf-8")
    monkeypatch.setenv("KEQUN_KEYRING", str(keyring))
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    return {"tmp": tmp_path, "keyring": keyring, "clean": clean}


def people(store, **roles: list[str]) -> dict[str, str]:
    """Create a key per person and write the keyring listing them with ``roles``."""
    from pipelines.signing import init_key

    lines, public = ["people:"], {}
    for name, person_roles in roles.items():
        _, public[name] = init_key(name)
        lines.append(f"  {name}: {{public_key: \"{public[name]}\", roles: [{', '.join(person_roles)}]}}")
    store["keyring"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return public


def as_user(monkeypatch, name: str) -> None:
    monkeypatch.setenv("KEQUN_USER", name)


def signed_champion(store, monkeypatch, *, seed: int = 0) -> str:
    """alice trains and publishes, bob approves, carol promotes: all signed. Returns the version."""
    from pipelines.registry import approve, promote, publish

    as_user(monkeypatch, "alice")
    run = make_run(store["tmp"], clean_dir=store["clean"], seed=seed)
    version = publish(run_id=run, name=MODEL)["version"]
    as_user(monkeypatch, "bob")
    approve(name=MODEL, version=version, reason="gates reviewed")
    as_user(monkeypatch, "carol")
    promote(name=MODEL, version=version)
    return version


def test_signed_chain_verifies_and_loads(store, monkeypatch, capsys):
    from mlflow import MlflowClient

    from pipelines.governance import load_champion

    people(store, alice=["author"], bob=["reviewer"], carol=["owner"])
    signed_champion(store, monkeypatch)
    tags = MlflowClient().get_model_version(MODEL, "1").tags
    record = json.loads(tags["kequn.approval.record"])
    assert record["approver"] == "bob" and record["author"] == "alice" and len(record["artifact_sha256"]) == 64
    assert record["gates_file_sha256"] == tags["kequn.gates_sha256"] and tags["identity"] == "self-declared"
    code, out, err = kequn(capsys, "verify", "--name", MODEL, "--alias", "champion")
    assert code == 0, err
    assert "v1 (@champion): approval by bob, promotion by carol verified" in out
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("kequn-champion-*"))
    model = load_champion(MODEL)
    scores = model.predict(bank_frame(5)[["aum_trend", "txn_count_90d"]])
    assert scores.shape == (400, 2)
    assert set(Path(tempfile.gettempdir()).glob("kequn-champion-*")) == before  # the verified copy is removed


def test_an_approval_tag_set_by_hand_fails_verify_and_promote(store, monkeypatch, capsys):
    from mlflow import MlflowClient

    from pipelines.governance import load_champion
    from pipelines.registry import promote, publish

    people(store, alice=["author"], bob=["reviewer"], carol=["owner"])
    signed_champion(store, monkeypatch)
    as_user(monkeypatch, "alice")
    v2 = publish(run_id=make_run(store["tmp"], clean_dir=store["clean"], seed=1), name=MODEL)["version"]
    client = MlflowClient()
    client.set_model_version_tag(MODEL, v2, "approval_status", "approved")  # the attack
    code, _, err = kequn(capsys, "verify", "--name", MODEL, "--version", v2)
    assert code == 5 and err.strip() == (f"kequn: error: approval of {MODEL} v{v2}: no signed record (tag "
                                         "kequn.approval.record); it was not made by `kequn` or was set by hand")
    v1 = client.get_model_version(MODEL, "1").tags  # copy a genuine approval from v1
    for key in ("kequn.approval.record", "kequn.approval.signature"):
        client.set_model_version_tag(MODEL, v2, key, v1[key])
    code, _, err = kequn(capsys, "verify", "--name", MODEL, "--version", v2)
    assert code == 5 and "the signed record is for version '1', not '2' (copied from another version)" in err
    as_user(monkeypatch, "carol")
    with pytest.raises(RegistryError, match="copied from another version"):
        promote(name=MODEL, version=v2)
    client.set_registered_model_alias(MODEL, "champion", v2)  # and the alias moved by hand
    with pytest.raises(RegistryError, match="copied from another version"):
        load_champion(MODEL)


def test_an_alias_moved_by_hand_fails_verify_and_load_champion(store, monkeypatch, capsys):
    from mlflow import MlflowClient

    from pipelines.governance import load_champion

    people(store, alice=["author"], bob=["reviewer"], carol=["owner"])
    signed_champion(store, monkeypatch)
    signed_champion(store, monkeypatch, seed=1)  # v2 properly promoted; v1 keeps its old signed promotion
    MlflowClient().set_registered_model_alias(MODEL, "champion", "1")  # the attack: back to v1 by hand
    code, _, err = kequn(capsys, "verify", "--name", MODEL, "--alias", "champion")
    assert code == 5
    assert err.strip() == ("kequn: error: @champion points at churn-model v1, but the audit trail's last promotion "
                           "of @champion is v2 (alias moved outside kequn)")
    with pytest.raises(RegistryError, match="alias moved outside kequn"):
        load_champion(MODEL)
    code, out, err = kequn(capsys, "promote", "--name", MODEL, "--version", "1", "--by", "carol")
    assert code != 0 and "already holds @champion" in err  # the way back is a signed promotion of v2 or v1


def test_a_swapped_model_file_fails_verify_and_load_champion(store, monkeypatch, capsys):
    from mlflow import MlflowClient

    from pipelines.governance import load_champion

    people(store, alice=["author"], bob=["reviewer"], carol=["owner"])
    signed_champion(store, monkeypatch)
    other = make_run(store["tmp"], clean_dir=store["clean"], strength="weak")
    client = MlflowClient()
    target = Path(client.get_model_version_download_uri(MODEL, "1").removeprefix("file://"))
    run = client.get_run(other)
    logged = client.search_logged_models(experiment_ids=[run.info.experiment_id],
                                         filter_string=f"source_run_id='{other}'")
    weak = Path(logged[0].artifact_location.removeprefix("file://")) / "model.skops"
    assert (target / "model.skops").is_file() and weak.is_file()
    shutil.copyfile(weak, target / "model.skops")  # the attack: another model's file
    code, _, err = kequn(capsys, "verify", "--name", MODEL, "--alias", "champion")
    assert code == 5 and "the model artifact's SHA-256 no longer matches the approved one (files swapped)" in err
    with pytest.raises(RegistryError, match="files swapped"):
        load_champion(MODEL)


def test_signing_refusals_are_one_line_and_leave_the_registry_unchanged(store, monkeypatch, capsys):
    from mlflow import MlflowClient

    from pipelines.registry import publish
    from pipelines.signing import init_key, key_path

    public = people(store, alice=["author"], bob=["reviewer"], carol=["owner"])
    as_user(monkeypatch, "alice")
    publish(run_id=make_run(store["tmp"], clean_dir=store["clean"]), name=MODEL)
    client = MlflowClient()
    before = dict(client.get_model_version(MODEL, "1").tags)

    def refused(message: str, *argv: str) -> None:
        code, _, err = kequn(capsys, *argv)
        assert code != 0 and message in err, err
        assert len(err.strip().splitlines()) == 1
        assert dict(client.get_model_version(MODEL, "1").tags) == before

    approve = ("approve", "--name", MODEL, "--version", "1", "--approver")
    refused("'dave' is not in the keyring", *approve, "dave")
    refused("'carol' does not hold the reviewer role", *approve, "carol")
    refused("approving one's own run is not allowed", *approve, " ALICE ")
    refused("approving one's own run is not allowed", *approve, "ａｌｉｃｅ")  # full-width spelling
    os.chmod(key_path("bob"), 0o644)
    refused("private key is readable by group or others (mode 0644)", *approve, "bob")
    os.chmod(key_path("bob"), 0o600)
    os.remove(key_path("bob"))
    refused("no signing key for 'bob'", *approve, "bob")
    init_key("bob")  # a new key that the keyring does not list
    refused("this private key is not the key the keyring", *approve, "bob")
    assert "ed25519:" in public["bob"]
    refused("is not approved (it is pending", "promote", "--name", MODEL, "--version", "1", "--by", "carol")
    refused("--alias 'bad alias!'", "promote", "--name", MODEL, "--version", "1", "--alias", "bad alias!",
            "--by", "carol")


def test_keys_init(store, monkeypatch, capsys):
    from pipelines.signing import REPO_ROOT, load_keyring

    code, out, err = kequn(capsys, "keys", "init", "--name", "li.reviewer", quiet=False)
    assert code == 0, err
    key = store["tmp"] / "keys" / "li.reviewer.key"
    assert key.is_file() and (key.stat().st_mode & 0o777) == 0o600
    assert "keep it secret" in err and "PRIVATE" not in out
    line = out.splitlines()[-1]
    assert line.startswith('  li.reviewer: {public_key: "ed25519:') and line.endswith("roles: [reviewer]}")
    store["keyring"].write_text("people:\n" + line + "\n", encoding="utf-8")
    assert load_keyring().person("LI.REVIEWER").roles == ["reviewer"]
    code, _, err = kequn(capsys, "keys", "init", "--name", "li.reviewer")
    assert code == 1 and "already exists; it is never overwritten" in err
    monkeypatch.setenv("KEQUN_KEY_DIR", str(REPO_ROOT / "conf" / "keys"))
    code, _, err = kequn(capsys, "keys", "init", "--name", "x")
    assert code == 1 and "inside the repository" in err and not (REPO_ROOT / "conf" / "keys" / "x.key").exists()
    code, _, err = kequn(capsys, "keys", "init", "--name", "../evil")
    assert code == 1 and "a person's name is letters" in err


def test_gates_file_digest_is_recorded_and_an_unreviewed_file_is_marked_or_refused(store, monkeypatch, capsys):
    import mlflow

    from kequn.io import sha256_file
    from pipelines.gates import DEFAULT_GATES
    from pipelines.governance import load_governance

    assert sha256_file(DEFAULT_GATES) in load_governance().allowed_gates_sha256  # shipped defaults are reviewed
    as_user(monkeypatch, "alice")
    run = make_run(store["tmp"], clean_dir=store["clean"])
    code, out, err = kequn(capsys, "publish", "--run", run, "--name", MODEL)
    assert code == 0, err
    client = mlflow.MlflowClient()
    tags = client.get_model_version(MODEL, "1").tags
    assert tags["kequn.gates_sha256"] == sha256_file(DEFAULT_GATES) and "kequn.gates_file_unreviewed" not in tags

    lenient = store["tmp"] / "lenient.yaml"
    lenient.write_text("quality:\n  floors:\n    churn: {test_roc_auc: '>= 0.1'}\n", encoding="utf-8")
    code, out, err = kequn(capsys, "publish", "--run", run, "--name", MODEL, "--gates", str(lenient), quiet=False)
    assert code == 0 and "is not a reviewed gates file" in err and "gates file unreviewed" in out
    tags = client.get_model_version(MODEL, "2").tags
    assert tags["kequn.gates_sha256"] == sha256_file(lenient) and tags["kequn.gates_file_unreviewed"] == "true"
    card = mlflow.artifacts.load_text(tags["kequn.model_card"].replace(".html", ".md"))
    assert f"SHA-256 {sha256_file(lenient)}; UNREVIEWED" in card
    from pipelines.audit import verify_chain

    entry = verify_chain(client)[-1]
    assert entry["gates_sha256"] == sha256_file(lenient) and entry["gates_file_reviewed"] is False
    code, out, _ = kequn(capsys, "registry", "--name", MODEL)
    assert "pending (gates unreviewed)" in next(line for line in out.splitlines() if line.startswith("v2 "))

    strict = store["tmp"] / "governance.yaml"
    strict.write_text(f"allowed_gates_sha256: [{sha256_file(DEFAULT_GATES)}]\nunreviewed_gates: refuse\n",
                      encoding="utf-8")
    monkeypatch.setenv("KEQUN_GOVERNANCE", str(strict))
    code, _, err = kequn(capsys, "publish", "--run", run, "--name", MODEL, "--gates", str(lenient))
    assert code == 1 and "is not pinned in" in err and "unreviewed_gates is 'refuse'" in err
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 2  # nothing registered


def test_identity_is_self_declared_on_a_local_store_and_required_elsewhere(store, monkeypatch, capsys):
    import mlflow

    as_user(monkeypatch, "alice")
    run = make_run(store["tmp"], clean_dir=store["clean"])
    code, out, err = kequn(capsys, "publish", "--run", run, "--name", MODEL, quiet=False)
    assert code == 0 and err.count("identities are self-declared") == 1
    code, out, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--approver", "bob", quiet=False)
    assert code == 0 and err.count("identities are self-declared") == 1 and "unsigned, identity self-declared" in out
    tags = mlflow.MlflowClient().get_model_version(MODEL, "1").tags
    assert tags["identity"] == "self-declared" and tags["kequn.approval.signature"] == "unsigned"
    code, out, err = kequn(capsys, "verify", "--name", MODEL, "--version", "1")
    assert code == 5 and "unsigned (by 'bob', identity self-declared); nothing proves who did it" in err
    code, out, err = kequn(capsys, "registry", quiet=False)
    assert "identities are self-declared" in err and "approved (unsigned)" in out

    # a tracking server: the acting person is the authenticated user, checked before any request
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    code, _, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--approver", "bob")
    assert code == 1 and "authenticated identity is required" in err
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "carol")
    code, _, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--approver", "bob")
    assert code == 1 and "--approver 'bob' is not the authenticated user 'carol'" in err
