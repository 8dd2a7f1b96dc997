"""Governance settings (conf/governance.yaml), acting identity, verification and ``load_champion``.

conf/governance.yaml is reviewed apart from the gates file it governs:

- ``allowed_gates_sha256``: SHA-256 digests of the gates files a version may be published
  under. A version published under any other file is tagged ``kequn.gates_file_unreviewed``
  (``unreviewed_gates: mark``, the default) or refused (``unreviewed_gates: refuse``). This stops
  *a publisher who writes a lenient gates file and passes it with --gates*.
- ``require_signatures``: ``auto`` (default: required as soon as the keyring lists anyone),
  ``true`` or ``false``. When required, approve and promote without a key in the keyring are refused.
- ``require_authenticated_identity``: ``auto`` (default: required for any non-local tracking
  URI), ``true`` or ``false``. Without authentication the acting person is self-declared
  (``KEQUN_USER`` or the option), and kequn says so on every registry command and tags it.

:func:`verify` checks a version or alias: the signed approval (and promotion) record against the
keyring, the model artifact's digest, the gate results, and the audit chain, failing closed on
the first broken link. :func:`load_champion` runs it on the very files it then loads.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from kequn import console
from kequn.config import StrictConfig, read_yaml_mapping
from kequn.errors import ConfigError, RegistryError
from pipelines import audit, signing

DEFAULT_GOVERNANCE = Path(__file__).resolve().parents[1] / "conf" / "governance.yaml"
SELF_DECLARED, AUTHENTICATED = "self-declared", "authenticated"
UNSIGNED = "unsigned"
APPROVAL_RECORD, APPROVAL_SIGNATURE = "kequn.approval.record", "kequn.approval.signature"
IDENTITY_TAG = "identity"
UNREVIEWED_TAG = "kequn.gates_file_unreviewed"


class VerificationError(RegistryError):
    """`kequn verify` or ``load_champion`` found a broken link (exit code 5)."""

    exit_code = 5


class GovernanceConfig(StrictConfig):
    allowed_gates_sha256: list[str] = Field(default_factory=list)
    unreviewed_gates: Literal["mark", "refuse"] = "mark"
    require_signatures: Literal["auto", True, False] = "auto"
    require_authenticated_identity: Literal["auto", True, False] = "auto"

    @field_validator("allowed_gates_sha256")
    @classmethod
    def _hex(cls, value: list[str]) -> list[str]:
        out = []
        for digest in value:
            digest = str(digest).strip().lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("each entry is a 64-hex-digit SHA-256")
            out.append(digest)
        return out


def governance_path() -> Path:
    env = os.environ.get("KEQUN_GOVERNANCE", "").strip()
    return Path(env) if env else DEFAULT_GOVERNANCE


def load_governance(path: str | Path | None = None) -> GovernanceConfig:
    path = Path(path) if path is not None else governance_path()
    raw = read_yaml_mapping(path, what="governance file")
    try:
        return GovernanceConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{path}: unknown key {where!r}") from None
        raise ConfigError(f"{path}: {where}: {err['msg']}. Got {err.get('input')!r}") from None


def gates_review(gates_sha256: str, config: GovernanceConfig) -> bool:
    """True when the gates file's digest is pinned in ``allowed_gates_sha256``."""
    return any(signing.digests_equal(gates_sha256, allowed) for allowed in config.allowed_gates_sha256)


def signatures_required(config: GovernanceConfig, keyring: signing.Keyring) -> bool:
    if config.require_signatures == "auto":
        return bool(keyring.people)
    return bool(config.require_signatures)


# --------------------------------------------------------------------------------------------
# identity


def is_local_uri(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:", "/")) or "://" not in uri


def acting_person(claimed: str | None, *, option: str, config: GovernanceConfig | None = None) -> tuple[str, str]:
    """``(name, identity)`` of whoever runs the command.

    With a tracking server and ``MLFLOW_TRACKING_USERNAME`` (MLflow's basic-auth app checks the
    password on every request) the actor is that user and ``claimed`` must match it; otherwise
    the name is self-declared (``claimed``, else ``KEQUN_USER`` / the OS user) and one note on
    stderr says so.

    Raises
    ------
    RegistryError
        When ``claimed`` differs from the authenticated user, or authenticated identity is
        required (``require_authenticated_identity``) and there is none.
    """
    from kequn.tracking import current_user, display_uri, tracking_uri

    config = config or load_governance()
    uri = tracking_uri()
    local = is_local_uri(uri)
    claimed = (claimed or "").strip() or None
    user = os.environ.get("MLFLOW_TRACKING_USERNAME", "").strip()
    required = (not local) if config.require_authenticated_identity == "auto" \
        else bool(config.require_authenticated_identity)
    if user and uri.startswith(("http://", "https://")):
        if claimed and claimed.casefold() != user.casefold():
            raise RegistryError(f"{option} {claimed!r} is not the authenticated user {user!r} of {uri}; "
                                "act as yourself (omit the option)")
        if server_authenticates(uri, user):
            return user, AUTHENTICATED
    if required:
        raise RegistryError(f"{display_uri(uri)}: authenticated identity is required (conf/governance.yaml "
                            "require_authenticated_identity); set MLFLOW_TRACKING_USERNAME and "
                            "MLFLOW_TRACKING_PASSWORD for a server running `mlflow server --app-name basic-auth`")
    name = claimed or current_user()
    if not console.first_time(f"self-declared identity at {uri}"):  # a chain (the demo) says why once
        console.info(f"note: acting as {name!r} (identity={SELF_DECLARED})")
    else:
        console.info(f"note: identities are self-declared ({display_uri(uri)} does not authenticate users): "
                     f"acting as {name!r}; recorded as identity={SELF_DECLARED}")
    return name, SELF_DECLARED


def server_authenticates(uri: str, user: str) -> bool:
    """Whether the tracking server at ``uri`` runs MLflow's basic-auth app and accepts ``user``.

    Asks the auth app for the user's own record with the configured password (200: accepted;
    404: the server has no auth app, so the name would only be self-declared).

    Raises
    ------
    RegistryError
        When the server refuses the credentials (401/403) or cannot be reached.
    """
    import requests

    password = os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
    try:
        response = requests.get(f"{uri.rstrip('/')}/api/2.0/mlflow/users/get", params={"username": user},
                                auth=(user, password), timeout=30)
    except requests.RequestException as exc:
        raise RegistryError(f"{uri}: cannot reach the tracking server ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise RegistryError(f"{uri}: the tracking server refused the credentials of {user!r} "
                            f"(HTTP {response.status_code}); check MLFLOW_TRACKING_USERNAME/PASSWORD")
    return response.status_code == 200


# --------------------------------------------------------------------------------------------
# artifacts


def download_model(client: Any, mv: Any, directory: Path) -> Path:
    """Download the files of model version ``mv`` into ``directory``; return the model folder."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        uri = client.get_model_version_download_uri(mv.name, mv.version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(directory))
    except (MlflowException, OSError) as exc:
        raise RegistryError(f"model {mv.name!r} v{mv.version}: cannot download its artifact "
                            f"({type(exc).__name__})") from None
    return Path(local)


def model_digest(client: Any, mv: Any) -> str:
    """SHA-256 over the files of model version ``mv`` as stored now."""
    with tempfile.TemporaryDirectory() as tmp:
        return signing.artifact_digest(download_model(client, mv, Path(tmp)))


# --------------------------------------------------------------------------------------------
# verification


def _fail(message: str) -> VerificationError:
    return VerificationError(message)


def _signed(tags: dict[str, str], record_tag: str, signature_tag: str, what: str) -> tuple[dict[str, Any], str]:
    text, signature = tags.get(record_tag), tags.get(signature_tag)
    if not text or not signature:
        raise _fail(f"{what}: no signed record (tag {record_tag}); it was not made by `kequn` or was set by hand")
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        raise _fail(f"{what}: its record tag {record_tag} is not readable (edited)") from None
    if signature == UNSIGNED:
        who = record.get("approver") or record.get("promoter") or "?"
        raise _fail(f"{what}: unsigned (by {who!r}, identity {record.get('identity', SELF_DECLARED)}); "
                    "nothing proves who did it")
    return record, signature


def _check_signature(record: dict[str, Any], signature: str, who: str, role: str, keyring: signing.Keyring,
                     what: str) -> None:
    person = keyring.person(who)
    if person is None:
        raise _fail(f"{what}: signed as {who!r}, who is not in the keyring {keyring.source}")
    if role not in person.roles:
        raise _fail(f"{what}: signed by {who!r}, who does not hold the {role} role in the keyring")
    if not signing.verify_signature(record, signature, person.public_key):
        raise _fail(f"{what}: the signature does not verify against {who!r}'s key in the keyring "
                    "(record edited, or signed by another key)")


def verify(*, name: str, version: str | None = None, alias: str | None = None, digest: str | None = None,
           client: Any = None) -> dict[str, Any]:
    """Check one version (or the holder of ``alias``) end to end; fail closed.

    Checks, in order: the version is approved; its approval record is signed by a reviewer in
    the keyring and names this model, version and run; approver, author and publisher differ;
    the model artifact's SHA-256 (``digest``, or recomputed from the store) and the gate results
    match the record; for an alias, the promotion record is signed by an owner for this version
    and alias and is the trail's last move of that alias; the audit chain verifies and holds the
    approval (and promotion).

    Raises
    ------
    VerificationError
        One line naming the first broken link.
    """
    from mlflow.exceptions import MlflowException

    from pipelines.registry import APPROVED, STATUS_TAG, _client, _get_version, _registered_model

    client = client or _client()
    if (version is None) == (alias is None):
        raise RegistryError("verify: give exactly one of --version or --alias")
    if alias is not None:
        _registered_model(client, name)
        try:
            mv = client.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise RegistryError(f"model {name!r} has no alias @{alias}") from None
    else:
        mv = _get_version(client, name, version)
    label = f"{mv.name} v{mv.version}"
    tags = dict(mv.tags or {})
    keyring = signing.load_keyring()
    if tags.get(STATUS_TAG) != APPROVED:
        raise _fail(f"{label}: not approved (approval_status {tags.get(STATUS_TAG)!r})")
    record, signature = _signed(tags, APPROVAL_RECORD, APPROVAL_SIGNATURE, f"approval of {label}")
    approver = str(record.get("approver", ""))
    _check_signature(record, signature, approver, "reviewer", keyring, f"approval of {label}")
    for key, actual in (("model", mv.name), ("version", str(mv.version)), ("run_id", mv.run_id or "")):
        if str(record.get(key, "")) != str(actual):
            raise _fail(f"approval of {label}: the signed record is for {key} {record.get(key)!r}, not {actual!r} "
                        "(copied from another version)")
    for role in ("author", "publisher"):
        if str(record.get(role, "")).casefold() == approver.casefold():
            raise _fail(f"approval of {label}: the approver {approver!r} is also its {role}")
    if tags.get("kequn.author", record.get("author")) != record.get("author") or \
            tags.get("kequn.published_by", record.get("publisher")) != record.get("publisher"):
        raise _fail(f"approval of {label}: the author or publisher tag was edited after approval")
    actual_digest = digest or model_digest(client, mv)
    if not signing.digests_equal(actual_digest, record.get("artifact_sha256")):
        raise _fail(f"{label}: the model artifact's SHA-256 no longer matches the approved one (files swapped)")
    if not signing.digests_equal(signing.sha256_text(tags.get("kequn.gates", "")), record.get("gate_results_sha256")):
        raise _fail(f"{label}: the gate results (tag kequn.gates) were edited after approval")
    if not signing.digests_equal(tags.get("kequn.gates_sha256"), record.get("gates_file_sha256")):
        raise _fail(f"{label}: the gates file digest (tag kequn.gates_sha256) was edited after approval")
    promotion = None
    if alias is not None:
        prefix = f"kequn.promotion.{alias}"
        promotion, p_sig = _signed(tags, f"{prefix}.record", f"{prefix}.signature", f"@{alias} -> {label}")
        promoter = str(promotion.get("promoter", ""))
        _check_signature(promotion, p_sig, promoter, "owner", keyring, f"promotion of {label} to @{alias}")
        if str(promotion.get("version")) != str(mv.version) or promotion.get("alias") != alias \
                or promotion.get("model") != mv.name:
            raise _fail(f"@{alias} -> {label}: the signed promotion is for another version or alias")
        if not signing.digests_equal(promotion.get("approval_sha256"), signing.sha256_text(signature)):
            raise _fail(f"promotion of {label} to @{alias}: it does not refer to this approval")
    entries = audit.verify_chain(client)
    if not any(e.get("action") == "approve" and e.get("model") == mv.name and str(e.get("version")) == str(mv.version)
               and e.get("signature") == signature for e in entries):
        raise _fail(f"approval of {label}: not in the audit trail")
    if alias is not None:
        moves = [e for e in entries if e.get("model") == mv.name and e.get("alias") == alias
                 and e.get("action") in ("promote", "rollback")]
        if not moves or str(moves[-1].get("version")) != str(mv.version) or \
                moves[-1].get("signature") != tags.get(f"kequn.promotion.{alias}.signature"):
            last = f"v{moves[-1].get('version')}" if moves else "none"
            raise _fail(f"@{alias} points at {label}, but the audit trail's last promotion of @{alias} is {last} "
                        "(alias moved outside kequn)")
    checked = f"{label}{f' (@{alias})' if alias else ''}: approval by {approver}"
    if promotion:
        checked += f", promotion by {promotion.get('promoter')}"
    checked += f" verified; artifact sha256 {actual_digest[:12]}…; audit chain of {len(entries)} entries intact"
    return {"name": mv.name, "version": str(mv.version), "alias": alias, "approver": approver,
            "promoter": promotion.get("promoter") if promotion else None, "artifact_sha256": actual_digest,
            "summary": checked}


def load_champion(name: str, alias: str = "champion") -> Any:
    """Verify ``models:/NAME@ALIAS`` (signatures, artifact digest, audit chain), then load it.

    The digest is computed over the very files that are loaded (one download), so a file
    swapped between the check and the load is not possible from the store's side.

    Raises
    ------
    VerificationError
        When any check fails; nothing is loaded.
    """
    from mlflow.exceptions import MlflowException

    from pipelines.registry import _client

    client = _client()
    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        raise RegistryError(f"model {name!r} has no alias @{alias}") from None
    import shutil

    from experiments.packaging import load_pyfunc

    tmp = Path(tempfile.mkdtemp(prefix="kequn-champion-"))
    try:  # the verified copy is read once by the loader (artifacts load eagerly), then removed
        local = download_model(client, mv, tmp)
        digest = signing.artifact_digest(local)
        result = verify(name=name, alias=alias, digest=digest, client=client)
        if result["version"] != str(mv.version):
            raise _fail(f"@{alias} moved while it was being verified; retry")
        return load_pyfunc(str(local))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def identity_note() -> None:
    """The one stderr note of a read-only registry command when identities are self-declared."""
    from kequn.tracking import display_uri, tracking_uri

    uri = tracking_uri()
    if is_local_uri(uri) or not os.environ.get("MLFLOW_TRACKING_USERNAME", "").strip():
        console.info(f"note: identities are self-declared ({display_uri(uri)} does not authenticate users); "
                     "only signed approvals and promotions (`kequn verify`) prove who acted")
