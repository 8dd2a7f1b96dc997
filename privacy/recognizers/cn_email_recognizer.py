"""E-mail addresses (邮箱) in Chinese text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnEmailRecognizer(KequnPatternRecognizer):
    """E-mail addresses bounded by non-address characters, not ``\\b`` (Han characters count as
    word characters, so ``邮箱zhang@163.com`` defeats a ``\\b`` pattern)."""

    ENTITY = E.EMAIL_ADDRESS
    PATTERNS = [Pattern("email", P.EMAIL, 0.9)]
    CONTEXT = P.EMAIL_CONTEXT
