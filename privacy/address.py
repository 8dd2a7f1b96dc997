"""Mainland addresses (地址) in columns and free text, anchored on the administrative gazetteer.

An address starts at a province or prefecture-level city name from the gazetteer
(:mod:`privacy.gazetteer`; full ``浙江省``/``杭州市`` or short ``浙江``/``杭州``), continues
through optional lower levels (city, district, county, town: ``西湖区``, ``余杭街道``) and must
end in a street-level detail: a road (路, 街, 道, 巷, 弄, 大道, 大街, 胡同) with or without a
house number (号), an estate or building (花园, 大厦, 中心 ... with 栋/幢/座/号楼, ``B座``),
unit (单元), floor (楼/层), room (室), and an optional postcode (``邮编310012``). So
``浙江省杭州市西湖区文三路电子大厦B座，邮编310012`` is an address although it has no 号 or 室,
while ``深圳分行营业部``, ``北京路演`` and a bare ``广东省深圳市`` are not.

Without a province or city, a district-level address counts only right after an address
context word (``住址：朝阳区人民路12号``).

One definition, two engines: :data:`ADDRESS_REGEX` (and :data:`ADDRESS_AFTER_CONTEXT_REGEX`)
are the patterns of the Presidio recognizer
(:class:`privacy.recognizers.cn_address_recognizer.CnAddressRecognizer`), and
:func:`find_addresses` runs the same compiled expressions over a whole column at once (cells
joined into one string, offsets mapped back with ``numpy.searchsorted``).
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from privacy.gazetteer import gazetteer, trie_regex
from privacy.normalise import HALFWIDTH_TABLE, to_halfwidth

HAN = "\u4e00-\u9fff"
#: Score of an address anchored on the gazetteer, and of one found after a context word.
SCORE_ANCHORED = 0.85
SCORE_AFTER_CONTEXT = 0.8
#: Words right before an address written without province or city.
ADDRESS_PREFIX_CONTEXT = ("通讯地址", "联系地址", "家庭地址", "居住地址", "户籍地址", "寄送地址", "单位地址",
                          "新地址", "地址", "住址", "家住", "住在", "居住在", "寄送至", "寄往", "寄到")
ADDRESS_CONTEXT = ["地址", "住址", "住在", "居住", "家住", "通讯地址", "联系地址", "邮编", "dz", "address"]

_S = "[ ]?"  # one optional space between parts
_ADMIN_SUFFIX = "(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?"
#: A lower administrative level written out: city, prefecture, district, county, banner, town.
_LEVEL = f"[{HAN}]{{1,6}}?(?:市|自治州|地区|盟|区|县|旗|镇|乡|街道)"
_STREET = (f"[{HAN}0-9]{{1,12}}?(?:大道|大街|路|街|巷|弄|胡同|道)"
           "(?:[0-9一二三四五六七八九十]{1,3}(?:段|巷|弄|支路))?")
_NUMBER = r"[0-9]{1,5}(?:-[0-9]{1,5})?[号號](?:院)?"
_ESTATE = (f"[{HAN}A-Za-z0-9]{{1,12}}?(?:花园|家园|华庭|名苑|公寓|大厦|广场|小区|新村|社区|中心|大楼|写字楼"
           "|产业园|科技园|工业园|苑|城|府|园|庭|坊|村)")
_BUILDING = "(?:[0-9A-Za-z]{1,3}(?:栋|幢|座|号楼)|[一二三四五六七八九十]{1,2}(?:栋|幢|座|号楼)|[A-Za-z]区)"
_UNIT = "[0-9一二三四五六七八九十]{1,2}单元"
_FLOOR = "[0-9]{1,3}(?:楼|樓|层|層|F)"
_ROOM = "[0-9]{1,5}(?:室|房)"
_ROOM_BARE = "[0-9]{1,5}(?:室|房)?(?![0-9])"
_AFTER = (f"(?:{_S}{_BUILDING}(?:{_S}{_UNIT})?(?:{_S}{_FLOOR})?(?:{_S}{_ROOM_BARE})?"
          f"|{_S}{_UNIT}(?:{_S}{_FLOOR})?(?:{_S}{_ROOM_BARE})?"
          f"|{_S}{_FLOOR}(?:{_S}{_ROOM})?"
          f"|{_S}{_ROOM})?")
_POSTCODE = (r"(?:[,，;；]?[ ]?(?:邮编|邮政编码)[:：]?[ ]?[0-9]{6}(?![0-9])|[ ]?[(（][0-9]{6}[)）]"
             r"|[ ]?[0-9]{6}(?![0-9]))?")  # a bare 6-digit number right after an address is its postcode
#: The street-level part an address must have.
_TAIL = (f"(?:{_STREET}{_S}{_NUMBER}(?:{_S}{_ESTATE})?"
         f"|{_STREET}{_S}{_ESTATE}"
         f"|{_STREET}(?![{HAN}])"
         f"|{_NUMBER}(?:{_S}{_ESTATE})?"
         f"|{_ESTATE}(?={_S}(?:{_BUILDING}|{_UNIT}|[0-9])))")


@functools.lru_cache(maxsize=1)
def _anchor() -> str:
    """Province or city name: full names, or short names not followed by a lower level's suffix
    (``朝阳区`` is a district, not 朝阳市; ``北京路`` is a road)."""
    g = gazetteer()
    full = trie_regex(g.provinces | g.cities)
    short = trie_regex(set(g.province_short) | set(g.city_short))
    return f"(?:{full}|{short}(?![区县镇乡旗路街道巷弄]){_ADMIN_SUFFIX})"


@functools.lru_cache(maxsize=1)
def address_regex() -> str:
    """The anchored address expression (the recognizer's main pattern)."""
    return f"{_anchor()}(?:{_S}{_LEVEL}){{0,4}}{_S}{_TAIL}{_AFTER}{_POSTCODE}"


_DISTRICT_ADDRESS = (f"(?:{_LEVEL}{_S}){{1,3}}"
                     f"(?:{_STREET}{_S}{_NUMBER}(?:{_S}{_ESTATE})?|{_STREET}{_S}{_ESTATE}"
                     f"|{_NUMBER}(?:{_S}{_ESTATE})?){_AFTER}{_POSTCODE}")


def address_after_context_regex(*, lookbehind: bool = False) -> str:
    """A district-level address right after a context word.

    The address is group ``addr``; with ``lookbehind`` the context word is a (variable-width)
    lookbehind instead, so the whole match is the address (the ``regex`` module that Presidio
    uses allows it, ``re`` does not).
    """
    ctx = f"(?:{'|'.join(ADDRESS_PREFIX_CONTEXT)})[:： ]?"
    if lookbehind:
        return f"(?<={ctx}){_DISTRICT_ADDRESS}"
    return f"{ctx}(?P<addr>{_DISTRICT_ADDRESS})"


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(gazetteer names alone, the anchored address, the address after a context word).

    The plain name trie is scanned for first (C speed over the whole column); the anchored
    expression is then tried only where a name starts.
    """
    g = gazetteer()
    names = trie_regex(g.provinces | g.cities | set(g.province_short) | set(g.city_short))
    return re.compile(names), re.compile(address_regex()), re.compile(address_after_context_regex())


#: A street address with a house number and no gazetteer name (Taiwan, Hong Kong, or a place the
#: mainland list does not hold): optional postcode, a short place, a road, 号/號 with 之N and
#: floor. The road plus house number is the evidence; nothing shorter counts.
STREET_NUMBER_REGEX = (f"(?:[0-9]{{3,6}}[ ]?)?[{HAN}]{{1,8}}?(?:大道|大街|路|街|巷|弄)"
                       "(?:[0-9一二三四五六七八九十]{1,3}(?:段|巷|弄))?[ ]?"
                       "[0-9]{1,5}(?:-[0-9]{1,5})?[号號](?:之[0-9]{1,3})?(?:[ ]?[0-9]{1,3}(?:楼|樓|层|層|F)(?:之[0-9]{1,2})?)?"
                       "(?:[ ]?[0-9]{1,5}(?:室|房))?"
                       # a branch's street address (北京路88号网点) is the bank's, not a person's
                       "(?![0-9]|网点|支行|分行|营业部|营业厅|门店)")
SCORE_STREET_NUMBER = 0.75


@functools.lru_cache(maxsize=1)
def _street_number() -> re.Pattern[str]:
    return re.compile(STREET_NUMBER_REGEX)


#: Bounds of a street-number match around its 号/號: at most this many characters before it
#: (postcode and space 7, place 8, road 2, section 4, space 1, number with a dash 11 = 33) and
#: after it (之N 4, floor 8, room 7, the lookahead 3 = 22); the windows keep a margin.
_STREET_BEFORE_HAO = 40
_STREET_AFTER_HAO = 30


def _street_number_matches(joined: str) -> list[re.Match[str]]:
    """The matches of :data:`STREET_NUMBER_REGEX` in ``joined``, the same as a scan of the whole
    text, found by scanning only the windows around each 号/號 (every match holds one, within
    the bounds above). Overlapping windows are merged, so no match crosses a window's edge and a
    scan from a window's start is in the state the whole-text scan would be in there (no match
    can start between windows); the lazy place part otherwise tries every Han character."""
    rx = _street_number()
    hao = np.fromiter((m.start() for m in _HAO.finditer(joined)), dtype=np.int64)
    if hao.size == 0:
        return []
    # ... and a road (its last character 路/街/巷/弄/道) ends at most 16 characters before the
    # 号 (section 4, space 1, number 11): other 号 (手机号, 证件号) start no match
    road = np.fromiter((m.start() for m in _ROAD_END.finditer(joined)), dtype=np.int64)
    nxt = np.searchsorted(road, hao - _ROAD_BEFORE_HAO, side="left")
    ok = nxt < road.size
    ok[ok] &= road[nxt[ok]] < hao[ok]
    hao = hao[ok]
    if hao.size == 0:
        return []
    lo = np.maximum(hao - _STREET_BEFORE_HAO, 0)
    hi = np.minimum(hao + _STREET_AFTER_HAO, len(joined))
    # merge: a new window starts where a window does not reach the next one's start
    new = np.r_[True, lo[1:] > np.maximum.accumulate(hi)[:-1]]
    starts = lo[new]
    ends = np.maximum.reduceat(hi, np.flatnonzero(new))
    out: list[re.Match[str]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        out.extend(rx.finditer(joined, a, b))
    return out


_HAO = re.compile("[号號]")
_ROAD_END = re.compile("[路街巷弄道]")
#: The road's last character lies at most this many characters before the 号 (16 + 1, margin).
_ROAD_BEFORE_HAO = 18


SPAN_COLUMNS = ["row", "start", "end", "score"]
#: An address's street-level part starts within this many characters of its first name.
MAX_ADDRESS_LENGTH = 60


@functools.lru_cache(maxsize=1)
def _detail_chars() -> re.Pattern[str]:
    """Characters that every street-level tail contains (its road, number, estate, building or
    postcode suffix)."""
    return re.compile("[路街道巷弄胡号號园苑城府庭坊村厦寓场区心楼座栋幢单室邮]")
#: Characters :func:`privacy.normalise.to_halfwidth` changes that matter in an address (digits,
#: letters, dashes, odd spaces); Chinese punctuation such as ，（） is matched as it is.
_WIDE = ("[０-９Ａ-Ｚａ-ｚ－"
         + "".join(chr(c) for c in sorted(HALFWIDTH_TABLE) if not 0xFF01 <= c <= 0xFF5E) + "]")


def find_addresses(texts: pd.Series) -> pd.DataFrame:
    """Find address spans in every cell of ``texts``.

    Parameters
    ----------
    texts:
        Text cells (any dtype; missing cells have no spans). Full-width characters are mapped to
        half-width first; offsets are those of the original text.

    Returns
    -------
    pandas.DataFrame
        ``row`` (position in ``texts``), ``start``, ``end`` (end exclusive) and ``score``, sorted
        by row and start; spans of one row do not overlap.
    """
    empty = pd.DataFrame({"row": pd.Series(dtype="int64"), "start": pd.Series(dtype="int64"),
                          "end": pd.Series(dtype="int64"), "score": pd.Series(dtype="float64")})
    if len(texts) == 0:
        return empty
    filled = texts.reset_index(drop=True).astype("string").fillna("")
    wide = filled.str.contains(_WIDE, regex=True).to_numpy(dtype=bool)
    if wide.any():  # full-width characters are rare: translate only the cells that have them
        filled = filled.copy()
        filled[wide] = to_halfwidth(filled[wide])
    cells = filled.tolist()
    lengths = np.fromiter((len(t) for t in cells), dtype=np.int64, count=len(cells))
    starts = (np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]) + 1).astype(np.int64)
    joined = "\x00" + "\x00".join(cells)
    names, anchored, after_context = _compiled()
    found: list[tuple[int, int, float]] = []
    # Candidate starts: gazetteer names with a street-level character (路, 号, 座, 邮编 ...) within
    # the next MAX_ADDRESS_LENGTH characters, found with numpy; the full expression is tried at
    # those starts only (one Python-level match per candidate, a small share of the text).
    anchors = np.fromiter((a.start() for a in names.finditer(joined)), dtype=np.int64)
    if anchors.size:
        details = np.fromiter((d.start() for d in _detail_chars().finditer(joined)), dtype=np.int64)
        nxt = np.searchsorted(details, anchors, side="left")
        ok = nxt < details.size
        ok[ok] &= details[nxt[ok]] - anchors[ok] < MAX_ADDRESS_LENGTH
        last = -1
        for start in anchors[ok].tolist():
            if start < last:
                continue
            m = anchored.match(joined, start)
            if m is not None:
                found.append((m.start(), m.end(), SCORE_ANCHORED))
                last = m.end()
    found += [(m.start("addr"), m.end("addr"), SCORE_AFTER_CONTEXT) for m in after_context.finditer(joined)]
    found += [(m.start(), m.end(), SCORE_STREET_NUMBER) for m in _street_number_matches(joined)]
    if not found:
        return empty
    s, e, score = (np.asarray(x) for x in zip(*found, strict=True))
    idx = np.searchsorted(starts, s, side="right") - 1
    spans = pd.DataFrame({"row": idx.astype(np.int64), "start": (s - starts[idx]).astype(np.int64),
                          "end": (e - starts[idx]).astype(np.int64), "score": score.astype(float)})
    # keep the longest span where two overlap (an anchored and a context match of one address)
    spans = spans.assign(length=spans["end"] - spans["start"]).sort_values(
        ["row", "start", "length"], ascending=[True, True, False], kind="mergesort")
    run_end = spans.groupby("row")["end"].cummax()
    prev = run_end.groupby(spans["row"]).shift(1).fillna(-1).to_numpy()
    spans = spans[spans["start"].to_numpy() >= prev]
    return spans[SPAN_COLUMNS].reset_index(drop=True)


def district_address_share(values: pd.Series) -> np.ndarray:
    """True where a value is a district-level address without province or city
    (``朝阳区人民路12号``); used only under an address header."""
    text = values.astype("string").fillna("").str.replace(r"\s+", "", regex=True)
    return text.str.fullmatch(_DISTRICT_ADDRESS + ".{0,12}").fillna(False).to_numpy(dtype=bool)


def address_share(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """For distinct column values: (holds an address, is essentially one address).

    "Essentially one" means the address span covers at least 75% of the value's characters
    (a column of addresses, not notes that mention one).
    """
    spans = find_addresses(values)
    n = len(values)
    has = np.zeros(n, dtype=bool)
    covered = np.zeros(n, dtype=np.int64)
    if len(spans):
        has[spans["row"].to_numpy()] = True
        np.add.at(covered, spans["row"].to_numpy(), (spans["end"] - spans["start"]).to_numpy())
    lengths = values.astype("string").str.len().fillna(0).to_numpy(dtype=np.int64)
    whole = has & (covered >= 0.75 * np.maximum(lengths, 1))
    return has, whole
