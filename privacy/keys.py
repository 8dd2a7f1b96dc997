"""The pseudonymisation key: where it comes from, and its public fingerprint.

The key is a secret of the bank. It comes from ``--key-file`` or the environment variable
``KEQUN_PSEUDONYM_KEY``, must be at least :data:`MIN_KEY_LENGTH` characters, and is never
written, logged or echoed in an error message. Manifests record only :func:`key_fingerprint`,
so a reviewer can tell which key produced a clean zone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from kequn.errors import KeyMissingError

ENV_VAR = "KEQUN_PSEUDONYM_KEY"
#: Minimum key length in characters (bytes of the UTF-8 key); 32 random hex characters carry
#: 128 bits, beyond any enumeration.
MIN_KEY_LENGTH = 32
_HOW_TO = "create one with `python -c 'import secrets; print(secrets.token_hex(32))' > kequn.key`"
#: Domain-separation label of the fingerprint; token messages use another prefix, so the
#: fingerprint is never equal to (or derivable from) a token.
FINGERPRINT_DOMAIN = b"kequn.key-fingerprint.v1"


def load_key(key_file: Path | None) -> bytes:
    """Return the pseudonymisation key from ``key_file``, else from ``$KEQUN_PSEUDONYM_KEY``.

    Surrounding whitespace (a trailing newline in a key file) is ignored.

    Parameters
    ----------
    key_file:
        A file that holds the key, or ``None`` to use the environment variable.

    Raises
    ------
    KeyMissingError
        The file is missing or unreadable, no key is configured, or the key is shorter than
        :data:`MIN_KEY_LENGTH` characters. The message says how to fix it and never contains
        the key.
    """
    if key_file is not None:
        path = Path(key_file)
        if not path.is_file():
            raise KeyMissingError(f"{path}: no such key file; pass --key-file with an existing file or set {ENV_VAR}")
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise KeyMissingError(f"{path}: cannot read the key file ({type(exc).__name__})") from None
        source = str(path)
    else:
        value = os.environ.get(ENV_VAR)
        if not value or not value.strip():
            raise KeyMissingError(f"no pseudonymisation key: pass --key-file FILE or set {ENV_VAR}; {_HOW_TO}")
        key = value.strip().encode("utf-8")
        source = f"${ENV_VAR}"
    if len(key) < MIN_KEY_LENGTH:
        raise KeyMissingError(f"{source}: the pseudonymisation key is too short ({len(key)} characters, "
                              f"need at least {MIN_KEY_LENGTH}); {_HOW_TO}")
    return key


def key_fingerprint(key: bytes) -> str:
    """A public identifier of ``key``: 16 hex characters, safe to write in manifests.

    ``SHA-256(HMAC-SHA256(key, "kequn.key-fingerprint.v1"))``, first 16 hex characters
    (64 bits). It is a keyed function of a fixed public label, so:

    * it does not reveal the key (recovering it means inverting HMAC-SHA256 over a key of at
      least 128 bits of entropy; :func:`load_key` enforces the length);
    * it cannot be used to compute or test tokens: tokens are HMACs of a different,
      domain-separated message (``kequn.token.v1``), so knowing the fingerprint gives no
      oracle for guessing which mobile number or ID is behind a token;
    * two runs with the same key have the same fingerprint, different keys differ (a
      collision among a bank's handful of keys has probability ~n²/2⁶⁵).
    """
    inner = hmac.new(key, FINGERPRINT_DOMAIN, hashlib.sha256).digest()
    return hashlib.sha256(inner).hexdigest()[:16]
