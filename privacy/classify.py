"""Column classification: decide each column's entity type from sampled values and header hints.

Values decide; a header hint (Chinese, English or a pinyin abbreviation such as ``ZJHM`` 证件号码)
only lowers the share of matching values needed and raises the confidence. A column named
``身份证号`` full of amounts is not an ID column, and an unnamed column full of valid GB 11643
IDs is one.

Per column: draw up to ``sample_size`` non-missing values (seeded), normalise them
(:func:`privacy.normalise.normalise_series`), test each *distinct* value once against every
entity's shape and validator (vectorised), weight by counts, and take the best-supported
entity. The evidence string names shares and the header hint, never a value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from privacy import entities as E
from privacy.normalise import normalise_series
from privacy.recognizers import patterns as P

#: Share of sampled values that must have an entity's shape (without / with a header hint).
SHARE_NO_HINT = 0.8
SHARE_WITH_HINT = 0.5
#: Below this share of plausible values, an entity's (costlier) tests are skipped.
GATE = 0.3
#: Pseudonymised tokens written by ``privacy.tokens`` (``tk_`` + 16 hex characters).
TOKEN_RE = r"tk_[0-9a-f]{16}"

#: Header hints: entity → (substrings matched anywhere, words matched as a whole token).
HEADER_HINTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    E.CN_RESIDENT_ID: (("身份证", "证件号", "证件号码", "身份号码", "id_number", "idnumber", "id_no",
                        "idcard", "id_card", "resident_id", "identity"), ("zjhm", "sfzh", "sfz", "sfzhm")),
    E.CN_MOBILE: (("手机", "移动电话", "mobile", "cellphone", "cell_phone"), ("sjhm", "sj", "phone", "tel")),
    E.CN_LANDLINE: (("座机", "固话", "固定电话", "办公电话", "landline"), ("gddh", "zj", "tel")),
    E.BANK_CARD: (("卡号", "银行卡", "card_no", "cardno", "card_number", "pan"), ("kh", "yhkh", "card")),
    E.EMAIL_ADDRESS: (("邮箱", "电子邮件", "email", "e_mail", "mail"), ("yx", "dzyx")),
    E.PERSON: (("姓名", "名字", "客户名", "户名", "name"), ("xm", "khmc", "hm")),
    E.CN_ADDRESS: (("地址", "住址", "address", "addr"), ("dz", "zz", "txdz")),
    E.BIRTH_DATE: (("出生", "生日", "birth", "dob"), ("csrq", "sr")),
    E.CN_PASSPORT: (("护照", "passport"), ("hzhm", "hz")),
    E.HK_MACAU_PERMIT: (("通行证", "港澳", "permit"), ("txz", "gatxz")),
    E.CUSTOMER_NO: (("客户号", "客户编号", "客户代码", "customer_no", "customer_id", "cust_no",
                     "cust_id", "customerno", "custno"), ("khh", "kh", "khbh", "custid")),
    E.GENDER: (("性别", "gender", "sex"), ("xb",)),
    E.AGE: (("年龄", "age_band", "age"), ("nl", "nld")),
    E.CITY: (("城市", "省份", "所在地", "city", "province", "region"), ("cs", "sf", "szd")),
    E.OCCUPATION: (("职业", "occupation", "job", "profession"), ("zy",)),
    E.EDUCATION: (("学历", "教育", "education", "degree"), ("xl",)),
}
#: Headers of dates that are not birth dates (opening, closing, transaction, note times ...).
OTHER_DATE_HINTS = ("open", "close", "txn", "time", "month", "maturity", "campaign", "response",
                    "开户", "销户", "交易", "日期时间", "到期", "签约", "登记", "创建", "更新")
#: Headers of numeric business columns (never identifiers, whatever their values look like).
BUSINESS_HINTS = ("balance", "amount", "amt", "aum", "余额", "金额", "count", "cnt", "次数",
                  "limit", "rate", "score", "price", "额度", "利率")

GENDER_VALUES = frozenset({"男", "女", "男性", "女性", "m", "f", "male", "female", "未知"})
OCCUPATION_VALUES = frozenset({
    "企业职员", "公务员", "个体经营", "个体户", "退休", "学生", "教师", "医护人员", "医生", "护士",
    "自由职业", "企业管理者", "工程师", "农民", "无业", "军人", "工人", "职员", "私营业主", "其他",
})
EDUCATION_VALUES = frozenset({
    "初中及以下", "初中", "小学", "高中", "中专", "高中/中专", "大专", "本科", "硕士", "博士", "研究生",
    "其他",
})
CITY_VALUES = frozenset(
    [c + "市" for c in P.CITIES] + list(P.CITIES)
    + [p + s for p in P.PROVINCES for s in ("", "省", "市", "自治区")]
)


@dataclasses.dataclass(frozen=True)
class ColumnFinding:
    """What a column holds, with the evidence (never a value).

    Attributes
    ----------
    column:
        Column name.
    entity:
        An entity constant of :mod:`privacy.entities`, ``FREE_TEXT`` or ``NONE``.
    confidence:
        0-1.
    evidence:
        Plain-language reason (shares of sampled values, header hint); no value.
    valid_share:
        Share of sampled non-missing values that are valid for ``entity`` (check digit where
        there is one); 0 for ``NONE``.
    kind:
        ``identifier`` | ``quasi_identifier`` | ``text`` | ``other``.
    dtype:
        The column's dtype as read.
    """

    column: str
    entity: str
    confidence: float
    evidence: str
    valid_share: float
    kind: str
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-ready dict."""
        return dataclasses.asdict(self)


def header_hints(column: str) -> set[str]:
    """Entities the column header suggests (Chinese, English or pinyin abbreviation)."""
    h = str(column).strip().lower()
    words = set(re.split(r"[^0-9a-z\u4e00-\u9fff]+", h)) - {""}
    out = set()
    for entity, (subs, whole) in HEADER_HINTS.items():
        if any(s in h for s in subs) or words & set(whole) or h in whole:
            out.add(entity)
    return out


def _sample(values: pd.Series, sample_size: int, seed: int) -> pd.Series:
    present = values.dropna()
    if len(present) > sample_size:
        present = present.sample(n=sample_size, random_state=seed)
    return present


def _shares(uniq: pd.Series, counts: np.ndarray, total: int) -> dict[str, tuple[float, float]]:
    """For each entity, (shape share, valid share) over the sampled values."""
    arr = uniq.to_numpy(dtype=object)
    w = counts / max(total, 1)

    def share(mask: np.ndarray) -> float:
        return float((w * mask).sum())

    def fm(pattern: str, s: pd.Series | None = None) -> np.ndarray:
        s = uniq if s is None else s
        return s.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)

    out: dict[str, tuple[float, float]] = dict.fromkeys(
        (E.CN_RESIDENT_ID, E.BANK_CARD, E.CN_MOBILE, E.CN_LANDLINE, E.EMAIL_ADDRESS, E.CN_PASSPORT,
         E.HK_MACAU_PERMIT, E.CUSTOMER_NO, "_CODE", E.PERSON, E.CN_ADDRESS, "_DATE"), (0.0, 0.0))
    # cheap gates first: the expensive tests run only where some values could pass them
    numeric_like = share(fm(r"[0-9 ()+\-]+[0-9Xx]?"))
    if numeric_like >= GATE:
        ids = pd.Series(P.id_body(arr), dtype="string")
        id_shape = fm(r"[0-9]{17}[0-9X]|[0-9]{15}", ids)
        if share(id_shape) >= GATE:
            id_struct = P.resident_id_structure_valid(ids.to_numpy(dtype=object)) & id_shape
            id_valid = P.resident_id_valid(ids.to_numpy(dtype=object)) & id_shape
            out[E.CN_RESIDENT_ID] = (share(id_struct), share(id_valid))
        digits = pd.Series(P.digits_only(arr), dtype="string")
        card_shape = fm(r"[0-9 \-]+") & fm(P.CARD_FIRST + r"[0-9]{15,18}", digits)
        if share(card_shape) >= GATE:
            card_valid = card_shape & P.bank_card_valid(digits.to_numpy(dtype=object))
            out[E.BANK_CARD] = (share(card_shape), share(card_valid))
        mob_shape = fm(r"[0-9 \-()+]+") & P.mobile_valid(P.mobile_canonical(arr))
        out[E.CN_MOBILE] = (share(mob_shape), share(mob_shape))
        land = fm(r"(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[ \-]?[2-9][0-9]{6,7}(?:-[0-9]{1,4})?")
        if land.any():
            land &= P.landline_valid(P.landline_canonical(arr))
            out[E.CN_LANDLINE] = (share(land), share(land))
    if share(uniq.str.contains("@", regex=False).fillna(False).to_numpy(dtype=bool)) >= GATE:
        email = P.email_valid(arr)
        out[E.EMAIL_ADDRESS] = (share(email), share(email))
    code = fm(r"[A-Za-z]{0,4}[0-9]{6,20}")  # generic code shape (customer numbers need a hint)
    if share(code) >= GATE:
        upper = uniq.str.upper()
        passport = fm(r"[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[PSD][0-9]{7}", upper)
        out[E.CN_PASSPORT] = (share(passport), share(passport))
        permit = fm(r"[CW][0-9]{8}|C[A-HJ-NP-Z][0-9]{7}", upper)
        out[E.HK_MACAU_PERMIT] = (share(permit), share(permit))
        cust = fm(r"KH[0-9]{8,12}", upper)
        out[E.CUSTOMER_NO] = (share(cust), share(cust))
        out["_CODE"] = (share(code), share(code))
    han = share(uniq.str.contains(f"[{P.HAN}]", regex=True).fillna(False).to_numpy(dtype=bool))
    if han >= GATE:
        compact = uniq.str.replace(r"\s+", "", regex=True)
        short = compact.str.len().between(2, 5).fillna(False).to_numpy(dtype=bool)
        if share(short) >= GATE:
            name = fm(f"{P.surname_regex()}[{P.HAN}·]{{1,3}}", compact) & short
            out[E.PERSON] = (share(name), share(name))
        if share(uniq.str.contains("号", regex=False).fillna(False).to_numpy(dtype=bool)) >= GATE:
            addr = uniq.str.contains(P.ADDRESS, regex=True).fillna(False).to_numpy(dtype=bool)
            loose = (uniq.str.contains(r"[省市]", regex=True) & uniq.str.contains(r"[区县路街道号]", regex=True)
                     ).fillna(False).to_numpy(dtype=bool)
            out[E.CN_ADDRESS] = (share(addr | loose), share(addr))
    date_shape = fm(r"[0-9]{4}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2}日?(?:[ T].*)?")
    if share(date_shape) >= GATE:
        dates = _parse_dates(uniq)
        is_date = dates.notna().to_numpy() & date_shape
        out["_DATE"] = (share(is_date), share(is_date))

    out[E.GENDER] = (share(uniq.str.lower().isin(GENDER_VALUES).to_numpy(dtype=bool)),) * 2
    out[E.OCCUPATION] = (share(uniq.isin(OCCUPATION_VALUES).to_numpy(dtype=bool)),) * 2
    out[E.EDUCATION] = (share(uniq.isin(EDUCATION_VALUES).to_numpy(dtype=bool)),) * 2
    out[E.CITY] = (share(uniq.isin(CITY_VALUES).to_numpy(dtype=bool)),) * 2
    band = fm(r"\d{1,3}\s*[-~–]\s*\d{1,3}(?:岁)?|\d{1,3}\+|\d{1,3}岁?以[上下]")
    out["_AGE_BAND"] = (share(band), share(band))
    small_int = fm(r"\d{1,3}") & (pd.to_numeric(uniq, errors="coerce").fillna(-1) <= 120).to_numpy()
    out["_SMALL_INT"] = (share(small_int), share(small_int))
    number = fm(r"[+\-]?\d+(?:\.\d+)?(?:[eE][+\-]?\d+)?")
    out["_NUMBER"] = (share(number), share(number))
    decimal = fm(r"[+\-]?\d+\.\d+")
    out["_DECIMAL"] = (share(decimal), share(decimal))
    token = fm(TOKEN_RE)
    out["_TOKEN"] = (share(token), share(token))
    return out


def _parse_dates(uniq: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` (or ``/``, ``.``, ``年月日``; a time after it is ignored) → Timestamp or NaT."""
    ymd = uniq.str.extract(r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})")
    text = ymd[0] + "-" + ymd[1].str.zfill(2) + "-" + ymd[2].str.zfill(2)
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")


def _birth_date_share(uniq: pd.Series, counts: np.ndarray, total: int) -> tuple[float, float]:
    """(share of dates that could be a birth date, spread of their years)."""
    dates = _parse_dates(uniq)
    today = pd.Timestamp(dt.date.today())
    adult = (dates >= pd.Timestamp("1900-01-01")) & (dates <= today - pd.DateOffset(years=16))
    w = counts / max(total, 1)
    years = dates.dt.year.to_numpy(dtype=float)
    ok = ~np.isnan(years)
    spread = float(np.nanmax(years[ok]) - np.nanmin(years[ok])) if ok.any() else 0.0
    return float((w * adult.to_numpy(dtype=bool)).sum()), spread


def _pct(x: float) -> str:
    return f"{x:.0%}"


_VALID_WORDING = {
    E.CN_RESIDENT_ID: "valid GB 11643 IDs (region, birth date, check digit)",
    E.BANK_CARD: "Luhn-valid bank card numbers",
    E.CN_MOBILE: "mainland mobile numbers",
    E.CN_LANDLINE: "landline numbers with a valid area code",
    E.EMAIL_ADDRESS: "e-mail addresses",
    E.CN_PASSPORT: "passport-number shaped",
    E.HK_MACAU_PERMIT: "Hong Kong/Macau permit shaped",
    E.CUSTOMER_NO: "customer numbers (KH + digits)",
    E.PERSON: "2-5 Han characters starting with a known surname",
    E.CN_ADDRESS: "addresses (province/city/district + road/number)",
}
_SHAPE_WORDING = {
    E.CN_RESIDENT_ID: "ID-shaped (region and birth date plausible)",
    E.BANK_CARD: "16-19 digit card-shaped",
    E.CN_ADDRESS: "address-like",
}


def _decide(column: str, uniq: pd.Series, counts: np.ndarray, n: int, dtype: str
            ) -> tuple[str, float, str, float]:
    """Return (entity, confidence, evidence, valid_share) for one column."""
    hints = header_hints(column)
    hint_words = [E.LABELS_ZH.get(h, h) for h in sorted(hints)]
    hint_txt = f"; header hint {'/'.join(hint_words)} ({column})" if hints else ""
    sh = _shares(uniq, counts, n)
    low = str(column).lower()
    of_n = f"of {n} sampled values"

    if sh["_TOKEN"][0] >= SHARE_NO_HINT:
        return E.NONE, 0.95, f"{_pct(sh['_TOKEN'][0])} {of_n} are kequn pseudonym tokens", 0.0
    business = any(b in low for b in BUSINESS_HINTS)
    if sh["_DECIMAL"][0] >= 0.5 or (business and sh["_NUMBER"][0] >= SHARE_WITH_HINT):
        why = "decimal numbers" if sh["_DECIMAL"][0] >= 0.5 else "numbers under a business header"
        return E.NONE, 0.9, f"{_pct(sh['_NUMBER'][0])} {of_n} are {why} (amounts/balances/counts)", 0.0

    # identifiers with a validator, strongest evidence first
    for entity in (E.CN_RESIDENT_ID, E.BANK_CARD, E.CN_MOBILE, E.EMAIL_ADDRESS, E.CN_LANDLINE,
                   E.CUSTOMER_NO, E.CN_PASSPORT, E.HK_MACAU_PERMIT):
        shape, valid = sh[entity]
        need = SHARE_WITH_HINT if entity in hints else SHARE_NO_HINT
        if entity in (E.CN_PASSPORT, E.HK_MACAU_PERMIT) and entity not in hints:
            need = 0.95  # short codes: values alone must be unanimous
        if entity == E.BANK_CARD and valid < 0.5 * shape:
            continue  # digit strings that fail Luhn are serial numbers, not cards
        if shape >= need:
            conf = min(0.99, 0.55 + 0.35 * valid + 0.1 * shape + (0.05 if entity in hints else 0.0))
            ev = f"{_pct(valid)} {of_n} are {_VALID_WORDING[entity]}"
            if entity in _SHAPE_WORDING and shape > valid + 0.005:
                ev += f" ({_pct(shape)} {_SHAPE_WORDING[entity]})"
            return entity, round(conf, 3), ev + hint_txt, round(valid, 4)

    # customer numbers in another format: header hint + code-shaped, mostly distinct
    if E.CUSTOMER_NO in hints and sh["_CODE"][0] >= SHARE_NO_HINT:
        return (E.CUSTOMER_NO, 0.8, f"{_pct(sh['_CODE'][0])} {of_n} are letter/digit codes"
                + hint_txt, round(sh["_CODE"][0], 4))

    # dates: birth dates only with a birth header, or an adult-only range without another hint
    date_share = sh["_DATE"][0]
    if date_share >= SHARE_WITH_HINT:
        adult, spread = _birth_date_share(uniq, counts, n)
        other_date = any(h in low for h in OTHER_DATE_HINTS)
        if E.BIRTH_DATE in hints and adult >= SHARE_WITH_HINT:
            return (E.BIRTH_DATE, round(min(0.99, 0.6 + 0.35 * adult + 0.05), 3),
                    f"{_pct(adult)} {of_n} are dates at least 16 years ago" + hint_txt, round(adult, 4))
        if not other_date and adult >= 0.95 and spread >= 20:
            return (E.BIRTH_DATE, round(0.5 + 0.3 * adult, 3),
                    f"{_pct(adult)} {of_n} are dates at least 16 years ago spread over "
                    f"{spread:.0f} years (no header hint)", round(adult, 4))
        return E.NONE, 0.8, f"{_pct(date_share)} {of_n} are dates (not birth dates)", 0.0

    nunique = len(uniq)
    distinct_ratio = nunique / max(n, 1)
    # quasi-identifiers (categorical: few distinct values)
    if sh[E.GENDER][0] >= 0.95 and nunique <= 5:
        return (E.GENDER, 0.95, f"{_pct(sh[E.GENDER][0])} {of_n} are gender values" + hint_txt,
                round(sh[E.GENDER][0], 4))
    for entity in (E.OCCUPATION, E.EDUCATION, E.CITY):
        share = sh[entity][0]
        need = SHARE_WITH_HINT if entity in hints else SHARE_NO_HINT
        if share >= need:
            return (entity, round(min(0.95, 0.5 + 0.4 * share + (0.05 if entity in hints else 0)), 3),
                    f"{_pct(share)} {of_n} are known {E.LABELS_ZH[entity]} values" + hint_txt,
                    round(share, 4))
    if E.AGE in hints and (sh["_AGE_BAND"][0] >= SHARE_WITH_HINT or sh["_SMALL_INT"][0] >= 0.95):
        share = max(sh["_AGE_BAND"][0], sh["_SMALL_INT"][0])
        return (E.AGE, 0.9, f"{_pct(share)} {of_n} are ages or age bands" + hint_txt, round(share, 4))
    if sh["_AGE_BAND"][0] >= SHARE_NO_HINT and nunique <= 20:
        return (E.AGE, 0.7, f"{_pct(sh['_AGE_BAND'][0])} {of_n} are age bands", round(sh["_AGE_BAND"][0], 4))
    if (E.CITY in hints or E.OCCUPATION in hints or E.EDUCATION in hints) and nunique <= 200 \
            and sh["_NUMBER"][0] < 0.5:
        entity = next(e for e in (E.CITY, E.OCCUPATION, E.EDUCATION) if e in hints)
        return (entity, 0.6, f"categorical column ({nunique} distinct values)" + hint_txt, 0.0)

    # names and addresses (Han text identifiers)
    name_share = sh[E.PERSON][0]
    need = SHARE_WITH_HINT if E.PERSON in hints else 0.7
    if name_share >= need and (distinct_ratio >= 0.2 or nunique >= 50 or E.PERSON in hints):
        conf = min(0.97, 0.5 + 0.45 * name_share + (0.05 if E.PERSON in hints else 0.0))
        return (E.PERSON, round(conf, 3), f"{_pct(name_share)} {of_n} are "
                f"{_VALID_WORDING[E.PERSON]}" + hint_txt, round(name_share, 4))
    addr_shape, addr_valid = sh[E.CN_ADDRESS]
    need = SHARE_WITH_HINT if E.CN_ADDRESS in hints else 0.7
    if addr_shape >= need:
        conf = min(0.97, 0.5 + 0.25 * addr_shape + 0.2 * addr_valid + (0.05 if E.CN_ADDRESS in hints else 0))
        return (E.CN_ADDRESS, round(conf, 3), f"{_pct(addr_valid)} {of_n} are "
                f"{_VALID_WORDING[E.CN_ADDRESS]} ({_pct(addr_shape)} address-like)" + hint_txt,
                round(addr_valid, 4))

    # free text: long, mostly distinct strings
    lengths = uniq.str.len().to_numpy(dtype=float)
    mean_len = float((lengths * counts).sum() / max(counts.sum(), 1))
    wordy = uniq.str.contains(f"[{P.HAN}]|[A-Za-z]+ [A-Za-z]+", regex=True).fillna(False).to_numpy(dtype=bool)
    wordy_share = float((counts * wordy).sum() / max(counts.sum(), 1))
    long_enough = mean_len >= 20 or (mean_len >= 12 and distinct_ratio >= 0.3)
    if long_enough and sh["_NUMBER"][0] < 0.5 and wordy_share >= 0.5:
        return (E.FREE_TEXT, 0.85, f"free text: mean length {mean_len:.0f} characters, "
                f"{_pct(distinct_ratio)} distinct {of_n}; scanned span by span", 0.0)

    if sh["_NUMBER"][0] >= SHARE_NO_HINT:
        return E.NONE, 0.85, f"{_pct(sh['_NUMBER'][0])} {of_n} are numbers (not identifiers)", 0.0
    ignored = f"; header hint {'/'.join(hint_words)} not supported by the values" if hints else ""
    return (E.NONE, 0.7, f"no PII pattern in {n} sampled values ({nunique} distinct)" + ignored, 0.0)


def classify_series(values: pd.Series, column: str, *, sample_size: int = 2000,
                    seed: int = 0) -> ColumnFinding:
    """Classify one column (see :func:`classify_columns`)."""
    dtype = str(values.dtype)
    sample = _sample(values, sample_size, seed)
    norm = normalise_series(sample).dropna()
    n = len(norm)
    if n == 0:
        return ColumnFinding(str(column), E.NONE, 0.5, "no non-missing values", 0.0, E.KIND_OTHER, dtype)
    vc = norm.value_counts(sort=False)
    uniq = pd.Series(vc.index.astype(str), dtype="string")
    counts = vc.to_numpy(dtype=float)
    entity, conf, evidence, valid = _decide(str(column), uniq, counts, n, dtype)
    return ColumnFinding(str(column), entity, float(conf), evidence, float(valid), E.kind_of(entity), dtype)


def classify_columns(frame: pd.DataFrame, table: str, *, sample_size: int = 2000,
                     seed: int = 0) -> list[ColumnFinding]:
    """Classify every column of ``frame``.

    Parameters
    ----------
    frame:
        The table, ideally read with every column as text (identifiers keep leading zeros).
    table:
        Table name (for messages).
    sample_size:
        Non-missing values sampled per column.
    seed:
        Sampling seed (classification is deterministic for a given seed).

    Returns
    -------
    list[ColumnFinding]
        One finding per column, in column order.
    """
    return [classify_series(frame[c], str(c), sample_size=sample_size, seed=seed)
            for c in frame.columns]
