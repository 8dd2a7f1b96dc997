"""Mainland street addresses (地址)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnAddressRecognizer(KequnPatternRecognizer):
    """Province (or a known city), optional city and district, a road/street and a house
    number, optionally building/unit/room: ``广东省深圳市南山区科技路88号3栋1202室``; or, right
    after 地址/住址/家住, a district-level address (``住址：朝阳区人民路12号``)."""

    ENTITY = E.CN_ADDRESS
    PATTERNS = [
        Pattern("cn_address", P.ADDRESS, 0.7),
        # ``regex`` allows the variable-width lookbehind: the span is the address only
        Pattern("cn_address_after_context", P.ADDRESS_AFTER_CONTEXT.replace(
            "(?:", "(?<=(?:", 1).replace("[:： ]?(?P<addr>", "[:： ]?)(?:", 1), 0.7),
    ]
    CONTEXT = P.ADDRESS_CONTEXT
