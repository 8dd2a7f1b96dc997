"""The registry's shared, hash-chained audit trail, kept in the tracking store itself.

Decision: every governance action (publish, reject, approve, promote, rollback, an erasure of
people from a clean zone (``erase``, model ``-``), a key rotation (``rekey``, model ``-``), and a refused concurrent attempt) is one **run** of the MLflow experiment ``kequn-audit``, so every user of the
tracking server sees the same trail with the same access control as the registry. The run's
tags hold the entry (``kequn.audit.entry``, canonical JSON), its sequence number
(``kequn.audit.seq``), the hash of the entry before it (``kequn.audit.prev``) and its own hash
(``kequn.audit.hash`` = SHA-256 of the canonical entry, which includes ``seq`` and ``prev``);
the experiment tag ``kequn.audit.head`` is ``"<seq>:<hash>"`` of the last entry.

Numbering never depends on a stale read: entries are appended only while holding the trail's
lock, a registered model named ``kequn-audit-lock`` that :func:`locked` creates (the store's
unique-name constraint makes creation atomic, for SQLite, SQL databases and a tracking server
alike) and deletes when done; a lock older than :data:`STALE_LOCK_SECONDS` (a crashed writer) is
broken. The registry also performs its compare-and-set under this lock.

Threats :func:`verify_chain` detects (each has a test): an entry **removed** (run deleted, or
hard-deleted so its number is missing), **edited** (hash mismatch), **reordered** (its ``prev``
no longer names the entry before it) or **cut from the end** (head mismatch). A writer with
store access could rewrite the whole suffix consistently; the signed approval and promotion
records and the per-version mirror tags (``kequn.audit.<seq>``) still carry the old hashes, and
``kequn verify`` checks them against the chain.

A local JSON-lines copy is also appended (optional, for grep): ``KEQUN_AUDIT_LOG`` when set,
else ``kequn_audit.jsonl`` beside a SQLite store, else none for other stores.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kequn.errors import RegistryError

AUDIT_FILE = "kequn_audit.jsonl"
AUDIT_EXPERIMENT = "kequn-audit"
LOCK_MODEL = "kequn-audit-lock"
ACTIONS = ("publish", "reject", "approve", "promote", "rollback", "conflict", "erase", "relink", "rekey")
TAG_PREFIX = "kequn.audit."
SEQ_TAG, PREV_TAG, HASH_TAG, ENTRY_TAG = "kequn.audit.seq", "kequn.audit.prev", "kequn.audit.hash", "kequn.audit.entry"
HEAD_TAG = "kequn.audit.head"
GENESIS = "0" * 64
STALE_LOCK_SECONDS = 120.0
LOCK_TIMEOUT_SECONDS = 60.0
MAX_REASON_CHARS = 1000
#: MLflow limits tag values; the mirrored entry is cut to stay well below.
MAX_TAG_CHARS = 4000


class AuditChainError(RegistryError):
    """The audit trail does not verify; the message names the first broken link."""


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (microseconds, so entries order by time)."""
    return datetime.now(timezone.utc).isoformat()


def audit_log_path(tracking_uri: str | None = None) -> Path | None:
    """Where the optional local copy lives for ``tracking_uri`` (see the module docstring)."""
    env = os.environ.get("KEQUN_AUDIT_LOG", "").strip()
    if env:
        return Path(env)
    if tracking_uri is None:
        from kequn.tracking import tracking_uri as current

        tracking_uri = current()
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///"):]).parent / AUDIT_FILE
    return None


def make_entry(action: str, *, actor: str, model: str, version: str, reason: str = "",
               **details: Any) -> dict[str, Any]:
    """A new audit entry (not yet written)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = {"ts": utc_now(), "action": action, "actor": actor, "model": model, "version": str(version),
             "reason": str(reason or "")[:MAX_REASON_CHARS]}
    entry.update(details)
    return entry


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of the canonical entry (``hash`` itself excluded)."""
    from pipelines.signing import canonical, sha256_text

    return sha256_text(canonical({k: v for k, v in entry.items() if k != "hash"}))


# --------------------------------------------------------------------------------------------
# the lock


def _already_exists(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS" or "already exists" in str(exc).lower()


def _lock_state(client: Any) -> tuple[str, float] | None:
    """The lock as ``(identity, since)``, or ``None`` when nobody holds it.

    ``since`` comes from the ``since`` tag and, when the tags are not visible yet (the store may
    create the row before its tags, so a reader can see a lock without them), from the row's
    creation time: a lock read without its tags is as young as its row, never stale.
    """
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(LOCK_MODEL)
    except MlflowException:
        return None
    tags = dict(model.tags or {})
    created = (model.creation_timestamp or 0) / 1000.0 or time.time()
    try:
        since = float(tags["since"])
    except (KeyError, ValueError):
        since = created
    return f"{tags.get('holder', '')}@{model.creation_timestamp}", since


@contextlib.contextmanager
def locked(client: Any, *, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the trail's lock (see the module docstring) for the duration of the block.

    A stale lock (held longer than :data:`STALE_LOCK_SECONDS`, a crashed writer) is broken only
    when a second read a moment later still sees the same lock, so a writer never deletes a lock
    another writer has just taken in its place.
    """
    from mlflow.exceptions import MlflowException

    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create_registered_model(LOCK_MODEL, tags={"holder": holder, "since": f"{time.time():.3f}"},
                                           description="kequn audit trail lock (held while an action is written)")
            break
        except MlflowException as exc:
            if _already_exists(exc):
                state = _lock_state(client)
                # state is None: released between our attempt and the read; retry after the pause
                if state is not None and time.time() - state[1] > STALE_LOCK_SECONDS:
                    time.sleep(0.2)
                    if _lock_state(client) == state:
                        with contextlib.suppress(MlflowException):
                            client.delete_registered_model(LOCK_MODEL)
                    continue
            if time.monotonic() > deadline:
                raise RegistryError(f"the audit trail is locked by another kequn command (registered model "
                                    f"{LOCK_MODEL!r}) for more than {timeout:g} s; retry") from None
            time.sleep(0.05 + random.random() * 0.1)
    try:
        yield
    finally:
        # release only our own lock: if ours was broken as stale, another writer holds it now
        state = _lock_state(client)
        if state is not None and state[0].startswith(f"{holder}@"):
            with contextlib.suppress(MlflowException):
                client.delete_registered_model(LOCK_MODEL)


# --------------------------------------------------------------------------------------------
# writing and reading


def _experiment(client: Any, *, create: bool) -> Any:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(AUDIT_EXPERIMENT)
    if exp is None and create:
        try:
            client.create_experiment(AUDIT_EXPERIMENT, tags={"kequn.audit": "true"})
        except MlflowException as exc:
            if not _already_exists(exc):
                raise
        exp = client.get_experiment_by_name(AUDIT_EXPERIMENT)
    return exp


def append(client: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """Append ``entry`` to the trail; call under :func:`locked`. Returns it with ``seq``, ``prev``, ``hash``."""
    exp = _experiment(client, create=True)
    head = dict(exp.tags or {}).get(HEAD_TAG, f"0:{GENESIS}")
    seq_text, _, prev = head.partition(":")
    seq = int(seq_text) + 1 if seq_text.isdigit() else 1
    full = {**entry, "seq": seq, "prev": prev or GENESIS}
    digest = entry_hash(full)
    from pipelines.signing import canonical

    text = canonical(full).decode("utf-8")
    run = client.create_run(exp.experiment_id, run_name=f"audit-{seq:08d}",
                            tags={SEQ_TAG: f"{seq:08d}", PREV_TAG: full["prev"], HASH_TAG: digest, ENTRY_TAG: text,
                                  "kequn.audit.action": entry["action"], "kequn.audit.model": entry["model"]})
    client.set_terminated(run.info.run_id)
    client.set_experiment_tag(exp.experiment_id, HEAD_TAG, f"{seq}:{digest}")
    result = {**full, "hash": digest}
    _append_local(result)
    return result


def _append_local(entry: dict[str, Any]) -> None:
    path = audit_log_path()
    if path is None:
        return
    line = (json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot append to the local audit copy ({exc.strerror}); "
                            "set KEQUN_AUDIT_LOG to a writable file") from exc


def _runs(client: Any, experiment_id: str) -> list[Any]:
    from mlflow.entities import ViewType

    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def verify_chain(client: Any) -> list[dict[str, Any]]:
    """Check the whole trail; return its entries (oldest first) with ``run_id``.

    Raises
    ------
    AuditChainError
        Naming the first broken link: a deleted, missing, duplicated, edited or reordered
        entry, or a head that does not match the last entry.
    """
    exp = _experiment(client, create=False)
    if exp is None:
        return []
    by_seq: dict[int, list[Any]] = {}
    for run in _runs(client, exp.experiment_id):
        text = run.data.tags.get(SEQ_TAG, "")
        if not text.isdigit():
            raise AuditChainError(f"audit trail: run {run.info.run_id} in {AUDIT_EXPERIMENT} has no sequence "
                                  "number (written outside kequn)")
        by_seq.setdefault(int(text), []).append(run)
    entries, prev = [], GENESIS
    last = max(by_seq, default=0)
    for seq in range(1, last + 1):
        runs = by_seq.get(seq, [])
        if not runs:
            raise AuditChainError(f"audit trail: entry {seq} is missing (removed from the store)")
        if len(runs) > 1:
            raise AuditChainError(f"audit trail: {len(runs)} entries claim number {seq} (inserted or renumbered)")
        run = runs[0]
        if run.info.lifecycle_stage != "active":
            raise AuditChainError(f"audit trail: entry {seq} was deleted (run {run.info.run_id})")
        tags = run.data.tags
        try:
            entry = json.loads(tags.get(ENTRY_TAG, ""))
        except json.JSONDecodeError:
            raise AuditChainError(f"audit trail: entry {seq} is not readable (edited)") from None
        if not isinstance(entry, dict) or entry.get("seq") != seq:
            raise AuditChainError(f"audit trail: entry {seq} carries another number "
                                  f"({entry.get('seq') if isinstance(entry, dict) else '?'}): reordered")
        digest = entry_hash(entry)
        from pipelines.signing import digests_equal

        if not digests_equal(digest, tags.get(HASH_TAG)):
            raise AuditChainError(f"audit trail: entry {seq} was edited (its content no longer matches its hash)")
        if not digests_equal(entry.get("prev"), prev) or not digests_equal(tags.get(PREV_TAG), prev):
            raise AuditChainError(f"audit trail: entry {seq} does not follow entry {seq - 1} "
                                  "(reordered, or an entry before it was replaced)")
        entries.append({**entry, "hash": digest, "run_id": run.info.run_id})
        prev = digest
    head = dict(exp.tags or {}).get(HEAD_TAG)
    if entries and head != f"{last}:{prev}":
        raise AuditChainError(f"audit trail: the head says {head!r} but the trail ends at entry {last} "
                              "(entries removed from the end, or the head was edited)")
    if not entries and head and not head.startswith("0:"):
        raise AuditChainError(f"audit trail: the head says {head!r} but the trail is empty (entries removed)")
    return entries


def read(client: Any = None, *, model: str | None = None) -> list[dict[str, Any]]:
    """Verified entries (optionally of one model), oldest first; refuses a broken chain."""
    if client is None:
        from mlflow import MlflowClient

        from kequn.tracking import configure_tracking

        configure_tracking()
        client = MlflowClient()
    return [e for e in verify_chain(client) if model is None or e.get("model") == model]


def mirror_tags(entry: dict[str, Any]) -> dict[str, str]:
    """Version tags that mirror an appended ``entry``: ``kequn.audit.<seq>`` and ``kequn.last_action``."""
    text = json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > MAX_TAG_CHARS:
        text = json.dumps({k: v for k, v in entry.items() if k not in ("gates", "record")}, ensure_ascii=False,
                          sort_keys=True, default=str)[:MAX_TAG_CHARS]
    return {f"{TAG_PREFIX}{int(entry['seq']):08d}": text,
            "kequn.last_action": f"{entry['action']} by {entry['actor']} at {entry['ts']}"}
