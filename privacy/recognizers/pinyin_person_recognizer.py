"""Chinese names written in pinyin or in an English-language note (``Customer Zhang Wei called``)."""

from __future__ import annotations

import re

import numpy as np
from presidio_analyzer import Pattern

from privacy import entities as E
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


class PinyinPersonRecognizer(KequnPatternRecognizer):
    """A pinyin (or Cantonese/Hokkien) surname from :data:`~privacy.recognizers.patterns.PINYIN_SURNAMES`
    and a capitalised given name: after Mr./Ms./Customer/Client/Manager ... (``Mr. Ouyang
    Xiaoming``), or with no context word when the given name is one or two pinyin syllables
    (``Wang Jianguo called``; ``Long Term`` is not a name: ``term`` is no syllable).
    Case-sensitive: a name is capitalised."""

    ENTITY = E.PERSON
    PATTERNS = [
        Pattern("pinyin_person_after_context",
                P.PINYIN_AFTER_CONTEXT.replace(P.PINYIN_CTX_GUARD, "", 1)
                .replace("(?<![A-Za-z])(?:Mr", "(?<=(?<![A-Za-z])(?:Mr", 1)
                .replace(r"\.?:? ?(?P<name>", r"\.?:? ?)(?:", 1), 0.85),
        Pattern("pinyin_person", P.PINYIN_NAME, 0.7),
    ]
    CONTEXT = P.PINYIN_CONTEXT

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.global_regex_flags = re.DOTALL | re.MULTILINE  # capitals matter

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):  # noqa: ANN001, ANN201
        """Pattern matches; a match without a context word needs a pinyin given name."""
        out = []
        for r in super().analyze(text, entities, nlp_artifacts, regex_flags):
            explanation = r.analysis_explanation
            bare = explanation is not None and explanation.pattern_name == "pinyin_person"
            if not bare or P.pinyin_given_valid(np.array([text[r.start:r.end]], dtype=object))[0]:
                out.append(r)
        return self.remove_duplicates(out)
