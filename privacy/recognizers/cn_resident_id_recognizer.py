"""Mainland resident ID numbers (居民身份证号, GB 11643)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnResidentIdRecognizer(KequnPatternRecognizer):
    """18-digit IDs (region, birth date, sequence, MOD 11-2 check character ``0-9``/``X``) and
    legacy 15-digit IDs (region, ``YYMMDD``, sequence). Optional single spaces or dashes after
    the region and the birth date (6-8-4) are accepted, and so are groups of four (4-4-4-4-2).

    A match counts only if the region code exists, the birth date is a real past date and (18
    digits) the check character is right: ``validate_result`` decides, so the score is 1.0 or
    the match is dropped.
    """

    ENTITY = E.CN_RESIDENT_ID
    PATTERNS = [
        Pattern("cn_resident_id_18", P.RESIDENT_ID_18, 0.5),
        Pattern("cn_resident_id_15", P.RESIDENT_ID_15, 0.3),
        Pattern("cn_resident_id_18_grouped4", P.RESIDENT_ID_18_GROUPED4, 0.5),
        Pattern("cn_resident_id_18_any_grouping", P.RESIDENT_ID_18_ANY_GROUPING, 0.5),
    ]
    CONTEXT = P.RESIDENT_ID_CONTEXT
    BIRTH_DATE_SLICE = P.BIRTH_DATE_SLICE

    def validate_result(self, pattern_text: str) -> bool:
        """True if the ID is structurally valid and its check digit is right."""
        return bool(P.resident_id_valid(P.id_body(self._one(pattern_text)))[0])
