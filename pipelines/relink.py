"""``kequn relink``: the only path from a tokens-only list back to people (secure zone, key holder).

The threats each check stops (each has a test that performs it):

- *a list re-identified for no stated reason*: ``--purpose`` is required and must be a purpose
  of the privacy policy (``relink.purposes``); only the contact columns the policy names for it
  are released (``--columns`` may narrow them, never widen them);
- *one person deciding alone*: ``--approved-by`` must name someone other than the caller
  (compared after Unicode NFKC, case folding and removal of spaces, dots, dashes and
  underscores, so ``Wang.Owner`` is ``wang_owner``); with people in the keyring, the approver
  must be one of them;
- *a list edited after planning* (customers added to be re-identified): the tokens must
  match the digest ``kequn plan`` embedded in the list;
- *a list made under another key* (tokens that would join to the wrong people, or a key
  guessed to be the right one): the key's fingerprint must equal the list's lineage
  ``key_fingerprint`` (compared in constant time), and every token's key id must be that key's;
- *a re-identification nobody can trace*: every release appends an entry to the hash-chained
  audit trail (who, with which identity, approved by whom, purpose, the list's SHA-256, rows
  released, columns, key fingerprint) before the file appears; if the entry cannot be
  written, nothing is written;
- *the contact file read by others or found through logs*: the output is created with mode
  0600 (never readable by others, not even while it is written), an existing file is never
  replaced, and its path appears in no log line, audit entry or message.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from kequn import console
from kequn.errors import InputError, KequnError

__all__ = ["RelinkError", "relink", "same_person"]

#: list columns carried into the contact file besides the token and the contact columns
CARRIED = ("priority", "list", "action", "channel")
OUTPUT_MODE = 0o600


class RelinkError(KequnError):
    """A relink request is refused."""


def _fold(name: str) -> str:
    return re.sub(r"[\s._\-·]+", "", unicodedata.normalize("NFKC", str(name or "")).casefold())


def same_person(a: str, b: str) -> bool:
    """Whether two spellings name the same person (case, width, spaces and separators ignored)."""
    return _fold(a) == _fold(b)


def _list_lineage(path: Path) -> dict[str, Any]:
    from kequn.lineage import read_parquet_lineage

    if path.is_dir() or not path.is_file():
        raise InputError(f"--list {path}: no such file")
    if path.suffix.lower() != ".parquet":
        raise RelinkError(f"--list {path}: not a kequn list (expected the .parquet written by `kequn plan`)")
    lineage = read_parquet_lineage(path)
    if not lineage or not lineage.get("key_fingerprint"):
        raise RelinkError(f"--list {path}: carries no kequn lineage with a key fingerprint; only a list written "
                          "by `kequn plan` can be re-linked")
    return lineage


def relink(*, list_path: Path, raw: Path, purpose: str, approved_by: str, out: Path, key_file: Path | None = None,
           columns: str | None = None, policy_path: Path | None = None) -> dict[str, Any]:
    """Re-link a plan's tokens to the contact columns the policy allows for ``purpose``.

    Raises
    ------
    RelinkError
        Without a known purpose, with an approver who is the caller, with a key whose
        fingerprint differs from the list's, or a column the purpose does not allow.
    """
    from kequn.io import atomic_path, find_tables, read_table, sha256_file
    from pipelines import audit, governance, signing
    from pipelines.registry import _client
    from privacy.keys import key_fingerprint, load_key
    from privacy.policy import load_policy
    from privacy.tokens import tokenise_series

    purpose = (purpose or "").strip()
    approved_by = (approved_by or "").strip()
    list_path, raw, out = Path(list_path), Path(raw), Path(out)
    policy = load_policy(policy_path)
    rule = policy.relink
    if not purpose:
        raise RelinkError("--purpose is required: say why the list is re-linked (one of "
                          f"{', '.join(sorted(rule.purposes)) or 'none configured'})")
    if purpose not in rule.purposes:
        raise RelinkError(f"--purpose {purpose!r} is not a relink purpose of the privacy policy; allowed: "
                          f"{', '.join(sorted(rule.purposes)) or 'none (add relink.purposes to the policy)'}")
    allowed = list(rule.purposes[purpose].columns)
    wanted = allowed
    if columns is not None:
        wanted = [c.strip() for c in str(columns).split(",") if c.strip()]
        if not wanted:
            raise RelinkError("--columns: give at least one column")
        extra = [c for c in wanted if c not in allowed]
        if extra:
            raise RelinkError(f"--columns: {', '.join(extra)} may not be released for purpose {purpose!r} "
                              f"(the policy allows {', '.join(allowed)})")
    if not approved_by:
        raise RelinkError("--approved-by is required: the person (not you) who approved this release")
    config = governance.load_governance()
    caller, identity = governance.acting_person(None, option="relink", config=config)
    if same_person(caller, approved_by):
        raise RelinkError(f"--approved-by {approved_by!r} is the caller {caller!r}; a second person must approve "
                          "a relink (four eyes)")
    keyring = signing.load_keyring()
    if keyring.people and keyring.person(approved_by) is None:
        raise RelinkError(f"--approved-by {approved_by!r} is not in the keyring {keyring.source}")
    if out.exists():
        raise RelinkError("--out: the file exists; relink never replaces a contact file, choose a new name")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"--out: a .csv or .parquet file name is needed. Got suffix {out.suffix!r}")

    lineage = _list_lineage(list_path)
    key = load_key(key_file)
    fingerprint = key_fingerprint(key)
    if not hmac.compare_digest(fingerprint, str(lineage["key_fingerprint"])):
        raise RelinkError(f"--list {list_path}: made under key {lineage['key_fingerprint']}, but the key given "
                          f"has fingerprint {fingerprint}; relink needs the key the list's tokens were made with")
    listing = pd.read_parquet(list_path)
    if rule.id_column not in listing.columns:
        raise RelinkError(f"--list {list_path}: no {rule.id_column!r} column")
    from kequn.tokens import column_key_ids, key_id, mixed_key_message

    ids = listing[rule.id_column].astype("string")
    mixed = mixed_key_message(f"--list {list_path}", rule.id_column, key_id(fingerprint),
                              column_key_ids(pa.array(ids.to_numpy(dtype=object, na_value=None), type=pa.string())))
    if mixed:
        raise RelinkError(mixed)
    if lineage.get("kind") == "plan":
        from pipelines.planning import tokens_digest

        if not hmac.compare_digest(str(lineage.get("tokens_sha256", "")), tokens_digest(listing[rule.id_column])):
            raise RelinkError(f"--list {list_path}: its customers are not the ones `kequn plan` selected "
                              "(rows added, removed or changed after planning)")
    list_digest = sha256_file(list_path)

    with console.stage(f"recompute tokens over the raw {rule.table} table") as st:
        tables = find_tables([raw])
        if rule.table not in tables:
            raise InputError(f"--raw {raw}: no {rule.table!r} table (policy relink.table)")
        frame = read_table(tables[rule.table], as_text=True)
        missing = [c for c in (rule.id_column, *wanted) if c not in frame.columns]
        if missing:
            raise InputError(f"--raw {tables[rule.table]}: no column {', '.join(missing)}")
        tokens = tokenise_series(frame[rule.id_column], rule.id_entity, key)
        contacts = frame[wanted].copy()
        contacts.insert(0, rule.id_column, tokens.to_numpy())
        contacts = contacts.dropna(subset=[rule.id_column]).drop_duplicates(subset=[rule.id_column], keep="first")
        st.done(f"{len(contacts):,} customers")
    carried = [c for c in CARRIED if c in listing.columns]
    joined = listing[[rule.id_column, *carried]].astype({rule.id_column: "string"}).merge(
        contacts.astype({rule.id_column: "string"}), on=rule.id_column, how="inner", validate="many_to_one")
    unmatched = int(len(listing) - len(joined))
    entry = audit.make_entry("relink", actor=caller, model="", version="", reason=purpose,
                             identity=identity, approved_by=approved_by, purpose=purpose,
                             list_sha256=list_digest, list_rows=int(len(listing)), rows=int(len(joined)),
                             unmatched=unmatched, columns=wanted, key_fingerprint=fingerprint,
                             list_manifest_id=str(lineage.get("manifest_id", "")))
    client = _client()
    with atomic_path(out, mode=OUTPUT_MODE) as tmp:
        if out.suffix.lower() == ".csv":
            joined.to_csv(tmp, index=False, encoding="utf-8")
        else:
            joined.to_parquet(tmp, index=False)
        with audit.locked(client):
            written = audit.append(client, entry)
    summary = (f"relink: {len(joined):,} of {len(listing):,} listed customers released for {purpose!r} "
               f"({', '.join(wanted)}), approved by {approved_by}, acting as {caller} ({identity}); "
               f"audit entry #{written['seq']}; written to --out with mode 0600"
               + (f"; {unmatched:,} tokens matched no customer" if unmatched else ""))
    return {"summary": summary, "rows": int(len(joined)), "unmatched": unmatched, "audit": written,
            "columns": wanted, "list_sha256": list_digest}
