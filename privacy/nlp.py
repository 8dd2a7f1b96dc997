"""An NLP engine for Presidio on Chinese text with no model download.

A blank spaCy ``zh`` pipeline built in code supplies the vocabulary and ``Doc`` objects; jieba
(which ships its dictionary) segments the text; every token's lemma is its own text. That last
point is what makes Presidio's context words work: its context enhancer compares context words
with token *lemmas*, and a blank pipeline has none, so without this no context word could ever
raise a score.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator

from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

LANGUAGE = "zh"
#: Punctuation tokens (full- and half-width) that are never context.
_PUNCT = frozenset("，。、；：？！“”‘’（）《》【】—…·,.;:?!\"'()[]<>-_/\\|@#$%^&*+=~` \t\n\r\x00")


@functools.lru_cache(maxsize=1)
def _jieba():  # noqa: ANN202
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


@functools.lru_cache(maxsize=1)
def blank_pipeline():  # noqa: ANN201
    """A blank spaCy ``zh`` pipeline (vocabulary only; no model, no network)."""
    import spacy

    # the default 'char' segmenter needs nothing; jieba segments the text in JiebaNlpEngine
    return spacy.blank(LANGUAGE, config={"nlp": {"tokenizer": {"segmenter": "char"}}})


def tokenize(text: str) -> list[tuple[str, int]]:
    """jieba tokens of ``text`` with their start offsets (the tokens cover the whole text)."""
    return [(word, start) for word, start, _end in _jieba().tokenize(text, HMM=True)]


class JiebaNlpEngine(NlpEngine):
    """Presidio ``NlpEngine``: jieba tokens on a blank spaCy ``zh`` vocabulary, lemma = text.

    No named-entity model: entities come from kequn's pattern recognizers only.
    """

    engine_name = "kequn_jieba"
    is_available = True

    def __init__(self, language: str = LANGUAGE) -> None:
        self.language = language
        self.nlp: dict[str, object] | None = None

    def load(self) -> None:
        """Build the blank pipeline and warm up jieba's dictionary."""
        self.nlp = {self.language: blank_pipeline()}
        _jieba().initialize()

    def is_loaded(self) -> bool:
        """True once :meth:`load` has run."""
        return self.nlp is not None

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """Segment ``text`` and return tokens whose lemmas are their own text."""
        from spacy.tokens import Doc

        if not self.is_loaded():
            self.load()
        toks = tokenize(text)
        words = [w for w, _ in toks]
        doc = Doc(blank_pipeline().vocab, words=words, spaces=[False] * len(words))
        for token in doc:
            token.lemma_ = token.text
        return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[s for _, s in toks],
                            lemmas=words, nlp_engine=self, language=language)

    def process_batch(self, texts: Iterable[str], language: str, batch_size: int = 1,
                      n_process: int = 1, **kwargs: object) -> Iterator[tuple[str, NlpArtifacts]]:
        """Process texts one by one (jieba has no batch mode)."""
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        """No stop words: short Chinese context words (电话, 客户) must stay."""
        return False

    def is_punct(self, word: str, language: str) -> bool:
        """True for punctuation and whitespace tokens."""
        return bool(word) and all(ch in _PUNCT for ch in word)

    def get_supported_entities(self) -> list[str]:
        """No NER entities (pattern recognizers only)."""
        return []

    def get_supported_languages(self) -> list[str]:
        """The one language this engine serves."""
        return [self.language]
