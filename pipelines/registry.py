"""The governed MLflow Model Registry: publish → gates → approve (four eyes) → promote → audit.

Open-source MLflow has aliases but no approval workflow and no separation of duties. kequn adds
them with version tags and one rule per command, checked **before** anything is written, so a
refused command leaves the registry unchanged:

- :func:`publish` registers ``runs:/<run_id>/model`` as a new version, evaluates
  conf/gates.yaml (:mod:`pipelines.gates`), tags ``approval_status`` = ``pending`` or
  ``rejected`` with the gate results, and logs a model card to the run (``model_card/``);
- :func:`approve` moves a *pending* version to ``approved``, refusing the run's author;
- :func:`promote` points an alias (default ``champion``) at an *approved* version, recording the
  previous holder, so promoting that one again is a one-command rollback;
- :func:`registry_listing` prints versions with aliases, status, key metrics, gates and people.

Every action is appended to the hash-chained audit trail in the tracking store and mirrored in
version tags (:mod:`pipelines.audit`). Approve and promote are *compare-and-set*: they read the
version (and alias), build and sign a record, then under the trail's lock re-read and write only
if nothing changed in between; a concurrent change fails that side cleanly and its attempt is an
audit entry (``conflict``). Approvals and promotions are signed with the actor's Ed25519 key
when signing is in force (:mod:`pipelines.signing`, conf/governance.yaml); otherwise they are
recorded ``unsigned`` and ``identity=self-declared``, and ``kequn verify`` says so.

Version tags written: ``approval_status``, ``kequn.task``, ``kequn.author``, ``kequn.run_id``,
``kequn.gates`` (JSON), ``kequn.published_by``/``_at``, ``kequn.model_card``,
``kequn.approved_by``/``_at``/``kequn.approval_reason``, ``kequn.held.<alias>`` (when it got the
alias), ``kequn.previous.<alias>`` (the holder it replaced), ``kequn.replaced.<alias>``,
``kequn.audit.<seq>`` and ``kequn.last_action``; governance: ``kequn.gates_sha256``,
``kequn.gates_file``, ``kequn.gates_file_unreviewed``, ``kequn.artifact_sha256``, ``kequn.revision``,
``identity``, ``kequn.approval.record``/``.signature``, ``kequn.promotion.<alias>.record``/``.signature``.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from kequn import console
from kequn.errors import RegistryError
from pipelines import audit, governance, signing
from pipelines.gates import GATE_NAMES, evaluate_gates, load_gates

STATUS_TAG = "approval_status"
PENDING, REJECTED, APPROVED = "pending", "rejected", "approved"
MODEL_ARTIFACT = "model"
KEY_METRICS = ("test_roc_auc", "test_qini_auc", "silhouette")
MAX_GATES_TAG_CHARS = 4500
#: Exit code of `kequn publish` when the version is registered but rejected by its gates
#: (1 = a refused command, 2 = usage error, 3 = internal error).
EXIT_REJECTED = 4


class VersionRejected(RegistryError):
    """``publish`` registered the version, but its gates rejected it (exit code 4)."""

    exit_code = EXIT_REJECTED


def _client() -> Any:
    # Artifact downloads (test set, fairness report) must not draw progress bars on stderr.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient

    from kequn.tracking import configure_tracking

    configure_tracking(must_exist=True)  # never create an empty store just to say "no such run"
    return MlflowClient()


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _get_run(client: Any, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    if not run_id or not run_id.strip():
        raise RegistryError("--run: an MLflow run id is required")
    try:
        return client.get_run(run_id.strip())
    except MlflowException:
        from kequn.tracking import display_uri, tracking_uri

        raise RegistryError(f"run {run_id!r}: no such MLflow run in {display_uri(tracking_uri())}") from None


def _model_source(client: Any, run: Any) -> tuple[str, str | None]:
    """``(source URI, logged model id)`` of the run's model logged under ``model``."""
    run_id = run.info.run_id
    try:
        logged = client.search_logged_models(experiment_ids=[run.info.experiment_id],
                                             filter_string=f"source_run_id='{run_id}'")
    except Exception:  # an older store without logged models
        logged = []
    for model in logged:
        if model.name == MODEL_ARTIFACT:
            return f"models:/{model.model_id}", model.model_id
    if any(a.path == f"{MODEL_ARTIFACT}/MLmodel" for a in client.list_artifacts(run_id, MODEL_ARTIFACT)):
        return f"runs:/{run_id}/{MODEL_ARTIFACT}", None
    raise RegistryError(f"run {run_id}: no model logged under artifact path {MODEL_ARTIFACT!r}; "
                        "publish runs of `kequn train`")


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise RegistryError("--name: a registered model name is required")
    return name


def _registered_model(client: Any, name: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"model {name!r}: no such registered model (see `kequn registry`)") from None


def _get_version(client: Any, name: str, version: Any) -> Any:
    from mlflow.exceptions import MlflowException

    name = _check_name(name)
    _registered_model(client, name)
    text = str(version).strip()
    if not text.isdigit():
        raise RegistryError(f"--version: a version number is required. Got {version!r}")
    try:
        return client.get_model_version(name, text)
    except MlflowException:
        raise RegistryError(f"model {name!r} has no version {text} (see `kequn registry --name {name}`)") from None



class ConcurrentChange(RegistryError):
    """The version or alias changed between reading and writing (compare-and-set failed)."""


def _same_person(a: str, b: str) -> bool:
    """Names compared as identities: Unicode-normalised (NFKC), case- and space-insensitive."""
    norm = lambda t: "".join(unicodedata.normalize("NFKC", t or "").casefold().split())  # noqa: E731
    return bool(norm(a)) and norm(a) == norm(b)


def _write(client: Any, mv: Any, entry: dict[str, Any], extra_tags: dict[str, str]) -> dict[str, Any]:
    """Under the lock: append ``entry`` to the trail, then write ``extra_tags`` and its mirror on ``mv``."""
    written = audit.append(client, entry)
    tags = dict(extra_tags)
    tags.update(audit.mirror_tags(written))
    tags["kequn.revision"] = str(int(dict(mv.tags or {}).get("kequn.revision", "0") or 0) + 1)
    for key, value in tags.items():
        client.set_model_version_tag(mv.name, mv.version, key, value)
    return written

def _fairness_report(run_id: str) -> dict[str, Any] | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        # Look before loading: MLflow 3.0's load_text of a missing artifact fails with a TypeError.
        if "fairness/fairness_report.json" not in {a.path for a in mlflow.MlflowClient().list_artifacts(
                run_id, "fairness")}:
            return None
        return json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/fairness/fairness_report.json"))
    except (MlflowException, OSError, json.JSONDecodeError):
        return None


def _gates_tag(gates: dict[str, dict[str, Any]]) -> str:
    compact = {g: {"passed": r["passed"], "applicable": r.get("applicable", True), "detail": r["detail"]}
               for g, r in gates.items()}
    text = json.dumps(compact, ensure_ascii=False, sort_keys=True)
    if len(text) > MAX_GATES_TAG_CHARS:
        text = json.dumps({g: {"passed": r["passed"], "detail": r["detail"][:300]} for g, r in gates.items()},
                          ensure_ascii=False, sort_keys=True)[:MAX_GATES_TAG_CHARS]
    return text


def _failed_checks(tags: dict[str, str]) -> str:
    """The failed gates of a version and, per gate, its failed checks (from the ``kequn.gates`` tag)."""
    try:
        gates = json.loads(tags.get("kequn.gates", "{}"))
    except json.JSONDecodeError:
        return "see the kequn.gates tag"
    parts = []
    for gate, result in gates.items():
        if result.get("passed"):
            continue
        failing = [piece.split(": ", 1)[-1].split(" = ")[0] for piece in str(result.get("detail", "")).split("; ")
                   if "FAILED" in piece]
        parts.append(f"{gate}: {', '.join(failing)}" if failing else gate)
    return "; ".join(parts) or "see the kequn.gates tag"


def publish(*, run_id: str, name: str, gates_path: str | Path | None = None) -> dict[str, Any]:
    """Register a run's model as a new version, evaluate the gates and write its model card.

    The gates file's SHA-256 is recorded on the version (``kequn.gates_sha256``), the model
    card and the audit entry; a file not pinned in conf/governance.yaml
    (``allowed_gates_sha256``) marks the version ``kequn.gates_file_unreviewed=true``, or is
    refused before anything is registered when ``unreviewed_gates: refuse``.

    Parameters
    ----------
    run_id : str
        MLflow run id of a ``kequn train`` run (tags ``kequn.task``, ``kequn.author``, lineage).
    name : str
        Registered model name (created on first publish).
    gates_path : path, optional
        Gates YAML (default ``conf/gates.yaml``).

    Returns
    -------
    dict
        ``name``, ``version``, ``approval_status`` (``pending`` or ``rejected``), ``gates``
        (gate -> ``{"passed", "applicable", "detail", "checks"}``), ``model_card``,
        ``gates_sha256``, ``gates_reviewed`` and ``summary``.

    Raises
    ------
    ConfigError
        For an invalid gates or governance file (nothing is registered).
    RegistryError
        For an unknown run, a run without a model or task tag, or an unreviewed gates file
        when the governance file refuses them (nothing is registered).
    """
    from kequn.tracking import AUTHOR_TAG

    gates_cfg = load_gates(gates_path)
    gov = governance.load_governance()
    reviewed = governance.gates_review(gates_cfg.sha256, gov)
    if not reviewed and gov.unreviewed_gates == "refuse":
        raise RegistryError(f"{gates_cfg.source}: gates file SHA-256 {gates_cfg.sha256[:16]}… is not pinned in "
                            f"{governance.governance_path()} (allowed_gates_sha256) and unreviewed_gates is "
                            "'refuse'; have the file reviewed and its digest added")
    name = _check_name(name)
    if name in (audit.LOCK_MODEL, audit.AUDIT_EXPERIMENT):
        raise RegistryError(f"--name {name!r} is reserved for kequn's audit trail")
    client = _client()
    run = _get_run(client, run_id)
    run_id = run.info.run_id
    tags = dict(run.data.tags)
    task = tags.get("kequn.task")
    if not task:
        raise RegistryError(f"run {run_id}: no kequn.task tag; publish runs of `kequn train`")
    source, model_id = _model_source(client, run)
    publisher, identity = governance.acting_person(None, option="KEQUN_USER", config=gov)

    with console.stage("gates") as st:
        gates = evaluate_gates(run, name=name, candidate_uri=source, gates=gates_cfg, client=client)
        failed = [g for g in GATE_NAMES if not gates[g]["passed"]]
        if failed:
            st.fail(f"failed: {', '.join(failed)}")
        else:
            st.done("all passed")
    status = REJECTED if failed else PENDING
    published_at = audit.utc_now()
    if not reviewed:
        console.info(f"note: {gates_cfg.source} is not a reviewed gates file (its SHA-256 is not in "
                     f"{governance.governance_path()}); the version is marked gates_file_unreviewed")

    from mlflow.exceptions import MlflowException

    with console.stage("register") as st:
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, tags={"kequn.managed": "true"})
        mv = client.create_model_version(name, source, run_id=run_id, model_id=model_id,
                                         description=f"kequn {task} model from run {run_id}")
        digest = governance.model_digest(client, mv)
        st.done(f"{name} v{mv.version} (artifact sha256 {digest[:12]}…)")

    with console.stage("model card") as st:
        from pipelines import model_card

        context = model_card.card_context(name=name, version=mv.version, run=run, gates=gates,
                                          approval_status=status, published_by=publisher,
                                          published_at=published_at, fairness=_fairness_report(run_id),
                                          identity=identity, gates_file=str(gates_cfg.source),
                                          gates_sha256=gates_cfg.sha256, gates_reviewed=reviewed)
        markdown, html = model_card.render(context)
        with tempfile.TemporaryDirectory() as tmp:
            stem = f"model_card_v{mv.version}"
            Path(tmp, f"{stem}.md").write_text(markdown, encoding="utf-8")
            Path(tmp, f"{stem}.html").write_text(html, encoding="utf-8")
            client.log_artifacts(run_id, tmp, "model_card")
        card = f"runs:/{run_id}/model_card/{stem}.html"
        st.done(card)

    gates_text = _gates_tag(gates)
    entry = audit.make_entry("publish" if status == PENDING else "reject", actor=publisher, model=name,
                             version=mv.version, reason="gates passed" if not failed else
                             f"gates failed: {', '.join(failed)}", run_id=run_id, approval_status=status,
                             gates={g: r["passed"] for g, r in gates.items()}, identity=identity,
                             gates_sha256=gates_cfg.sha256, gates_file_reviewed=reviewed,
                             gate_results_sha256=signing.sha256_text(gates_text), artifact_sha256=digest)
    version_tags = {
        STATUS_TAG: status, "kequn.task": task, "kequn.author": tags.get(AUTHOR_TAG, ""),
        "kequn.run_id": run_id, "kequn.gates": gates_text, "kequn.published_by": publisher,
        "kequn.published_at": published_at, "kequn.model_card": card, "kequn.gates_sha256": gates_cfg.sha256,
        "kequn.gates_file": str(gates_cfg.source), "kequn.artifact_sha256": digest,
        "kequn.publisher_identity": identity,
    }
    if model_id:
        version_tags["kequn.model_id"] = model_id
    if not reviewed:
        version_tags[governance.UNREVIEWED_TAG] = "true"
    with audit.locked(client):
        _write(client, mv, entry, version_tags)
    if failed:
        reasons = " | ".join(gates[g]["detail"] for g in failed)
        summary = f"{name} v{mv.version}: rejected ({reasons})"
    else:
        summary = f"{name} v{mv.version}: pending approval (all gates passed); model card {card}"
    if not reviewed:
        summary += "; gates file unreviewed"
    return {"name": name, "version": str(mv.version), "approval_status": status, "gates": gates,
            "model_card": card, "gates_sha256": gates_cfg.sha256, "gates_reviewed": reviewed, "summary": summary}


def _signing_in_force(person: str, role: str, gov: Any, keyring: signing.Keyring, option: str) -> bool:
    """Whether ``person`` must sign; refuse when signing is required and they cannot."""
    required = governance.signatures_required(gov, keyring)
    listed = keyring.person(person) is not None
    if not required and not listed:
        console.info(f"note: {person!r} is not in the keyring {keyring.source}; this {role} action is recorded "
                     "unsigned and `kequn verify` will report it")
        return False
    try:
        keyring.require(person, role)
    except signing.SigningError as exc:
        raise signing.SigningError(f"{option}: {exc}") from None
    return True


def _sign(person: str, record: dict[str, Any], keyring: signing.Keyring) -> str:
    """Sign ``record`` with ``person``'s key, refusing a key that is not the one the keyring lists."""
    signature = signing.sign(person, record)
    listed = keyring.person(person)
    if listed is None or not signing.verify_signature(record, signature, listed.public_key):
        raise signing.SigningError(f"{signing.key_path(person)}: this private key is not the key the keyring "
                                   f"{keyring.source} lists for {person!r}; nothing was signed or written")
    return signature


def _conflict(client: Any, mv: Any, *, actor: str, attempted: str, what: str, identity: str,
              **details: Any) -> ConcurrentChange:
    """Record a refused concurrent attempt (under the lock) and return the error to raise."""
    entry = audit.append(client, audit.make_entry("conflict", actor=actor, model=mv.name, version=mv.version,
                                                  reason=f"{attempted} refused: {what}", attempted=attempted,
                                                  identity=identity, **details))
    return ConcurrentChange(f"model {mv.name!r} v{mv.version}: {what} while this {attempted} was being "
                            f"prepared; nothing was written (the attempt is audit entry {entry['seq']}); "
                            "look at `kequn registry` and retry if still wanted")


def prepare_approval(*, name: str, version: Any, approver: str | None = None, reason: str = "") -> dict[str, Any]:
    """Check a pending version and build (and sign) its approval record; nothing is written.

    The returned dict is what :func:`commit_approval` writes if the version is unchanged.
    """
    gov = governance.load_governance()
    keyring = signing.load_keyring()
    approver, identity = governance.acting_person(approver, option="--approver", config=gov)
    client = _client()
    mv = _get_version(client, name, version)
    label = f"model {mv.name!r} v{mv.version}"
    tags = dict(mv.tags or {})
    status = tags.get(STATUS_TAG)
    if status == REJECTED:
        raise RegistryError(f"{label} was rejected by its gates ({_failed_checks(tags)}); approving a rejected "
                            "version is not allowed: fix the model and retrain, then publish the new run; or, if "
                            "the gap has a legitimate business reason, add a reviewed exemption with that reason "
                            "to the gates file (fairness.exemptions) and publish the run again")
    if status == APPROVED:
        raise RegistryError(f"{label} is already approved (by {tags.get('kequn.approved_by', '?')})")
    if status != PENDING:
        raise RegistryError(f"{label} was not published with `kequn publish` (no approval_status); "
                            "only pending versions can be approved")
    author = tags.get("kequn.author", "").strip()
    if not author and mv.run_id:
        author = dict(_get_run(client, mv.run_id).data.tags).get("kequn.author", "").strip()
    if not author:
        raise RegistryError(f"{label}: its run has no kequn.author tag, so four-eyes approval cannot be checked")
    if _same_person(author, approver):
        raise RegistryError(f"{label}: {approver!r} is the author of its training run; approving one's own "
                            "run is not allowed (four eyes): ask another reviewer")
    publisher = tags.get("kequn.published_by", "").strip()
    if publisher and _same_person(publisher, approver):
        raise RegistryError(f"{label}: {approver!r} published this version; approving one's own submission "
                            "is not allowed (four eyes): ask another reviewer")
    sign = _signing_in_force(approver, "reviewer", gov, keyring, "--approver")
    digest = governance.model_digest(client, mv)
    if tags.get("kequn.artifact_sha256") and not signing.digests_equal(digest, tags["kequn.artifact_sha256"]):
        raise RegistryError(f"{label}: its model artifact changed since publish (SHA-256 differs); "
                            "it cannot be approved: publish the run again")
    record = {"kind": "kequn.approval/v1", "model": mv.name, "version": str(mv.version), "run_id": mv.run_id or "",
              "model_id": tags.get("kequn.model_id", ""), "artifact_sha256": digest,
              "gate_results_sha256": signing.sha256_text(tags.get("kequn.gates", "")),
              "gates_file_sha256": tags.get("kequn.gates_sha256", ""), "approver": approver, "author": author,
              "publisher": publisher, "identity": identity, "time": audit.utc_now(), "reason": reason or "",
              "revision": tags.get("kequn.revision", "0")}
    signature = _sign(approver, record, keyring) if sign else governance.UNSIGNED
    return {"record": record, "signature": signature, "identity": identity}


def commit_approval(prepared: dict[str, Any]) -> dict[str, Any]:
    """Write a prepared approval if the version is unchanged since it was prepared (compare-and-set)."""
    record, signature, identity = prepared["record"], prepared["signature"], prepared["identity"]
    client = _client()
    with audit.locked(client):
        mv = _get_version(client, record["model"], record["version"])
        tags = dict(mv.tags or {})
        if tags.get(STATUS_TAG) != PENDING or tags.get("kequn.revision", "0") != record["revision"]:
            what = (f"it was approved by {tags.get('kequn.approved_by', '?')}" if tags.get(STATUS_TAG) == APPROVED
                    else f"its state changed (approval_status {tags.get(STATUS_TAG)!r})")
            raise _conflict(client, mv, actor=record["approver"], attempted="approve", what=what, identity=identity)
        entry = audit.make_entry("approve", actor=record["approver"], model=mv.name, version=mv.version,
                                 reason=record["reason"], run_id=mv.run_id, author=record["author"],
                                 identity=identity, signature=signature,
                                 record_sha256=signing.sha256_text(signing.canonical(record)))
        _write(client, mv, entry, {
            STATUS_TAG: APPROVED, "kequn.approved_by": record["approver"], "kequn.approved_at": record["time"],
            "kequn.approval_reason": record["reason"], governance.IDENTITY_TAG: identity,
            governance.APPROVAL_RECORD: signing.canonical(record).decode("utf-8"),
            governance.APPROVAL_SIGNATURE: signature})
    signed = "signed" if signature != governance.UNSIGNED else f"unsigned, identity {identity}"
    return {"name": mv.name, "version": str(mv.version), "approval_status": APPROVED,
            "summary": f"{mv.name} v{mv.version}: approved by {record['approver']} (author {record['author']}; "
                       f"{signed})"}


def approve(*, name: str, version: Any, approver: str | None = None, reason: str = "") -> dict[str, Any]:
    """Approve a pending version; the approver must be neither the training run's author nor the
    person who published the version (four eyes: whoever submits does not approve).

    Raises
    ------
    RegistryError
        For an unknown model or version, a version that is not pending (rejected, already
        approved, never published by kequn), the author or publisher approving (under any
        spelling or case), a reviewer without a key or role when signing is in force, or a
        concurrent change (:class:`ConcurrentChange`). Nothing is written to the version then.
    """
    return commit_approval(prepare_approval(name=name, version=version, approver=approver, reason=reason))


def prepare_promotion(*, name: str, version: Any, alias: str = "champion", by: str | None = None,
                      reason: str = "") -> dict[str, Any]:
    """Check an approved version and build (and sign) its promotion record; nothing is written."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_alias_name

    alias = (alias or "").strip()
    if not alias:
        raise RegistryError("--alias: an alias name is required")
    try:
        _validate_model_alias_name(alias)
    except MlflowException as exc:
        raise RegistryError(f"--alias {alias!r}: refused by MLflow ({_first_line(exc)})") from None
    gov = governance.load_governance()
    keyring = signing.load_keyring()
    by, identity = governance.acting_person(by, option="--by", config=gov)
    client = _client()
    mv = _get_version(client, name, version)
    label = f"model {mv.name!r} v{mv.version}"
    tags = dict(mv.tags or {})
    status = tags.get(STATUS_TAG)
    if status != APPROVED:
        hint = {PENDING: "it is pending; a reviewer must run `kequn approve` first",
                REJECTED: "it was rejected by its gates"}.get(status, "it was never published with `kequn publish`")
        raise RegistryError(f"{label} is not approved ({hint}); only approved versions can be promoted")
    try:
        previous = client.get_model_version_by_alias(mv.name, alias)
    except MlflowException:
        previous = None
    if previous is not None and str(previous.version) == str(mv.version):
        raise RegistryError(f"{label} already holds @{alias}")
    sign = _signing_in_force(by, "owner", gov, keyring, "--by")
    if sign:
        # the approval it promotes must itself verify (an approval tag set by hand is refused here)
        digest = governance.verify(name=mv.name, version=str(mv.version), client=client)["artifact_sha256"]
    else:
        digest = governance.model_digest(client, mv)
    record = {"kind": "kequn.promotion/v1", "model": mv.name, "version": str(mv.version), "alias": alias,
              "previous": str(previous.version) if previous is not None else None, "artifact_sha256": digest,
              "approval_sha256": signing.sha256_text(tags.get(governance.APPROVAL_SIGNATURE, "")),
              "promoter": by, "identity": identity, "time": audit.utc_now(), "reason": reason or "",
              "rollback": f"kequn.held.{alias}" in tags}
    signature = _sign(by, record, keyring) if sign else governance.UNSIGNED
    return {"record": record, "signature": signature, "identity": identity}


def commit_promotion(prepared: dict[str, Any]) -> dict[str, Any]:
    """Move the alias if neither it nor the version changed since preparing (compare-and-set)."""
    from mlflow.exceptions import MlflowException

    record, signature, identity = prepared["record"], prepared["signature"], prepared["identity"]
    alias, by = record["alias"], record["promoter"]
    client = _client()
    with audit.locked(client):
        mv = _get_version(client, record["model"], record["version"])
        try:
            holder = str(client.get_model_version_by_alias(mv.name, alias).version)
        except MlflowException:
            holder = None
        if holder != record["previous"] or dict(mv.tags or {}).get(STATUS_TAG) != APPROVED:
            what = (f"@{alias} moved to v{holder}" if holder != record["previous"] and holder is not None
                    else f"@{alias} changed" if holder != record["previous"] else "its approval changed")
            raise _conflict(client, mv, actor=by, attempted="promote", what=what, identity=identity, alias=alias)
        try:
            client.set_registered_model_alias(mv.name, alias, mv.version)
        except MlflowException as exc:
            raise RegistryError(f"--alias {alias!r}: refused by MLflow ({_first_line(exc)})") from None
        prev_version = record["previous"]
        entry = audit.make_entry("rollback" if record["rollback"] else "promote", actor=by, model=mv.name,
                                 version=mv.version, reason=record["reason"], alias=alias, previous=prev_version,
                                 run_id=mv.run_id, identity=identity, signature=signature,
                                 record_sha256=signing.sha256_text(signing.canonical(record)))
        prefix = f"kequn.promotion.{alias}"
        _write(client, mv, entry, {f"kequn.held.{alias}": record["time"],
                                   f"kequn.previous.{alias}": prev_version or "none",
                                   f"{prefix}.record": signing.canonical(record).decode("utf-8"),
                                   f"{prefix}.signature": signature})
        if prev_version is not None:
            client.set_model_version_tag(mv.name, prev_version, f"kequn.replaced.{alias}",
                                         f"by v{mv.version} at {record['time']}")
    verb = "rolled back" if record["rollback"] else "promoted"
    was = f"; previous @{alias} was v{prev_version} (promote it again to roll back)" if prev_version else ""
    signed = "" if signature != governance.UNSIGNED else f" (unsigned, identity {identity})"
    return {"name": mv.name, "version": str(mv.version), "alias": alias, "previous": prev_version,
            "action": entry["action"],
            "summary": f"{mv.name} v{mv.version}: {verb} to @{alias} by {by}{signed}{was}"}


def promote(*, name: str, version: Any, alias: str = "champion", by: str | None = None,
            reason: str = "") -> dict[str, Any]:
    """Point ``models:/NAME@ALIAS`` at an approved version, recording the previous holder.

    Promoting a version that held the alias before is recorded as a ``rollback``. When signing
    is in force the promoter must hold the owner role and the approval must verify.

    Raises
    ------
    RegistryError
        For an unknown model or version, a version that is not approved, an empty or invalid
        alias, a version that already holds the alias, a promoter without key or owner role
        when signing is in force, or a concurrent change. Nothing is written then.
    """
    return commit_promotion(prepare_promotion(name=name, version=version, alias=alias, by=by, reason=reason))


def _gates_cell(tags: dict[str, str]) -> str:
    try:
        gates = json.loads(tags.get("kequn.gates", ""))
    except json.JSONDecodeError:
        return "-"
    marks = [("✓" if r.get("passed") else "✗") + g for g, r in gates.items() if r.get("applicable", True)]
    return " ".join(marks) or "-"


def _metric_cell(metrics: dict[str, float]) -> str:
    shown = [f"{k}={metrics[k]:.3f}" for k in KEY_METRICS if k in metrics]
    if "privacy_mia_auc" in metrics:
        shown.append(f"mia_auc={metrics['privacy_mia_auc']:.3f}")
    if "dp_epsilon" in metrics:
        cost = metrics.get('dp_utility_cost_roc_auc', float('nan'))
        shown.append(f"dp_epsilon={metrics['dp_epsilon']:g} dp_cost={cost:.3f}")
    return " ".join(shown) or "-"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def registry_listing(*, name: str | None = None) -> str:
    """A readable table of registered models and their versions.

    Columns: version, aliases, approval status, key metrics (``test_roc_auc``,
    ``test_qini_auc``, ``silhouette``), gate results, author and approver.

    Raises
    ------
    RegistryError
        When ``name`` is given and no such registered model exists.
    """
    from mlflow.exceptions import MlflowException

    client = _client()
    governance.identity_note()
    if name is not None:
        models = [_registered_model(client, _check_name(name))]
    else:
        models = sorted((m for m in client.search_registered_models(max_results=1000)
                         if m.name != audit.LOCK_MODEL), key=lambda m: m.name)
    if not models:
        return "no registered models yet (publish a run with `kequn publish --run RUN_ID --name MODEL`)"
    blocks = []
    header = ["version", "aliases", "status", "metrics", "gates", "author", "approver"]
    for model in models:
        by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(f"@{alias}")
        escaped = model.name.replace("'", "\\'")
        versions = sorted(client.search_model_versions(f"name='{escaped}'"), key=lambda v: int(v.version))
        rows = []
        for mv in versions:
            tags = dict(mv.tags or {})
            try:
                metrics = dict(client.get_run(mv.run_id).data.metrics) if mv.run_id else {}
            except MlflowException:
                metrics = {}
            status = tags.get(STATUS_TAG, "-")
            if status == APPROVED and tags.get(governance.APPROVAL_SIGNATURE) == governance.UNSIGNED:
                status += " (unsigned)"
            if tags.get(governance.UNREVIEWED_TAG) == "true":
                status += " (gates unreviewed)"
            rows.append([f"v{mv.version}", ",".join(sorted(by_version.get(str(mv.version), []))) or "-",
                         status, _metric_cell(metrics), _gates_cell(tags),
                         tags.get("kequn.author", "-") or "-", tags.get("kequn.approved_by", "-")])
        body = _table(header, rows) if rows else "(no versions)"
        blocks.append(f"{model.name}\n{body}")
    try:
        trail = f"{len(audit.verify_chain(client))} entries, chain intact"
    except audit.AuditChainError as exc:
        trail = f"BROKEN: {exc}"
    local = audit.audit_log_path()
    blocks.append(f"audit trail: experiment {audit.AUDIT_EXPERIMENT} ({trail})"
                  + (f"; local copy {local}" if local else ""))
    return "\n\n".join(blocks)
