"""Mainland street addresses (地址)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnAddressRecognizer(KequnPatternRecognizer):
    """Province (or a known city), optional city and district, a road/street and a house
    number, optionally building/unit/room: ``广东省深圳市南山区科技路88号3栋1202室``."""

    ENTITY = E.CN_ADDRESS
    PATTERNS = [Pattern("cn_address", P.ADDRESS, 0.7)]
    CONTEXT = P.ADDRESS_CONTEXT
