"""Base class of kequn's Presidio recognizers: data as class constants, overridable in ``__init__``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from presidio_analyzer import Pattern, PatternRecognizer

from privacy.normalise import HALFWIDTH_TABLE

#: Language kequn registers its recognizers for (blank spaCy ``zh`` + jieba, see privacy.nlp).
LANGUAGE = "zh"


class KequnPatternRecognizer(PatternRecognizer):
    """A :class:`PatternRecognizer` whose patterns, context and entity are class constants.

    Subclasses set ``ENTITY``, ``PATTERNS`` and ``CONTEXT`` and override only
    :meth:`validate_result` when a check digit decides.
    """

    ENTITY: ClassVar[str] = ""
    PATTERNS: ClassVar[list[Pattern]] = []
    CONTEXT: ClassVar[list[str]] = []

    def __init__(self, patterns: list[Pattern] | None = None, context: list[str] | None = None,
                 supported_language: str = LANGUAGE, supported_entity: str | None = None) -> None:
        super().__init__(
            supported_entity=supported_entity or self.ENTITY,
            name=type(self).__name__,
            patterns=patterns if patterns is not None else [
                Pattern(p.name, p.regex, p.score) for p in self.PATTERNS],
            context=context if context is not None else list(self.CONTEXT),
            supported_language=supported_language,
        )

    @staticmethod
    def _one(value: str) -> np.ndarray:
        """A matched string, half-width, as a one-element object array for the bulk validators."""
        return np.array([value.translate(HALFWIDTH_TABLE)], dtype=object)


def lead_lookbehind(pattern: str, group: str = "v") -> str:
    """``<lead>(?P<group>…)`` as ``(?<=<lead>)…``: the span is the value only.

    Presidio runs patterns with the ``regex`` module, which allows a variable-width lookbehind;
    the bulk path (:mod:`privacy.text`) runs the original pattern and takes the group.
    """
    marker = f"(?P<{group}>"
    lead, _, rest = pattern.partition(marker)
    if not rest.endswith(")"):
        raise ValueError(f"lead_lookbehind: pattern must end with the {group!r} group")
    return f"(?<={lead}){rest[:-1]}"
