"""Exact data match: the values of a bank's own identifier columns, found again in its free text.

A bank's customer table is the best dictionary of the names its notes contain: every value of
every direct-identifier column of every input table (names, mobiles, ID and card numbers,
e-mails, addresses, customer numbers ...) is searched for in every free-text column, whatever
the words around it. One Aho-Corasick automaton (``pyahocorasick``, C speed) holds all of them
and scans all the notes of a column in one pass.

Values are normalised as for tokens (:func:`privacy.normalise.canonical_identifier`); the text
is half-width already (:func:`privacy.text.find_spans` normalises it, keeping offsets), and
values and text are compared lower-cased (e-mails, ``x`` in IDs). A numeric or
Latin value must not touch a digit or letter on either side (``13812345678`` inside a
20-digit serial is not that mobile); a name is matched wherever it occurs.

Threat stopped: a customer's own name, mobile or card number written in a note with no context
word the patterns would need ("王建国到网点"), and names the statistics do not know.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from privacy import entities as E
from privacy.normalise import S, canonical_identifier, normalise_series

#: Entities whose column values enter the automaton.
MATCHED_ENTITIES: frozenset[str] = E.DIRECT_IDENTIFIERS
#: Shortest value searched for, per kind (shorter ones match ordinary text by chance).
MIN_LENGTH = {E.PERSON: 2, E.CN_ADDRESS: 6}
DEFAULT_MIN_LENGTH = 5
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SEP = "\x00"


_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: Characters of the local part and of the domain of an e-mail-shaped key (lower-case).
_LOCAL = r"[0-9a-z._%+\-]"
_DOMAIN = r"[0-9a-z.\-]"
#: Longest local part or domain looked for around an ``@`` (longer ones stay in the automaton).
_MAX_SIDE = 128
_LOCAL_RUN_BEFORE = re.compile(f"{_LOCAL}+\\Z")
_DOMAIN_RUN = re.compile(f"{_DOMAIN}*")


class ExactMatcher:
    """An Aho-Corasick automaton over identifier values, each tagged with its entity.

    Keys are prepared column-wise: each distinct value is normalised once (vectorised), keys
    are lower-cased with pyarrow and deduplicated across entities (the first entity that has a
    key keeps it). Keys made only of ASCII letters and digits (ID, mobile, card, customer and
    passport numbers ...) are not put in the automaton: under the boundary rule such a key
    matches exactly a whole run of letters and digits in the text, so one expression finds
    the runs and a dictionary lookup decides (the automaton for half a million IDs and mobiles
    alone took seconds to build and hundreds of MB).

    Parameters
    ----------
    values:
        ``{entity: values}``; values are normalised here, short and ordinary-word ones left out.
    """

    def __init__(self, values: Mapping[str, Iterable[str]]) -> None:
        import ahocorasick

        # values are C integers (entity index << 16 | key length): no Python object per key
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        self._entities: list[str] = []
        #: alphanumeric keys → entity (found as whole runs, see the class docstring)
        self.literal: dict[str, str] = {}
        #: e-mail-shaped keys → entity (found around each ``@``)
        self.at_keys: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        frames = []
        for entity, vals in values.items():
            series = pd.Series(list(vals), dtype="string").dropna()
            if series.empty:
                continue
            self.counts[entity] = 0
            keys = _keys(series.drop_duplicates(), entity)
            if len(keys):
                frames.append(pd.DataFrame({"key": keys.to_numpy(dtype=object), "entity": entity}))
        if frames:
            table = pd.concat(frames, ignore_index=True).drop_duplicates("key", keep="first")
            self.counts.update({str(k): int(v) for k, v in table.groupby("entity", sort=False).size().items()})
            keys = pd.Series(table["key"].to_numpy(dtype=object), dtype="string")
            literal = (keys.str.fullmatch("[0-9a-z]+").fillna(False).to_numpy(dtype=bool)
                       & (table["entity"].to_numpy(dtype=object) != E.PERSON))
            # e-mail-shaped keys (one @, the usual characters): looked up around each @ of the text
            at = (keys.str.fullmatch(f"{_LOCAL}{{1,{_MAX_SIDE}}}@{_DOMAIN}+").fillna(False).to_numpy(dtype=bool)
                  & ~literal)
            ents = table["entity"].to_numpy(dtype=object)
            all_keys = table["key"].to_numpy(dtype=object)
            self.literal = dict(zip(all_keys[literal].tolist(), ents[literal].tolist(), strict=True))
            self.at_keys = dict(zip(all_keys[at].tolist(), ents[at].tolist(), strict=True))
            literal = literal | at
            self._entities = list(dict.fromkeys(ents.tolist()))
            code = {e: i << 16 for i, e in enumerate(self._entities)}
            add = self.automaton.add_word
            for key, entity in zip(table["key"].to_numpy(dtype=object)[~literal].tolist(),
                                   ents[~literal].tolist(), strict=True):
                if len(key) <= 0xFFFF:  # (a longer "identifier" is not one)
                    add(key, code[entity] | len(key))
        self._run_min = min(map(len, self.literal), default=0)
        self.size = len(self.automaton) + len(self.literal) + len(self.at_keys)
        if len(self.automaton):
            self.automaton.make_automaton()

    def find(self, texts: pd.Series) -> pd.DataFrame:
        """Spans of known values in ``texts`` (half-width, positions as rows).

        Returns columns ``row``, ``start``, ``end``, ``entity``, ``score`` (1.0) and ``method``
        (``exact``); overlapping matches are all returned (the span finder keeps the best).
        """
        cols = {"row": [], "start": [], "end": [], "entity": []}
        if self.size == 0 or len(texts) == 0:
            return _frame(cols)
        values = texts.fillna("").astype(str).tolist()
        joined = _SEP + _SEP.join(values)
        starts = np.concatenate([[0], np.cumsum(np.fromiter((len(v) + 1 for v in values), np.int64,
                                                            count=len(values)))[:-1]]) + 1
        a_list: list[int] = []
        b_list: list[int] = []
        e_list: list[str] = []
        alnum = _ALNUM
        text = joined.lower()
        if len(text) != len(joined):  # a non-ASCII capital whose lower case is longer
            text = joined.translate(_ASCII_LOWER)
        n = len(text)
        if len(self.automaton):
            # one pass of the automaton over all cells (C); the loop is over matches only
            names = self._entities
            for end_idx, value in self.automaton.iter_long(text):  # longest, no overlaps
                entity, length = names[value >> 16], value & 0xFFFF
                b = end_idx + 1
                a = b - length
                if (text[a] in alnum and a > 0 and text[a - 1] in alnum) or (
                        b < n and text[b - 1] in alnum and text[b] in alnum):
                    continue
                a_list.append(a)
                b_list.append(b)
                e_list.append(entity)
        if self.literal:
            # whole runs of ASCII letters and digits, looked up (the text is lower-case ASCII)
            get = self.literal.get
            for m in re.finditer(f"[0-9a-z]{{{self._run_min},}}", text):
                entity = get(m.group())
                if entity is not None:
                    a_list.append(m.start())
                    b_list.append(m.end())
                    e_list.append(entity)
        if self.at_keys:
            self._find_at(text, a_list, b_list, e_list)
        if not a_list:
            return _frame(cols)
        a = np.asarray(a_list, np.int64)
        b = np.asarray(b_list, np.int64)
        idx = np.searchsorted(starts, a, side="right") - 1
        cols = {"row": idx, "start": a - starts[idx], "end": b - starts[idx], "entity": e_list}
        return _frame(cols)


    def _find_at(self, text: str, a_list: list[int], b_list: list[int], e_list: list[str]) -> None:
        """E-mail-shaped keys: around each ``@``, every start and end the boundary rule allows
        (the start of the run of local-part characters before it, or next to a character that
        is not a letter or digit; the same for the end of the domain run), looked up.

        An accepted occurrence of a key ``local@domain`` lies inside those runs, and its ends
        are among those positions, so this finds what the automaton found.
        """
        get = self.at_keys.get
        alnum = _ALNUM
        n = len(text)
        left, right = _LOCAL_RUN_BEFORE, _DOMAIN_RUN
        i = text.find("@")
        while i >= 0:
            lo = max(0, i - _MAX_SIDE)
            m = left.search(text, lo, i)
            ls = m.start() if m is not None else i
            re_ = right.match(text, i + 1).end()
            if ls < i and re_ > i + 1:
                # the boundary rule of the automaton's matches (text[ls - 1], text[re_] are
                # not letters or digits, unless the run was cut at _MAX_SIDE)
                starts = [a for a in range(ls, i)
                          if a == 0 or text[a] not in alnum or text[a - 1] not in alnum]
                ends = [b for b in range(i + 2, re_ + 1)
                        if b == n or text[b - 1] not in alnum or text[b] not in alnum]
                for a in starts:
                    for b in ends:
                        entity = get(text[a:b])
                        if entity is not None:
                            a_list.append(a)
                            b_list.append(b)
                            e_list.append(entity)
            i = text.find("@", i + 1)


def _keys(series: pd.Series, entity: str) -> pd.Series:
    """The distinct search keys of one entity's distinct values: canonical and normalised forms
    (and a romanised name in both orders), lower-cased, long enough, not ordinary words."""
    from privacy import hanzi, names
    from privacy.recognizers.patterns import NOT_NAMES

    norm = normalise_series(series)
    forms = [canonical_identifier(series, entity), norm.str.replace(f"{S}+", "", regex=True)]
    if entity == E.PERSON:
        # romanised names are written with their space (``Zhang Wei``) and in either order
        latin = norm.dropna().str.strip().str.replace(f"{S}+", " ", regex=True)
        latin = latin[latin.str.fullmatch(r"[A-Za-z'-]+(?: [A-Za-z'-]+){1,2}").fillna(False)]
        forms += [latin, pd.Series([" ".join(v.split(" ")[::-1]) for v in latin.tolist()], dtype="string")]
    keys = pd.concat([f.dropna() for f in forms], ignore_index=True)
    if entity == E.PERSON:
        # a romanised name without its space (``liangyan``) is a user name or a word, not how a
        # note writes the name (the spaced forms above stay)
        keys = keys[~keys.str.fullmatch(r"[A-Za-z'-]+").fillna(False).to_numpy(dtype=bool)]
    # the text is searched with traditional characters simplified (privacy/hanzi.py): a 客戶
    # table's names (陳美玲) are looked for as simplified too (陈美玲)
    # (str.translate is a Python loop per cell: only the keys holding a traditional character,
    # found by one vectorised scan, are translated; the others would be their own duplicates)
    trad = keys.str.contains(hanzi.traditional_class(), regex=True).fillna(False).to_numpy(dtype=bool)
    keys = pd.concat([keys, keys[trad].str.translate(hanzi.t2s_table())], ignore_index=True)
    # the text is searched lower-cased (ASCII letters only, as str.translate(_ASCII_LOWER))
    keys = pd.Series(pc.ascii_lower(pa.array(keys.array)), dtype="string").drop_duplicates()
    min_len = MIN_LENGTH.get(entity, DEFAULT_MIN_LENGTH)
    ok = keys.str.len().ge(min_len) & ~keys.str.contains(_SEP, regex=False)
    keys = keys[ok.fillna(False).to_numpy(dtype=bool)]
    if entity == E.PERSON and len(keys):
        # per distinct candidate name: the lexicon checks are dictionary lookups (privacy.names)
        bad = np.fromiter((k in NOT_NAMES or names.is_ordinary_word(k, head_word=False)
                           for k in keys.tolist()), dtype=bool, count=len(keys))
        keys = keys[~bad]
    return keys.reset_index(drop=True)


def _frame(cols: dict) -> pd.DataFrame:
    n = len(cols["row"])
    return pd.DataFrame({"row": np.asarray(cols["row"], dtype=np.int64),
                         "start": np.asarray(cols["start"], dtype=np.int64),
                         "end": np.asarray(cols["end"], dtype=np.int64),
                         "entity": pd.Series(cols["entity"], dtype=object),
                         "score": np.ones(n), "method": np.full(n, "exact", dtype=object)})


def matcher_for_tables(frames: Mapping[str, pd.DataFrame],
                       column_entities: Callable[[str, pd.DataFrame], Mapping[str, str]]
                       ) -> ExactMatcher | None:
    """One automaton over every direct-identifier column of every table.

    Parameters
    ----------
    frames:
        ``{table: frame}`` (raw values).
    column_entities:
        ``(table, frame) -> {column: entity}``: the classification decided for each column
        (policy overrides applied).

    Returns
    -------
    ExactMatcher or None
        ``None`` when no table has a direct-identifier column.
    """
    values: dict[str, list[str]] = {}
    for table, frame in frames.items():
        for column, entity in column_entities(table, frame).items():
            if entity in MATCHED_ENTITIES and column in frame.columns:
                col = frame[column].dropna().astype(str)
                values.setdefault(entity, []).extend(col.unique().tolist())
    if not values:
        return None
    matcher = ExactMatcher(values)
    return matcher if matcher.size else None
