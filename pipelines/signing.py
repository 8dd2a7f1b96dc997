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

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from kequn.config import StrictConfig, read_yaml_mapping
from kequn.errors import ConfigError, RegistryError
from kequn.signing import (  # the one implementation of the primitives; re-exported here
    DEFAULT_KEYRING,
    PUBLIC_PREFIX,
    REPO_ROOT,
    SigningKeyError,
    canonical,
    check_public_key,
    digests_equal,
    fingerprint,
    generate_key_file,
    key_dir,
    keyring_path,
    load_private_key_file,
    public_key_text,
    refuse_inside_repo,
    sha256_text,
    sign_with_key,
    verify_signature,
)

__all__ = ["DEFAULT_KEYRING", "PUBLIC_PREFIX", "REPO_ROOT", "ROLES", "Keyring", "Person", "SigningError", "artifact_digest",
           "canonical", "check_person_name", "digests_equal", "fingerprint", "has_private_key", "init_key",
           "key_dir", "key_path", "keyring_path", "load_keyring", "load_private_key", "public_key_text",
           "sha256_text", "sign", "verify_signature"]

ROLES = ("author", "reviewer", "owner")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class SigningError(RegistryError):
    """A key, keyring or signature cannot be used."""


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


def key_path(name: str) -> Path:
    return key_dir() / f"{check_person_name(name)}.key"


def init_key(name: str) -> tuple[Path, str]:
    """Create the Ed25519 key pair of ``name``; return ``(private key path, public key text)``.

    Raises
    ------
    SigningError
        When the key folder is inside the repository (keys must never be committed), or a key
        for ``name`` already exists (it is never overwritten).
    """
    path = key_path(name)
    try:
        refuse_inside_repo(path, "KEQUN_KEY_DIR")
    except SigningKeyError as exc:
        raise SigningError(str(exc)) from None
    already = (f"{path}: a key for {name!r} already exists; it is never overwritten "
               "(remove it yourself to rotate, then update conf/keyring.yaml)")
    if path.exists():
        raise SigningError(already)
    try:
        public = generate_key_file(path)
    except FileExistsError:
        raise SigningError(already) from None
    return path, public


def load_private_key(name: str) -> Any:
    """The private key of ``name`` from :func:`key_dir`.

    Raises
    ------
    SigningError
        For a missing key, a key file readable by group or others, or a file that is not an
        Ed25519 private key. The message names the file, never its content.
    """
    path = key_path(name)
    if not path.exists():
        raise SigningError(f"{path}: no signing key for {name!r}; run `kequn keys init --name {name}` and add "
                           "the printed public key to conf/keyring.yaml")
    try:
        return load_private_key_file(path, missing_hint=f"run `kequn keys init --name {name}`")
    except SigningKeyError as exc:
        raise SigningError(str(exc)) from None


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
        return check_public_key(value)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        for role in value:
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
        return value


class StepEntry(StrictConfig):
    """A pipeline step's public key (read by :func:`kequn.signing.trusted_step_keys`)."""

    public_key: str
    signs: list[str] = Field(default_factory=lambda: ["manifest", "features"])

    @field_validator("public_key")
    @classmethod
    def _is_ed25519(cls, value: str) -> str:
        return check_public_key(value)


class KeyringConfig(StrictConfig):
    people: dict[str, Person] = Field(default_factory=dict)
    steps: dict[str, StepEntry] = Field(default_factory=dict)

    @field_validator("people", "steps", mode="before")
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
    return sign_with_key(load_private_key(name), record)
