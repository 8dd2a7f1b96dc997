"""Generalisation: birth date → age band, address → province and city, date → month.

All functions are vectorised over a column; values that cannot be parsed become missing (and
are counted by the caller as malformed), never passed through.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from privacy.normalise import normalise_series

#: ``1990-01-31``, ``1990/1/31``, ``1990.01.31``, ``19900131``, ``1990年1月31日`` (+ a time).
_DATE = r"^(?P<y>(?:19|20)\d{2})(?:[-/.年]?)(?P<m>\d{1,2})(?:[-/.月]?)(?P<d>\d{1,2})日?(?:[ T].*)?$"
_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")
_PROVINCE = (r"^(?P<province>(?:北京|天津|上海|重庆)市?|[\u4e00-\u9fff]{2,3}省"
             r"|内蒙古自治区|广西壮族自治区|西藏自治区|宁夏回族自治区|新疆维吾尔自治区"
             r"|香港特别行政区|澳门特别行政区)")
_CITY = r"^(?P<city>[\u4e00-\u9fff]{1,8}?(?:自治州|地区|盟|市))"


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


def province_city(values: pd.Series) -> pd.DataFrame:
    """Addresses → ``province`` and ``city`` columns (everything finer is dropped).

    For the municipalities (北京, 天津, 上海, 重庆) the city is the municipality itself. An
    address that starts with a city (``杭州市西湖区...``) gets only the city.

    Returns
    -------
    pandas.DataFrame
        Columns ``province`` and ``city``, string dtype, same index.
    """
    text = normalise_series(values).str.replace(r"\s+", "", regex=True)
    parts = text.str.extract(_PROVINCE + "?" + _CITY.removeprefix("^") + "?")
    province, city = parts["province"], parts["city"]
    has_province = province.notna()
    municipal = province.str.startswith(_MUNICIPALITIES).fillna(False).astype(bool)
    # not str.replace(r"市?$", "市"): Python's re also replaces the empty match after 市 (北京市市)
    municipal_name = province.str.removesuffix("市") + "市"
    city = city.mask(municipal, municipal_name)
    province = province.mask(municipal, municipal_name)
    # A city written without its province: keep the city only if it looks like one.
    city = city.where(has_province | city.str.len().gt(1).fillna(False).astype(bool))
    return pd.DataFrame({"province": province.astype("string"), "city": city.astype("string")},
                        index=values.index)


def to_month(values: pd.Series) -> pd.Series:
    """Dates → ``YYYY-MM`` (string); unparseable → missing."""
    parsed = values if pd.api.types.is_datetime64_any_dtype(values) else parse_dates(values)
    out = parsed.dt.strftime("%Y-%m")
    return out.where(parsed.notna()).astype("string")


def numeric_if_possible(values: pd.Series) -> pd.Series:
    """Return ``values`` as numbers when every present value is a plain number, else unchanged.

    Codes with leading zeros (``"007"``), identifiers and text stay text; ``"1,234.50"`` is
    not converted (thousands separators are ambiguous in a published table).
    """
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        return values
    text = values.astype("string").str.strip()
    present = text.notna() & text.ne("")
    if not present.any():
        return values
    shaped = text[present].str.fullmatch(r"[-+]?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?0?\.\d+")
    if not bool(shaped.all()):
        return values
    numbers = pd.to_numeric(text.where(present), errors="coerce")
    if numbers.notna().sum() != int(present.sum()):
        return values
    finite = numbers.dropna()
    if len(finite) and np.all(np.mod(finite.to_numpy(dtype="float64"), 1) == 0) \
            and finite.abs().max() < 2**53 and not text[present].str.contains(r"[.eE]").any():
        return numbers.astype("Int64") if numbers.isna().any() else numbers.astype("int64")
    return numbers.astype("float64")
