"""A Presidio ``AnalyzerEngine`` with kequn's Chinese recognizers, for users of the Presidio API.

The bulk paths (:func:`privacy.text.find_spans`, column classification) do not run Presidio
per cell; they share the recognizers' patterns and validators. This engine gives the same
detections through Presidio's own API (``analyze``, ``BatchAnalyzerEngine``,
presidio-anonymizer), with context words working through :class:`privacy.nlp.JiebaNlpEngine`.
"""

from __future__ import annotations

import functools

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult

from privacy.hanzi import to_simplified
from privacy.nlp import LANGUAGE, JiebaNlpEngine
from privacy.normalise import HALFWIDTH_TABLE
from privacy.recognizers import all_recognizers


def build_analyzer(language: str = LANGUAGE, custom: tuple = ()) -> AnalyzerEngine:
    """Build an ``AnalyzerEngine`` with only kequn's recognizers registered (no model download).

    Parameters
    ----------
    language:
        Language code the recognizers and the NLP engine are registered for.
    custom:
        The policy's own recognizers (:attr:`privacy.policy.Policy.custom`).

    Returns
    -------
    presidio_analyzer.AnalyzerEngine
    """
    registry = RecognizerRegistry(supported_languages=[language])
    for recognizer in all_recognizers(language):
        registry.add_recognizer(recognizer)
    for rule in custom:  # the policy's own recognizers (privacy.custom)
        registry.add_recognizer(rule.presidio())
    nlp_engine = JiebaNlpEngine(language)
    nlp_engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine,
                          supported_languages=[language])


@functools.lru_cache(maxsize=1)
def default_analyzer() -> AnalyzerEngine:
    """A shared :func:`build_analyzer` instance."""
    return build_analyzer()


def analyze_text(text: str, *, entities: list[str] | None = None, score_threshold: float = 0.5,
                 analyzer: AnalyzerEngine | None = None) -> list[RecognizerResult]:
    """Analyze one text with Presidio after full-width and traditional → simplified normalisation.

    Both are length-preserving, so result offsets are offsets in ``text``.

    Parameters
    ----------
    text:
        The text to analyze.
    entities:
        Entity constants to look for (default: all).
    score_threshold:
        Results below it are dropped.
    analyzer:
        Engine to use (default: :func:`default_analyzer`).
    """
    engine = analyzer or default_analyzer()
    results = engine.analyze(text=to_simplified(text.translate(HALFWIDTH_TABLE)), language=LANGUAGE,
                             entities=entities, score_threshold=score_threshold)
    return sorted(results, key=lambda r: (r.start, -r.score))
