"""Keyed, join-stable pseudonyms: ``tk_`` + key id + ``_`` + 16 hex characters of HMAC-SHA256.

A token is ``"tk_" + kid + "_" + hex(HMAC-SHA256(key, "kequn.token.v1" 0x00 ENTITY 0x00 canonical))[:16]``
where ``kid`` is the key id (the first 6 hex of :func:`privacy.keys.key_fingerprint`; the format
and :func:`token_key_id` are defined once in :mod:`kequn.tokens` and re-exported here), and ``canonical`` is :func:`privacy.normalise.canonical_identifier` of the raw value, so
``138-1234-5678``, ``+86 138 1234 5678`` and ``13812345678`` get one token, in every table and
every run that uses the same key. The entity type is part of the message (domain separation),
so a mobile number and a customer number that happen to share digits get unrelated tokens.

Why keyed: a mainland mobile number has ~10^11 possible values and a resident ID far fewer
plausible ones; an unkeyed hash of either is reversed by enumeration in minutes. Without the
key, a token reveals nothing about the value.

Why 16 hex characters (64 bits) are enough: tokens serve as join keys. Among n distinct values
of one entity type the probability that any two share a token is about n² / 2⁶⁵: for 10⁸
values (every customer, card and account of a large bank) that is 10¹⁶ / 3.7·10¹⁹ ≈ 3·10⁻⁴,
and for 10⁷ about 3·10⁻⁶. A collision would merge two customers' rows in a join, not reveal
anything. Longer tokens would cost storage in every table for no practical gain.

Why the key id is a prefix and the HMAC part is unchanged from the format before key ids
(``tk_`` + 16 hex): the message and the domain label ``kequn.token.v1`` are the same, so a zone
made before key ids gets the same 16 hex under the same key and only its prefix changes; the key
id is public (it is part of the public fingerprint), so it adds no secret and needs no new
domain. What it adds is a cheap check: a table whose tokens carry another key id than its
manifest's key is refused (:mod:`kequn.lineage`), so tokens of two keys never meet in a join.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import numpy as np
import pandas as pd

from kequn.tokens import (
    ANY_TOKEN_RE,
    KEY_ID_CHARS,
    LEGACY_TOKEN_RE,
    TOKEN_HEX_CHARS,
    TOKEN_PATTERN,
    TOKEN_PREFIX,
    TOKEN_RE,
    column_key_ids,
    key_id,
    token_key_id,
)
from privacy.keys import key_fingerprint
from privacy.normalise import canonical_identifier

__all__ = ["ANY_TOKEN_RE", "KEY_ID_CHARS", "LEGACY_TOKEN_RE", "TOKEN_DOMAIN", "TOKEN_HEX_CHARS", "TOKEN_PATTERN",
           "TOKEN_PREFIX", "TOKEN_RE", "column_key_ids", "distinct_canonical", "key_id", "key_id_of",
           "TokenReplacer", "token_key_id", "token_of", "token_replacer", "tokenise_series", "tokenise_uniques"]

TOKEN_DOMAIN = b"kequn.token.v1"


@lru_cache(maxsize=16)
def key_id_of(key: bytes) -> str:
    """The key id that prefixes every token made with ``key`` (public)."""
    return key_id(key_fingerprint(key))


def token_of(canonical: str, entity: str, key: bytes) -> str:
    """The token of one already-canonical value (see the module docstring)."""
    msg = TOKEN_DOMAIN + b"\x00" + entity.encode("ascii") + b"\x00" + canonical.encode("utf-8")
    return f"{TOKEN_PREFIX}{key_id_of(key)}_" + hmac.new(key, msg, hashlib.sha256).hexdigest()[:TOKEN_HEX_CHARS]


def tokenise_series(values: pd.Series, entity: str, key: bytes) -> pd.Series:
    """Replace every value by its token; missing stays missing.

    Values are canonicalised (vectorised), then each *distinct* canonical value is hashed once
    (``pandas.factorize``) and the tokens are broadcast back with one ``take``.

    Parameters
    ----------
    values:
        Raw identifiers (any formats: full-width, spaces, dashes, ``+86`` ...).
    entity:
        Entity constant of the values; selects the canonical form and separates domains.
    key:
        The pseudonymisation key (:func:`privacy.keys.load_key`).

    Returns
    -------
    pandas.Series
        String dtype, same index.
    """
    codes, uniques = distinct_canonical(values, entity)
    tokens = np.append(tokenise_uniques(uniques, entity, key), None)  # code -1 (missing) takes the last slot
    return pd.Series(tokens.take(codes), index=values.index, dtype="string")


def tokenise_uniques(uniques: np.ndarray, entity: str, key: bytes) -> np.ndarray:
    """The tokens of already-canonical values (object array, same order); one HMAC per value."""
    prefix = TOKEN_DOMAIN + b"\x00" + entity.encode("ascii") + b"\x00"
    base = hmac.new(key, prefix, hashlib.sha256)  # the key schedule once, copied per value
    head = f"{TOKEN_PREFIX}{key_id_of(key)}_"
    tokens = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):  # one HMAC per distinct value (C implementation)
        h = base.copy()
        h.update(str(value).encode("utf-8"))
        tokens[i] = head + h.hexdigest()[:TOKEN_HEX_CHARS]
    return tokens


def distinct_canonical(values: pd.Series, entity: str) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, canonical uniques)``: each row's code into the distinct canonical values.

    The raw column is factorised first, so normalisation runs once per distinct raw value
    (a card number repeated in 30 transactions is normalised once); then the canonical forms
    are factorised again (``138-1234-5678`` and ``13812345678`` share one code). Missing or
    empty values get code ``-1``.
    """
    raw_codes, raw_uniques = pd.factorize(values, use_na_sentinel=True)
    canonical = canonical_identifier(pd.Series(raw_uniques, dtype="string"), entity)
    canon_codes, uniques = pd.factorize(canonical, use_na_sentinel=True)
    lookup = np.append(canon_codes, -1)  # raw code -1 (missing) -> -1
    return lookup[raw_codes], np.asarray(uniques, dtype=object)


def token_replacer(key: bytes) -> TokenReplacer:
    """A ``replace(entity, span_text)`` callback for :func:`privacy.text.redact_texts` (token mode).

    A span gets the same token as the same value in an identifier column (same canonical form,
    same entity domain), so a mobile number in a note joins to the mobile column. Each distinct
    ``(entity, span)`` is canonicalised and hashed once; :meth:`TokenReplacer.many` does a whole
    column's spans in one vectorised call per entity.
    """
    return TokenReplacer(key)


class TokenReplacer:
    """The tokens of spans found in free text (see :func:`token_replacer`).

    Calling it per span would canonicalise one value at a time: a pandas string call per span,
    milliseconds each (13 ms per distinct span measured, ~20x the whole placeholder run), so
    :func:`privacy.text.redact_texts` hands it every span of a column at once (:meth:`many`).
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[tuple[str, str], str] = {}

    def __call__(self, entity: str, span: str) -> str:
        return self.many([entity], [span])[0]

    def many(self, entities: list[str], spans: list[str]) -> list[str]:
        """The token of each ``(entity, span)``: the distinct new spans of each entity are
        tokenised as a column is (:func:`tokenise_series`: canonicalised in one vectorised call,
        each canonical value hashed once); a span with no canonical form is hashed as written."""
        cache = self._cache
        todo: dict[str, dict[str, None]] = {}
        for pair in zip(entities, spans, strict=True):
            if pair not in cache:
                todo.setdefault(pair[0], {})[pair[1]] = None
        for entity, distinct in todo.items():
            raw = pd.Series(list(distinct), dtype="string")
            tokens = tokenise_series(raw, entity, self._key)  # the identifier columns' path
            plain = tokens.isna().to_numpy(dtype=bool)
            if plain.any():
                tokens[plain] = tokenise_uniques(raw[plain].to_numpy(dtype=object), entity, self._key)
            cache.update(zip(((entity, v) for v in distinct), tokens.tolist(), strict=True))
        return [cache[pair] for pair in zip(entities, spans, strict=True)]
