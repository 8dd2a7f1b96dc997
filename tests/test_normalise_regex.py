"""The written-out ``\\s``/``\\d`` classes of privacy.normalise match exactly what Python's do.

They exist so pandas runs normalisation in pyarrow's RE2 kernels instead of a per-cell Python
loop; a character they missed would change a canonical form, and with it a token.
"""

from __future__ import annotations

import re
import sys

import pandas as pd

from privacy import entities as E
from privacy import normalise as N


def test_classes_equal_python_s_and_d_over_every_code_point() -> None:
    every = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    assert [c for c in every if re.match(r"\s", c)] == list(N.SPACE_CHARS)
    assert [c for c in every if re.match(r"\d", c)] == list(N.DIGIT_CHARS)


def test_canonical_forms_equal_the_python_regex_forms() -> None:
    odd_space, odd_digit = "\u2028\u00a0\u3000\x1c", "\u0663\u0967\uff11"
    values = pd.Series(["+86 138 1234 5678", "0086-13812345678", "86 10 1234 5678", "13812345678.0",
                        f"张{odd_space}伟", f"1{odd_digit}38-12{odd_space}34", "  'e1234567 ", None, ""],
                       dtype="string")
    py = values.astype(object)

    def sub(pattern: str, repl: str, s: pd.Series) -> pd.Series:
        return s.map(lambda v: None if pd.isna(v) else re.sub(pattern, repl, v))

    norm = N.normalise_series(values)
    digits = sub(r"\D", "", norm.astype(object))
    assert N.canonical_identifier(values, E.CN_MOBILE).tolist() == sub(
        r"^(?:0086|86)(?=1\d{10}$)", "", digits).astype("string").tolist()
    assert N.canonical_identifier(values, E.CN_LANDLINE).tolist() == sub(
        r"^(?:0086|86)(?=[1-9]\d{8,10}$)", "0", digits).astype("string").tolist()
    assert N.canonical_identifier(values, E.PERSON).tolist() == sub(
        r"\s+", "", norm.astype(object)).astype("string").tolist()
    assert N.canonical_identifier(values, E.CN_PASSPORT).tolist() == sub(
        r"[\s\-]", "", norm.astype(object)).astype("string").str.upper().tolist()
    assert odd_space[0] in py.iloc[4]  # the odd whitespace really is in the input
