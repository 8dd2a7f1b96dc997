"""Chinese personal names (姓名) next to a context word."""

from __future__ import annotations

import numpy as np
from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from privacy import entities as E
from privacy import names
from privacy.recognizers import patterns as P
from privacy.recognizers.base import KequnPatternRecognizer


def _prefix_pattern() -> str:
    # Presidio uses the ``regex`` module, which allows a variable-width lookbehind: the span is
    # the name only, not the context word before it.
    ctx = "|".join(P.NAME_PREFIX_CONTEXT)
    return f"(?<=(?:{ctx})(?:[:：]|是|为|系|叫)?[ ]?){P.name_regex()}"


def _sentence_pattern() -> str:
    return f"(?<=^|[{P.SENTENCE_START}]){P.name_regex()}(?={P.sentence_verb_regex()})"


def _suffix_pattern() -> str:
    return P.person_suffix_regex().replace("(?P<name>", "(?:")


class CnPersonRecognizer(KequnPatternRecognizer):
    """A surname from ``privacy/data/surnames.txt`` (compound surnames such as 欧阳, 司马 first)
    and one or two given-name characters, right after a word that introduces a person (客户,
    配偶, 代理人, 联系人, 客户经理 ...), right before a title (先生, 女士, 经理 ...), or at the start
    of a sentence before a verb (``王芳咨询...``)."""

    ENTITY = E.PERSON
    PATTERNS = [
        Pattern("cn_person_after_context", _prefix_pattern(), 0.85),
        Pattern("cn_person_before_title", _suffix_pattern(), 0.85),
        Pattern("cn_person_sentence_start", _sentence_pattern(), 0.7),
    ]
    CONTEXT = P.CONTEXT_PERSON

    def invalidate_result(self, pattern_text: str) -> bool:
        """True for name-shaped bank vocabulary (``高端`` in ``高端客户``)."""
        return bool(P.not_name(np.array([pattern_text], dtype=object))[0])

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        """Pattern matches, each ended at the word boundary (``张三身份证`` → ``张三``) and dropped
        when it is an ordinary word (``商务经理``): :mod:`privacy.names`, as in the bulk path."""
        out = []
        for r in super().analyze(text, entities, nlp_artifacts, regex_flags):
            r.end = r.start + names.trim_end(text[r.start:r.end], text[r.end:r.end + 2])
            found = np.array([text[r.start:r.end]], dtype=object)
            weak = self._pattern_name(r) == "cn_person_before_title"
            if weak and r.start > 0 and names.starts_inside_word([text[r.start - 1]], [found[0]])[0]:
                continue  # 金|融产品经理: the candidate starts inside a word
            if weak and text.startswith("客户", r.end) and not names.is_plausible_name(
                    found[0], names.MIN_GIVEN_SCORE_BEFORE_KEHU):
                continue  # 车贷客户: a kind of customer, not a name
            if not (P.not_name(found)[0] or names.ordinary(found, weak=weak)[0]):
                out.append(r)
        return EntityRecognizer.remove_duplicates(out)

    @staticmethod
    def _pattern_name(result: RecognizerResult) -> str | None:
        explanation = result.analysis_explanation
        return explanation.pattern_name if explanation is not None else None
