"""Normalisation of raw values before matching, and canonical forms of identifiers.

Two different jobs:

* :func:`normalise_series` / :func:`to_halfwidth` clean what spreadsheets and keyboards do to
  values (全角 full-width characters, stray whitespace, ``.0`` suffixes, leading apostrophes).
  :func:`to_halfwidth` is length-preserving, so offsets found in its output are offsets in the
  original text.
* :func:`canonical_identifier` gives the one form of an identifier that tokens are computed
  from, so ``138-1234-5678``, ``+86 138 1234 5678`` and ``13812345678`` get the same token.
"""

from __future__ import annotations

import re

import pandas as pd

from privacy import entities as E

#: Full-width ASCII block (U+FF01..U+FF5E) → ASCII, ideographic space → space. One char → one
#: char, so offsets are preserved.
_HALFWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_HALFWIDTH[0x3000] = 0x20
# Dashes and spaces that look like ASCII ones (en/em dash, minus, NBSP, narrow NBSP...).
for _cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212, 0xFE63):
    _HALFWIDTH[_cp] = ord("-")
for _cp in (0x00A0, 0x2002, 0x2003, 0x2009, 0x202F):
    _HALFWIDTH[_cp] = 0x20
HALFWIDTH_TABLE: dict[int, int] = dict(_HALFWIDTH)
_WIDE_CLASS = "[" + "".join(re.escape(chr(c)) for c in sorted(HALFWIDTH_TABLE)) + "]"

#: Python's ``\s`` and ``\d`` (Unicode whitespace, Unicode decimal digits) written out as the
#: characters they match. pandas runs an expression with ``\s`` (and ``\d`` on non-ASCII text)
#: as a Python loop over the cells; written out, the same expression runs in pyarrow's RE2
#: kernels (C++, the whole column at once), with the same result.
SPACE_CHARS = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
DIGIT_CHARS = "".join(c for c in map(chr, range(0x20000)) if c.isdecimal())
#: ``\s`` / ``\d`` / ``\D`` for pandas string methods (no decimal digit or whitespace lies
#: beyond U+1FFFF, resp. U+3000; tests/test_normalise_regex.py checks every code point).
S = f"[{SPACE_CHARS}]"
D = f"[{DIGIT_CHARS}]"
NOT_D = f"[^{DIGIT_CHARS}]"

_SPREADSHEET_FLOAT = f"^({D}+)\\.0+$"


def to_halfwidth(s: pd.Series) -> pd.Series:
    """Map full-width letters, digits and punctuation to ASCII; length-preserving.

    Parameters
    ----------
    s:
        Text values; missing values stay missing.

    Returns
    -------
    pandas.Series
        Same index, string dtype.
    """
    text = _as_text(s)
    # str.translate runs per cell in Python; full-width characters are rare, so find the cells
    # that have one with a vectorised regex first and translate only those
    wide = text.str.contains(_WIDE_CLASS, regex=True).fillna(False).to_numpy(dtype=bool)
    if not wide.any():
        return text
    if wide.all():
        return text.str.translate(HALFWIDTH_TABLE)
    out = text.copy()
    out[wide] = text[wide].str.translate(HALFWIDTH_TABLE)
    return out


def normalise_series(s: pd.Series) -> pd.Series:
    """Clean a column of raw values for matching.

    Full-width → half-width, surrounding whitespace stripped, a leading apostrophe (Excel's
    "keep as text" mark) removed, and a spreadsheet float suffix (``"13812345678.0"``) dropped
    from digit strings. Empty strings become missing.

    Parameters
    ----------
    s:
        Raw values of any dtype.

    Returns
    -------
    pandas.Series
        String dtype, same index.
    """
    out = to_halfwidth(s).str.strip()
    out = out.str.replace(r"^'+", "", regex=True).str.strip()
    out = out.str.replace(_SPREADSHEET_FLOAT, r"\1", regex=True)
    return out.mask(out.str.len() == 0)


def canonical_identifier(s: pd.Series, entity: str) -> pd.Series:
    """Return the canonical form of identifiers of type ``entity`` (the input of tokens).

    * ``CN_MOBILE``: the 11 digits, without ``+86``/``0086``, spaces, dashes or brackets.
    * ``CN_LANDLINE``: digits only, area code with its leading ``0``.
    * ``CN_RESIDENT_ID``: no separators, upper-case ``X``.
    * ``BANK_CARD``: digits only.
    * ``EMAIL_ADDRESS``: lower-case, no surrounding whitespace.
    * ``CN_PASSPORT``, ``HK_MACAU_PERMIT``, ``CUSTOMER_NO``: upper-case, no separators.
    * ``LICENSE_PLATE``: upper-case, no ``·``, spaces or dashes (``京A·12345`` → ``京A12345``).
    * ``WECHAT_ID``: lower-case (WeChat IDs are case-insensitive).
    * ``QQ_NUMBER``: :func:`normalise_series` (digits).
    * ``PERSON``: no whitespace inside (``张 三`` → ``张三``).
    * anything else: :func:`normalise_series`.

    Malformed values (wrong length or check digit) still get a canonical form: a typo is
    still someone's identifier.

    Parameters
    ----------
    s:
        Raw values.
    entity:
        An entity constant from :mod:`privacy.entities`.

    Returns
    -------
    pandas.Series
        String dtype, same index; missing stays missing.
    """
    out = normalise_series(s)
    if entity == E.CN_MOBILE:
        digits = out.str.replace(NOT_D, "", regex=True)
        return digits.str.replace(f"^(?:0086|86)(1{D}{{10}})$", r"\1", regex=True)
    if entity == E.CN_LANDLINE:
        digits = out.str.replace(NOT_D, "", regex=True)
        return digits.str.replace(f"^(?:0086|86)([1-9]{D}{{8,10}})$", r"0\1", regex=True)
    if entity == E.BANK_CARD:
        return out.str.replace(NOT_D, "", regex=True)
    if entity == E.CN_RESIDENT_ID:
        return out.str.replace(f"[{SPACE_CHARS}\\-]", "", regex=True).str.upper()
    if entity == E.EMAIL_ADDRESS:
        return out.str.lower()
    if entity in (E.CN_PASSPORT, E.HK_MACAU_PERMIT, E.CUSTOMER_NO):
        return out.str.replace(f"[{SPACE_CHARS}\\-]", "", regex=True).str.upper()
    if entity == E.LICENSE_PLATE:
        return out.str.replace(f"[{SPACE_CHARS}\\-·•・.]", "", regex=True).str.upper()
    if entity == E.WECHAT_ID:
        return out.str.lower()
    if entity == E.PERSON:
        return out.str.replace(f"{S}+", "", regex=True)
    return out


def _as_text(s: pd.Series) -> pd.Series:
    """Return ``s`` as a pandas string Series (missing values kept missing)."""
    if isinstance(s.dtype, pd.StringDtype):
        return s
    return s.astype("string")
