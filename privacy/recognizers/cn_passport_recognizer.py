"""People's Republic of China passport numbers (护照号)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnPassportRecognizer(KequnPatternRecognizer):
    """``E``/``G`` + 8 digits, ``E`` + letter + 7 digits, or ``P``/``S``/``D`` + 7 digits.
    Weak without context (many codes look like this); 护照 raises the score."""

    ENTITY = E.CN_PASSPORT
    PATTERNS = [Pattern("cn_passport", P.PASSPORT, 0.3)]
    CONTEXT = P.PASSPORT_CONTEXT
