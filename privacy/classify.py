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
import functools
import re
from typing import Any

import numpy as np
import pandas as pd

from privacy import entities as E
from privacy.address import address_share, district_address_share
from privacy.gazetteer import gazetteer
from privacy.normalise import normalise_series
from privacy.recognizers import patterns as P
from privacy.tokens import ANY_TOKEN_RE

#: Share of sampled values that must have an entity's shape (without / with a header hint).
SHARE_NO_HINT = 0.8
SHARE_WITH_HINT = 0.5
#: Below this share of plausible values, an entity's (costlier) tests are skipped.
GATE = 0.3
#: Pseudonymised tokens written by ``privacy.tokens`` (either format: with or without key id).
TOKEN_RE = ANY_TOKEN_RE

#: Header hints per entity. A hint is matched as a whole token of the header, never as a
#: substring (``count`` is not in ``account``): ASCII hints are token sequences (``card_no`` is
#: the tokens ``card``, ``no``; pinyin abbreviations such as ``zjhm`` are one token), Chinese
#: hints are words of the header's longest-match segmentation over every Chinese hint.
HEADER_HINTS: dict[str, tuple[str, ...]] = {
    E.CN_RESIDENT_ID: ("身份证", "身份证号", "身份证号码", "证件号", "证件号码", "身份号码", "公民身份号码", "证件",
                       "id_number", "idnumber", "id_no", "idno", "id_card", "idcard", "id_card_no", "resident_id",
                       "identity", "cert_no", "certno", "cert_id", "cert_num", "zjhm", "sfzh", "sfz", "sfzhm"),
    E.CN_MOBILE: ("手机", "手机号", "手机号码", "移动电话", "联系电话", "联系方式", "电话", "电话号码",
                  "mobile", "mobile_no", "cellphone", "cell_phone", "cell", "phone", "phone_no", "tel", "telephone",
                  "sjhm", "sj", "lxdh", "dh"),
    E.CN_LANDLINE: ("座机", "固话", "固定电话", "办公电话", "家庭电话", "联系电话", "电话",
                    "landline", "tel", "telephone", "phone", "gddh", "zj", "lxdh"),
    E.BANK_CARD: ("卡号", "银行卡", "银行卡号", "账号", "帐号", "账户", "帐户", "账户号", "帐户号", "借记卡", "信用卡",
                  "card", "card_no", "cardno", "card_nbr", "card_number", "pan", "acct", "acct_no", "acctno",
                  "acct_nbr", "account", "account_no", "accountno", "account_number", "kh", "yhkh", "zh", "yhzh"),
    E.EMAIL_ADDRESS: ("邮箱", "电子邮件", "电子邮箱", "邮件", "email", "e_mail", "mail", "yx", "dzyx"),
    E.PERSON: ("姓名", "名字", "客户名", "客户名称", "客户姓名", "户名", "持卡人", "联系人", "name", "cust_name",
               "customer_name", "client_name", "full_name", "holder_name", "account_name", "xm", "khmc", "hm",
               "khxm"),
    E.CN_ADDRESS: ("地址", "住址", "联系地址", "通讯地址", "家庭地址", "居住地址", "户籍地址", "单位地址",
                   "address", "addr", "home_address", "dz", "zz", "txdz", "lxdz", "jtdz"),
    E.BIRTH_DATE: ("出生", "出生日期", "生日", "出生年月", "birth", "birthday", "birth_date", "dob",
                   "date_of_birth", "csrq", "sr"),
    E.CN_PASSPORT: ("护照", "护照号", "护照号码", "passport", "passport_no", "hzhm", "hz"),
    E.HK_MACAU_PERMIT: ("通行证", "港澳通行证", "permit", "txz", "gatxz"),
    E.CUSTOMER_NO: ("客户号", "客户编号", "客户代码", "客户id", "customer_no", "customer_id", "cust_no", "cust_id",
                    "custno", "custid", "customerno", "client_id", "client_no", "khh", "kh", "khbh", "khdm"),
    E.GENDER: ("性别", "gender", "sex", "xb"),
    E.AGE: ("年龄", "年龄段", "age", "age_band", "nl", "nld"),
    E.CITY: ("城市", "省份", "省", "市", "所在地", "所在城市", "所属城市", "地区", "city", "province", "region", "cs",
             "sf", "szd"),
    E.DISTRICT: ("区县", "区", "县", "区域", "district", "county", "qx"),
    E.OCCUPATION: ("职业", "职务", "职位", "岗位", "occupation", "job", "job_title", "profession", "position",
                   "title", "zy", "zw"),
    E.EDUCATION: ("学历", "教育", "教育程度", "文化程度", "education", "edu", "degree", "xl"),
    E.MARITAL_STATUS: ("婚姻", "婚姻状况", "婚否", "marital", "marital_status", "marriage", "hyzk"),
    E.EMPLOYER: ("工作单位", "单位", "单位名称", "雇主", "任职单位", "employer", "company", "work_unit",
                 "gzdw", "dwmc"),
}
#: Header tokens of dates that are not birth dates (opening, closing, transaction, note times ...).
OTHER_DATE_HINTS = ("open", "opened", "close", "closed", "txn", "time", "month", "maturity", "campaign",
                    "response", "created", "updated", "khrq", "xhrq", "jyrq", "jysj", "dqrq", "qyrq",
                    "开户", "销户", "交易", "日期时间", "到期", "签约", "登记", "创建", "更新")
#: Header tokens of numeric business columns. They never downgrade values that pass an
#: identifier check (Luhn, GB 11643, mobile prefixes, e-mail); they only mark plain numbers.
BUSINESS_HINTS = ("balance", "bal", "amount", "amt", "aum", "count", "cnt", "num", "limit", "rate", "score",
                  "price", "fee", "income", "total", "sum", "qty", "余额", "金额", "次数", "笔数", "数量", "额度",
                  "利率", "收入", "费用", "评分")

GENDER_VALUES = frozenset({"男", "女", "男性", "女性", "m", "f", "male", "female", "未知"})
OCCUPATION_VALUES = frozenset({
    "企业职员", "公务员", "个体经营", "个体户", "退休", "学生", "教师", "医护人员", "医生", "护士",
    "自由职业", "企业管理者", "工程师", "农民", "无业", "军人", "工人", "职员", "私营业主", "其他",
    "律师", "会计", "销售", "司机", "厨师", "待业", "离退休人员", "专业技术人员", "办事人员",
})
#: A job title: a short word ending in a post or trade (储备经理人, 商务经理, 管家部经理). Values
#: of this shape are occupations, never person names.
JOB_TITLE = (r"[\u4e00-\u9fffA-Za-z]{0,10}(?:经理人|经理|主管|专员|总监|主任|助理|顾问|工程师|会计|出纳|柜员|文员"
             r"|司机|厨师|教师|医生|护士|律师|设计师|店长|行长|秘书|销售|技术员|操作员|业务员|营业员|服务员|保安"
             r"|保洁|职员|员工|干部|工人|人员|管理员|经纪人|代表|导购|收银员|架构师|分析师|程序员|研究员|讲师|教授"
             r"|科员|科长|处长|部长|厂长|总裁|董事长|董事|合伙人|创始人|老板|个体户|农民|学生|退休|自由职业|公务员"
             r"|师傅|师|员)")
EDUCATION_VALUES = frozenset({
    "初中及以下", "初中", "小学", "高中", "中专", "高中/中专", "大专", "本科", "硕士", "博士", "研究生",
    "其他", "专科", "大学本科", "硕士研究生", "博士研究生", "技校", "职高", "文盲",
})
MARITAL_VALUES = frozenset({"已婚", "未婚", "离异", "离婚", "丧偶", "再婚", "初婚", "复婚", "单身", "未说明",
                            "married", "single", "divorced", "widowed", "未说明的婚姻状况"})
#: An organisation name (an employer): ends in a company, bank, school, hospital ... suffix.
EMPLOYER_NAME = (r"[\u4e00-\u9fffA-Za-z0-9()（）]{2,30}(?:有限责任公司|股份有限公司|有限公司|公司|集团|银行|支行|分行"
                 r"|医院|学校|大学|学院|中学|小学|幼儿园|研究院|研究所|事务所|委员会|管理局|局|厅|中心|协会|工作室"
                 r"|厂|商行|门市部|合作社)")


def _ascii_tokens(text: str) -> list[str]:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)  # camelCase → camel Case
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)  # CERTNo → CERT No
    return [t for t in re.split(r"[^0-9a-z]+|(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])", text.lower()) if t]


@functools.lru_cache(maxsize=1)
def _chinese_hint_words() -> tuple[str, ...]:
    words = {h for hints in HEADER_HINTS.values() for h in hints if re.search(r"[\u4e00-\u9fff]", h)}
    words |= {h for h in OTHER_DATE_HINTS + BUSINESS_HINTS if re.search(r"[\u4e00-\u9fff]", h)}
    return tuple(sorted(words, key=len, reverse=True))


def _segment_han(run: str) -> list[str]:
    """Forward longest match over the Chinese hint words; other characters stand alone."""
    words = _chinese_hint_words()
    out, i = [], 0
    while i < len(run):
        w = next((w for w in words if run.startswith(w, i)), run[i])
        out.append(w)
        i += len(w)
    return out


def header_tokens(column: str) -> list[str]:
    """Split a header into tokens: ``_``, ``-``, spaces and camelCase for ASCII (lower-cased),
    longest-match words for Chinese (``客户证件号码`` → ``客户`` ``证件号码``)."""
    tokens: list[str] = []
    for run in re.findall(r"[\u4e00-\u9fff]+|[^\u4e00-\u9fff]+", str(column).strip()):
        tokens += _segment_han(run) if re.match(r"[\u4e00-\u9fff]", run) else _ascii_tokens(run)
    return tokens


def _has_sequence(tokens: list[str], seq: list[str]) -> bool:
    n = len(seq)
    return any(tokens[i:i + n] == seq for i in range(len(tokens) - n + 1))


@functools.lru_cache(maxsize=4096)
def matched_hints(column: str) -> dict[str, str]:
    """Entity → the header hint that matched it as whole token(s) (e.g. ``{"CN_RESIDENT_ID": "zjhm"}``).

    A lone ``name`` hints a person only when it is the whole header (``product_name`` is not).
    """
    tokens = header_tokens(column)
    out: dict[str, str] = {}
    for entity, hints in HEADER_HINTS.items():
        for hint in sorted(hints, key=len, reverse=True):
            shown = hint
            if re.search(r"[\u4e00-\u9fff]", hint):
                hit = hint in tokens
            else:
                seq = _ascii_tokens(hint)
                hit = _has_sequence(tokens, seq)
                if not hit and len(seq) > 1 and "".join(seq) in tokens:  # e_mail written email
                    hit, shown = True, "".join(seq)
                if hint == "name":
                    hit = tokens == ["name"]
            if hit:
                out[entity] = shown
                break
    return out


def header_hints(column: str) -> set[str]:
    """Entities the column header suggests (Chinese, English or pinyin abbreviation tokens)."""
    return set(matched_hints(str(column)))


def _has_token(column: str, words: tuple[str, ...]) -> bool:
    tokens = header_tokens(column)
    return any(_has_sequence(tokens, _ascii_tokens(w)) if not re.search(r"[\u4e00-\u9fff]", w) else w in tokens
               for w in words)


@functools.lru_cache(maxsize=1)
def _place_values() -> tuple[frozenset[str], frozenset[str]]:
    """(city/province values, district values) from the gazetteer."""
    g = gazetteer()
    return g.city_values, g.district_values


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
    decided_by:
        ``values`` (the values alone decided), ``values+header`` (the values decided and a
        header hint agreed, lowering the share needed) or ``header`` (a header hint named the
        entity and the values were consistent with it, e.g. distinct codes under ``acct_no``).
    """

    column: str
    entity: str
    confidence: float
    evidence: str
    valid_share: float
    kind: str
    dtype: str
    decided_by: str = "values"

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-ready dict."""
        return dataclasses.asdict(self)


def _sample(values: pd.Series, sample_size: int, seed: int) -> pd.Series:
    present = values.dropna()
    if len(present) > sample_size:
        present = present.sample(n=sample_size, random_state=seed)
    return present


def _shares(uniq: pd.Series, counts: np.ndarray, total: int, hints: set[str] | None = None
            ) -> dict[str, tuple[float, float]]:
    """For each entity, (shape share, valid share) over the sampled values."""
    hints = hints or set()
    arr = uniq.to_numpy(dtype=object)
    w = counts / max(total, 1)

    def share(mask: np.ndarray) -> float:
        return float((w * mask).sum())

    def fm(pattern: str, s: pd.Series | None = None) -> np.ndarray:
        s = uniq if s is None else s
        return s.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)

    out: dict[str, tuple[float, float]] = dict.fromkeys(
        (E.CN_RESIDENT_ID, E.BANK_CARD, E.CN_MOBILE, E.CN_LANDLINE, E.EMAIL_ADDRESS, E.CN_PASSPORT,
         E.HK_MACAU_PERMIT, E.CUSTOMER_NO, "_CODE", E.PERSON, E.CN_ADDRESS, "_ADDRESS_MENTION", "_DATE"), (0.0, 0.0))
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
    han_mask = uniq.str.contains(f"[{P.HAN}]", regex=True).fillna(False).to_numpy(dtype=bool)
    han = share(han_mask)
    job = np.zeros(len(uniq), dtype=bool)
    employer = np.zeros(len(uniq), dtype=bool)
    if han >= GATE:
        compact = uniq.str.replace(r"\s+", "", regex=True)
        job = fm(JOB_TITLE, compact) & compact.str.len().le(12).fillna(False).to_numpy(dtype=bool)
        employer = fm(EMPLOYER_NAME, compact)
        short = compact.str.len().between(2, 5).fillna(False).to_numpy(dtype=bool)
        if share(short) >= GATE:
            # job titles (储备经理人, 商务经理) and organisations are never names
            name = fm(f"{P.surname_regex()}[{P.HAN}·]{{1,3}}", compact) & short & ~job & ~employer
            out[E.PERSON] = (share(name), share(name))
        has_addr, whole_addr = address_share(uniq)
        if E.CN_ADDRESS in hints:
            whole_addr = whole_addr | district_address_share(uniq)
            has_addr = has_addr | whole_addr
        out[E.CN_ADDRESS] = (share(whole_addr), share(whole_addr & has_addr))
        out["_ADDRESS_MENTION"] = (share(has_addr), share(has_addr))
    if han < GATE:
        # romanised names (``Zhang Wei``, ``Wei Zhang``, ``CHEN CHIH-WEI``): two or three Latin
        # words, one of them a romanised Chinese surname at either end
        words = uniq.str.strip().str.lower().str.split(r"\s+")
        latin = fm(r"[A-Za-z]+(?:[-'][A-Za-z]+)?(?: [A-Za-z]+(?:[-'][A-Za-z]+)?){1,2}", uniq.str.strip())
        if share(latin) >= GATE:
            first = words.str[0].to_numpy(dtype=object)
            last = words.str[-1].to_numpy(dtype=object)
            surnames = _latin_surnames()
            romanised = latin & (pd.Series(first).isin(surnames).to_numpy() | pd.Series(last).isin(surnames).to_numpy())
            if share(romanised) > out.get(E.PERSON, (0.0, 0.0))[0]:
                out[E.PERSON] = (share(romanised), share(romanised))
    date_shape = fm(r"[0-9]{4}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2}日?(?:[ T].*)?")
    if share(date_shape) >= GATE:
        dates = _parse_dates(uniq)
        is_date = dates.notna().to_numpy() & date_shape
        out["_DATE"] = (share(is_date), share(is_date))

    cities, districts = _place_values()
    # membership on object arrays: pandas' Arrow-string isin boxes every set member per call
    obj = pd.Series(arr, dtype=object)
    lower = pd.Series(uniq.str.lower().to_numpy(dtype=object), dtype=object)
    out[E.GENDER] = (share(lower.isin(GENDER_VALUES).to_numpy(dtype=bool)),) * 2
    out[E.OCCUPATION] = (share(obj.isin(OCCUPATION_VALUES).to_numpy(dtype=bool) | job),) * 2
    out[E.EDUCATION] = (share(obj.isin(EDUCATION_VALUES).to_numpy(dtype=bool)),) * 2
    out[E.MARITAL_STATUS] = (share(lower.isin(MARITAL_VALUES).to_numpy(dtype=bool)),) * 2
    out[E.CITY] = (share(obj.isin(cities).to_numpy(dtype=bool)),) * 2
    out[E.DISTRICT] = (share(obj.isin(districts).to_numpy(dtype=bool)),) * 2
    out[E.EMPLOYER] = (share(employer & ~job),) * 2
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
    E.PERSON: "personal names (2-5 Han characters starting with a known surname, or a romanised Chinese name)",
    E.CN_ADDRESS: "addresses (gazetteer province/city + road, number, building or room)",
}
_SHAPE_WORDING = {
    E.CN_RESIDENT_ID: "ID-shaped (region and birth date plausible)",
    E.BANK_CARD: "16-19 digit card-shaped",
    E.CN_ADDRESS: "address-like",
}


#: Identifiers whose values carry their own proof (check digit, prefix plan, syntax): once the
#: values pass, no header (``aum``, ``amount``, ``count``) can turn the column into business data.
STRONG_IDENTIFIERS = (E.CN_RESIDENT_ID, E.BANK_CARD, E.CN_MOBILE, E.EMAIL_ADDRESS)
#: Identifiers the header may name when the values are distinct codes of another format.
CODE_IDENTIFIERS = (E.CUSTOMER_NO, E.BANK_CARD, E.CN_RESIDENT_ID, E.CN_PASSPORT, E.HK_MACAU_PERMIT)
QUASI_ORDER = (E.OCCUPATION, E.EDUCATION, E.MARITAL_STATUS, E.CITY, E.DISTRICT, E.EMPLOYER)

DECIDED_BY_VALUES = "values"
DECIDED_BY_HEADER = "header"
DECIDED_BY_BOTH = "values+header"


def _decide(column: str, uniq: pd.Series, counts: np.ndarray, n: int, dtype: str
            ) -> tuple[str, float, str, float, str]:
    """Return (entity, confidence, evidence, valid_share, decided_by) for one column."""
    matched = matched_hints(column)
    hints = set(matched)

    def hint_txt(entity: str | None = None) -> str:
        if not matched:
            return ""
        items = [(e, t) for e, t in sorted(matched.items()) if entity is None or e == entity]
        if not items:
            return ""
        return "; header hint " + ", ".join(f"{E.LABELS_ZH.get(e, e)} (token '{t}')" for e, t in items)

    def by(entity: str) -> str:
        return DECIDED_BY_BOTH if entity in hints else DECIDED_BY_VALUES

    sh = _shares(uniq, counts, n, hints)
    of_n = f"of {n} sampled values"

    if sh["_TOKEN"][0] >= SHARE_NO_HINT:
        return (E.NONE, 0.95, f"values: {_pct(sh['_TOKEN'][0])} {of_n} are kequn pseudonym tokens", 0.0,
                DECIDED_BY_VALUES)

    def identifier(entity: str) -> tuple[str, float, str, float, str] | None:
        shape, valid = sh[entity]
        need = SHARE_WITH_HINT if entity in hints else SHARE_NO_HINT
        if entity in (E.CN_PASSPORT, E.HK_MACAU_PERMIT) and entity not in hints:
            need = 0.95  # short codes: values alone must be unanimous
        if entity == E.BANK_CARD and valid < 0.5 * shape:
            return None  # digit strings that fail Luhn are serial numbers, not cards
        if shape < need:
            return None
        conf = min(0.99, 0.55 + 0.35 * valid + 0.1 * shape + (0.05 if entity in hints else 0.0))
        ev = f"values: {_pct(valid)} {of_n} are {_VALID_WORDING[entity]}"
        if entity in _SHAPE_WORDING and shape > valid + 0.005:
            ev += f" ({_pct(shape)} {_SHAPE_WORDING[entity]})"
        return entity, round(conf, 3), ev + hint_txt(entity), round(valid, 4), by(entity)

    # identifiers whose values prove themselves come first: no header can downgrade them
    for entity in STRONG_IDENTIFIERS:
        found = identifier(entity)
        if found is not None:
            if _has_token(column, BUSINESS_HINTS):
                found = found[:2] + (found[2] + "; business header ignored: the values pass the "
                                     "identifier check",) + found[3:]
            return found

    business = _has_token(column, BUSINESS_HINTS)
    if sh["_DECIMAL"][0] >= 0.5 or (business and sh["_NUMBER"][0] >= SHARE_WITH_HINT):
        why = "decimal numbers" if sh["_DECIMAL"][0] >= 0.5 else "numbers under a business header"
        return (E.NONE, 0.9, f"values: {_pct(sh['_NUMBER'][0])} {of_n} are {why} (amounts/balances/counts)",
                0.0, DECIDED_BY_VALUES if sh["_DECIMAL"][0] >= 0.5 else DECIDED_BY_BOTH)

    for entity in (E.CN_LANDLINE, E.CUSTOMER_NO, E.CN_PASSPORT, E.HK_MACAU_PERMIT):
        found = identifier(entity)
        if found is not None:
            return found

    # identifiers in another format: the header names one and the values are distinct codes
    code_hint = next((e for e in CODE_IDENTIFIERS if e in hints), None)
    if code_hint is not None and sh["_CODE"][0] >= SHARE_NO_HINT and len(uniq) >= 0.5 * n:
        return (code_hint, 0.8, f"values: {_pct(sh['_CODE'][0])} {of_n} are letter/digit codes, "
                f"{_pct(len(uniq) / max(n, 1))} distinct" + hint_txt(code_hint), round(sh["_CODE"][0], 4),
                DECIDED_BY_HEADER)

    # dates: birth dates only with a birth header, or an adult-only range without another hint
    date_share = sh["_DATE"][0]
    if date_share >= SHARE_WITH_HINT:
        adult, spread = _birth_date_share(uniq, counts, n)
        other_date = _has_token(column, OTHER_DATE_HINTS)
        if E.BIRTH_DATE in hints and adult >= SHARE_WITH_HINT:
            return (E.BIRTH_DATE, round(min(0.99, 0.6 + 0.35 * adult + 0.05), 3),
                    f"values: {_pct(adult)} {of_n} are dates at least 16 years ago" + hint_txt(E.BIRTH_DATE),
                    round(adult, 4), DECIDED_BY_BOTH)
        if not other_date and adult >= 0.95 and spread >= 20:
            return (E.BIRTH_DATE, round(0.5 + 0.3 * adult, 3),
                    f"values: {_pct(adult)} {of_n} are dates at least 16 years ago spread over "
                    f"{spread:.0f} years (no header hint)", round(adult, 4), DECIDED_BY_VALUES)
        return E.NONE, 0.8, f"values: {_pct(date_share)} {of_n} are dates (not birth dates)", 0.0, DECIDED_BY_VALUES

    nunique = len(uniq)
    distinct_ratio = nunique / max(n, 1)
    # quasi-identifiers (categorical: few distinct values)
    if sh[E.GENDER][0] >= 0.95 and nunique <= 5:
        return (E.GENDER, 0.95, f"values: {_pct(sh[E.GENDER][0])} {of_n} are gender values" + hint_txt(E.GENDER),
                round(sh[E.GENDER][0], 4), by(E.GENDER))
    for entity in QUASI_ORDER:
        share = sh[entity][0]
        need = SHARE_WITH_HINT if entity in hints else SHARE_NO_HINT
        if share >= need:
            what = _QUASI_WORDING.get(entity, f"known {E.LABELS_ZH[entity]} values")
            return (entity, round(min(0.95, 0.5 + 0.4 * share + (0.05 if entity in hints else 0)), 3),
                    f"values: {_pct(share)} {of_n} are {what}" + hint_txt(entity), round(share, 4), by(entity))
    if E.AGE in hints and (sh["_AGE_BAND"][0] >= SHARE_WITH_HINT or sh["_SMALL_INT"][0] >= 0.95):
        share = max(sh["_AGE_BAND"][0], sh["_SMALL_INT"][0])
        return (E.AGE, 0.9, f"values: {_pct(share)} {of_n} are ages or age bands" + hint_txt(E.AGE),
                round(share, 4), DECIDED_BY_BOTH)
    if sh["_AGE_BAND"][0] >= SHARE_NO_HINT and nunique <= 20:
        return (E.AGE, 0.7, f"values: {_pct(sh['_AGE_BAND'][0])} {of_n} are age bands",
                round(sh["_AGE_BAND"][0], 4), DECIDED_BY_VALUES)
    quasi_hint = next((e for e in QUASI_ORDER if e in hints), None)
    if quasi_hint is not None and (nunique <= 200 or quasi_hint == E.EMPLOYER) and sh["_NUMBER"][0] < 0.5 \
            and sh[E.PERSON][0] < 0.5:
        return (quasi_hint, 0.6, f"categorical column ({nunique} distinct values)" + hint_txt(quasi_hint), 0.0,
                DECIDED_BY_HEADER)

    # names and addresses (Han text identifiers)
    name_share = sh[E.PERSON][0]
    need = SHARE_WITH_HINT if E.PERSON in hints else 0.7
    if name_share >= need and (distinct_ratio >= 0.2 or nunique >= 50 or E.PERSON in hints):
        conf = min(0.97, 0.5 + 0.45 * name_share + (0.05 if E.PERSON in hints else 0.0))
        return (E.PERSON, round(conf, 3), f"values: {_pct(name_share)} {of_n} are "
                f"{_VALID_WORDING[E.PERSON]}" + hint_txt(E.PERSON), round(name_share, 4), by(E.PERSON))
    addr_whole, _ = sh[E.CN_ADDRESS]
    addr_any = sh["_ADDRESS_MENTION"][0]
    need = SHARE_WITH_HINT if E.CN_ADDRESS in hints else 0.7
    if addr_whole >= need:
        conf = min(0.97, 0.5 + 0.45 * addr_whole + (0.05 if E.CN_ADDRESS in hints else 0))
        return (E.CN_ADDRESS, round(conf, 3), f"values: {_pct(addr_whole)} {of_n} are "
                f"{_VALID_WORDING[E.CN_ADDRESS]} ({_pct(addr_any)} mention one)" + hint_txt(E.CN_ADDRESS),
                round(addr_whole, 4), by(E.CN_ADDRESS))

    # free text: long, mostly distinct strings
    lengths = uniq.str.len().to_numpy(dtype=float)
    mean_len = float((lengths * counts).sum() / max(counts.sum(), 1))
    wordy = uniq.str.contains(f"[{P.HAN}]|[A-Za-z]+ [A-Za-z]+", regex=True).fillna(False).to_numpy(dtype=bool)
    wordy_share = float((counts * wordy).sum() / max(counts.sum(), 1))
    long_enough = mean_len >= 20 or (mean_len >= 12 and distinct_ratio >= 0.3)
    if long_enough and sh["_NUMBER"][0] < 0.5 and wordy_share >= 0.5:
        return (E.FREE_TEXT, 0.85, f"values: free text, mean length {mean_len:.0f} characters, "
                f"{_pct(distinct_ratio)} distinct {of_n}; scanned span by span", 0.0, DECIDED_BY_VALUES)

    if sh["_NUMBER"][0] >= SHARE_NO_HINT:
        return (E.NONE, 0.85, f"values: {_pct(sh['_NUMBER'][0])} {of_n} are numbers (not identifiers)"
                + (f"; header hint{hint_txt()[len('; header hint'):]} not supported by the values" if hints else ""),
                0.0, DECIDED_BY_VALUES)
    ignored = f"; header hint{hint_txt()[len('; header hint'):]} not supported by the values" if hints else ""
    return (E.NONE, 0.7, f"values: no PII pattern in {n} sampled values ({nunique} distinct)" + ignored, 0.0,
            DECIDED_BY_VALUES)


_QUASI_WORDING = {
    E.OCCUPATION: "occupations or job titles",
    E.EDUCATION: "education levels",
    E.MARITAL_STATUS: "marital statuses",
    E.CITY: "province or city names of the administrative gazetteer",
    E.DISTRICT: "district/county names of the administrative gazetteer",
    E.EMPLOYER: "organisation names (company, bank, school, hospital ...)",
}


def classify_series(values: pd.Series, column: str, *, sample_size: int = 2000,
                    seed: int = 0) -> ColumnFinding:
    """Classify one column (see :func:`classify_columns`)."""
    dtype = str(values.dtype)
    sample = _sample(values, sample_size, seed)
    norm = normalise_series(sample).dropna()
    n = len(norm)
    if n == 0:
        return ColumnFinding(str(column), E.NONE, 0.5, "no non-missing values", 0.0, E.KIND_OTHER, dtype,
                             DECIDED_BY_VALUES)
    vc = norm.value_counts(sort=False)
    uniq = pd.Series(vc.index.astype(str), dtype="string")
    counts = vc.to_numpy(dtype=float)
    entity, conf, evidence, valid, decided_by = _decide(str(column), uniq, counts, n, dtype)
    return ColumnFinding(str(column), entity, float(conf), evidence, float(valid), E.kind_of(entity), dtype,
                         decided_by)


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


@functools.lru_cache(maxsize=1)
def _latin_surnames() -> frozenset[str]:
    """Romanised Chinese surnames, lower case (the pinyin list the text recognizers use)."""
    return frozenset(name.lower() for name in P.PINYIN_SURNAMES)
