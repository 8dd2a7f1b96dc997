"""Mainland landline numbers (座机)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnLandlineRecognizer(KequnPatternRecognizer):
    """Area code (010, 02x, 0xxx; optionally in brackets) and a 7-8 digit local number, with
    an optional extension. Weak on its own; 电话/座机/固话 raise the score."""

    ENTITY = E.CN_LANDLINE
    PATTERNS = [Pattern("cn_landline", P.LANDLINE, 0.4)]
    CONTEXT = P.LANDLINE_CONTEXT

    def validate_result(self, pattern_text: str) -> bool | None:
        """False unless the area code and local number lengths are plausible."""
        ok = P.landline_valid(P.landline_canonical(self._one(pattern_text)))[0]
        return None if ok else False
