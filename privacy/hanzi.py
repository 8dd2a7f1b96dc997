"""Traditional → simplified Chinese for detection, one character for one character.

Notes from Hong Kong, Macau and Taiwan customers (客戶, 帳戶, 來電) are converted before the
detectors run, so the simplified context words, surnames and given-name statistics apply to
them. The table is built once from OpenCC's ``t2s`` dictionaries (the ``opencc`` package ships
them; nothing is downloaded): every CJK character is converted on its own and kept only where
the result is one character. The conversion is therefore length-preserving by construction,
and offsets found in the converted text are offsets in the original.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def t2s_table() -> dict[int, int]:
    """``str.translate`` table: traditional code point → simplified code point (1:1 only)."""
    import opencc

    converter = opencc.OpenCC("t2s")
    chars = [chr(c) for c in range(0x4E00, 0xA000)]
    # one call over all characters, one per line: character conversions only, no phrases
    converted = converter.convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # pragma: no cover - a dictionary that merges lines
        from kequn.errors import ConfigError

        raise ConfigError("opencc t2s: the character table could not be built (line count changed)")
    return {ord(a): ord(b) for a, b in zip(chars, converted, strict=True) if len(b) == 1 and a != b}


@functools.lru_cache(maxsize=1)
def traditional_class() -> str:
    """A regex character class of the characters :func:`t2s_table` changes."""
    return "[" + "".join(sorted(chr(c) for c in t2s_table())) + "]"


def to_simplified(text: str) -> str:
    """``text`` with traditional characters simplified (same length)."""
    return text.translate(t2s_table())
