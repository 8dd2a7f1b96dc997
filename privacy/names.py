"""Person-name evidence that is not a pattern: word boundaries, ordinary words, given-name statistics.

Every fact here comes from jieba's shipped dictionary (``jieba/dict.txt``, MIT licence, read
offline once per process), never from ``kequn synth`` or Faker:

* **Boundaries.** A name candidate ``S + g1 + g2`` whose last character starts a common word
  with the next character (``张三身|份证``, ``刘洋工|作日``, ``欧阳明确|认``) ends one character
  earlier: the redaction never swallows the start of the following word.
* **Ordinary words.** A candidate that is a common dictionary word not tagged as a person name
  (``商务`` in ``商务经理``, ``储备`` in ``储备经理人``, ``管家`` in ``管家部经理``) is not a person
  when the only evidence is weak (a job title after it, or the statistics below).
* **Given-name statistics.** For each character, how much more often it appears in the given
  part of jieba's ``nr`` (person-name) entries than in ordinary words, as a log ratio. A
  candidate with no context word is a name only when its given characters score high enough
  on average.

The functions work on the (few) name candidates the span finder produces, not on whole
texts; their per-candidate loops are bounded by the number of candidates.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections import Counter
from collections.abc import Iterable

import numpy as np

#: A following bigram at least this frequent in jieba's dictionary is a word boundary.
BOUNDARY_FREQ = 500
#: A candidate that is a non-name word at least this frequent is an ordinary word.
ORDINARY_WORD_FREQ = 300
#: A two-character head this frequent in jieba's dictionary (任职, 高兴) is a word, whatever follows.
STRONG_WORD_FREQ = 2000
#: Minimum mean given-character log ratio for a name with no context word.
MIN_GIVEN_SCORE = 0.5
#: A character whose log-weighted count in jieba's ordinary (non-name) words is below this is
#: rare in running text (琚, 睢, 禤, 亓, 仉 ... : 0-11; 陪 195, 已 461, 时 2681): right after a word
#: that introduces a person it is taken for a surname that no list holds.
RARE_CHAR_WEIGHT = 20


def _dict_path() -> str:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return os.path.join(os.path.dirname(jieba.__file__), "dict.txt")


@functools.lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[str, int], frozenset[str], dict[str, float], frozenset[str]]:
    """``(common words → freq, person-name entries, given-name character → log ratio, rare
    characters)``."""
    from privacy.recognizers.patterns import surnames

    compound, single = surnames()
    compound_set, single_set = set(compound), set(single)
    words: dict[str, int] = {}
    names: set[str] = set()
    given: Counter[str] = Counter()
    text_parts: list[str] = []
    # one pass over ~350k lines: a plain loop (this runs once per process, ~0.5 s)
    with open(_dict_path(), encoding="utf-8") as fh:
        for line in fh:
            word, freq_s, tag = line.rstrip("\n").split(" ")[:3]
            if tag.startswith("nr"):
                names.add(word)
                if word[:2] in compound_set:
                    sur = 2
                elif word[0] in single_set:
                    sur = 1
                else:
                    continue
                if 1 <= len(word) - sur <= 2:
                    given.update(word[sur:])
                continue
            if len(word) >= 2:
                freq = int(freq_s)
                if freq >= 3:
                    # characters weighted by log frequency: common words count, not overwhelm
                    text_parts.append(word * max(1, int(math.log2(freq))))
                if freq >= min(BOUNDARY_FREQ, ORDINARY_WORD_FREQ):
                    words[word] = freq
    chars = Counter("".join(text_parts))
    g_total = sum(given.values())
    c_total = sum(chars.values())
    scores = {c: math.log((n + 0.5) / g_total) - math.log((chars.get(c, 0) + 5.0) / c_total)
              for c, n in given.items() if n >= 2}
    rare = frozenset(c for c in map(chr, range(0x4E00, 0xA000)) if chars.get(c, 0) < RARE_CHAR_WEIGHT)
    return words, frozenset(names), scores, rare


def rare_chars() -> frozenset[str]:
    """CJK characters that are rare in ordinary words (:data:`RARE_CHAR_WEIGHT`)."""
    return _lexicon()[3]


def common_words() -> dict[str, int]:
    """Common non-name words of jieba's dictionary with their frequencies."""
    return _lexicon()[0]


def given_char_score(ch: str) -> float:
    """Log ratio of ``ch`` in given names vs ordinary words (unknown characters: -3)."""
    return _lexicon()[2].get(ch, -3.0)


def given_name_score(given: str) -> float:
    """Mean :func:`given_char_score` of a given name (1-2 characters)."""
    if not given:
        return -3.0
    return sum(given_char_score(c) for c in given) / len(given)


@functools.lru_cache(maxsize=1)
def _compound_surnames() -> frozenset[str]:
    from privacy.recognizers.patterns import surnames

    return frozenset(surnames()[0])


def surname_length(name: str) -> int:
    """Length of the surname ``name`` starts with (2 for 欧阳…, 1 otherwise; the one 4-character
    compound surname, 爱新觉罗, counts as 2: its given name is then never trimmed away)."""
    return 2 if name[:2] in _compound_surnames() or name[:4] in _compound_surnames() else 1


#: Single characters that follow a name as a word of their own (prepositions, particles,
#: adverbs): ``杨天一对柜面…`` is 杨天一 + 对, not 杨天 + 一对.
FOLLOWING_FUNCTION_CHARS = frozenset("对在于的已到由向与和跟同说称因被把将也都还又就才要想让给及或等是")


@functools.lru_cache(maxsize=1)
def _context_pairs() -> frozenset[str]:
    """Two-character words that introduce or follow a name (复核, 经办, 先生 ...)."""
    from privacy.recognizers import patterns as P

    words = set(P.NAME_PREFIX_CONTEXT) | set(P.NAME_SUFFIX_CONTEXT) | set(P.NAME_SENTENCE_VERBS)
    return frozenset(w for w in words if len(w) == 2)


def trim_end(name: str, following: str) -> int:
    """How many characters of ``name`` are the name, given the text ``following`` it.

    The last given character is dropped when it starts a common word with the next character
    (``张三身`` + ``份证`` → 2, ``刘洋工`` + ``作日`` → 2), unless the text after the name reads
    better as it stands: the next character is a word of its own (``杨天一`` + ``对柜面``) or
    starts a word nearly as common (``周亮一`` + ``代为``). Never below surname + one given
    character.
    """
    words = common_words()
    keep = len(name)
    if keep <= surname_length(name) + 1 or not following:
        return keep
    if name[-1] + following[0] in _context_pairs():  # 王芳复 + 核李强: 复核 is a context word
        return keep - 1
    pair = words.get(name[-1] + following[0], 0)
    if pair < BOUNDARY_FREQ or following[0] in FOLLOWING_FUNCTION_CHARS:
        return keep
    after = words.get(following[:2], 0)
    if after * 10 >= pair or (after >= BOUNDARY_FREQ // 2 and given_char_score(name[-1]) >= 1.0):
        return keep
    return keep - 1


@functools.lru_cache(maxsize=1 << 16)
def is_ordinary_word(name: str, *, weak: bool = False, head_word: bool = True) -> bool:
    """True for a common word that jieba does not tag as a person name (``商务``, ``储备``).

    With ``weak`` (the only evidence is a job title after it, or statistics), also a candidate
    whose first two characters are such a word (``管家部`` in ``管家部经理``), unless they are a
    compound surname. ``head_word`` (default) also rejects a candidate whose first two
    characters are a very common word (:data:`STRONG_WORD_FREQ`); the exact match of a bank's own
    name column turns it off (王国明 is a customer's name, however common 王国 is).
    """
    words, names, _, _ = _lexicon()
    if name in names:
        return False
    if words.get(name, 0) >= ORDINARY_WORD_FREQ:
        return True
    head = name[:2]
    if head == "某某":  # the placeholder of an unnamed party (某某科技有限公司), never a person
        return True
    if (head_word and len(name) > 2 and head not in names and head not in _compound_surnames()
            and words.get(head, 0) >= STRONG_WORD_FREQ):
        return True  # 任职明 in 任职明阳海运: a very common word, then a character
    return (weak and len(name) > 2 and head not in names and head not in _compound_surnames()
            and words.get(head, 0) >= ORDINARY_WORD_FREQ and given_char_score(name[2]) < 0.5)


def starts_inside_word(previous: Iterable[str], names: Iterable[str]) -> np.ndarray:
    """True where the character before a candidate and its first character are a common word
    (``金融`` in ``金融产品经理``, ``公司`` in ``公司业务经理``): the candidate starts inside a
    word, so it is not a name. For weak evidence only (a title or verb after the candidate)."""
    words = common_words()
    return np.fromiter((p not in PRECEDING_FUNCTION_CHARS and words.get(p + n[:1], 0) >= BOUNDARY_FREQ
                        for p, n in zip(previous, names, strict=True)), dtype=bool)


def refine(names: Iterable[str], following: Iterable[str]) -> np.ndarray:
    """Trimmed lengths of name candidates (see :func:`trim_end`)."""
    return np.fromiter((trim_end(n, f) for n, f in zip(names, following, strict=True)), dtype=np.int64)


def ordinary(names: Iterable[str], *, weak: bool = False) -> np.ndarray:
    """:func:`is_ordinary_word` over candidates."""
    return np.fromiter((is_ordinary_word(n, weak=weak) for n in names), dtype=bool)


#: Minimum mean given-character log ratio for a name joined to a name already found
#: (``刘欢和阎宁夫妇``, ``吴刚、郑爽``): the neighbour is evidence too, so single given characters
#: that are also common in words (欢, 晶, 爽) pass.
MIN_GIVEN_SCORE_NEXT_TO_NAME = -1.0
#: Minimum mean given-character log ratio for a candidate right before 客户 (``刘航德客户`` is a
#: name, ``车贷客户`` / ``房贷客户`` are kinds of customer: 贷 scores -3).
MIN_GIVEN_SCORE_BEFORE_KEHU = -0.5
#: Characters before a name that are words of their own (为何兵宏先生 is 为 + 何兵宏, although
#: 为何 is a word): a candidate after one of them does not start inside a word.
PRECEDING_FUNCTION_CHARS = frozenset("对在于的已到由向与和跟同说称因被把将也都还又就才要想让给及或等是为请帮替叫找见问")


@functools.lru_cache(maxsize=1 << 16)
def is_plausible_name(name: str, min_score: float = MIN_GIVEN_SCORE) -> bool:
    """True where the given part of ``name`` scores at least ``min_score`` (default
    :data:`MIN_GIVEN_SCORE`) and the candidate is not an ordinary word."""
    given = name[surname_length(name):]
    return given_name_score(given) >= min_score and not is_ordinary_word(name, weak=True)


def statistically_plausible(names: Iterable[str], min_score: float = MIN_GIVEN_SCORE) -> np.ndarray:
    """:func:`is_plausible_name` over candidates."""
    return np.fromiter((is_plausible_name(n, min_score) for n in names), dtype=bool)


def exact_boundaries(text: str, starts: np.ndarray, ends: np.ndarray, found: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Name candidates ``text[starts:ends]`` with their ends moved to the word boundary.

    Returns ``(starts, ends, candidate strings)``.
    """
    # only candidates of 3+ characters can lose one (surname + one given character stays)
    idx = np.flatnonzero((ends - starts) >= 3)
    if idx.size == 0:
        return starts, ends, found
    cand = found[idx].tolist()
    keep = np.fromiter((trim_end(n, text[b:b + 2]) for n, b in zip(cand, ends[idx].tolist(), strict=True)),
                       dtype=np.int64, count=idx.size)
    cut = keep < (ends[idx] - starts[idx])
    if not cut.any():
        return starts, ends, found
    ends = ends.copy()
    found = found.copy()
    sel = idx[cut]
    ends[sel] = starts[sel] + keep[cut]
    found[sel] = [n[:k] for n, k in zip(found[sel].tolist(), keep[cut].tolist(), strict=True)]
    return starts, ends, found
