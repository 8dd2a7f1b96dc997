"""Ed25519 primitives shared by every floor: canonical bytes, key files, signatures, digests.

The one implementation of signing in kequn. People's approval and promotion keys
(:mod:`pipelines.signing`) and the *step key* that signs clean-zone manifests and feature tables
(:mod:`kequn.lineage`) both use it.

Keys live outside the repository: ``KEQUN_KEY_DIR`` when set, else ``~/.kequn/keys``. A private
key is a PKCS#8 PEM file with mode 0600; a file readable by group or others is refused. A key is
read once per command, never logged and never put in an exception, an MLflow tag or a parameter.

The step key (:func:`step_key_path`) is ``$KEQUN_STEP_KEY`` when set, else
``<key dir>/steps/privacy.key``; :func:`ensure_step_key` creates the default one on first use.
Which step keys are *trusted* is :func:`trusted_step_keys`: the ``steps:`` section of the
reviewed keyring (``conf/keyring.yaml`` or ``$KEQUN_KEYRING``) when it lists any, else only the
local step key (a fresh install, the demo, the CLI contract check).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kequn.errors import ConfigError, KequnError

__all__ = ["PUBLIC_PREFIX", "SIGNATURE_KEY", "SigningKeyError", "StepKey", "canonical", "check_public_key",
           "digests_equal", "ensure_step_key", "fingerprint", "generate_key_file", "keyring_path",
           "key_dir", "load_private_key_file", "public_key_text", "sha256_text", "sign_record", "sign_with_key",
           "signed_body", "step_key_path", "trusted_step_keys", "verify_signature", "verify_signed"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KEYRING = REPO_ROOT / "conf" / "keyring.yaml"
PUBLIC_PREFIX = "ed25519:"
#: Key of the signature object inside a signed JSON record (manifest, feature lineage).
SIGNATURE_KEY = "signature"
STEP_KEY_ENV = "KEQUN_STEP_KEY"
#: What a step key may sign: a clean-zone manifest (pseudonymise), a feature table (features).
STEP_PURPOSES = ("manifest", "features")


class SigningKeyError(KequnError):
    """A key file, a keyring entry or a signature cannot be used."""


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted-key, compact UTF-8 JSON."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def sha256_text(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def digests_equal(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two hex digests (``None`` never matches)."""
    return a is not None and b is not None and hmac.compare_digest(str(a), str(b))


def public_key_text(public_key: Any) -> str:
    """``ed25519:<base64 of the 32 raw bytes>``."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_PREFIX + base64.b64encode(raw).decode("ascii")


def check_public_key(value: str) -> str:
    """Validate the text form of an Ed25519 public key (raises ``ValueError``)."""
    value = str(value).strip()
    if not value.startswith(PUBLIC_PREFIX):
        raise ValueError(f"public key must start with {PUBLIC_PREFIX!r}")
    try:
        raw = base64.b64decode(value[len(PUBLIC_PREFIX):], validate=True)
    except ValueError:
        raise ValueError("public key is not base64") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return value


def fingerprint(public_text: str) -> str:
    """A short, stable id of a public key (first 16 hex of its SHA-256)."""
    return sha256_text(public_text)[:16]


# --------------------------------------------------------------------------------------------
# key files


def key_dir() -> Path:
    """Where private keys live: ``KEQUN_KEY_DIR``, else ``~/.kequn/keys``."""
    env = os.environ.get("KEQUN_KEY_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".kequn" / "keys"


def refuse_inside_repo(path: Path, what: str) -> None:
    folder = path.parent.resolve()
    if folder == REPO_ROOT or REPO_ROOT in folder.parents:
        raise SigningKeyError(f"{what} {path.parent}: inside the repository {REPO_ROOT}; private keys must "
                              "live outside it (default ~/.kequn/keys)")


def generate_key_file(path: Path) -> str:
    """Create a new Ed25519 private key at ``path`` (mode 0600, never overwriting); return its
    public key text."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # atomic and never replaces a key another process just created
    except FileExistsError:
        os.unlink(tmp)
        raise
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            os.unlink(tmp)
            raise FileExistsError(str(path)) from None
        os.replace(tmp, path)
        return public_key_text(key.public_key())
    os.unlink(tmp)
    return public_key_text(key.public_key())


def load_private_key_file(path: Path, *, missing_hint: str) -> Any:
    """The Ed25519 private key in ``path``.

    Raises
    ------
    SigningKeyError
        For a missing file (``missing_hint`` says how to create it), a file readable by group or
        others, or a file that is not an Ed25519 private key. The message names the file, never
        its content.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SigningKeyError(f"{path}: no such private key; {missing_hint}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(f"{path}: private key is readable by group or others "
                              f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`")
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError):
        raise SigningKeyError(f"{path}: not a readable unencrypted Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


# --------------------------------------------------------------------------------------------
# signatures


def sign_with_key(key: Any, record: dict[str, Any]) -> str:
    """Base64 Ed25519 signature of :func:`canonical` ``(record)``."""
    return base64.b64encode(key.sign(canonical(record))).decode("ascii")


def verify_signature(record: dict[str, Any], signature: str, public_text: str) -> bool:
    """True when ``signature`` is a valid signature of ``record`` by ``public_text``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_text[len(PUBLIC_PREFIX):]))
        public.verify(base64.b64decode(signature, validate=True), canonical(record))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def signed_body(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` without its :data:`SIGNATURE_KEY` (what the signature covers)."""
    return {k: v for k, v in record.items() if k != SIGNATURE_KEY}


def sign_record(key: Any, record: dict[str, Any], *, signer: str) -> dict[str, Any]:
    """``record`` with a :data:`SIGNATURE_KEY` object: the signer's name, public key and the
    Ed25519 signature over everything else."""
    body = signed_body(record)
    public = public_key_text(key.public_key())
    return {**body, SIGNATURE_KEY: {"alg": "ed25519", "signer": signer, "public_key": public,
                                    "key_id": fingerprint(public), "value": sign_with_key(key, body)}}


# --------------------------------------------------------------------------------------------
# the step key and the trusted step keys


@dataclass(frozen=True)
class StepKey:
    """A public key trusted to sign what a pipeline step publishes."""

    name: str
    public_key: str
    signs: tuple[str, ...]
    source: str


def step_key_path() -> Path:
    """The private step key: ``$KEQUN_STEP_KEY``, else ``<key dir>/steps/privacy.key``."""
    env = os.environ.get(STEP_KEY_ENV, "").strip()
    return Path(env).expanduser() if env else key_dir() / "steps" / "privacy.key"


def ensure_step_key() -> tuple[Any, str | None]:
    """The step's private key, and a note when it was created now (else ``None``).

    The default key (no ``$KEQUN_STEP_KEY``) is created on first use, mode 0600, as the demo
    creates a local pseudonymisation key; a key named by ``$KEQUN_STEP_KEY`` must exist.
    """
    path = step_key_path()
    note = None
    if not os.environ.get(STEP_KEY_ENV, "").strip() and not path.exists():
        refuse_inside_repo(path, "KEQUN_KEY_DIR")
        try:
            public = generate_key_file(path)
            note = (f"created the privacy step's signing key {path} (mode 0600); it signs clean-zone manifests "
                    f"and feature tables. To trust only it, list it under steps: in conf/keyring.yaml: "
                    f"privacy-step: {{public_key: \"{public}\"}}")
        except FileExistsError:  # another process created it meanwhile
            pass
    hint = f"set ${STEP_KEY_ENV} to the privacy step's key file, or unset it to use {key_dir() / 'steps'}"
    return load_private_key_file(path, missing_hint=hint), note


def keyring_path() -> Path:
    """The reviewed keyring: ``$KEQUN_KEYRING``, else ``conf/keyring.yaml``."""
    env = os.environ.get("KEQUN_KEYRING", "").strip()
    return Path(env) if env else DEFAULT_KEYRING


def _keyring_steps(path: Path) -> dict[str, Any]:
    from kequn.config import read_yaml_mapping

    if not path.is_file():
        return {}
    raw = read_yaml_mapping(path, what="keyring")
    steps = raw.get("steps") or {}
    if not isinstance(steps, dict):
        raise ConfigError(f"{path}: steps: must be a mapping of step names to {{public_key, signs}}")
    return steps


def trusted_step_keys() -> list[StepKey]:
    """The step public keys that ``features`` and ``train`` accept.

    The keyring's ``steps:`` entries when it lists any (a reviewed deployment: only the privacy
    step's service key signs); otherwise the public half of the local step key
    (:func:`step_key_path`) if it exists — the default of a fresh install, where whoever runs
    ``pseudonymise`` also runs ``train`` (see docs/governance.md, threat model).
    """
    path = keyring_path()
    steps = _keyring_steps(path)
    keys: list[StepKey] = []
    for name, entry in steps.items():
        if not isinstance(entry, dict) or "public_key" not in entry:
            raise ConfigError(f"{path}: steps.{name}: needs a public_key")
        unknown = set(entry) - {"public_key", "signs"}
        if unknown:
            raise ConfigError(f"{path}: steps.{name}: unknown key {sorted(unknown)[0]!r}")
        try:
            public = check_public_key(entry["public_key"])
        except ValueError as exc:
            raise ConfigError(f"{path}: steps.{name}.public_key: {exc}") from None
        signs = tuple(entry.get("signs") or STEP_PURPOSES)
        for purpose in signs:
            if purpose not in STEP_PURPOSES:
                raise ConfigError(f"{path}: steps.{name}.signs: unknown purpose {purpose!r}; known: "
                                  f"{', '.join(STEP_PURPOSES)}")
        keys.append(StepKey(str(name), public, signs, f"keyring {path}"))
    if keys:
        return keys
    local = step_key_path()
    if local.is_file():
        key = load_private_key_file(local, missing_hint="")
        keys.append(StepKey("local step key", public_key_text(key.public_key()), STEP_PURPOSES, str(local)))
    return keys


def verify_signed(record: dict[str, Any], *, purpose: str, what: str,
                  trusted: list[StepKey] | None = None) -> StepKey:
    """Check that ``record`` carries a valid signature by a trusted step key for ``purpose``.

    ``what`` names the record in the message (a file). Threats: a hand-written or copied and
    edited record (the signature no longer verifies), a record signed by a key of one's own
    (not in the trusted set).

    Raises
    ------
    LineageError
        One line naming the broken link.
    """
    from kequn.errors import LineageError

    trusted = trusted_step_keys() if trusted is None else trusted
    sig = record.get(SIGNATURE_KEY)
    if not isinstance(sig, dict) or not sig.get("value") or not sig.get("public_key"):
        raise LineageError(f"{what}: not signed by the privacy step (no signature); only what "
                              "`kequn pseudonymise` / `kequn features` wrote is accepted")
    public = str(sig["public_key"])
    match = next((k for k in trusted if hmac.compare_digest(k.public_key, public)), None)
    if match is None:
        where = trusted[0].source if trusted else f"the keyring {keyring_path()} (steps:)"
        raise LineageError(f"{what}: signed by key {fingerprint(public)}, which is not a trusted step key "
                              f"({where})")
    if purpose not in match.signs:
        raise LineageError(f"{what}: step key {match.name!r} may not sign {purpose} records")
    if not verify_signature(signed_body(record), str(sig["value"]), public):
        raise LineageError(f"{what}: the signature does not verify; the record was edited after signing")
    return match
