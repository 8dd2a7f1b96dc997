"""The token format, and the check that a table holds tokens of one key only.

A token is ``tk_<kid>_<16 hex>``: ``kid`` (:data:`KEY_ID_CHARS` hex characters) names the
pseudonymisation key, the 16 hex characters are the keyed HMAC (:mod:`privacy.tokens`). This
module is the one definition of the format (the pattern, :func:`token_key_id`); it lives in the
kernel so that the lineage check (:mod:`kequn.lineage`) can refuse a zone that mixes keys without
importing ``privacy`` (a floor above); :mod:`privacy.tokens` re-exports every name, and every
other place (tests too) imports it from there.

Why the key id is the first 6 hex of the key fingerprint (:func:`privacy.keys.key_fingerprint`):
the fingerprint is already public (every manifest carries it) and is a keyed function of a fixed,
domain-separated label, so 24 bits of it say nothing about the key and give no oracle for the
HMAC of a token. Two of a bank's n keys share a key id with probability about n² / 2²⁵ (3·10⁻⁶
for 10 keys); ``kequn rekey`` refuses a new key whose id equals the old one's, so the ids of a
rotation always differ. The id is a guard against mixing keys by mistake, not an authenticator:
the signed manifest names the full fingerprint.

Tokens of the earlier format (``tk_`` + 16 hex, :data:`LEGACY_TOKEN_RE`) carry no key id; a zone
holding them is refused with a message to run ``kequn rekey``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

TOKEN_PREFIX = "tk_"
#: hex characters of the key id (a prefix of the key fingerprint)
KEY_ID_CHARS = 6
#: hex characters of the HMAC part
TOKEN_HEX_CHARS = 16
#: a token, unanchored (to find tokens in text)
TOKEN_RE = rf"tk_[0-9a-f]{{{KEY_ID_CHARS}}}_[0-9a-f]{{{TOKEN_HEX_CHARS}}}"
#: a whole value that is a token
TOKEN_PATTERN = f"^{TOKEN_RE}$"
#: a token of the format before key ids (``tk_`` + 16 hex); never written any more
LEGACY_TOKEN_RE = rf"tk_[0-9a-f]{{{TOKEN_HEX_CHARS}}}"
#: a token of either format (what a scan must not mistake for personal data)
ANY_TOKEN_RE = rf"tk_(?:[0-9a-f]{{{KEY_ID_CHARS}}}_)?[0-9a-f]{{{TOKEN_HEX_CHARS}}}"
#: the key id written in place of a legacy token's missing one (in messages)
LEGACY = "none (a token without key id)"
_HEAD = len(TOKEN_PREFIX) + KEY_ID_CHARS + 1  # "tk_" + kid + "_"


def key_id(fingerprint: str) -> str:
    """The key id of a key with ``fingerprint`` (:func:`privacy.keys.key_fingerprint`)."""
    return str(fingerprint)[:KEY_ID_CHARS]


def token_key_id(token: str) -> str | None:
    """The key id of ``token``; ``None`` for a value that is not a token of the current format."""
    import re

    if not isinstance(token, str) or not re.fullmatch(TOKEN_RE, token):
        return None
    return token[len(TOKEN_PREFIX):len(TOKEN_PREFIX) + KEY_ID_CHARS]


def column_key_ids(values: pa.Array | pa.ChunkedArray) -> set[str]:
    """Distinct key ids of the token-shaped values of a string column (vectorised on Arrow).

    A legacy token (no key id) counts as :data:`LEGACY`; values that are no token are ignored.
    A dictionary-encoded column is checked on its dictionary only (one entry per distinct value).
    """
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    found: set[str] = set()
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)) or len(chunk) == 0:
            continue
        tokens = chunk.filter(pc.fill_null(pc.match_substring_regex(chunk, f"^{ANY_TOKEN_RE}$"), False))
        if len(tokens) == 0:
            continue
        heads = pc.unique(pc.utf8_slice_codeunits(tokens, 0, _HEAD)).to_pylist()
        for head in heads:
            if head.endswith("_") and len(head) == _HEAD:
                found.add(head[len(TOKEN_PREFIX):-1])
            else:
                found.add(LEGACY)
    return found


def mixed_key_message(where: str, column: str, expected: str, found: Iterable[str]) -> str | None:
    """The one-line refusal for ``column`` holding tokens of keys other than ``expected``; else ``None``."""
    found = set(found)
    other = sorted(found - {expected})
    if not other:
        return None
    if LEGACY in other:
        return (f"{where}: column {column!r} holds tokens without a key id; the zone predates key ids in tokens "
                "- run `kequn rekey` (or `kequn pseudonymise` again) to rebuild it")
    return (f"{where}: column {column!r} holds tokens of key id {', '.join(other)}, but the manifest's key has id "
            f"{expected}; a zone must not mix keys (migrate it with `kequn rekey`)")


__all__ = ["ANY_TOKEN_RE", "KEY_ID_CHARS", "LEGACY", "LEGACY_TOKEN_RE", "TOKEN_HEX_CHARS", "TOKEN_PATTERN",
           "TOKEN_PREFIX", "TOKEN_RE", "column_key_ids", "key_id", "mixed_key_message", "token_key_id"]
