"""Generalisation: birth date → birth year-month, birth year or age band, address → province and
city, date → month.

All functions are vectorised over a column; values that cannot be parsed become missing (and
are counted by the caller as malformed), never passed through.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import pandas as pd

from privacy.gazetteer import gazetteer, trie_regex
from privacy.normalise import normalise_series

#: ``1990-01-31``, ``1990/1/31``, ``1990.01.31``, ``19900131``, ``1990年1月31日`` (+ a time).
_DATE = r"^(?P<y>(?:19|20)\d{2})(?:[-/.年]?)(?P<m>\d{1,2})(?:[-/.月]?)(?P<d>\d{1,2})日?(?:[ T].*)?$"
_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")


def parse_dates(values: pd.Series) -> pd.Series:
    """Parse dates written in the usual Chinese ways; unparseable → ``NaT``."""
    text = normalise_series(values)
    parts = text.str.extract(_DATE)
    # float64, not a nullable Int64: pandas 2.2's to_datetime cannot assemble dates from Int64 with NA
    frame = pd.DataFrame({unit: pd.to_numeric(parts[key], errors="coerce").astype("float64")
                          for unit, key in (("year", "y"), ("month", "m"), ("day", "d"))}, index=values.index)
    return pd.to_datetime(frame, errors="coerce")


def age_band(values: pd.Series, *, width: int = 10, top_band: int | None = 90,
             reference_date: dt.date | str | None = None) -> pd.Series:
    """Birth dates → age bands such as ``"30-39"`` (width ``width``), ``"90+"`` from ``top_band``.

    Parameters
    ----------
    values:
        Birth dates (text in any common format, or datetimes).
    width:
        Band width in years.
    top_band:
        Ages at or above this fall in one open band ``"<top_band>+"``; ``None`` for no cap.
    reference_date:
        The day ages are computed at; default today (UTC).

    Returns
    -------
    pandas.Series
        String dtype; missing where the date is missing, unparseable, or in the future.
    """
    if reference_date is None:
        ref = dt.datetime.now(dt.timezone.utc).date()
    else:
        ref = dt.date.fromisoformat(str(reference_date))
    born = values if pd.api.types.is_datetime64_any_dtype(values) else parse_dates(values)
    had_birthday = (born.dt.month < ref.month) | ((born.dt.month == ref.month) & (born.dt.day <= ref.day))
    age = ref.year - born.dt.year - (~had_birthday).astype("float64")
    age = age.where((age >= 0) & (age < 130))
    lower = (age // width) * width
    labels = lower.astype("Int64").astype("string") + "-" + (lower + width - 1).astype("Int64").astype("string")
    if top_band is not None:
        labels = labels.mask(age >= top_band, f"{top_band}+")
    return labels.where(age.notna()).astype("string")


@functools.lru_cache(maxsize=1)
def _place_regex() -> re.Pattern[str]:
    """``^<province>?<city>?<district>?`` with every level a gazetteer name (full or short)."""
    g = gazetteer()
    province = trie_regex(g.provinces | set(g.province_short))
    city = f"(?:{trie_regex(g.cities)}|{trie_regex(set(g.city_short))}(?![区县镇乡旗])市?)"
    district = trie_regex(g.districts)
    suffix = "(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?"
    return re.compile(f"^(?P<province>{province}{suffix})?(?P<city>{city})?(?P<district>{district})?")


#: What a BIRTH_DATE column may be published as (policy option ``publish``) and the default output name.
BIRTH_LEVELS = {"birth_year_month": "birth_month", "birth_year": "birth_year", "age_band": "age_band"}


def birth_level(values: pd.Series, level: str) -> pd.Series:
    """Birth dates → ``YYYY-MM`` (``birth_year_month``) or ``YYYY`` (``birth_year``) text.

    Unlike an age band these do not depend on the day they are computed: the features derive
    age at their own snapshot date. Unparseable dates become missing.
    """
    if level not in ("birth_year_month", "birth_year"):
        raise ValueError(f"birth level must be birth_year_month or birth_year. Got {level!r}")
    born = values if pd.api.types.is_datetime64_any_dtype(values) else parse_dates(values)
    out = born.dt.strftime("%Y-%m" if level == "birth_year_month" else "%Y")
    return out.where(born.notna()).astype("string")


def province_city(values: pd.Series) -> pd.DataFrame:
    """Addresses → ``province`` and ``city`` columns (everything finer is dropped).

    Both levels are names of the administrative-division gazetteer (:mod:`privacy.gazetteer`),
    so nothing finer than a city can come through (an unknown name gives a missing value, never
    a piece of the address). Short forms are written out in full (``浙江杭州`` → 浙江省, 杭州市).
    For the municipalities (北京, 天津, 上海, 重庆) the city is the municipality itself. An
    address that starts with a city (``杭州市西湖区...``) gets only the city; one that starts
    with a province and a district (``北京市朝阳区``, ``湖北省仙桃市``) gets the district's city
    when the gazetteer says which it is.

    Returns
    -------
    pandas.DataFrame
        Columns ``province`` and ``city``, string dtype, same index.
    """
    g = gazetteer()
    text = normalise_series(values).str.replace(r"\s+", "", regex=True)
    parts = text.astype(object).str.extract(_place_regex())
    prov_raw, city_raw, district = parts["province"], parts["city"], parts["district"]
    prov_key = prov_raw.str.replace(r"(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$", "", regex=True)
    province = prov_raw.where(prov_raw.isin(g.provinces)).fillna(prov_key.map(g.province_short))
    city_key = city_raw.str.replace(r"市$", "", regex=True)
    city = city_raw.where(city_raw.isin(g.cities)).fillna(city_key.map(g.city_short))
    # a district right after the province: its city, when the gazetteer knows exactly one in
    # that province
    def district_city(row: tuple[str, str]) -> str | None:
        prov, dist = row
        cities = [c for c in g.city_of.get(dist, ()) if prov in g.province_of.get(c, ()) or c == prov]
        return cities[0] if len(cities) == 1 else None

    need = city.isna() & province.notna() & district.notna()
    if need.any():
        pairs = pd.Series(list(zip(province[need], district[need], strict=True)), index=province[need].index)
        city = city.copy()
        city[need] = pairs.map(district_city)
    municipal = province.str.startswith(_MUNICIPALITIES).fillna(False).astype(bool)
    city = city.mask(municipal, province)
    return pd.DataFrame({"province": province.astype("string"), "city": city.astype("string")},
                        index=values.index)


def to_month(values: pd.Series) -> pd.Series:
    """Dates → ``YYYY-MM`` (string); unparseable → missing."""
    parsed = values if pd.api.types.is_datetime64_any_dtype(values) else parse_dates(values)
    out = parsed.dt.strftime("%Y-%m")
    return out.where(parsed.notna()).astype("string")


#: Most significant digits a float64 holds exactly (any 15-digit decimal round-trips).
MAX_EXACT_DIGITS = 15
#: Integers of at least this many digits, all of one length, are codes (serials, contract and
#: account numbers), not quantities: they stay text.
CODE_MIN_DIGITS = 8


def numeric_if_possible(values: pd.Series) -> pd.Series:
    """Return ``values`` as numbers only when the conversion is lossless, else unchanged.

    Stays text: any value that is not a plain decimal number (codes such as ``BR001``,
    ``"1,234.50"`` with a thousands separator, ``"1e5"``), a leading zero (``"007"``), more
    than 15 significant digits (an 18-digit serial, a 19-digit contract number: float64 would
    round them and print them in scientific notation), and identifier-like codes (integers of
    8+ digits, all of the same length). Integers become ``int64`` (``Int64`` with missing
    values), decimals ``float64``.
    """
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        return values
    text = values.astype("string").str.strip()
    present = text.notna() & text.ne("")
    if not present.any():
        return values
    shown = text[present]
    shaped = shown.str.fullmatch(r"[-+]?(?:0|[1-9]\d*)(?:\.\d+)?|[-+]?0?\.\d+")
    if not bool(shaped.all()):
        return values
    digits = shown.str.replace(r"[-+.]", "", regex=True).str.lstrip("0")
    if bool(digits.str.len().gt(MAX_EXACT_DIGITS).any()):
        return values
    integral = ~shown.str.contains(".", regex=False)
    if bool(integral.all()):
        lengths = shown.str.lstrip("+-").str.len()
        if int(lengths.min()) >= CODE_MIN_DIGITS and lengths.nunique() == 1:
            return values
    numbers = pd.to_numeric(text.where(present), errors="coerce")
    if numbers.notna().sum() != int(present.sum()):
        return values
    if bool(integral.all()):
        return numbers.astype("Int64") if numbers.isna().any() else numbers.astype("int64")
    return numbers.astype("float64")
