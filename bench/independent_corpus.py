"""An independent evaluation corpus for kequn's PII detection (issue 12, item 7).

Nothing here comes from ``kequn synth``: people, addresses, companies, jobs, ID numbers and
mobiles come from the third-party generator `Faker <https://faker.readthedocs.io>`_ (its
``zh_CN`` and ``zh_TW`` providers), and the service-note templates below were written for this
benchmark (``pipelines/synth.py`` was read only to avoid its phrasing). The check digits
(GB 11643, Luhn) are computed here, independently of ``privacy/checksums.py``, so the yardstick
does not share code with what it measures.

Three tables, as a bank's extract would have them:

* ``customers``: a wide customer extract with pinyin (khmc, zjhm, sjhm, yhkh, lxdz, xb, csrq),
  English (account_no, card_nbr, cert_no, acct_no, city, district, occupation, education,
  marital_status, employer) and opaque (col_07, f12) headers, plus business columns (balances,
  amounts, dates, 18-digit serials failing GB 11643, contract numbers failing Luhn,
  leading-zero codes, product codes, counts, rates);
* ``service_notes``: free text in simplified and traditional Chinese and English that mentions
  the row's own customer (whose name is in ``customers``), other people (staff, relatives,
  referrers), identifiers in many written forms, and decoys that must survive;
* ``extract_hard``: one column per hand-written column case of ``bench/hard_cases.yaml``.

Every planted PII span and every decoy span of a note is recorded with exact character offsets
(``text[start:end] == value``) and its entity type; every column with its expected entity.
The same ``seed`` (and Faker version) gives the same corpus.

Usage::

    python bench/independent_corpus.py --rows 2000 --seed 12 --out /tmp/indep   # CSV + truth.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
HARD_CASES = HERE / "hard_cases.yaml"

# ----------------------------------------------------------------------------- check digits
_GB_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB_C = "10X98765432"


def gb11643_check(body17: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits of a resident ID."""
    return _GB_C[sum(int(d) * w for d, w in zip(body17, _GB_W, strict=True)) % 11]


def gb11643_ok(value: str) -> bool:
    v = value.upper()
    return len(v) == 18 and v[:17].isdigit() and gb11643_check(v[:17]) == v[17]


def luhn_check(body: str) -> str:
    """The Luhn check digit to append to ``body``."""
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d)
        if i % 2 == 0:
            n *= 2
            n -= 9 if n > 9 else 0
        total += n
    return str((10 - total % 10) % 10)


def luhn_ok(value: str) -> bool:
    return value.isdigit() and len(value) >= 2 and luhn_check(value[:-1]) == value[-1]


# ----------------------------------------------------------------------------- word lists
#: Compound surnames (复姓) from the Hundred Family Surnames (百家姓), simplified / traditional.
COMPOUND = ["欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯",
            "长孙", "宇文", "司徒", "独孤", "端木", "南宫", "西门"]
COMPOUND_T = ["歐陽", "司馬", "上官", "諸葛", "東方", "皇甫", "尉遲", "公孫", "慕容", "令狐", "夏侯",
              "長孫", "宇文", "司徒", "獨孤", "端木", "南宮", "西門"]
#: Rare single surnames (in the 百家姓, outside the ~100 most common).
RARE = ["禤", "亓", "睢", "逯", "佘", "厍", "钭", "仉", "訾", "琚", "浦", "郦", "蒯", "隗", "缑", "昝",
        "笪", "酆", "麴", "逄", "闫", "饶", "卞", "籍", "蔺"]
#: Real (province, city, district) triples for addresses outside Faker's invented cities.
DIVISIONS = [
    ("广东省", "深圳市", "南山区"), ("广东省", "广州市", "天河区"), ("浙江省", "杭州市", "西湖区"),
    ("江苏省", "南京市", "鼓楼区"), ("江苏省", "苏州市", "工业园区"), ("四川省", "成都市", "武侯区"),
    ("湖北省", "武汉市", "洪山区"), ("陕西省", "西安市", "雁塔区"), ("山东省", "青岛市", "市南区"),
    ("福建省", "厦门市", "思明区"), ("湖南省", "长沙市", "岳麓区"), ("河南省", "郑州市", "金水区"),
    ("辽宁省", "大连市", "沙河口区"), ("安徽省", "合肥市", "蜀山区"), ("云南省", "昆明市", "五华区"),
    ("北京市", "北京市", "海淀区"), ("上海市", "上海市", "浦东新区"), ("天津市", "天津市", "南开区"),
    ("重庆市", "重庆市", "渝中区"), ("黑龙江省", "哈尔滨市", "南岗区"), ("广西壮族自治区", "南宁市", "青秀区"),
    ("内蒙古自治区", "呼和浩特市", "赛罕区"), ("新疆维吾尔自治区", "乌鲁木齐市", "天山区"),
]
#: Job titles that look like "surname + given name" to a naive detector (must stay).
TRICKY_JOBS = ["储备经理人", "商务经理", "管家部经理", "大堂经理", "客户经理", "理财经理", "柜员",
               "营业部经理", "董事长助理", "高级经理"]
BRANCHES = ["朝阳支行", "陆家嘴支行", "深圳分行营业部", "西湖支行", "天河支行", "中关村支行", "解放路支行",
            "高新区支行", "南京东路支行", "武侯支行"]
BRANCHES_EN = ["Chaoyang Sub-branch", "Lujiazui Sub-branch", "Shenzhen Branch", "Tianhe Sub-branch"]
PRODUCTS = ["稳盈180天理财", "金葵花卡", "安心存三年期", "天天宝货币基金", "薪享通", "乐享贷", "鑫月盈2号",
            "颐养年金险", "白金信用卡", "外汇宝"]
PRODUCTS_T = ["穩盈180天理財", "金葵花卡", "安心存三年期", "天天寶貨幣基金", "樂享貸", "白金信用卡"]
HOTLINES = ["95588", "95533", "95566", "95555", "95599", "95559", "400-820-8888", "400-669-5566"]
EDUCATION = ["博士", "硕士", "本科", "大专", "高中", "中专", "初中"]
MARITAL = ["已婚", "未婚", "离异", "丧偶"]
CHANNELS = ["电话", "柜面", "手机银行", "网银", "上门", "微信客服"]
CN_DIGITS = "零一二三四五六七八九"
FW = str.maketrans("0123456789", "０１２３４５６７８９")
PLATE_PROV = "京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵云陕甘青"
PLATE_LET = "ABCDEFGHJKLMNPQRSTUVWXY"


# ----------------------------------------------------------------------------- truth records
@dataclass
class Span:
    """One planted span in a note: PII (``kind="pii"``) or a decoy that must survive."""

    table: str
    column: str
    row: int
    start: int
    end: int
    value: str
    entity: str
    kind: str
    variant: str = ""
    case: str = ""  # hard-case id, if any


@dataclass
class ColumnTruth:
    """What a column holds: its expected entity and role (identifier | quasi | business | text)."""

    table: str
    column: str
    entity: str
    role: str
    accept: list[str] = field(default_factory=list)  # other entity names counted as correct
    case: str = ""


@dataclass
class Corpus:
    tables: dict[str, pd.DataFrame]
    spans: list[Span]
    columns: list[ColumnTruth]
    meta: dict[str, Any]

    def truth(self) -> dict[str, Any]:
        return {"meta": self.meta, "columns": [asdict(c) for c in self.columns],
                "spans": [asdict(s) for s in self.spans]}

    def write(self, out: Path) -> dict[str, Path]:
        """Write every table as UTF-8 CSV into ``out``; return ``{table: path}``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, frame in self.tables.items():
            paths[name] = out / f"{name}.csv"
            frame.to_csv(paths[name], index=False, encoding="utf-8")
        return paths


# ----------------------------------------------------------------------------- value makers
class Maker:
    """Seeded value generators (Faker for people/places/companies, this file for the rest)."""

    def __init__(self, seed: int):
        from faker import Faker

        self.r = random.Random(seed)
        self.cn = Faker("zh_CN")
        self.tw = Faker("zh_TW")
        self.cn.seed_instance(seed)
        self.tw.seed_instance(seed + 1)
        self._used: set[str] = set()

    # people
    def name(self, trad: bool = False, style: str = "faker") -> str:
        f = self.tw if trad else self.cn
        if style == "compound":
            return self.r.choice(COMPOUND_T if trad else COMPOUND) + f.first_name()
        if style == "rare":
            return self.r.choice(RARE) + f.first_name()
        return f.name()

    def customer_name(self, trad: bool) -> str:
        x = self.r.random()
        return self.name(trad, "compound" if x < 0.08 else "rare" if x < 0.14 else "faker")

    def name_en(self, trad: bool = False) -> str:
        if trad:
            n = self.tw.romanized_name()  # "CHEN CHIH-WEI"
            return n.title() if self.r.random() < 0.5 else n
        given, surname = self.cn.romanized_name().split(" ", 1)  # Faker: "Wei Zhang" (given name first)
        # half surname first ("Zhang Wei"), decided by the name itself so the random stream is unchanged
        return f"{surname} {given}" if sum(map(ord, given + surname)) % 2 else f"{given} {surname}"

    # identifiers (unique within the corpus, so a survival is attributable)
    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            v = make()
            if v not in self._used:
                self._used.add(v)
                return v
        raise RuntimeError("could not draw a unique value")

    def resident_id(self) -> str:
        return self._unique(lambda: self.cn.ssn(min_age=18, max_age=85))

    def mobile(self) -> str:
        return self._unique(self.cn.phone_number)

    def card(self, length: int | None = None) -> str:
        length = length or self.r.choice([16, 16, 19, 19, 19, 17, 18])
        prefix = self.r.choice(["62", "622", "6217", "6228", "4", "5", "6259"])

        def make() -> str:
            body = prefix + "".join(self.r.choice("0123456789") for _ in range(length - 1 - len(prefix)))
            return body + luhn_check(body)
        return self._unique(make)

    def email(self) -> str:
        return self._unique(lambda: self.r.choice([self.cn, self.tw]).free_email())

    def wechat(self) -> str:
        def make() -> str:
            x = self.r.random()
            if x < 0.4:
                return "wxid_" + "".join(self.r.choice("abcdefghijkmnpqrstuvwxyz0123456789") for _ in range(10))
            user = self.cn.user_name()
            return f"{user}_{self.r.randint(1970, 2005)}" if x < 0.7 else f"{user}{self.r.randint(10, 999)}"
        return self._unique(make)

    def qq(self) -> str:
        return self._unique(lambda: str(self.r.randint(1, 9)) + "".join(
            self.r.choice("0123456789") for _ in range(self.r.randint(6, 9))))

    def plate(self) -> str:
        def make() -> str:
            p, letter = self.r.choice(PLATE_PROV), self.r.choice(PLATE_LET)
            if self.r.random() < 0.25:  # new-energy: 6 characters, D/F first
                tail = self.r.choice("DF") + "".join(self.r.choice("0123456789") for _ in range(5))
            else:
                tail = "".join(self.r.choice("0123456789" * 3 + PLATE_LET) for _ in range(5))
            sep = self.r.choice(["·", "", " ", "-"])
            return f"{p}{letter}{sep}{tail}"
        return self._unique(make)

    def passport(self) -> str:
        def make() -> str:
            x = self.r.random()
            if x < 0.6:
                return "E" + "".join(self.r.choice("0123456789") for _ in range(8))
            if x < 0.85:
                return "E" + self.r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + "".join(
                    self.r.choice("0123456789") for _ in range(7))
            return self.r.choice("GPSD") + "".join(self.r.choice("0123456789") for _ in range(8))
        return self._unique(make)

    def address(self, trad: bool = False) -> tuple[str, str]:
        """An address and its variant (``faker`` | ``real_division`` | ``with_hao`` | ``tw``).

        ``faker`` and ``real_division`` have no 号/室 (province + city + district + road +
        building letter + postcode); ``with_hao`` is the classic 路 N 号 N 栋 N 室 form.
        """
        if trad:
            return self.tw.address(), "tw"
        x = self.r.random()
        if x < 0.4:
            return self.cn.address(), "faker"  # province+city+district+road+building letter+postcode
        prov, city, dist = self.r.choice(DIVISIONS)
        city_part = "" if prov == city else city
        road = self.cn.street_name()[:-1] + self.r.choice(["路", "大道", "街", "路", "巷"])  # Faker: "齐街"
        if x < 0.6:
            return (f"{prov}{city_part}{dist}{road}{self.r.randint(1, 999)}号{self.r.randint(1, 20)}栋"
                    f"{self.r.randint(1, 3)}单元{self.r.randint(1, 30)}{self.r.randint(1, 4):02d}室"), "with_hao"
        tail = self.r.choice([f"{self.r.choice('ABCDEFGH')}座", f"{self.r.randint(1, 30)}栋",
                              f"{self.cn.building_number()}", f"{self.r.choice('ABCD')}区{self.r.randint(1, 20)}楼"])
        post = self.cn.postcode()
        return f"{prov}{city_part}{dist}{road}{tail}{self.r.choice([' ', '，邮编', ''])}{post}", "real_division"

    # decoys
    def serial18(self) -> str:
        """An 18-digit serial that fails the GB 11643 check (and Luhn); half are ID-shaped."""
        def make() -> str:
            if self.r.random() < 0.5:
                good = self.cn.ssn()
                bad = [c for c in _GB_C if c != good[17] and c != "X"]
                v = good[:17] + self.r.choice(bad)
            else:
                v = "20" + "".join(self.r.choice("0123456789") for _ in range(16))
            return v if not gb11643_ok(v) and not luhn_ok(v) else make()
        return self._unique(make)

    def non_luhn(self, length: int | None = None) -> str:
        """A 16-19 digit contract number that fails Luhn (and GB 11643 when 18 long)."""
        length = length or self.r.choice([16, 17, 18, 19])

        def make() -> str:
            body = self.r.choice("6543") + "".join(self.r.choice("0123456789") for _ in range(length - 2))
            good = luhn_check(body)
            v = body + self.r.choice([d for d in "0123456789" if d != good])
            return v if not gb11643_ok(v) else make()
        return self._unique(make)

    def amount(self, lang: str) -> str:
        x = self.r.random()
        n = self.r.choice([self.r.randint(100, 9999), self.r.randint(10_000, 2_000_000)])
        if lang == "en":
            return self.r.choice([f"CNY {n:,}.{self.r.randint(0, 99):02d}", f"RMB {n:,}", f"USD {n // 7:,}"])
        if x < 0.3:
            return f"{n:,}.{self.r.randint(0, 99):02d}元"
        if x < 0.55:
            return f"{max(1, n // 10_000)}万元" if lang == "cn" else f"{max(1, n // 10_000)}萬元"
        if x < 0.8:
            return f"¥{n:,}"
        return f"人民币{n}元" if lang == "cn" else f"新臺幣{n}元"

    def date(self, lang: str) -> str:
        y, m, d = self.r.randint(2019, 2025), self.r.randint(1, 12), self.r.randint(1, 28)
        if lang == "en":
            return self.r.choice([f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}"])
        return self.r.choice([f"{y}-{m:02d}-{d:02d}", f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", f"{m}月{d}日"])

    def pct(self) -> str:
        return self.r.choice([f"{self.r.uniform(1, 6):.2f}%", f"{self.r.uniform(1, 6):.1f}%", f"{self.r.randint(1, 20)}%"])

    def pcode(self) -> str:
        return self.r.choice([f"LC{self.r.randint(2019, 2025)}{self.r.choice('ABCD')}{self.r.randint(1, 999):03d}",
                              f"JJ{self.r.randint(0, 999999):06d}", f"DQ-{self.r.randint(1, 36)}M-{self.r.randint(1, 99):02d}",
                              f"{self.r.randint(0, 99999):05d}"])

    def last4(self) -> str:
        return f"{self.r.randint(0, 9999):04d}"

    def job(self, trad: bool = False) -> str:
        if self.r.random() < 0.5:
            return self.r.choice(TRICKY_JOBS)
        return (self.tw if trad else self.cn).job()

    def company(self, trad: bool = False) -> str:
        if self.r.random() < 0.2:
            return self.r.choice(["某某科技有限公司", "某某贸易有限公司", "某某建设集团有限公司"])
        return (self.tw if trad else self.cn).company()


# ----------------------------------------------------------------------------- written forms
def _group(digits: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        out.append(digits[i:i + s])
        i += s
    if i < len(digits):
        out.append(digits[i:])
    return sep.join(p for p in out if p)


def id_form(r: random.Random, v: str) -> tuple[str, str]:
    x = r.random()
    if x < 0.25:
        return v, "plain"
    if x < 0.35:
        return v[:17] + v[17].lower(), "lower_x" if v[17] == "X" else "plain"
    if x < 0.5:
        return _group(v, [6, 8, 4], r.choice([" ", "-"])), "6-8-4"
    if x < 0.65:
        return _group(v, [4, 4, 4, 4, 2], r.choice([" ", "-"])), "4-4-4-4-2"
    if x < 0.8:
        return v.translate(FW), "fullwidth"
    if x < 0.9:
        return _group(v, [3, 3, 4, 4, 4], " "), "3-3-4-4-4"
    return _group(v, [6, 4, 4, 4], " "), "6-4-4-4"


def card_form(r: random.Random, v: str) -> tuple[str, str]:
    x = r.random()
    if x < 0.25:
        return v, "plain"
    if x < 0.55:
        sizes = [4] * (len(v) // 4)
        return _group(v, sizes, r.choice([" ", "-"])), "4-4-4-4" + ("-" + str(len(v) % 4) if len(v) % 4 else "")
    if x < 0.75:
        return v[:6] + r.choice([" ", "-", "  "]) + v[6:], "6+rest"
    if x < 0.9:
        return v.translate(FW), "fullwidth"
    return _group(v, [4, 6, 5, 4], " "), "4-6-rest"


def mobile_form(r: random.Random, v: str) -> tuple[str, str]:
    x = r.random()
    if x < 0.2:
        return v, "plain"
    if x < 0.32:
        return "+86 " + _group(v, [3, 4, 4], " "), "+86 3-4-4"
    if x < 0.44:
        return _group(v, [3, 4, 4], "-"), "3-4-4"
    if x < 0.56:
        return _group(v, [4, 3, 4], r.choice(["-", " "])), "4-3-4"
    if x < 0.68:
        return _group(v, [3, 4, 4], "."), "dotted"
    if x < 0.8:
        return v.translate(FW), "fullwidth"
    if x < 0.9:
        return "".join(CN_DIGITS[int(d)] for d in v), "cn_numerals"
    return "".join("幺" if d == "1" else CN_DIGITS[int(d)] for d in v), "cn_numerals_yao"


# ----------------------------------------------------------------------------- note templates
# Slots: {CUST:variant} the row's own customer (name in customers.khmc), {CUST_EN} the row's
# English name (customers.cust_name_en), {OTHER:variant} someone in no column, {OTHER_EN},
# {ID} {MOBILE} {CARD} {EMAIL} {ADDR} {WECHAT} {QQ} {PLATE} {PASSPORT}; decoys {AMOUNT} {DATE}
# {SERIAL} {NONLUHN} {LAST4} {HOTLINE} {PCT} {PCODE} {JOB} {COMPANY} {PRODUCT} {BRANCH}.
TEMPLATES_CN = [
    "{CUST:no_context}来电咨询{PRODUCT}的赎回规则，告知T+1到账，费率{PCT}。",
    "{CUST:sentence_start}于{DATE}到{BRANCH}提取现金{AMOUNT}，经办{OTHER:staff}复核{OTHER:staff}。",
    "核实客户身份证{ID}及预留手机{MOBILE}后，为其重置网银登录密码。",
    "理财经理{OTHER:rare_after_context}陪同客户购买{PRODUCT}，金额{AMOUNT}，产品代码{PCODE}。",
    "客户称母亲{OTHER:rare_after_context}名下借记卡{CARD}被冻结，建议本人持证到柜面，服务热线{HOTLINE}。",
    "推荐人{OTHER:referrer}。开户时登记的联系地址为{ADDR}，单位{COMPANY}。",
    "{OTHER:pair}{SEP}{OTHER:pair}夫妇一同询问房贷提前还款，剩余本金{AMOUNT}，执行利率{PCT}。",
    "客户反映尾号{LAST4}的信用卡{DATE}有一笔{AMOUNT}交易非本人所为，已登记，流水号{SERIAL}。",
    "合同编号{NONLUHN}，{CUST:after_context_word}确认签字无误，电子合同发送至邮箱{EMAIL}。",
    "客户加了微信号{WECHAT}方便联系，原QQ号{QQ}已停用。",
    "车贷客户，车牌号{PLATE}，身份证{ID}，每月还款{AMOUNT}。",
    "客户需出具资信证明用于出境，护照号{PASSPORT}，职业{JOB}。",
    "{CUST:honorific}先生反馈手机银行转账限额过低，已调至{AMOUNT}。",
    "配偶{OTHER:compound}陪同办理，联系手机{MOBILE}，借记卡{CARD}。",
    "职业{JOB}，任职于{COMPANY}，月收入约{AMOUNT}，风险等级R{DIGIT}。",
    "备用联系电话{MOBILE}，如无人接听请拨打{HOTLINE}。",
    "客户{CUST:after_context_word}与大堂经理{OTHER:staff}约定{DATE}来{BRANCH}面签。",
    "{OTHER:no_context}代{CUST:no_context}办理挂失，出示身份证{ID}，卡号{CARD}。",
    "邮寄地址改为{ADDR}，手机{MOBILE}不变。",
    "今日回访{CUST:no_context}，对{PRODUCT}到期收益{PCT}表示满意，下次回访{DATE}。",
]
TEMPLATES_TW = [
    "{CUST:no_context}來電查詢帳戶餘額，已核對身分證{ID}，餘額{AMOUNT}。",
    "客戶{CUST:after_context_word}申請變更通訊地址為{ADDR}，聯絡電話{MOBILE}。",
    "客戶的女兒{OTHER:relative}代為辦理，出示信用卡{CARD}，經辦{OTHER:staff}。",
    "{CUST:sentence_start}表示對{PRODUCT}收益率{PCT}不滿意，理財專員{OTHER:staff}已說明。",
    "電子郵件{EMAIL}，客服專線{HOTLINE}，信用卡尾號{LAST4}。",
    "轉介人{OTHER:referrer}介紹，客戶任職{COMPANY}，職稱{JOB}。",
    "帳戶{CUST:no_context}於{DATE}轉帳{AMOUNT}，手機{MOBILE}。",
    "配偶{OTHER:compound}同行，微信號{WECHAT}，合約編號{NONLUHN}。",
]
TEMPLATES_EN = [
    "Customer {CUST_EN} called about a disputed charge of {AMOUNT} on card {CARD}.",
    "RM {OTHER_EN} met the client at {BRANCH_EN}; ID no. {ID}, mobile {MOBILE}.",
    "Client {CUST_EN} asked for statements by email to {EMAIL}; hotline {HOTLINE} given.",
    "Spoke with {CUST_EN} on {DATE}; new mailing address: {ADDR}.",
    "Referred by {OTHER_EN}. Passport {PASSPORT}, WeChat ID {WECHAT}.",
    "{CUST_EN} asked whether the {PCT} rate applies to product {PCODE}; balance {AMOUNT}.",
    "Card ending {LAST4} blocked on {DATE}, ref {SERIAL}; customer reachable on {MOBILE}.",
    "Vehicle plate {PLATE} registered for the car loan; contract {NONLUHN}, QQ {QQ}.",
]
_SLOT = re.compile(r"\{([A-Z_0-9]+)(?::([a-z_0-9]+))?\}")

#: Slot → (entity, kind) in the ground truth.
PII_SLOTS = {"CUST": "PERSON_CUSTOMER", "CUST_EN": "PERSON_CUSTOMER", "OTHER": "PERSON_OTHER",
             "OTHER_EN": "PERSON_OTHER", "ID": "CN_RESIDENT_ID", "MOBILE": "CN_MOBILE", "CARD": "BANK_CARD",
             "EMAIL": "EMAIL_ADDRESS", "ADDR": "CN_ADDRESS", "WECHAT": "WECHAT_ID", "QQ": "QQ_NUMBER",
             "PLATE": "LICENSE_PLATE", "PASSPORT": "CN_PASSPORT"}
DECOY_SLOTS = {"AMOUNT": "AMOUNT", "DATE": "DATE", "SERIAL": "SERIAL18_BAD_CHECK", "NONLUHN": "NUMBER_BAD_LUHN",
               "LAST4": "CARD_LAST4", "HOTLINE": "HOTLINE", "PCT": "PERCENT", "PCODE": "PRODUCT_CODE",
               "JOB": "JOB_TITLE", "COMPANY": "COMPANY", "PRODUCT": "PRODUCT_NAME", "BRANCH": "BRANCH_NAME",
               "BRANCH_EN": "BRANCH_NAME"}


class _NoteWriter:
    """Concatenates pieces and records each slot's exact offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0
        self.spans: list[tuple[int, int, str, str, str, str]] = []

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.n += len(s)

    def slot(self, value: str, entity: str, kind: str, variant: str = "") -> None:
        self.spans.append((self.n, self.n + len(value), value, entity, kind, variant))
        self.text(value)

    def done(self) -> str:
        return "".join(self.parts)


def _fill(m: Maker, writer: _NoteWriter, template: str, cust: dict[str, str], lang: str) -> None:
    r, trad = m.r, lang == "tw"
    pos = 0
    for match in _SLOT.finditer(template):
        writer.text(template[pos:match.start()])
        pos = match.end()
        slot, variant = match.group(1), match.group(2) or ""
        if slot == "SEP":
            writer.text(r.choice(["、", "和", "与", ""]))
            continue
        if slot == "DIGIT":
            writer.text(str(r.randint(1, 5)))
            continue
        if slot == "CUST":
            writer.slot(cust["khmc"], "PERSON_CUSTOMER", "pii", variant)
        elif slot == "CUST_EN":
            writer.slot(cust["cust_name_en"], "PERSON_CUSTOMER", "pii", "english")
        elif slot == "OTHER":
            style = ("compound" if variant == "compound" else "rare" if variant == "rare_after_context"
                     else "compound" if r.random() < 0.1 else "faker")
            writer.slot(m.name(trad, style), "PERSON_OTHER", "pii", variant)
        elif slot == "OTHER_EN":
            writer.slot(m.name_en(r.random() < 0.3), "PERSON_OTHER", "pii", "english")
        elif slot == "ID":
            own = r.random() < 0.7
            text, form = id_form(r, cust["zjhm"] if own else m.resident_id())
            writer.slot(text, "CN_RESIDENT_ID", "pii", form)
        elif slot == "MOBILE":
            own = r.random() < 0.7
            text, form = mobile_form(r, cust["sjhm"] if own else m.mobile())
            writer.slot(text, "CN_MOBILE", "pii", form)
        elif slot == "CARD":
            own = r.random() < 0.6
            text, form = card_form(r, r.choice([cust["yhkh"], cust["card_nbr"]]) if own else m.card())
            writer.slot(text, "BANK_CARD", "pii", form)
        elif slot == "EMAIL":
            writer.slot(cust["f12"] if r.random() < 0.6 else m.email(), "EMAIL_ADDRESS", "pii")
        elif slot == "ADDR":
            if r.random() < 0.5 and lang != "tw":
                writer.slot(cust["lxdz"], "CN_ADDRESS", "pii", cust["_addr_variant"])
            else:
                value, av = m.address(trad)
                writer.slot(value, "CN_ADDRESS", "pii", av)
        elif slot == "WECHAT":
            writer.slot(m.wechat(), "WECHAT_ID", "pii")
        elif slot == "QQ":
            writer.slot(m.qq(), "QQ_NUMBER", "pii")
        elif slot == "PLATE":
            writer.slot(m.plate(), "LICENSE_PLATE", "pii")
        elif slot == "PASSPORT":
            writer.slot(m.passport(), "CN_PASSPORT", "pii")
        elif slot in DECOY_SLOTS:
            ent = DECOY_SLOTS[slot]
            value = {"AMOUNT": lambda: m.amount(lang), "DATE": lambda: m.date(lang), "SERIAL": m.serial18,
                     "NONLUHN": m.non_luhn, "LAST4": m.last4, "HOTLINE": lambda: r.choice(HOTLINES),
                     "PCT": m.pct, "PCODE": m.pcode, "JOB": lambda: m.job(trad),
                     "COMPANY": lambda: m.company(trad),
                     "PRODUCT": lambda: r.choice(PRODUCTS_T if trad else PRODUCTS),
                     "BRANCH": lambda: r.choice(BRANCHES), "BRANCH_EN": lambda: r.choice(BRANCHES_EN)}[slot]()
            writer.slot(value, ent, "decoy")
        else:  # pragma: no cover - a template typo
            raise KeyError(slot)
    writer.text(template[pos:])


# ----------------------------------------------------------------------------- the tables
def _customer(m: Maker, i: int, name: str | None = None) -> dict[str, str]:
    r = m.r
    trad = r.random() < 0.2
    zjhm = m.resident_id()
    addr, addr_variant = m.address(trad)
    prov_city = next(((p, c, d) for p, c, d in DIVISIONS if addr.startswith(p)), None)
    raw_city = prov_city[1] if prov_city else (m.tw.city() if trad else m.cn.city())
    balance = r.choice([r.uniform(0, 5_000), r.uniform(5_000, 500_000), r.uniform(500_000, 20_000_000)])
    gender = "男" if int(zjhm[16]) % 2 else "女"
    return {
        "cust_id": f"8{i + 10_000_000:011d}",
        "khmc": name or m.customer_name(trad),
        "cust_name_en": m.name_en(trad),
        "xb": gender,
        "csrq": f"{zjhm[6:10]}-{zjhm[10:12]}-{zjhm[12:14]}",
        "zjhm": zjhm,
        "cert_no": zjhm if r.random() < 0.8 else zjhm[:6] + zjhm[8:17],  # some legacy 15-digit numbers
        "sjhm": m.mobile(),
        "col_07": r.choice(["+86 ", "+86-", "86", ""]) + m.mobile(),
        "f12": m.email(),
        "yhkh": m.card(),
        "account_no": m.card(19),
        "card_nbr": m.card(16),
        "acct_no": m.card(19),
        "lxdz": addr,
        "_addr_variant": addr_variant,
        "city": raw_city,
        "district": (prov_city[2] if prov_city else m.cn.district() + "区"),
        "occupation": m.job(trad),
        "education": r.choice(EDUCATION),
        "marital_status": r.choice(MARITAL),
        "employer": m.company(trad),
        "balance": f"{balance:.2f}",
        "aum_amt": f"{balance * r.uniform(1, 3):.2f}",
        "last_txn_amt": f"{r.choice([-1, 1]) * r.uniform(1, 50_000):.2f}",
        "open_date": f"{r.randint(2005, 2024)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
        "txn_serial": m.serial18(),
        "contract_no": m.non_luhn(),
        "branch_code": f"0{r.randint(0, 9999):04d}",
        "product_code": m.pcode(),
        "risk_level": f"R{r.randint(1, 5)}",
        "credit_score": str(r.randint(300, 850)),
        "txn_count": str(r.randint(0, 400)),
        "rate": f"{r.uniform(0.01, 0.06):.4f}",
        "_trad": "1" if trad else "",
    }


CUSTOMER_COLUMNS: list[tuple[str, str, str, list[str]]] = [
    # column, expected entity, role, also accepted
    ("cust_id", "CUSTOMER_NO", "identifier", []),
    ("khmc", "PERSON", "identifier", []),
    ("cust_name_en", "PERSON", "identifier", []),
    ("xb", "GENDER", "quasi", []),
    ("csrq", "BIRTH_DATE", "identifier", []),
    ("zjhm", "CN_RESIDENT_ID", "identifier", []),
    ("cert_no", "CN_RESIDENT_ID", "identifier", []),
    ("sjhm", "CN_MOBILE", "identifier", []),
    ("col_07", "CN_MOBILE", "identifier", []),
    ("f12", "EMAIL_ADDRESS", "identifier", []),
    ("yhkh", "BANK_CARD", "identifier", []),
    ("account_no", "BANK_CARD", "identifier", []),
    ("card_nbr", "BANK_CARD", "identifier", []),
    ("acct_no", "BANK_CARD", "identifier", []),
    ("lxdz", "CN_ADDRESS", "identifier", []),
    ("city", "CITY", "quasi", []),
    ("district", "CITY", "quasi", ["DISTRICT"]),
    ("occupation", "OCCUPATION", "quasi", []),
    ("education", "EDUCATION", "quasi", []),
    ("marital_status", "MARITAL_STATUS", "quasi", []),
    ("employer", "EMPLOYER", "quasi", ["ORGANIZATION", "COMPANY"]),
    ("balance", "NONE", "business", []),
    ("aum_amt", "NONE", "business", []),
    ("last_txn_amt", "NONE", "business", []),
    ("open_date", "NONE", "business", []),
    ("txn_serial", "NONE", "business", []),
    ("contract_no", "NONE", "business", []),
    ("branch_code", "NONE", "business", []),
    ("product_code", "NONE", "business", []),
    ("risk_level", "NONE", "business", []),
    ("credit_score", "NONE", "business", []),
    ("txn_count", "NONE", "business", []),
    ("rate", "NONE", "business", []),
]
NOTE_COLUMNS = [("note_id", "NONE", "business", []), ("cust_id", "CUSTOMER_NO", "identifier", []),
                ("note_date", "NONE", "business", []), ("channel", "NONE", "business", []),
                ("note", "FREE_TEXT", "text", [])]


def _hard_markup(text: str) -> tuple[str, list[tuple[int, int, str, str, str]]]:
    """``[[ENTITY:value]]`` (PII) / ``[[~ENTITY:value]]`` (decoy) → plain text and spans."""
    out, spans, pos = [], [], 0
    n = 0
    for match in re.finditer(r"\[\[(~?)([A-Z_0-9]+):(.+?)\]\]", text):
        plain = text[pos:match.start()]
        out.append(plain)
        n += len(plain)
        value = match.group(3)
        spans.append((n, n + len(value), value, match.group(2), "decoy" if match.group(1) else "pii"))
        out.append(value)
        n += len(value)
        pos = match.end()
    out.append(text[pos:])
    return "".join(out), spans


def load_hard_cases(path: Path = HARD_CASES) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _hard_column_values(m: Maker, gen: str, n: int) -> list[str]:
    r = m.r
    makers: dict[str, Callable[[], str]] = {
        "card19": lambda: m.card(19), "card16": lambda: m.card(16), "card": m.card,
        "resident_id": m.resident_id, "mobile": m.mobile, "email": m.email,
        "name": lambda: m.customer_name(False), "name_compound": lambda: m.name(False, "compound"),
        "address_faker": lambda: m.cn.address(), "address": lambda: m.address()[0],
        "serial18": m.serial18, "non_luhn": m.non_luhn, "non_luhn19": lambda: m.non_luhn(19),
        "tricky_job": lambda: r.choice(TRICKY_JOBS[:3]), "job": lambda: m.job(),
        "city": lambda: r.choice(DIVISIONS)[1], "amount": lambda: f"{r.uniform(0, 1e6):.2f}",
        "count": lambda: str(r.randint(0, 500)), "leading_zero": lambda: f"{r.randint(0, 99999):06d}",
        "passport": m.passport, "plate": m.plate,
        "mobile_cn_numerals": lambda: "".join(CN_DIGITS[int(d)] for d in m.mobile()),
    }
    return [makers[gen]() for _ in range(n)]


def build_corpus(rows: int = 2000, seed: int = 12, notes_per_customer: float = 2.0,
                 hard_cases: Path | None = HARD_CASES) -> Corpus:
    """Build the three tables and their ground truth (see the module docstring)."""
    import faker

    m = Maker(seed)
    r = m.r
    customers = [_customer(m, i) for i in range(rows)]

    hard = load_hard_cases(hard_cases) if hard_cases else {"notes": [], "columns": []}
    hard_notes = []
    for case in hard.get("notes", []):
        text, spans = _hard_markup(case["text"])
        cust_index = None
        if case.get("customer_name"):
            customers.append(_customer(m, len(customers), name=case["customer_name"]))
            cust_index = len(customers) - 1
        hard_notes.append((case, text, spans, cust_index))

    note_rows: list[dict[str, str]] = []
    spans: list[Span] = []
    for cust in customers[:rows]:
        k = max(0, round(r.gauss(notes_per_customer, 1.0)))
        for _ in range(k):
            x = r.random()
            lang = "tw" if cust["_trad"] else ("en" if x < 0.2 else "cn")
            pool = {"cn": TEMPLATES_CN, "tw": TEMPLATES_TW, "en": TEMPLATES_EN}[lang]
            w = _NoteWriter()
            for j, template in enumerate(r.sample(pool, r.choice([1, 2, 2, 3]))):
                if j and lang == "en":
                    w.text(" ")
                _fill(m, w, template, cust, lang)
            row = len(note_rows)
            note_rows.append({"note_id": f"SN{row + 1:08d}", "cust_id": cust["cust_id"],
                              "note_date": f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
                              "channel": r.choice(CHANNELS), "note": w.done()})
            spans.extend(Span("service_notes", "note", row, s, e, v, ent, kind, var)
                         for s, e, v, ent, kind, var in w.spans)
    for case, text, case_spans, cust_index in hard_notes:
        cust = customers[cust_index] if cust_index is not None else customers[r.randrange(rows)]
        row = len(note_rows)
        note_rows.append({"note_id": f"SN{row + 1:08d}", "cust_id": cust["cust_id"], "note_date": "2024-06-30",
                          "channel": "电话", "note": text})
        spans.extend(Span("service_notes", "note", row, s, e, v, ent, kind, case["class"], case["id"])
                     for s, e, v, ent, kind in case_spans)

    cust_frame = pd.DataFrame(customers)[[c for c, *_ in CUSTOMER_COLUMNS]]
    # interleave the columns so identifiers, quasi-identifiers and business data are mixed
    order = list(cust_frame.columns)
    r.shuffle(order)
    cust_frame = cust_frame[["cust_id"] + [c for c in order if c != "cust_id"]]
    notes_frame = pd.DataFrame(note_rows, columns=[c for c, *_ in NOTE_COLUMNS])

    columns = [ColumnTruth("customers", c, e, role, acc) for c, e, role, acc in CUSTOMER_COLUMNS]
    columns += [ColumnTruth("service_notes", c, e, role, acc) for c, e, role, acc in NOTE_COLUMNS]
    tables = {"customers": cust_frame, "service_notes": notes_frame}

    hard_cols = hard.get("columns", [])
    if hard_cols:
        n = max(200, min(rows, 500))
        data = {}
        for case in hard_cols:
            values = case.get("values") or _hard_column_values(m, case["generator"], n)
            data[case["header"]] = [values[i % len(values)] for i in range(n)]
            role = case.get("role", "identifier")
            columns.append(ColumnTruth("extract_hard", case["header"], case["expected"], role,
                                       list(case.get("accept", [])), case["id"]))
        tables["extract_hard"] = pd.DataFrame(data)

    meta = {"generator": "bench/independent_corpus.py", "faker_version": faker.VERSION, "seed": seed,
            "rows": rows, "notes": len(note_rows), "hard_note_cases": len(hard_notes),
            "hard_column_cases": len(hard_cols),
            "customer_address_variants": dict(pd.Series([c["_addr_variant"] for c in customers]).value_counts()),
            }
    meta["customer_address_variants"] = {k: int(v) for k, v in meta["customer_address_variants"].items()}
    return Corpus(tables=tables, spans=spans, columns=columns, meta=meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    corpus = build_corpus(args.rows, args.seed)
    corpus.write(args.out / "raw")
    (args.out / "truth.json").write_text(json.dumps(corpus.truth(), ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{args.out}: {', '.join(f'{k} {len(v):,} rows' for k, v in corpus.tables.items())}; "
          f"{sum(s.kind == 'pii' for s in corpus.spans):,} PII spans, "
          f"{sum(s.kind == 'decoy' for s in corpus.spans):,} decoys")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
