"""A bank's own recognizers, named in the policy: regular expressions and deny lists.

``custom_recognizers`` in the policy file adds detectors for formats kequn cannot know (a
bank's 合同号 or 客户号 layout, a list of VIP names ...)::

    custom_recognizers:
      - name: contract_no
        entity: CUSTOMER_NO
        pattern: 'HT[0-9]{10}'
        context: [合同号, 合同]
      - name: vip_names
        entity: PERSON
        deny_list: vip_names.txt        # one value a line, relative to the policy file

Each becomes a Presidio ``PatternRecognizer`` (for :func:`privacy.analyzer.build_analyzer`)
and runs in the bulk span finder (:func:`privacy.text.find_spans`), so it takes effect in
``kequn scan``, ``kequn pseudonymise`` and the residual scan alike. Matches of a pattern must
not touch an ASCII letter or digit on either side (the built-in recognizers' rule).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from privacy import entities as E

_L = r"(?<![0-9A-Za-z_])"
_R = r"(?![0-9A-Za-z_])"


@dataclasses.dataclass(frozen=True)
class CustomRecognizer:
    """One validated custom recognizer: a compiled pattern or a deny list."""

    name: str
    entity: str
    score: float
    context: tuple[str, ...]
    pattern: str | None = None
    deny_list: tuple[str, ...] = ()

    def regex(self) -> str:
        """The expression the bulk path and Presidio both run."""
        if self.pattern is not None:
            return f"{_L}(?:{self.pattern}){_R}"
        words = sorted(set(self.deny_list), key=len, reverse=True)
        return "(?:" + "|".join(re.escape(w) for w in words) + ")"

    def presidio(self):  # noqa: ANN201 - presidio_analyzer.PatternRecognizer
        """The same detector as a Presidio ``PatternRecognizer`` (language ``zh``)."""
        from presidio_analyzer import Pattern, PatternRecognizer

        from privacy.recognizers.base import LANGUAGE

        rec = PatternRecognizer(supported_entity=self.entity, name=f"custom:{self.name}",
                                patterns=[Pattern(self.name, self.regex(), self.score)],
                                context=list(self.context), supported_language=LANGUAGE)
        rec.global_regex_flags = re.DOTALL | re.MULTILINE  # as written: no IGNORECASE
        return rec


def compile_custom(rule_name: str, entity: str, pattern: str | None, words: list[str] | None,
                   score: float, context: list[str]) -> CustomRecognizer:
    """Validate one rule; raise ``ValueError`` with a one-line reason (no value quoted)."""
    if entity not in E.DIRECT_IDENTIFIERS | E.INDIRECT_IDENTIFIERS:
        raise ValueError(f"custom_recognizers.{rule_name}: unknown entity {entity!r}; known: "
                         f"{', '.join(sorted(E.DIRECT_IDENTIFIERS | E.INDIRECT_IDENTIFIERS))}")
    if (pattern is None) == (words is None):
        raise ValueError(f"custom_recognizers.{rule_name}: give exactly one of 'pattern' or 'deny_list'")
    if pattern is not None:
        try:
            re.compile(pattern)
            import regex

            regex.compile(pattern)
        except (re.error, Exception) as exc:  # both engines must accept it
            raise ValueError(f"custom_recognizers.{rule_name}: invalid regular expression ({exc})") from None
        if re.fullmatch(pattern, ""):
            raise ValueError(f"custom_recognizers.{rule_name}: the pattern matches the empty string")
        return CustomRecognizer(rule_name, entity, score, tuple(context), pattern=pattern)
    kept = tuple(w.strip() for w in words or [] if w.strip() and not w.lstrip().startswith("#"))
    if not kept:
        raise ValueError(f"custom_recognizers.{rule_name}: the deny list is empty")
    return CustomRecognizer(rule_name, entity, score, tuple(context), deny_list=kept)


def custom_spans(recognizers: tuple[CustomRecognizer, ...], filled: pd.Series) -> pd.DataFrame:
    """Spans of the custom recognizers in half-width text (positions as rows)."""
    rows: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    ents: list[str] = []
    scores: list[float] = []
    values = filled.fillna("").astype(str).tolist()
    joined = "\x00" + "\x00".join(values)
    offsets = np.concatenate([[0], np.cumsum([len(v) + 1 for v in values])[:-1]]).astype(np.int64) + 1
    for rec in recognizers:
        for m in re.finditer(rec.regex(), joined):  # one pass over all cells per recognizer
            if m.end() > m.start() and "\x00" not in m.group(0):
                starts.append(m.start())
                ends.append(m.end())
                ents.append(rec.entity)
                scores.append(rec.score)
    if not starts:
        return pd.DataFrame({"row": [], "start": [], "end": [], "entity": [], "score": [], "method": []})
    s = np.asarray(starts, np.int64)
    idx = np.searchsorted(offsets, s, side="right") - 1
    rows = idx
    return pd.DataFrame({"row": rows.astype(np.int64), "start": s - offsets[idx],
                         "end": np.asarray(ends, np.int64) - offsets[idx], "entity": ents,
                         "score": scores, "method": "pattern"})
