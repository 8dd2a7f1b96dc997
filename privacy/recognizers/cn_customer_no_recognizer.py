"""Bank customer numbers (客户号)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnCustomerNoRecognizer(KequnPatternRecognizer):
    """``KH`` followed by 8-12 digits (the bank's customer-number format)."""

    ENTITY = E.CUSTOMER_NO
    PATTERNS = [Pattern("customer_no", P.CUSTOMER_NO, 0.7)]
    CONTEXT = P.CUSTOMER_NO_CONTEXT

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        import re

        self.global_regex_flags = re.DOTALL | re.MULTILINE  # KH is upper case
