"""Bank card numbers (银行卡号), including 19-digit UnionPay cards."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnBankCardRecognizer(KequnPatternRecognizer):
    """16-19 digit cards, plain or grouped by four with spaces or dashes, or as the 6-digit BIN and the rest (Presidio's built-in
    credit-card pattern stops at 17 digits and misses 19-digit UnionPay cards). The first digit
    must be an issuer's (3-6, 9) and the Luhn check digit right."""

    ENTITY = E.BANK_CARD
    PATTERNS = [
        Pattern("bank_card_plain", P.BANK_CARD_PLAIN, 0.5),
        Pattern("bank_card_grouped", P.BANK_CARD_GROUPED, 0.5),
        Pattern("bank_card_grouped_tail", P.BANK_CARD_GROUPED_TAIL, 0.5),
        Pattern("bank_card_bin_rest", P.BANK_CARD_BIN_REST, 0.5),
        Pattern("bank_card_any_grouping", P.BANK_CARD_ANY_GROUPING, 0.5),
    ]
    CONTEXT = P.BANK_CARD_CONTEXT

    def validate_result(self, pattern_text: str) -> bool:
        """True if the digits pass the issuer and Luhn checks."""
        return bool(P.bank_card_valid(P.digits_only(self._one(pattern_text)))[0])
