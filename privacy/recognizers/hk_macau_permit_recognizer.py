"""Exit-entry permits for travelling to Hong Kong and Macau (往来港澳通行证)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class HkMacauPermitRecognizer(KequnPatternRecognizer):
    """``C`` + 8 digits or ``C`` + letter + 7 digits (card permits), ``W`` + 8 digits (old
    booklets). Weak without context; 港澳/通行证 raise the score."""

    ENTITY = E.HK_MACAU_PERMIT
    PATTERNS = [Pattern("hk_macau_permit", P.HK_MACAU_PERMIT, 0.3)]
    CONTEXT = P.HK_MACAU_PERMIT_CONTEXT
