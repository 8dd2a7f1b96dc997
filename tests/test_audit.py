"""The hash-chained audit trail in the tracking store: each tamper is performed and detected,
concurrent writers keep one chain, and a concurrent approval fails exactly one side cleanly."""

from __future__ import annotations

import json
import multiprocessing
import os

import pandas as pd
import pytest

from pipelines import audit
from tests.conftest import kequn


@pytest.fixture
def trail(mlflow_uri):
    """A client and a trail of four entries; returns (client, run ids by seq)."""
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking

    configure_tracking()
    client = MlflowClient()
    for i, action in enumerate(("publish", "approve", "promote", "publish"), start=1):
        with audit.locked(client):
            audit.append(client, audit.make_entry(action, actor=f"p{i}", model="m", version=str(i)))
    entries = audit.verify_chain(client)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    return client, {e["seq"]: e["run_id"] for e in entries}


def broken(client, message: str) -> None:
    with pytest.raises(audit.AuditChainError) as info:
        audit.verify_chain(client)
    assert str(info.value) == message


def test_intact_trail_and_cli(trail, capsys):
    client, _ = trail
    code, out, err = kequn(capsys, "audit", "verify")
    assert code == 0, err
    assert out.strip() == "audit trail (kequn-audit): 4 entries, chain intact; last: #4 publish by p4"
    entries = audit.verify_chain(client)
    assert entries[1]["prev"] == entries[0]["hash"] and entries[0]["prev"] == audit.GENESIS


def test_an_edited_entry_is_detected(trail, capsys):
    client, runs = trail
    entry = json.loads(client.get_run(runs[2]).data.tags[audit.ENTRY_TAG])
    entry["actor"] = "someone-else"  # the attack: rewrite who approved
    client.set_tag(runs[2], audit.ENTRY_TAG, json.dumps(entry))
    broken(client, "audit trail: entry 2 was edited (its content no longer matches its hash)")
    code, _, err = kequn(capsys, "audit", "verify")
    assert code == 1 and err.strip() == ("kequn: error: audit trail: entry 2 was edited (its content no longer "
                                         "matches its hash)")


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(trail):
    client, runs = trail
    entry = json.loads(client.get_run(runs[2]).data.tags[audit.ENTRY_TAG])
    entry["actor"] = "someone-else"
    client.set_tag(runs[2], audit.ENTRY_TAG, json.dumps(entry))
    client.set_tag(runs[2], audit.HASH_TAG, audit.entry_hash(entry))  # a careful forger
    broken(client, "audit trail: entry 3 does not follow entry 2 (reordered, or an entry before it was replaced)")


def test_a_deleted_entry_is_detected(trail):
    client, runs = trail
    client.delete_run(runs[3])
    broken(client, f"audit trail: entry 3 was deleted (run {runs[3]})")


def test_a_hard_removed_entry_is_detected(trail):
    from mlflow.tracking._tracking_service.utils import _get_store

    client, runs = trail
    _get_store()._hard_delete_run(runs[2])  # what `mlflow gc` does: the row is gone
    broken(client, "audit trail: entry 2 is missing (removed from the store)")


def test_a_cut_tail_is_detected(trail):
    from mlflow.tracking._tracking_service.utils import _get_store

    client, runs = trail
    head = client.get_experiment_by_name(audit.AUDIT_EXPERIMENT).tags[audit.HEAD_TAG]
    _get_store()._hard_delete_run(runs[4])
    broken(client, f"audit trail: the head says {head!r} but the trail ends at entry 3 (entries removed from "
                   "the end, or the head was edited)")


def test_reordered_entries_are_detected(trail):
    client, runs = trail
    client.set_tag(runs[2], audit.SEQ_TAG, "00000003")  # the attack: swap their numbers
    client.set_tag(runs[3], audit.SEQ_TAG, "00000002")
    broken(client, "audit trail: entry 2 carries another number (3): reordered")
    for seq, run in ((3, runs[2]), (2, runs[3])):  # a careful forger also rewrites the entries
        entry = json.loads(client.get_run(run).data.tags[audit.ENTRY_TAG])
        entry["seq"] = seq
        client.set_tag(run, audit.ENTRY_TAG, json.dumps(entry))
        client.set_tag(run, audit.HASH_TAG, audit.entry_hash(entry))
    broken(client, "audit trail: entry 2 does not follow entry 1 (reordered, or an entry before it was replaced)")


# --------------------------------------------------------------------------------------------
# two processes, one SQLite store


def _appender(uri: str, who: str, n: int, barrier, results) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking

    configure_tracking()
    client = MlflowClient()
    barrier.wait()
    try:
        for i in range(n):
            with audit.locked(client):
                audit.append(client, audit.make_entry("publish", actor=who, model="m", version=str(i)))
        results.put(who)
    except Exception as exc:  # reported to the parent as text
        results.put(f"{who}: {type(exc).__name__}: {exc}")


def _approver(uri: str, who: str, barrier, results) -> None:
    os.environ.update({"MLFLOW_TRACKING_URI": uri, "KEQUN_USER": who, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    from pipelines.registry import commit_approval, prepare_approval

    prepared = prepare_approval(name="churn-model", version="1", reason=f"by {who}")
    barrier.wait()  # both have read the version as pending and signed what they saw
    try:
        results.put((who, "won", commit_approval(prepared)["summary"]))
    except Exception as exc:  # reported to the parent as text
        results.put((who, type(exc).__name__, str(exc)))


def _run_two(target, args_of) -> list:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_of(who), barrier, results)) for who in ("bob", "carol")]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return out


def test_concurrent_writers_keep_one_numbered_chain(mlflow_uri):
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking

    configure_tracking()
    MlflowClient().search_experiments()  # create the schema once, before the two writers
    assert sorted(_run_two(_appender, lambda who: (mlflow_uri, who, 6))) == ["bob", "carol"]
    entries = audit.verify_chain(MlflowClient())
    assert [e["seq"] for e in entries] == list(range(1, 13))
    assert sorted(e["actor"] for e in entries) == ["bob"] * 6 + ["carol"] * 6


def test_two_concurrent_approvals_exactly_one_wins_and_both_are_in_the_trail(mlflow_uri, tmp_path, monkeypatch,
                                                                           clean_zone_factory):
    from mlflow import MlflowClient

    from pipelines.registry import publish
    from tests.test_registry_support import make_run

    monkeypatch.setenv("KEQUN_USER", "alice")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    publish(run_id=make_run(tmp_path, clean_dir=clean), name="churn-model")
    outcomes = sorted(_run_two(_approver, lambda who: (mlflow_uri, who)), key=lambda o: o[1] != "won")
    assert [o[1] for o in outcomes] == ["won", "ConcurrentChange"], outcomes
    winner, loser = outcomes[0][0], outcomes[1][0]
    assert f"approved by {winner}" in outcomes[0][2]
    assert f"it was approved by {winner} while this approve was being prepared; nothing was written" in outcomes[1][2]
    tags = MlflowClient().get_model_version("churn-model", "1").tags
    assert tags["approval_status"] == "approved" and tags["kequn.approved_by"] == winner
    entries = audit.verify_chain(MlflowClient())
    assert [(e["action"], e["actor"]) for e in entries] == [("publish", "alice"), ("approve", winner),
                                                            ("conflict", loser)]
    assert entries[2]["attempted"] == "approve"


# --------------------------------------------------------------------------------------------
# the lock's edge cases (the race CI hit: a lock read before its tags are visible)


def _client(mlflow_uri):
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking

    configure_tracking()
    return MlflowClient()


def test_a_fresh_lock_whose_tags_are_not_visible_is_not_broken(mlflow_uri):
    client = _client(mlflow_uri)
    # what a second writer sees in the instant between the lock's row and its tags: no "since"
    client.create_registered_model(audit.LOCK_MODEL)
    with pytest.raises(audit.RegistryError, match="the audit trail is locked by another kequn command"):
        with audit.locked(client, timeout=0.5):
            pass  # pragma: no cover - must not be reached
    assert client.get_registered_model(audit.LOCK_MODEL).name == audit.LOCK_MODEL  # still held


def test_a_stale_lock_is_broken_and_a_broken_holder_does_not_release_the_new_lock(mlflow_uri):
    import time

    client = _client(mlflow_uri)
    client.create_registered_model(audit.LOCK_MODEL, tags={"holder": "crashed:1:x",
                                                          "since": f"{time.time() - 10_000:.3f}"})
    with audit.locked(client, timeout=5):
        holder = client.get_registered_model(audit.LOCK_MODEL).tags["holder"]
        assert holder != "crashed:1:x"
        # the lock is broken under us and another writer takes it; leaving must not delete theirs
        client.delete_registered_model(audit.LOCK_MODEL)
        client.create_registered_model(audit.LOCK_MODEL, tags={"holder": "other:2:y", "since": f"{time.time():.3f}"})
    assert client.get_registered_model(audit.LOCK_MODEL).tags["holder"] == "other:2:y"
