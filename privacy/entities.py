"""The entity types kequn detects: one place for their names, kinds and text placeholders.

Every other module (recognizers, column classification, span detection, the policy, the
report) refers to these constants, never to string literals.
"""

from __future__ import annotations

# Direct identifiers (PIPL personal information that singles out a person).
CN_RESIDENT_ID = "CN_RESIDENT_ID"  #: 居民身份证号 (GB 11643, 18 or legacy 15 digits)
CN_MOBILE = "CN_MOBILE"  #: 手机号 (mainland, 11 digits)
CN_LANDLINE = "CN_LANDLINE"  #: 座机 (area code + 7/8 digits)
BANK_CARD = "BANK_CARD"  #: 银行卡号 (16-19 digits, Luhn)
EMAIL_ADDRESS = "EMAIL_ADDRESS"  #: 邮箱
PERSON = "PERSON"  #: 姓名
CN_ADDRESS = "CN_ADDRESS"  #: 地址
BIRTH_DATE = "BIRTH_DATE"  #: 出生日期
CN_PASSPORT = "CN_PASSPORT"  #: 护照号
HK_MACAU_PERMIT = "HK_MACAU_PERMIT"  #: 港澳通行证号
CUSTOMER_NO = "CUSTOMER_NO"  #: 客户号
WECHAT_ID = "WECHAT_ID"  #: 微信号
QQ_NUMBER = "QQ_NUMBER"  #: QQ 号
LICENSE_PLATE = "LICENSE_PLATE"  #: 车牌号

# Quasi-identifiers (re-identifying only in combination; checked for k-anonymity).
GENDER = "GENDER"  #: 性别
AGE = "AGE"  #: 年龄 / 年龄段
CITY = "CITY"  #: 城市 / 省份
OCCUPATION = "OCCUPATION"  #: 职业
EDUCATION = "EDUCATION"  #: 学历
DISTRICT = "DISTRICT"  #: 区县
MARITAL_STATUS = "MARITAL_STATUS"  #: 婚姻状况
EMPLOYER = "EMPLOYER"  #: 工作单位

# Column kinds that are not an entity.
NONE = "NONE"  #: not personal information
FREE_TEXT = "FREE_TEXT"  #: free text, scanned span by span

#: Entities that identify a person on their own; any left in the output fails the residual scan.
DIRECT_IDENTIFIERS: frozenset[str] = frozenset({
    CN_RESIDENT_ID, CN_MOBILE, CN_LANDLINE, BANK_CARD, EMAIL_ADDRESS, PERSON, CN_ADDRESS,
    CN_PASSPORT, HK_MACAU_PERMIT, CUSTOMER_NO, WECHAT_ID, QQ_NUMBER, LICENSE_PLATE,
})

#: Personal information that is not a direct identifier on its own (generalised, not dropped).
INDIRECT_IDENTIFIERS: frozenset[str] = frozenset({BIRTH_DATE})

#: Quasi-identifiers for the k-anonymity check.
QUASI_IDENTIFIERS: frozenset[str] = frozenset({GENDER, AGE, CITY, OCCUPATION, EDUCATION, DISTRICT,
                                                MARITAL_STATUS, EMPLOYER})

#: Every entity a policy may name.
ALL_ENTITIES: frozenset[str] = DIRECT_IDENTIFIERS | INDIRECT_IDENTIFIERS | QUASI_IDENTIFIERS

#: Entities the free-text span detector reports (``privacy.text.find_spans``).
TEXT_ENTITIES: tuple[str, ...] = (
    CN_RESIDENT_ID, BANK_CARD, CN_MOBILE, CN_LANDLINE, EMAIL_ADDRESS, CN_PASSPORT,
    HK_MACAU_PERMIT, CUSTOMER_NO, WECHAT_ID, QQ_NUMBER, LICENSE_PLATE, CN_ADDRESS, PERSON,
)

#: Typed placeholder that replaces a span in redacted free text.
TEXT_PLACEHOLDERS: dict[str, str] = {
    CN_RESIDENT_ID: "<身份证号>",
    CN_MOBILE: "<手机号>",
    CN_LANDLINE: "<座机号>",
    BANK_CARD: "<银行卡号>",
    EMAIL_ADDRESS: "<邮箱>",
    PERSON: "<姓名>",
    CN_ADDRESS: "<地址>",
    BIRTH_DATE: "<出生日期>",
    CN_PASSPORT: "<护照号>",
    HK_MACAU_PERMIT: "<港澳通行证号>",
    CUSTOMER_NO: "<客户号>",
    WECHAT_ID: "<微信号>",
    QQ_NUMBER: "<QQ号>",
    LICENSE_PLATE: "<车牌号>",
}

#: Human-readable Chinese label of each entity (for reports).
LABELS_ZH: dict[str, str] = {
    CN_RESIDENT_ID: "居民身份证号",
    CN_MOBILE: "手机号",
    CN_LANDLINE: "座机号",
    BANK_CARD: "银行卡号",
    EMAIL_ADDRESS: "邮箱",
    PERSON: "姓名",
    CN_ADDRESS: "地址",
    BIRTH_DATE: "出生日期",
    CN_PASSPORT: "护照号",
    HK_MACAU_PERMIT: "港澳通行证号",
    CUSTOMER_NO: "客户号",
    WECHAT_ID: "微信号",
    QQ_NUMBER: "QQ号",
    LICENSE_PLATE: "车牌号",
    GENDER: "性别",
    AGE: "年龄",
    CITY: "城市",
    OCCUPATION: "职业",
    EDUCATION: "学历",
    DISTRICT: "区县",
    MARITAL_STATUS: "婚姻状况",
    EMPLOYER: "工作单位",
    NONE: "非个人信息",
    FREE_TEXT: "自由文本",
}

#: Column-finding kinds (``ColumnFinding.kind``).
KIND_IDENTIFIER = "identifier"
KIND_QUASI = "quasi_identifier"
KIND_TEXT = "text"
KIND_OTHER = "other"


def kind_of(entity: str) -> str:
    """Return the column kind (``identifier`` | ``quasi_identifier`` | ``text`` | ``other``)."""
    if entity in DIRECT_IDENTIFIERS or entity in INDIRECT_IDENTIFIERS:
        return KIND_IDENTIFIER
    if entity in QUASI_IDENTIFIERS:
        return KIND_QUASI
    if entity == FREE_TEXT:
        return KIND_TEXT
    return KIND_OTHER
