"""The registry's append-only audit log.

Decision: MLflow's stores have no generic table we could add rows to (file and REST stores are
not SQL), and run artifacts cannot be appended to. So every governance action is written as one
JSON line to a local file opened with ``O_APPEND`` (never rewritten, never truncated) **and**
mirrored in the model version's tags (``kequn.audit.<n>`` plus ``kequn.last_action``), so the
trail also travels with the registry.

Location (:func:`audit_log_path`): ``KEQUN_AUDIT_LOG`` when set; else, for a tracking URI
``sqlite:///path/mlflow.db``, ``path/kequn_audit.jsonl`` beside the database; else
``./kequn_audit.jsonl``.

Each entry holds who (``actor``), when (``ts``, UTC ISO 8601), what (``action``: publish,
reject, approve, promote, rollback; ``model``, ``version``, ``alias``, ``previous``), why
(``reason``) and the gate results (``gates``: gate -> passed).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kequn.errors import RegistryError

AUDIT_FILE = "kequn_audit.jsonl"
ACTIONS = ("publish", "reject", "approve", "promote", "rollback")
TAG_PREFIX = "kequn.audit."
#: MLflow limits tag values; the mirrored entry is cut to stay well below.
MAX_TAG_CHARS = 4000


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def audit_log_path(tracking_uri: str | None = None) -> Path:
    """Where the audit log lives for ``tracking_uri`` (see the module docstring)."""
    env = os.environ.get("KEQUN_AUDIT_LOG", "").strip()
    if env:
        return Path(env)
    if tracking_uri is None:
        from kequn.tracking import tracking_uri as current

        tracking_uri = current()
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///"):]).parent / AUDIT_FILE
    return Path.cwd() / AUDIT_FILE


def make_entry(action: str, *, actor: str, model: str, version: str, reason: str = "",
               **details: Any) -> dict[str, Any]:
    """A new audit entry (not yet written)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = {"ts": utc_now(), "action": action, "actor": actor, "model": model, "version": str(version),
             "reason": reason}
    entry.update(details)
    return entry


def append(entry: dict[str, Any], path: Path | None = None) -> Path:
    """Append ``entry`` as one JSON line with a single ``O_APPEND`` write."""
    path = path or audit_log_path()
    line = (json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot append to the audit log ({exc.strerror}); "
                            "set KEQUN_AUDIT_LOG to a writable file") from exc
    return path


def read(path: Path | None = None, *, model: str | None = None) -> list[dict[str, Any]]:
    """All entries (optionally of one model), oldest first."""
    path = path or audit_log_path()
    if not path.is_file():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e for e in entries if model is None or e.get("model") == model]


def mirror_tags(existing_tags: dict[str, str], entry: dict[str, Any]) -> dict[str, str]:
    """Version tags that mirror ``entry``: ``kequn.audit.<n>`` (next free n) and ``kequn.last_action``."""
    numbers = [int(k[len(TAG_PREFIX):]) for k in existing_tags
               if k.startswith(TAG_PREFIX) and k[len(TAG_PREFIX):].isdigit()]
    n = max(numbers, default=0) + 1
    text = json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > MAX_TAG_CHARS:
        text = json.dumps({k: v for k, v in entry.items() if k != "gates"}, ensure_ascii=False, sort_keys=True,
                          default=str)[:MAX_TAG_CHARS]
    return {f"{TAG_PREFIX}{n}": text, "kequn.last_action": f"{entry['action']} by {entry['actor']} at {entry['ts']}"}
