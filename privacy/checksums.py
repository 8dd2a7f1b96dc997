"""Check digits of Chinese identifiers, in one place: Luhn (bank cards) and GB 11643 (resident IDs).

Scalar functions take one digit string; the ``*_array`` twins take a sequence or NumPy array of
strings and work on all of them at once (used by the synthetic bank and by the recognizers and
column classifiers that validate whole columns).

GB 11643-1999: an 18-character resident ID is 6 region digits, 8 birth-date digits
(``YYYYMMDD``), 3 sequence digits (the last one odd for men, even for women) and a check
character computed with ISO 7064 MOD 11-2 (``0``-``9`` or ``X`` for 10).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: ISO 7064 MOD 11-2 weights of the 17 body digits (2**(17-i) mod 11).
GB11643_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
#: Check character for ``sum(weights * digits) % 11``.
GB11643_CHECK_CHARS = "10X98765432"
BIRTH_DATE_SLICE = slice(6, 14)
SEX_DIGIT_INDEX = 16

_LUHN_DOUBLE = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)


def luhn_check_digit(body: str) -> str:
    """Return the Luhn check digit that completes ``body`` (digits only)."""
    if not body.isdigit() or not body.isascii():
        raise ValueError("luhn_check_digit: body must be ASCII digits")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = ord(ch) - 48
        total += int(_LUHN_DOUBLE[d]) if i % 2 == 0 else d
    return str((10 - total % 10) % 10)


def luhn_valid(s: str) -> bool:
    """True if ``s`` is at least two ASCII digits and passes the Luhn check."""
    if len(s) < 2 or not s.isdigit() or not s.isascii():
        return False
    return luhn_check_digit(s[:-1]) == s[-1]


def gb11643_check_digit(body17: str) -> str:
    """Return the GB 11643 check character (``0``-``9`` or ``X``) for 17 body digits."""
    if len(body17) != 17 or not body17.isdigit() or not body17.isascii():
        raise ValueError("gb11643_check_digit: body must be 17 ASCII digits")
    total = sum(int(ch) * int(w) for ch, w in zip(body17, GB11643_WEIGHTS, strict=True))
    return GB11643_CHECK_CHARS[total % 11]


def gb11643_valid(id18: str) -> bool:
    """True if ``id18`` is 17 digits plus a correct check character (``x`` accepted as ``X``)."""
    if len(id18) != 18 or not id18[:17].isdigit() or not id18.isascii():
        return False
    return gb11643_check_digit(id18[:17]) == id18[17].upper()


def _as_str(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """A 1-D NumPy ``U`` array; missing or non-string values become empty strings (invalid)."""
    arr = np.asarray(values)
    if arr.dtype.kind != "U":
        # object arrays (e.g. from pandas): one isinstance per value, then NumPy string ops
        arr = np.array([v if isinstance(v, str) else "" for v in arr.ravel().tolist()], dtype=str)
    return arr.ravel()


def _digit_groups(arr: np.ndarray, lengths: np.ndarray, only: int | None = None):
    """Yield ``(rows, digits, all_digits)`` per distinct length: a ``(m, L)`` uint8 digit matrix
    (non-digits clipped to 9) and whether each row is ASCII digits only. Full-width digits are
    not digits here."""
    for length in np.unique(lengths) if only is None else [only]:
        rows = np.flatnonzero(lengths == length)
        if rows.size == 0 or length == 0:
            continue
        codes = np.ascontiguousarray(arr[rows].astype(f"U{length}")).view(np.uint32).reshape(-1, length)
        digits = codes - np.uint32(48)  # wraps around for code points below "0"
        yield rows, np.minimum(digits, 9).astype(np.uint8), digits


def luhn_check_digits_array(bodies: np.ndarray) -> np.ndarray:
    """Luhn check digits (0-9, int) for an ``(n, L)`` matrix of body digit values (0-9).

    Left zero-padding does not change a Luhn sum, so bodies of different lengths may share one
    right-aligned matrix.
    """
    bodies = np.asarray(bodies)
    width = bodies.shape[1]
    doubled = (np.arange(width)[::-1] % 2) == 0  # rightmost body digit is doubled
    contrib = np.where(doubled, _LUHN_DOUBLE[bodies], bodies)
    return (10 - contrib.sum(axis=1, dtype=np.int64) % 10) % 10


def luhn_valid_array(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Vectorised :func:`luhn_valid` for an array of strings; returns a bool array."""
    arr = _as_str(values)
    lengths = np.char.str_len(arr) if arr.size else np.zeros(0, dtype=np.int64)
    out = np.zeros(arr.size, dtype=bool)
    for rows, digits, raw in _digit_groups(arr, lengths):
        if digits.shape[1] < 2:
            continue
        ok = (raw <= 9).all(axis=1)
        out[rows] = ok & (luhn_check_digits_array(digits[:, :-1]) == digits[:, -1])
    return out


def gb11643_check_digits_array(bodies: np.ndarray) -> np.ndarray:
    """GB 11643 check characters (``U1`` array) for an ``(n, 17)`` matrix of digit values."""
    bodies = np.asarray(bodies, dtype=np.int64)
    chars = np.array(list(GB11643_CHECK_CHARS))
    return chars[(bodies * GB11643_WEIGHTS).sum(axis=1) % 11]


def gb11643_valid_array(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Vectorised :func:`gb11643_valid` for an array of strings; returns a bool array."""
    arr = _as_str(values)
    lengths = np.char.str_len(arr) if arr.size else np.zeros(0, dtype=np.int64)
    out = np.zeros(arr.size, dtype=bool)
    for rows, digits, raw in _digit_groups(arr, lengths, only=18):
        ok = (raw[:, :17] <= 9).all(axis=1)
        last = raw[:, 17] + 48
        last = np.where(last == ord("x"), ord("X"), last)
        expect = np.frombuffer(GB11643_CHECK_CHARS.encode(), dtype=np.uint8)[
            (digits[:, :17].astype(np.int64) * GB11643_WEIGHTS).sum(axis=1) % 11
        ]
        out[rows] = ok & (last == expect)
    return out


__all__ = [
    "BIRTH_DATE_SLICE",
    "GB11643_CHECK_CHARS",
    "GB11643_WEIGHTS",
    "SEX_DIGIT_INDEX",
    "gb11643_check_digit",
    "gb11643_check_digits_array",
    "gb11643_valid",
    "gb11643_valid_array",
    "luhn_check_digit",
    "luhn_check_digits_array",
    "luhn_valid",
    "luhn_valid_array",
]
