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


def _as_bytes(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Strings as a fixed-width ASCII byte array; non-ASCII strings become empty (invalid)."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for i, v in enumerate(arr.ravel()):  # one encode per value; callers pass distinct values
        out.flat[i] = v.encode("ascii") if isinstance(v, str) and v.isascii() else b""
    return out.astype(np.bytes_) if out.size else np.zeros(0, dtype="S1")


def _digit_matrix(raw: np.ndarray, width: int) -> np.ndarray:
    """Right-aligned ``(n, width)`` uint8 code matrix of byte strings (left padded with ``0``)."""
    padded = np.char.rjust(raw, width, b"0") if raw.size else raw.astype(f"S{width}")
    return np.ascontiguousarray(padded.astype(f"S{width}")).view(np.uint8).reshape(-1, width)


def luhn_check_digits_array(bodies: np.ndarray) -> np.ndarray:
    """Luhn check digits (0-9, int) for an ``(n, L)`` matrix of body digit values (0-9).

    Left zero-padding does not change a Luhn sum, so bodies of different lengths may share one
    right-aligned matrix.
    """
    bodies = np.asarray(bodies, dtype=np.int64)
    width = bodies.shape[1]
    doubled = (np.arange(width)[::-1] % 2) == 0  # rightmost body digit is doubled
    contrib = np.where(doubled, _LUHN_DOUBLE[bodies], bodies)
    return (10 - contrib.sum(axis=1) % 10) % 10


def luhn_valid_array(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Vectorised :func:`luhn_valid` for an array of strings; returns a bool array."""
    raw = _as_bytes(values)
    if raw.size == 0:
        return np.zeros(0, dtype=bool)
    lengths = np.char.str_len(raw)
    width = max(int(lengths.max()), 2)
    codes = _digit_matrix(raw, width).astype(np.int64) - 48
    digits_ok = ((codes >= 0) & (codes <= 9)).all(axis=1) & (lengths >= 2)
    codes = np.clip(codes, 0, 9)
    check = luhn_check_digits_array(codes[:, :-1])
    return digits_ok & (check == codes[:, -1])


def gb11643_check_digits_array(bodies: np.ndarray) -> np.ndarray:
    """GB 11643 check characters (``U1`` array) for an ``(n, 17)`` matrix of digit values."""
    bodies = np.asarray(bodies, dtype=np.int64)
    chars = np.array(list(GB11643_CHECK_CHARS))
    return chars[(bodies * GB11643_WEIGHTS).sum(axis=1) % 11]


def gb11643_valid_array(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """Vectorised :func:`gb11643_valid` for an array of strings; returns a bool array."""
    raw = _as_bytes(values)
    if raw.size == 0:
        return np.zeros(0, dtype=bool)
    lengths = np.char.str_len(raw)
    codes = _digit_matrix(raw, 18).astype(np.int64)
    body = codes[:, :17] - 48
    body_ok = ((body >= 0) & (body <= 9)).all(axis=1) & (lengths == 18)
    last = codes[:, 17]
    last = np.where(last == ord("x"), ord("X"), last)
    expect = np.frombuffer(GB11643_CHECK_CHARS.encode(), dtype=np.uint8)[
        (np.clip(body, 0, 9) * GB11643_WEIGHTS).sum(axis=1) % 11
    ]
    return body_ok & (last == expect)


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
