"""Birth dates (出生日期) in text: only next to a context word."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnBirthDateRecognizer(KequnPatternRecognizer):
    """``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYY.MM.DD`` or ``YYYY年M月D日``. Dates are everywhere in
    bank notes (transactions, appointments), so the pattern score is below any sensible
    threshold and only 出生/生日 context lifts it."""

    ENTITY = E.BIRTH_DATE
    PATTERNS = [Pattern("birth_date", P.BIRTH_DATE, 0.2)]
    CONTEXT = P.BIRTH_DATE_CONTEXT
