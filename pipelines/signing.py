"""Ed25519 keys of the people who approve and promote, the reviewed keyring, and digests.

Threats this module helps stop (each has a test that performs the attack):

- *an approval tag set by hand* (``approval_status=approved`` written with ``MlflowClient``):
  an approval counts only with a signature over its record by a key in the reviewed keyring;
- *a swapped model artifact*: the record carries :func:`artifact_digest` of the model files, so
  a file replaced after approval no longer matches;
- *someone signing as another person*: a private key is read only from its owner's key folder,
  refused when group- or world-readable, and the signature is checked against the public key
  the keyring (a reviewed file under ``conf/``) lists for the name in the record.

Keys live outside the repository: ``KEQUN_KEY_DIR`` when set, else ``~/.kequn/keys``; the
private key of ``WHO`` is ``WHO.key`` (PKCS#8 PEM, mode 0600). It is read once per command,
never logged and never put in an exception, an MLflow tag or a parameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from kequn.config import StrictConfig, read_yaml_mapping
from kequn.errors import ConfigError, RegistryError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_KEYRING = REPO_ROOT / "conf" / "keyring.yaml"
ROLES = ("author", "reviewer", "owner")
PUBLIC_PREFIX = "ed25519:"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class SigningError(RegistryError):
    """A key, keyring or signature cannot be used."""


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted-key, compact UTF-8 JSON."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def sha256_text(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def digests_equal(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two hex digests (``None`` never matches)."""
    return a is not None and b is not None and hmac.compare_digest(str(a), str(b))


#: Files MLflow itself writes into a model folder when it is loaded from the registry (the
#: registered name and version, no behaviour); left out of the digest so that loading the champion
#: does not "change" it.
DIGEST_IGNORED = frozenset({"registered_model_meta"})


def artifact_digest(directory: Path) -> str:
    """SHA-256 over every file under ``directory``: sorted relative paths and their contents
    (except :data:`DIGEST_IGNORED` at the top level)."""
    directory = Path(directory)
    outer = hashlib.sha256()
    files = sorted(p for p in directory.rglob("*") if p.is_file()
                   and p.relative_to(directory).as_posix() not in DIGEST_IGNORED)
    if not files:
        raise RegistryError(f"{directory}: the model artifact holds no files")
    for path in files:
        inner = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                inner.update(block)
        outer.update(path.relative_to(directory).as_posix().encode("utf-8") + b"\0" + inner.hexdigest().encode() + b"\n")
    return outer.hexdigest()


# --------------------------------------------------------------------------------------------
# private keys


def check_person_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise SigningError("--name: a person's name is letters, digits and . _ @ - (at most 64). "
                           f"Got {name!r}")
    return name


def key_dir() -> Path:
    """Where private keys live: ``KEQUN_KEY_DIR``, else ``~/.kequn/keys``."""
    env = os.environ.get("KEQUN_KEY_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".kequn" / "keys"


def key_path(name: str) -> Path:
    return key_dir() / f"{check_person_name(name)}.key"


def public_key_text(public_key: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_PREFIX + base64.b64encode(raw).decode("ascii")


def fingerprint(public_text: str) -> str:
    """A short, stable id of a public key (first 16 hex of its SHA-256)."""
    return sha256_text(public_text)[:16]


def init_key(name: str) -> tuple[Path, str]:
    """Create the Ed25519 key pair of ``name``; return ``(private key path, public key text)``.

    Raises
    ------
    SigningError
        When the key folder is inside the repository (keys must never be committed), or a key
        for ``name`` already exists (it is never overwritten).
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    path = key_path(name)
    folder = path.parent.resolve()
    if folder == REPO_ROOT or REPO_ROOT in folder.parents:
        raise SigningError(f"KEQUN_KEY_DIR {path.parent}: inside the repository {REPO_ROOT}; private keys must "
                           "live outside it (default ~/.kequn/keys)")
    if path.exists():
        raise SigningError(f"{path}: a key for {name!r} already exists; it is never overwritten "
                           "(remove it yourself to rotate, then update conf/keyring.yaml)")
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
    os.replace(tmp, path)
    return path, public_key_text(key.public_key())


def load_private_key(name: str) -> Any:
    """The private key of ``name`` from :func:`key_dir`.

    Raises
    ------
    SigningError
        For a missing key, a key file readable by group or others, or a file that is not an
        Ed25519 private key. The message names the file, never its content.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    path = key_path(name)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SigningError(f"{path}: no signing key for {name!r}; run `kequn keys init --name {name}` and add "
                           "the printed public key to conf/keyring.yaml") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningError(f"{path}: private key is readable by group or others (mode {stat.S_IMODE(mode):04o}); "
                           f"run `chmod 600 {path}`")
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError):
        raise SigningError(f"{path}: not a readable unencrypted Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: not an Ed25519 private key")
    return key


def has_private_key(name: str) -> bool:
    try:
        return key_path(name).is_file()
    except SigningError:
        return False


# --------------------------------------------------------------------------------------------
# keyring


class Person(StrictConfig):
    public_key: str
    roles: list[str] = Field(default_factory=list)

    @field_validator("public_key")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
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

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        for role in value:
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
        return value


class KeyringConfig(StrictConfig):
    people: dict[str, Person] = Field(default_factory=dict)

    @field_validator("people", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


@dataclass(frozen=True)
class Keyring:
    """The reviewed keyring: people, their public keys and roles; ``sha256`` of the file."""

    people: dict[str, Person]
    source: str
    sha256: str

    def person(self, name: str) -> Person | None:
        """The entry for ``name``, matched case-insensitively (names are identities, not spellings)."""
        folded = (name or "").strip().casefold()
        for key, person in self.people.items():
            if key.casefold() == folded:
                return person
        return None

    def require(self, name: str, role: str) -> Person:
        person = self.person(name)
        if person is None:
            raise SigningError(f"{name!r} is not in the keyring {self.source}; add their public key (from "
                               "`kequn keys init`) and roles in a reviewed change")
        if role not in person.roles:
            raise SigningError(f"{name!r} does not hold the {role} role in the keyring {self.source} "
                               f"(roles: {', '.join(person.roles) or 'none'})")
        return person


def keyring_path() -> Path:
    env = os.environ.get("KEQUN_KEYRING", "").strip()
    return Path(env) if env else DEFAULT_KEYRING


def load_keyring(path: str | Path | None = None) -> Keyring:
    """Read and validate the keyring (default ``conf/keyring.yaml`` or ``KEQUN_KEYRING``)."""
    path = Path(path) if path is not None else keyring_path()
    raw = read_yaml_mapping(path, what="keyring")
    try:
        config = KeyringConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {where}: {err['msg']}") from None
    return Keyring(people=dict(config.people), source=str(path), sha256=sha256_text(path.read_bytes()))


# --------------------------------------------------------------------------------------------
# signatures


def sign(name: str, record: dict[str, Any]) -> str:
    """Base64 Ed25519 signature of :func:`canonical` ``(record)`` by ``name``'s private key."""
    key = load_private_key(name)
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
