"""Mainland mobile numbers (手机号)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnMobileRecognizer(KequnPatternRecognizer):
    """11-digit mobiles with an optional ``+86``/``0086``/``86`` prefix, split 3-4-4 (or 4-3-4) by spaces,
    dashes or dots or not at all, or read out in Chinese numerals (一三八…, 幺 for 1). The prefix must be one in use (13x, 15x, 18x, 19x ...); context words
    (手机, 电话, 联系方式 ...) raise the score."""

    ENTITY = E.CN_MOBILE
    PATTERNS = [
        Pattern("cn_mobile", P.MOBILE, 0.6),
        Pattern("cn_mobile_434", P.MOBILE_434, 0.6),
        Pattern("cn_mobile_zh_numerals", P.MOBILE_ZH, 0.6),
    ]
    CONTEXT = P.MOBILE_CONTEXT

    def validate_result(self, pattern_text: str) -> bool | None:
        """False for an unused prefix; None (keep the pattern score) otherwise."""
        ok = P.mobile_valid(P.mobile_canonical(self._one(pattern_text)))[0]
        return None if ok else False
