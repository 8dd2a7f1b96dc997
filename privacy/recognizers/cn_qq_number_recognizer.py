"""QQ numbers in text: only right after QQ/扣扣."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer, lead_lookbehind


class CnQqNumberRecognizer(KequnPatternRecognizer):
    """5-11 digits, no leading zero, right after ``QQ``/``QQ号``/``扣扣``. A bare 5-11 digit
    number is an amount, a hotline (95588) or a serial, so context is required; ``QQ邮箱`` is an
    e-mail address, found by the e-mail recognizer."""

    ENTITY = E.QQ_NUMBER
    PATTERNS = [Pattern("cn_qq_number_after_context", lead_lookbehind(P.QQ_AFTER_CONTEXT), 0.85)]
    CONTEXT = P.QQ_CONTEXT
