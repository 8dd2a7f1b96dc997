"""Mainland vehicle licence plates (车牌号)."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class CnLicensePlateRecognizer(KequnPatternRecognizer):
    """A province abbreviation (京, 沪, 粤 ...), the issuing-authority letter (no I/O), an
    optional ``·``, then five characters with at least one digit (``京A·12345``) or a
    six-character new-energy plate with D/F first or last (``沪AD12345``). The shape is
    specific enough to stand alone; 车牌/车辆 context raises the score."""

    ENTITY = E.LICENSE_PLATE
    PATTERNS = [Pattern("cn_license_plate", P.LICENSE_PLATE, 0.8)]
    CONTEXT = P.LICENSE_PLATE_CONTEXT
