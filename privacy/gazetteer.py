"""Administrative-division gazetteer (行政区划): provinces, prefecture-level cities, districts.

The names come from the ``adcodes.csv`` table shipped inside the ``cpca`` wheel (MIT licence,
https://github.com/DQinYuan/chinese_province_city_area_mapper), which transcribes the
Ministry of Civil Affairs' public 行政区划代码 list (12-digit codes: 2 digits province, 2 city,
2 district). Only the data file is read, from the installed package's folder; cpca's own
matcher is not imported, and nothing is downloaded.

One gazetteer serves three jobs: the address detector (:mod:`privacy.address`), the
quasi-identifier values of column classification (city / district columns) and address
generalisation to province and city (:func:`privacy.generalise.province_city`).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.util
import io
from pathlib import Path

from kequn.errors import ConfigError

#: Suffixes removed to get a province's short name (广西壮族自治区 → 广西).
PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")
#: Suffixes removed to get a city's short name (杭州市 → 杭州); autonomous prefectures keep theirs.
CITY_SUFFIXES = ("地区", "市", "盟")
#: Rows of the code list that are groupings, not places.
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
MUNICIPALITY_CODES = frozenset({"11", "12", "31", "50"})


@dataclasses.dataclass(frozen=True)
class Gazetteer:
    """Names by level, and the map from each name to its province and city.

    Attributes
    ----------
    provinces:
        Full province-level names (``浙江省``, ``北京市``, ``广西壮族自治区``).
    province_short:
        Short name → full name (``浙江`` → ``浙江省``).
    cities:
        Full prefecture-level names, plus county-level cities directly under a province (仙桃市).
    city_short:
        Short name → full name (``杭州`` → ``杭州市``), only where the short name is unique and
        at least two characters long.
    districts:
        Full county-level names (``西湖区``, ``余杭区``, ``乐昌市``).
    province_of:
        Full city or district name → the full names of the provinces it lies in.
    city_of:
        Full district name → the full names of the cities it lies in.
    """

    provinces: frozenset[str]
    province_short: dict[str, str]
    cities: frozenset[str]
    city_short: dict[str, str]
    districts: frozenset[str]
    province_of: dict[str, frozenset[str]]
    city_of: dict[str, frozenset[str]]

    @property
    def city_values(self) -> frozenset[str]:
        """Every way a city or province is written as a column value (full and short names)."""
        return (self.provinces | frozenset(self.province_short) | self.cities
                | frozenset(self.city_short))

    @property
    def district_values(self) -> frozenset[str]:
        """Full district names (short ones are too ambiguous to decide a column)."""
        return self.districts - self.cities


def _strip(name: str, suffixes: tuple[str, ...]) -> str:
    for s in suffixes:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def _data_file() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the administrative-division gazetteer needs the 'cpca' package "
                          "(pip install 'cpca>=0.5.5'); it is a declared dependency of kequn")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
    if not path.is_file():
        raise ConfigError(f"{path}: the gazetteer file of the 'cpca' package is missing; reinstall cpca")
    return path


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """Load the gazetteer once (about 3,500 names)."""
    text = _data_file().read_text(encoding="utf-8")
    rows = [(r["adcode"][:6], r["name"].strip()) for r in csv.DictReader(io.StringIO(text))
            if r.get("adcode") and r.get("name")]
    prov: dict[str, str] = {}
    city: dict[str, str] = {}
    district: dict[str, str] = {}
    for code, name in rows:
        if code.endswith("0000"):
            prov[code[:2]] = name
    for code, name in rows:
        if name in _PLACEHOLDERS or code.endswith("0000"):
            continue
        if code.endswith("00"):
            city[code[:4]] = name
    for code, name in rows:
        if name in _PLACEHOLDERS or code.endswith("00"):
            continue
        if code[2:4] == "90":  # county-level city under the province (湖北省仙桃市): a city
            city[code] = name
        district[code] = name
    for code2 in MUNICIPALITY_CODES:  # the municipality is its own city
        if code2 in prov:
            city[code2 + "01"] = prov[code2]
    province_of: dict[str, set[str]] = {}
    city_of: dict[str, set[str]] = {}
    for code, name in city.items():
        province_of.setdefault(name, set()).add(prov.get(code[:2], ""))
    for code, name in district.items():
        province_of.setdefault(name, set()).add(prov.get(code[:2], ""))
        parent = city.get(code[:4]) or (prov.get(code[:2]) if code[:2] in MUNICIPALITY_CODES else None)
        if code[2:4] == "90":
            parent = name
        if parent:
            city_of.setdefault(name, set()).add(parent)
    province_short = {_strip(n, PROVINCE_SUFFIXES): n for n in prov.values()}
    shorts: dict[str, set[str]] = {}
    for n in city.values():
        s = _strip(n, CITY_SUFFIXES)
        if s != n:
            shorts.setdefault(s, set()).add(n)
    city_short = {s: next(iter(ns)) for s, ns in shorts.items() if len(ns) == 1 and s not in province_short}
    return Gazetteer(
        provinces=frozenset(prov.values()), province_short=province_short,
        cities=frozenset(city.values()), city_short=city_short, districts=frozenset(district.values()),
        province_of={k: frozenset(v - {""}) for k, v in province_of.items()},
        city_of={k: frozenset(v) for k, v in city_of.items()},
    )


def trie_regex(words: list[str] | set[str] | frozenset[str]) -> str:
    """A regex alternation of ``words`` folded into a prefix tree (fast to scan for; the longest
    word wins where one is a prefix of another)."""
    trie: dict[str, dict] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [_esc(ch) + build(sub) for ch, sub in sorted(node.items()) if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            body = "(?:" + body + ")?"
        return body

    return "(?:" + build(trie) + ")"


def _esc(ch: str) -> str:
    return "\\" + ch if ch in r".^$*+?{}[]\|()" else ch
