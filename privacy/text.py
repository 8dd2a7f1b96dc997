"""Free-text PII spans: vectorised detection over a whole column, and redaction.

The bulk path never runs Presidio per cell. For a column of texts it

1. normalises full-width characters (length-preserving, so offsets stay those of the original);
2. pre-filters the column with cheap vectorised ``str.contains`` tests (4+ digits, ``@``,
   ``号``, a name context word, the row's own name) so only candidate cells are analysed;
3. joins the candidate cells into one string (cells separated by ``\\x00``) and runs one
   compiled expression per entity over it (C speed), mapping match offsets back to
   ``(row, start)`` with ``numpy.searchsorted``;
4. validates candidates in bulk on their distinct canonical strings (GB 11643 and Luhn check
   digits vectorised in NumPy, birth dates and region codes, mobile prefixes);
5. scores them (context words just before a match raise the score of weak patterns), and
   keeps the best non-overlapping span at each place.

The expressions, context words and validators are those of the Presidio recognizers
(:mod:`privacy.recognizers.patterns`), so both paths agree.
"""

from __future__ import annotations

import functools
import gc
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from privacy import entities as E
from privacy import hanzi, names
from privacy.address import find_addresses
from privacy.exact_match import ExactMatcher
from privacy.normalise import HALFWIDTH_TABLE, S, to_halfwidth
from privacy.recognizers import patterns as P

SPAN_COLUMNS = ["row", "start", "end", "entity", "score", "method"]
#: How a span was found: a value of the bank's own identifier columns (and each row's own name),
#: a recognizer's pattern, or given-name statistics.
METHOD_EXACT = "exact"
METHOD_PATTERN = "pattern"
METHOD_STATISTICAL = "statistical"
METHODS = (METHOD_EXACT, METHOD_PATTERN, METHOD_STATISTICAL)
#: Spans scoring below this are not reported.
MIN_SCORE = 0.5
#: Characters before a match searched for a context word (``passport no. `` is 13).
CONTEXT_WINDOW = 16
#: Cell separator in the joined text; no pattern matches it and every lookaround treats it as
#: a boundary.
_SEP = "\x00"

_PREFILTER_DIGITS = r"[0-9]{4}"
#: A run of Chinese numerals long enough to be a number read out (一三八一二…).
_PREFILTER_ZH_DIGITS = f"[{P.ZH_DIGITS}]{{3}}[ \\-]?[{P.ZH_DIGITS}]{{4}}"
#: Full-width or odd characters that can be part of an identifier (digits, letters, + - @ . _,
#: odd spaces and dashes). Only cells holding one are normalised; Chinese punctuation such as
#: ，：（） is matched as it is.
_WIDE = ("[０-９Ａ-Ｚａ-ｚ＋－＠．＿"
         + "".join(chr(c) for c in sorted(HALFWIDTH_TABLE) if not 0xFF01 <= c <= 0xFF5E) + "]")


@functools.lru_cache(maxsize=1)
def _compiled() -> dict[str, re.Pattern[str]]:
    """Compile every expression once."""
    titles = "|".join(P.escape_context(t) for t in P.NAME_SUFFIX_CONTEXT)
    return {
        # cheap scans that locate candidate regions
        # (a dotted mobile, 138.1234.5678, is a run of its own: decimals are not runs)
        "run": re.compile(r"[0-9(+](?:[0-9 ()+\-]{4,}|(?<=1)[3-9][0-9]\.[0-9]{4}\.[0-9]{4})"),
        "at": re.compile("@"),
        "title": re.compile(titles),
        "verb": re.compile("|".join(P.NAME_VERB_CONTEXT)),
        "name_at": re.compile(f"(?:[、和与及]|以及)?(?P<name>{P.name_regex()})"),
        # the recognizers' expressions, run on the candidate regions
        # one pass per entity: the recognizer's patterns as one alternation (their shapes exclude
        # each other at any one start, so no candidate is lost)
        "resident_id": re.compile("|".join(f"(?:{p})" for p in (
            P.RESIDENT_ID_18, P.RESIDENT_ID_15, P.RESIDENT_ID_18_GROUPED4, P.RESIDENT_ID_18_ANY_GROUPING))),
        "mobile": re.compile(f"(?:{P.MOBILE})|(?:{P.MOBILE_434})"),
        "landline": re.compile(P.LANDLINE),
        # (grouped-by-four apart: it is a prefix of grouped-with-a-tail, and both must be tried)
        "bank_card": re.compile("|".join(f"(?:{p})" for p in (
            P.BANK_CARD_PLAIN, P.BANK_CARD_GROUPED_TAIL, P.BANK_CARD_BIN_REST, P.BANK_CARD_ANY_GROUPING))),
        "card_grouped": re.compile(P.BANK_CARD_GROUPED),
        "passport": re.compile(P.PASSPORT),
        "permit": re.compile(P.HK_MACAU_PERMIT),
        "customer_no": re.compile(P.CUSTOMER_NO),
        "email": re.compile(P.EMAIL),
        "name_before_title": re.compile(f"(?P<name>{P.name_regex()})(?=\x01)"),
        # expressions that start with a literal or a character class: run on the whole text
        "birth_date": re.compile(P.birth_date_in_context_regex()),
        "address": re.compile(P.ADDRESS),
        "address_after_context": re.compile(P.ADDRESS_AFTER_CONTEXT),
        # WeChat IDs and QQ numbers after their keyword: one scan for both
        "handle_key": re.compile(r"[微扣WwVvQq](?:信|扣|e[Cc]hat|eixin|[Xx]|[Qq])"),
        "handle": re.compile("|".join([P.WECHAT_AFTER_CONTEXT.replace("(?P<v>", "(?P<wechat>"),
                                       P.QQ_AFTER_CONTEXT.replace("(?P<v>", "(?P<qq>")])),
        "plate": re.compile(P.LICENSE_PLATE),
        # names after a context word, rarer surnames included (one scan; those are checked statistically)
        "person_prefix_all": re.compile(P.person_prefix_regex(
            "".join(sorted((set(P.rare_surnames()) | names.rare_chars()) - set(P.NAME_STOP_CHARS))))),
        "pinyin_ctx": re.compile(P.PINYIN_AFTER_CONTEXT),
        "pinyin": re.compile(P.PINYIN_NAME),
        "person_sentence": re.compile(P.person_sentence_regex()),
    }


@functools.lru_cache(maxsize=1)
def _mobile_zh() -> re.Pattern[str]:
    return re.compile(P.MOBILE_ZH)


@functools.lru_cache(maxsize=1)
def _prefilter() -> str:
    # A WeChat ID has no shape of its own: the words that introduce it are its only cue (a row
    # "张三 vx wfang_abc" has no digit, 号 or name word). Case-insensitive like the recognizer's lead.
    wechat = "|".join(sorted({re.escape(w.lower()) for w in P.WECHAT_CONTEXT + P.QQ_CONTEXT}, key=len, reverse=True))
    return (f"{_PREFILTER_DIGITS}|@|号|{_person_prefilter()}|[{P.PLATE_PROVINCES}][A-HJ-NP-Z]|微信|扣扣"
            f"|(?i:{wechat})")


@functools.lru_cache(maxsize=1)
def _person_prefilter() -> str:
    words = sorted(set(P.NAME_PREFIX_CONTEXT) | set(P.NAME_SUFFIX_CONTEXT) | set(P.NAME_SENTENCE_VERBS),
                   key=len, reverse=True)
    return "|".join(re.escape(w) for w in words)


def _empty_spans() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "start": pd.Series(dtype="int64"),
                         "end": pd.Series(dtype="int64"), "entity": pd.Series(dtype="object"),
                         "score": pd.Series(dtype="float64"), "method": pd.Series(dtype="object")})


class _Joined:
    """Candidate cells joined into one string (each cell preceded by ``\\x00``), with the map
    back to rows."""

    def __init__(self, texts: list[str], rows: np.ndarray) -> None:
        self.text = _SEP + _SEP.join(texts)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        self.starts = (np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]) + 1).astype(np.int64)
        self.rows = rows
        self._codes: np.ndarray | None = None

    def codes(self) -> np.ndarray:
        """The joined text as an array of code points (built once, on first use)."""
        if self._codes is None:
            self._codes = np.frombuffer(self.text.encode("utf-32-le"), dtype=np.uint32)
        return self._codes

    def locate(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map positions in the joined text to ``(row, offset in cell)``."""
        idx = np.searchsorted(self.starts, pos, side="right") - 1
        return self.rows[idx], pos - self.starts[idx]

    def has_context(self, starts: np.ndarray, words: list[str] | tuple[str, ...]) -> np.ndarray:
        """True where a context word occurs in the window before each start (same cell)."""
        if len(starts) == 0:
            return np.zeros(0, dtype=bool)
        cell_idx = np.searchsorted(self.starts, starts, side="right") - 1
        lo = np.maximum(self.starts[cell_idx], starts - CONTEXT_WINDOW)
        lowered = [w.lower() for w in words]
        text = self.text
        # one short slice per weak-pattern candidate (passports, permits, landlines)
        return np.fromiter((any(w in text[a:b].lower() for w in lowered)
                            for a, b in zip(lo.tolist(), starts.tolist(), strict=True)),
                           dtype=bool, count=len(starts))


class _Windows:
    """Short regions of the joined text (with a little context either side), joined again.

    The specific expressions then scan a few percent of the text instead of all of it; their
    lookarounds still see the real neighbouring characters.
    """

    def __init__(self, text: str, lo: np.ndarray, hi: np.ndarray, suffix: str = "") -> None:
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, len(text))
        pieces = [text[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
        lengths = (hi - lo) + len(suffix) + 1
        self.text = _SEP + (suffix + _SEP).join(pieces) + suffix
        self.starts = (np.concatenate([[0], np.cumsum(lengths)[:-1]]) + 1).astype(np.int64)
        self.origin = lo.astype(np.int64)

    def to_joined(self, pos: np.ndarray) -> np.ndarray:
        """Positions in the window text → positions in the joined text."""
        idx = np.searchsorted(self.starts, pos, side="right") - 1
        return self.origin[idx] + (pos - self.starts[idx])


def _matches(regex: re.Pattern[str], text: str, group: str | int = 0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All matches of ``regex`` as (starts, ends, matched strings)."""
    spans = [(m.start(group), m.end(group), m.group(group)) for m in regex.finditer(text)]
    if not spans:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, dtype=object)
    s, e, t = zip(*spans, strict=True)
    return np.asarray(s, np.int64), np.asarray(e, np.int64), np.asarray(t, dtype=object)


def _window_matches(regex: re.Pattern[str], win: _Windows, group: str | int = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matches of ``regex`` in the windows, as positions in the joined text (deduplicated)."""
    s, e, t = _matches(regex, win.text, group)
    if s.size == 0:
        return s, e, t
    s2 = win.to_joined(s)
    e2 = s2 + (e - s)
    _, first = np.unique(s2 * 4096 + (e2 - s2), return_index=True)  # overlapping windows
    first.sort()
    return s2[first], e2[first], t[first]


def _validate_unique(values: np.ndarray, canon: Callable[[np.ndarray], np.ndarray],
                     valid: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Validate each distinct canonical value once; return the per-candidate result."""
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    canonical = canon(values)
    uniq, inverse = np.unique(canonical.astype(str), return_inverse=True)
    return valid(uniq.astype(object))[inverse]


def _collect(joined: _Joined) -> list[tuple[np.ndarray, np.ndarray, str, np.ndarray, str]]:
    """Run every expression on the joined text; return validated
    (starts, ends, entity, scores, method)."""
    rx = _compiled()
    text = joined.text
    out: list[tuple[np.ndarray, np.ndarray, str, np.ndarray, str]] = []

    def add(s: np.ndarray, e: np.ndarray, entity: str, score: np.ndarray | float,
            keep: np.ndarray | None = None, method: str = METHOD_PATTERN) -> None:
        score = np.broadcast_to(np.asarray(score, dtype=float), s.shape)
        if keep is not None:
            s, e, score = s[keep], e[keep], score[keep]
        keep2 = score >= MIN_SCORE
        if keep2.any():
            out.append((s[keep2], e[keep2], entity, score[keep2], method))

    # --- numbers and codes: locate digit runs, scan them (2 characters of context before:
    # KH / E / C prefixes and letters that disqualify a match; 1 after)
    rs, re_, _ = _matches(rx["run"], text)
    if rs.size:
        win = _Windows(text, rs - 2, re_ + 1)
        # resident IDs: valid check digit → 1.0; right structure, wrong check digit, context → 0.6
        for key in ("resident_id",):
            s, e, t = _window_matches(rx[key], win)
            if s.size:
                valid = _validate_unique(t, P.id_body, P.resident_id_valid)
                structure = _validate_unique(t, P.id_body, P.resident_id_structure_valid)
                typo = structure & ~valid
                score = np.where(valid, 1.0, 0.0)
                if typo.any():
                    ctx = joined.has_context(s[typo], P.RESIDENT_ID_CONTEXT)
                    score[np.flatnonzero(typo)[ctx]] = 0.6
                add(s, e, E.CN_RESIDENT_ID, score)
        # bank cards (plain, grouped by 4, grouped with a 1-3 digit tail)
        for key in ("bank_card", "card_grouped"):
            s, e, t = _window_matches(rx[key], win)
            if s.size:
                add(s, e, E.BANK_CARD, 0.95, _validate_unique(t, P.digits_only, P.bank_card_valid))
        for key in ("mobile",):
            s, e, t = _window_matches(rx[key], win)
            if s.size:
                add(s, e, E.CN_MOBILE, 0.9, _validate_unique(t, P.mobile_canonical, P.mobile_valid))
        # landlines: a valid area code is enough (0.6); context raises it
        s, e, t = _window_matches(rx["landline"], win)
        if s.size:
            valid = _validate_unique(t, P.landline_canonical, P.landline_valid)
            s, e = s[valid], e[valid]
            add(s, e, E.CN_LANDLINE, np.where(joined.has_context(s, P.LANDLINE_CONTEXT), 0.9, 0.6))
        s, e, _ = _window_matches(rx["customer_no"], win)
        add(s, e, E.CUSTOMER_NO, 0.9)
        # passports and permits: only with a context word
        for key, entity, words in (("passport", E.CN_PASSPORT, P.PASSPORT_CONTEXT),
                                   ("permit", E.HK_MACAU_PERMIT, P.HK_MACAU_PERMIT_CONTEXT)):
            s, e, _ = _window_matches(rx[key], win)
            if s.size:
                add(s, e, entity, np.where(joined.has_context(s, words), 0.85, 0.3))
    # --- e-mail: around each @
    ats, _, _ = _matches(rx["at"], text)
    if ats.size:
        # (64 characters either side: a longer local part or domain is not an address in a note)
        s, e, _ = _window_matches(rx["email"], _Windows(text, ats - 64, ats + 128))
        add(s, e, E.EMAIL_ADDRESS, 1.0)
    # --- mobiles read out in Chinese numerals; WeChat IDs and QQ numbers after their keyword;
    # licence plates
    # (Chinese numerals were turned into digits by find_spans, so the mobile scan above saw them)
    # a cheap scan for the keywords, then the full expression around them
    ks, _, _ = _matches(rx["handle_key"], text)
    if ks.size:
        win = _Windows(text, ks - 1, ks + 48)
        found = [(m.lastgroup, *m.span(m.lastgroup)) for m in rx["handle"].finditer(win.text)]
        for group, entity in (("wechat", E.WECHAT_ID), ("qq", E.QQ_NUMBER)):
            spans = [(a, b) for g, a, b in found if g == group]
            if spans:
                a, b = (np.asarray(x, np.int64) for x in zip(*spans, strict=True))
                s = win.to_joined(a)
                n = b - a
                # overlapping windows: a window that ends inside the next cell sees a cut-off ID
                # (``rjia_19`` of ``rjia_1979``); keep the longest match at each start
                order = np.lexsort((-n, s))
                s, n = s[order], n[order]
                s, first = np.unique(s, return_index=True)
                add(s, s + n[first], entity, 0.85)
    add(*_matches(rx["plate"], text)[:2], E.LICENSE_PLATE, 0.85)
    # --- birth dates right after 出生/生日; addresses anchored on a province or city
    s, e, _ = _matches(rx["birth_date"], text, "date")
    add(s, e, E.BIRTH_DATE, 0.85)
    s, e, _ = _matches(rx["address"], text)
    add(s, e, E.CN_ADDRESS, 0.85)
    s, e, _ = _matches(rx["address_after_context"], text, "addr")
    add(s, e, E.CN_ADDRESS, 0.8)
    # --- names: after a context word, before a title (scan the 5 characters before each
    # title), at a sentence start before a verb
    def add_names(s: np.ndarray, e: np.ndarray, t: np.ndarray, score: float, weak: bool = False) -> None:
        if s.size:
            s, e, t = names.exact_boundaries(text, s, e, t)
            add(s, e, E.PERSON, score, ~(P.not_name(t) | names.ordinary(t, weak=weak)))

    def prefix_names(s: np.ndarray, e: np.ndarray, t: np.ndarray) -> None:
        """Names after a context word: surnames.txt surnames (pattern), rarer surnames (statistics)."""
        if not s.size:
            return
        e_before = e
        s, e, t = names.exact_boundaries(text, s, e, t)
        common = _starts_with_surname(t)
        add(s[common], e[common], E.PERSON, 0.85, ~(P.not_name(t[common]) | names.ordinary(t[common])))
        # rarer 百家姓 surnames (钭, 笪 ...) and characters rare in running text (琚, 禤) after a
        # context word: the given name must also pass the statistics (时, 和, 国 are mostly words);
        # a character rare in running text is evidence itself: the given name needs less
        rare = names.rare_chars()
        tr = t[~common].tolist()
        ok = np.fromiter((names.is_plausible_name(n, names.MIN_GIVEN_SCORE_NEXT_TO_NAME if n[0] in rare
                                                  else names.MIN_GIVEN_SCORE) for n in tr), dtype=bool, count=len(tr))
        add(s[~common], e[~common], E.PERSON, 0.6, ~P.not_name(t[~common]) & ok, METHOD_STATISTICAL)
        if (e != e_before).any():
            # a name ended early at a context word (王芳|复核李强): the scan had consumed the
            # word's first character, so look for the next name from the new end
            more = [m for b in e[e != e_before].tolist() if (m := rx["person_prefix_all"].match(text, b)) is not None]
            if more:
                prefix_names(np.asarray([m.start("name") for m in more], np.int64),
                             np.asarray([m.end("name") for m in more], np.int64),
                             np.asarray([m.group("name") for m in more], dtype=object))

    prefix_names(*_matches(rx["person_prefix_all"], text, "name"))
    # one scan for the words after a name: titles (strong) and verbs (weak: the candidate must
    # also pass the given-name statistics); one scan of the few characters before each
    title_at = _matches(rx["title"], text)[0]
    verb_at = _matches(rx["verb"], text)[0]
    verb_at = verb_at[_surname_before(joined, verb_at)]
    cue_at = np.concatenate([title_at[_surname_before(joined, title_at)], verb_at])
    if cue_at.size:
        win = _Windows(text, cue_at - 5, cue_at, suffix="\x01")
        s, e, t = _window_matches(rx["name_before_title"], win, "name")
        # a candidate whose surname ends a common word (金|融产品经理, 公|司业务经理) is no name
        inside = names.starts_inside_word([text[a - 1] for a in s.tolist()], t.tolist())
        s, e, t = s[~inside], e[~inside], t[~inside]
        by_verb = np.isin(e, verb_at)
        # XX客户 is mostly a kind of customer (车贷客户, 理财客户): a name only if it reads as one
        kehu = np.fromiter((text.startswith("客户", b) for b in e.tolist()), dtype=bool, count=e.size)
        if kehu.any():
            drop = np.zeros(e.size, dtype=bool)
            drop[kehu] = ~names.statistically_plausible(t[kehu], names.MIN_GIVEN_SCORE_BEFORE_KEHU)
            s, e, t, by_verb = s[~drop], e[~drop], t[~drop], by_verb[~drop]
        add_names(s[~by_verb], e[~by_verb], t[~by_verb], 0.85, weak=True)
        if by_verb.any():
            s, e, t = names.exact_boundaries(text, s[by_verb], e[by_verb], t[by_verb])
            add(s, e, E.PERSON, 0.6, ~P.not_name(t) & names.statistically_plausible(t), METHOD_STATISTICAL)
    add_names(*_matches(rx["person_sentence"], text, "name"), 0.7)
    _adjacent_names(joined, out, add, rx["name_at"])
    return out


def _starts_with_surname(found: np.ndarray) -> np.ndarray:
    """True for candidates that start with a surname of ``surnames.txt`` (compound or single)."""
    compound, single = P.surnames()
    c = pd.Series(found, dtype=object)
    return (c.str.slice(0, 1).isin(single) | c.str.slice(0, 2).isin(compound)
            | c.str.slice(0, 4).isin(compound)).to_numpy(dtype=bool)


def _surname_before(joined: _Joined, pos: np.ndarray) -> np.ndarray:
    """True for positions with a surname character 2-4 characters before them (a name can end
    there); vectorised over the joined text's code points."""
    if pos.size == 0:
        return np.zeros(0, dtype=bool)
    codes = joined.codes()
    table = _surname_code_table()
    hit = np.zeros(pos.size, dtype=bool)
    for k in (2, 3, 4):
        at = np.clip(pos - k, 0, codes.size - 1)
        c = codes[at]
        hit |= (c < table.size) & table[np.minimum(c, table.size - 1)]
    return hit


@functools.lru_cache(maxsize=1)
def _surname_code_table() -> np.ndarray:
    """Boolean lookup by code point: True for a character that can start a surname."""
    chars = _surname_first_chars()
    table = np.zeros(max(map(ord, chars)) + 1, dtype=bool)
    table[[ord(c) for c in chars]] = True
    return table


def _adjacent_names(joined: _Joined, out: list, add: Callable[..., None], name_at: re.Pattern[str]) -> None:
    """Two names side by side (``张伟李娜夫妇``, ``王芳、李强``): a statistically plausible name right
    after a name already found, or right before one at the start of a sentence."""
    person = [(s, e) for s, e, entity, _score, _m in out if entity == E.PERSON]
    if not person:
        return
    text = joined.text
    codes = joined.codes()
    starts = np.concatenate([s for s, _ in person])
    ends = np.concatenate([e for _, e in person])
    table = _surname_code_table()
    joiner = _code_mask("、和与及以")
    opener = _code_mask(P.SENTENCE_START)

    def is_in(mask: np.ndarray, pos: np.ndarray) -> np.ndarray:
        c = codes[np.clip(pos, 0, codes.size - 1)]
        return (c < mask.size) & mask[np.minimum(c, mask.size - 1)]

    found: list[tuple[int, int, str]] = []
    # the few name ends followed by a surname character or 、和与及 (vectorised pre-check)
    for b in ends[is_in(table, ends) | is_in(joiner, ends)].tolist():
        m = name_at.match(text, b)
        if m is not None:
            found.append((m.start("name"), m.end("name"), m.group("name")))
    # a name right before one found, or before it across 、和与及 (王芳和李强夫妇), at a sentence start
    before = starts - is_in(joiner, starts - 1)
    for width in (4, 3, 2):
        lo = before - width
        ok = (lo >= 1) & is_in(table, lo) & is_in(opener, lo - 1)
        for lo_, a in zip(lo[ok].tolist(), before[ok].tolist(), strict=True):
            m = name_at.fullmatch(text, lo_, a)
            if m is not None and m.start("name") == lo_:
                found.append((lo_, a, m.group("name")))
    if found:
        s = np.asarray([f[0] for f in found], np.int64)
        e = np.asarray([f[1] for f in found], np.int64)
        t = np.asarray([f[2] for f in found], dtype=object)
        s, e, t = names.exact_boundaries(text, s, e, t)
        add(s, e, E.PERSON, 0.6, ~P.not_name(t) & names.statistically_plausible(
            t, names.MIN_GIVEN_SCORE_NEXT_TO_NAME), METHOD_STATISTICAL)


@functools.lru_cache(maxsize=4)
def _code_mask(chars: str) -> np.ndarray:
    table = np.zeros(max(map(ord, chars)) + 1, dtype=bool)
    table[[ord(c) for c in chars]] = True
    return table


@functools.lru_cache(maxsize=1)
def _surname_first_chars() -> frozenset[str]:
    compound, single = P.surnames()
    return frozenset(single) | frozenset(c[0] for c in compound)


def _latin_names(filled: pd.Series, rows: np.ndarray) -> pd.DataFrame:
    """Names in pinyin/English (``Customer Zhang Wei``, ``Wang Jianguo called``) in the (few)
    cells with two capitalised words in a row; a name without a context word must have a pinyin
    given name."""
    ctx, bare = _compiled()["pinyin_ctx"], _compiled()["pinyin"]
    found: list[tuple[int, int, int, float, str]] = []
    # per cell: only cells holding Latin-script names get here
    for r, text in zip(rows.tolist(), filled.iloc[rows].tolist(), strict=True):
        for m in ctx.finditer(text):
            found.append((r, m.start("name"), m.end("name"), 0.85, m.group("name")))
        for m in bare.finditer(text):
            found.append((r, m.start("name"), m.end("name"), 0.7, m.group("name")))
    if not found:
        return _empty_spans()
    frame = pd.DataFrame(found, columns=["row", "start", "end", "score", "name"])
    ok = (frame["score"] > 0.8) | P.pinyin_given_valid(frame["name"].to_numpy(dtype=object))
    frame = frame[ok].drop(columns="name").assign(entity=E.PERSON, method=METHOD_PATTERN)
    return frame[SPAN_COLUMNS]


def _known_name_spans(texts: pd.Series, names: pd.Series
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every occurrence of each row's own name in its text: (rows, starts, ends)."""
    names = names.astype("string").str.replace(f"{S}+", "", regex=True)
    ok = names.notna() & (names.str.len() >= 2) & texts.notna()
    if not ok.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    pos = np.flatnonzero(ok.to_numpy(dtype=bool))
    tx = texts.iloc[pos].tolist()
    nm = names.iloc[pos].tolist()
    rows: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    # str.find per row with a name: the name differs per row, so there is no shared pattern
    for r, t, n in zip(pos.tolist(), tx, nm, strict=True):
        i = t.find(n)
        while i >= 0:
            rows.append(r)
            starts.append(i)
            ends.append(i + len(n))
            i = t.find(n, i + len(n))
    return (np.asarray(rows, np.int64), np.asarray(starts, np.int64), np.asarray(ends, np.int64))


def find_spans(texts: pd.Series, *, known_names: pd.Series | None = None,
               matcher: ExactMatcher | None = None, custom: tuple = ()) -> pd.DataFrame:
    """Find PII spans in every text cell.

    Parameters
    ----------
    texts:
        Free text, one cell per row; missing values have no spans.
    known_names:
        Optional, aligned with ``texts`` by position: each row's own name (e.g. the customer's
        name column). An occurrence of it is the strongest evidence of a ``PERSON`` span.
    matcher:
        Optional :class:`privacy.exact_match.ExactMatcher` over the values of the bank's own
        identifier columns: each occurrence is a span (score 1.0, method ``exact``).
    custom:
        The policy's own recognizers (:attr:`privacy.policy.Policy.custom`).

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (position in ``texts``), ``start``, ``end`` (offsets in the original
        text, end exclusive), ``entity`` (a :mod:`privacy.entities` constant), ``score``
        (0-1) and ``method`` (:data:`METHODS`), sorted by row and start; spans do not overlap.

    Notes
    -----
    The cyclic garbage collector is paused while the spans are collected: the work allocates
    hundreds of thousands of short-lived match tuples and no reference cycles, and every full
    collection would otherwise traverse the large, long-lived word lists (jieba's dictionary,
    the exact-match automaton) again - a third of the run time on a column of notes.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _find_spans(texts, known_names=known_names, matcher=matcher, custom=custom)
    finally:
        if enabled:
            gc.enable()


def _find_spans(texts: pd.Series, *, known_names: pd.Series | None = None,
                matcher: ExactMatcher | None = None, custom: tuple = ()) -> pd.DataFrame:
    """The work of :func:`find_spans`, with the garbage collector paused."""
    if known_names is not None and len(known_names) != len(texts):
        from kequn.errors import InputError

        raise InputError(f"find_spans: known_names has {len(known_names)} rows, texts has "
                         f"{len(texts)}; they must be aligned")
    if len(texts) == 0:
        return _empty_spans()
    filled = texts.reset_index(drop=True).astype("string").fillna("")
    wide = filled.str.contains(_WIDE, regex=True).to_numpy(dtype=bool)
    if wide.any():  # full-width digits/letters are a minority: translate only those cells
        filled = filled.copy()
        filled[wide] = to_halfwidth(filled[wide])
    trad = filled.str.contains(hanzi.traditional_class(), regex=True).to_numpy(dtype=bool)
    if trad.any():  # traditional characters (客戶, 帳戶): simplified for detection, same length
        filled = filled.copy()
        filled[trad] = filled[trad].str.translate(hanzi.t2s_table())
    zh_digits = filled.str.contains(_PREFILTER_ZH_DIGITS, regex=True).to_numpy(dtype=bool)
    if zh_digits.any():  # numbers read out in Chinese numerals (一三八…): digits, same length
        filled = filled.copy()
        filled[zh_digits] = filled[zh_digits].str.replace(
            _mobile_zh(), lambda m: m.group(0).translate(P.ZH_DIGIT_TABLE), regex=True)
    # one scan for every reason a cell can hold a span (4+ digits, @, 号, a name cue, a plate)
    mask = filled.str.contains(_prefilter(), regex=True)
    mask = mask.fillna(False).to_numpy(dtype=bool)
    parts: list[pd.DataFrame] = []
    if mask.any():
        rows = np.flatnonzero(mask)
        joined = _Joined(filled.iloc[rows].tolist(), rows)
        for s, e, entity, score, method in _collect(joined):
            r, off = joined.locate(s)
            parts.append(pd.DataFrame({"row": r, "start": off, "end": off + (e - s),
                                       "entity": entity, "score": score, "method": method}))
    latin = filled.str.contains(P.LATIN_NAME_PREFILTER, regex=True).to_numpy(dtype=bool)
    if latin.any():
        parts.append(_latin_names(filled, np.flatnonzero(latin)))
    if known_names is not None:
        r, s, e = _known_name_spans(filled.mask(filled == ""), known_names.reset_index(drop=True))
        if r.size:
            parts.append(pd.DataFrame({"row": r, "start": s, "end": e, "entity": E.PERSON,
                                       "score": 1.0, "method": METHOD_EXACT}))
    addresses = find_addresses(filled)  # gazetteer addresses (privacy/address.py)
    if len(addresses):
        parts.append(addresses.assign(entity=E.CN_ADDRESS, method=METHOD_PATTERN)[SPAN_COLUMNS])
    if custom:
        from privacy.custom import custom_spans

        found = custom_spans(tuple(custom), filled)
        if len(found):
            parts.append(found)
    if matcher is not None:
        found = matcher.find(filled)
        if len(found):
            parts.append(found)
    if not parts:
        return _empty_spans()
    spans = pd.concat(parts, ignore_index=True)
    return _resolve_overlaps(spans)


def _resolve_overlaps(spans: pd.DataFrame) -> pd.DataFrame:
    """Keep the best span wherever spans overlap (higher score, then longer, then earlier)."""
    # on a tie, an exact match of the bank's own value is the evidence to report
    spans = _merge_person_overlaps(spans)
    spans = spans.assign(_exact=spans["method"].eq(METHOD_EXACT))
    spans = spans.sort_values(["score", "_exact"], ascending=False, kind="mergesort")
    spans = spans.drop_duplicates(["row", "start", "end", "entity"])
    spans = spans.sort_values(["row", "start", "end"], kind="mergesort").reset_index(drop=True)
    row = spans["row"].to_numpy()
    start = spans["start"].to_numpy()
    end = spans["end"].to_numpy()
    # a span overlaps an earlier one of its row iff it starts before the running max end
    same_row = np.r_[False, row[1:] == row[:-1]]
    run_max = pd.Series(end).groupby(row).cummax().to_numpy()
    prev_end = np.r_[-1, run_max[:-1]]
    clash = same_row & (start < prev_end)
    if clash.any():
        bad_rows = np.unique(row[clash])
        sub = spans[np.isin(row, bad_rows)]
        keep = pd.Series(True, index=spans.index)
        keep.loc[sub.index] = _greedy_keep(sub)
        spans = spans[keep.to_numpy()]
    return spans[SPAN_COLUMNS].reset_index(drop=True).astype(
        {"row": "int64", "start": "int64", "end": "int64", "entity": "object", "score": "float64",
         "method": "object"})


def _merge_person_overlaps(spans: pd.DataFrame) -> pd.DataFrame:
    """Overlapping ``PERSON`` spans of a row become one span covering both.

    A customer's name that is the start of a longer name (``陈俊`` in a note naming ``陈俊明``, or
    ``慕容玉`` inside ``慕容玉珍``) would otherwise win by its exact-match score and leave the
    rest of the name in the text. The merged span keeps the best score and method.
    """
    person = spans["entity"].to_numpy() == E.PERSON
    if person.sum() < 2:
        return spans
    sub = spans[person].sort_values(["row", "start", "end"], kind="mergesort")
    row = sub["row"].to_numpy()
    start = sub["start"].to_numpy()
    end = sub["end"].to_numpy()
    same_row = np.r_[False, row[1:] == row[:-1]]
    run_max = pd.Series(end).groupby(row).cummax().to_numpy()
    prev_end = np.r_[-1, run_max[:-1]]
    joins = same_row & (start < prev_end)
    if not joins.any():
        return spans
    group = np.cumsum(~joins)
    best = sub.assign(_g=group, _exact=sub["method"].eq(METHOD_EXACT)).sort_values(
        ["_g", "score", "_exact"], ascending=[True, False, False], kind="mergesort")
    merged = best.drop_duplicates("_g").set_index("_g")
    bounds = pd.DataFrame({"g": group, "start": start, "end": end}).groupby("g").agg(
        start=("start", "min"), end=("end", "max"))
    merged["start"] = bounds["start"]
    merged["end"] = bounds["end"]
    merged = merged.drop(columns="_exact").reset_index(drop=True)
    return pd.concat([spans[~person], merged[spans.columns]], ignore_index=True)


def _greedy_keep(spans: pd.DataFrame) -> np.ndarray:
    """Greedy choice in priority order for the (few) rows whose spans overlap."""
    length = (spans["end"] - spans["start"]).to_numpy()
    order = np.lexsort((spans["start"].to_numpy(), -length, -spans["score"].to_numpy(),
                        spans["row"].to_numpy()))
    rows = spans["row"].to_numpy()[order].tolist()
    starts = spans["start"].to_numpy()[order].tolist()
    ends = spans["end"].to_numpy()[order].tolist()
    keep = np.zeros(len(spans), dtype=bool)
    taken: dict[int, list[tuple[int, int]]] = {}
    for k, (r, a, b) in enumerate(zip(rows, starts, ends, strict=True)):
        occupied = taken.setdefault(r, [])
        if not any(a < y and x < b for x, y in occupied):
            occupied.append((a, b))
            keep[order[k]] = True
    return keep


def span_method_counts(spans: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Spans per entity and method (``{entity: {method: n}}``): how each span was found."""
    if spans.empty:
        return {}
    counts = spans.groupby(["entity", "method"]).size()
    out: dict[str, dict[str, int]] = {}
    for entity in span_counts(spans):
        sub = counts.loc[entity]
        out[entity] = {m: int(sub[m]) for m in METHODS if m in sub.index}
    return out


def span_counts(spans: pd.DataFrame) -> dict[str, int]:
    """Number of spans per entity (``{entity: n}``), entities in :data:`TEXT_ENTITIES` order."""
    counts = spans["entity"].value_counts()
    order = [e for e in E.TEXT_ENTITIES if e in counts.index]
    order += [e for e in counts.index if e not in order]
    return {str(e): int(counts[e]) for e in order}


def redact_texts(texts: pd.Series, spans: pd.DataFrame,
                 replace: Callable[[str, str], str] | None = None) -> pd.Series:
    """Replace each span by a typed placeholder (or ``replace(entity, span_text)``).

    Parameters
    ----------
    texts:
        The texts the spans were found in (same order; ``spans.row`` is a position).
    spans:
        Output of :func:`find_spans`.
    replace:
        Optional function of ``(entity, span text)`` returning the replacement, e.g. a keyed
        token function; one with a ``many(entities, span_texts)`` method (a
        :class:`privacy.tokens.TokenReplacer`) gets every span in one call.
        Default: :data:`privacy.entities.TEXT_PLACEHOLDERS`.

    Returns
    -------
    pandas.Series
        Same index as ``texts``; text outside the spans is unchanged.
    """
    out = texts.astype("string")
    if spans.empty:
        return out.copy()
    spans = spans.sort_values(["row", "start"], kind="mergesort")
    rows = spans["row"].to_numpy()
    bounds = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1], True])
    starts = spans["start"].to_numpy().tolist()
    ends = spans["end"].to_numpy().tolist()
    ents = spans["entity"].tolist()
    values = out.to_numpy(dtype=object, na_value=None).copy()
    # the spans that are replaced (a later span overlapping an earlier one is skipped) and their
    # text; then every replacement at once (a token replacer canonicalises and hashes in batches)
    keep: list[int] = []
    keep_rows: list[int] = []
    found: list[str] = []
    for g in range(len(bounds) - 1):
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        r = int(rows[lo])
        text = values[r]
        if text is None:
            continue
        pos = 0
        for k in range(lo, hi):
            if starts[k] < pos:  # overlapping input: skip the later span
                continue
            keep.append(k)
            keep_rows.append(r)
            found.append(text[starts[k]:ends[k]])
            pos = ends[k]
    kept_ents = [ents[k] for k in keep]
    if replace is None:
        new = [E.TEXT_PLACEHOLDERS[e] for e in kept_ents]
    elif hasattr(replace, "many"):
        new = replace.many(kept_ents, found)
    else:
        new = [replace(e, t) for e, t in zip(kept_ents, found, strict=True)]
    # one pass per row that has spans, rebuilding its string from pieces
    i, n = 0, len(keep)
    while i < n:
        r = keep_rows[i]
        text = values[r]
        pieces, pos = [], 0
        while i < n and keep_rows[i] == r:
            k = keep[i]
            pieces.append(text[pos:starts[k]])
            pieces.append(new[i])
            pos = ends[k]
            i += 1
        pieces.append(text[pos:])
        values[r] = "".join(pieces)
    return pd.Series(values, index=texts.index, dtype="string", name=texts.name)
