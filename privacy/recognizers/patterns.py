"""Regular expressions, context words and bulk validators shared by every detector.

One place for these facts: the Presidio recognizers (one per file in this package) take their
``PATTERNS``/``CONTEXT`` from here, and the vectorised span finder (:mod:`privacy.text`) and the
column classifier (:mod:`privacy.classify`) compile the same expressions and call the same
validators. Patterns run on half-width text (:func:`privacy.normalise.to_halfwidth`, which keeps
offsets), and use explicit lookarounds instead of ``\\b``: in Chinese text ``\\b`` does not
separate digits from adjacent Han characters (``卡号6222...``).

Validators take NumPy arrays of *canonical* strings (separators removed) and return bool arrays;
call them on distinct values only.
"""

from __future__ import annotations

import datetime as dt
import functools
from importlib import resources

import numpy as np
import pandas as pd

from privacy.checksums import BIRTH_DATE_SLICE, gb11643_valid_array, luhn_valid_array
from privacy.normalise import NOT_D, SPACE_CHARS, D

# --- building blocks --------------------------------------------------------------------------
#: No ASCII letter, digit or underscore before / after a match. Han characters, punctuation and
#: the start/end of the text are fine, so ``卡号6222...`` matches but ``tk_3f9a...`` does not.
L = r"(?<![0-9A-Za-z_])"
R = r"(?![0-9A-Za-z_])"
#: :data:`L` checked after the first character, so a pattern can start with a character class
#: (which the regex engine scans for quickly) instead of a lookbehind tried at every position.
L1 = r"(?<![0-9A-Za-z_].)"
#: One optional separator inside a number (space or dash, after half-width normalisation).
SEP = r"[ \-]?"
HAN = "\u4e00-\u9fff"

# --- resident ID (GB 11643) -------------------------------------------------------------------
_MMDD = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
RESIDENT_ID_18 = r"[1-9]" + L1 + r"[0-9]{5}" + SEP + r"(?:18|19|20)[0-9]{2}" + _MMDD + SEP + r"[0-9]{3}[0-9Xx]" + R
RESIDENT_ID_15 = r"[1-9]" + L1 + r"[0-9]{7}" + _MMDD + r"[0-9]{3}" + R
#: 18-character IDs written in groups of four (4-4-4-4-2), one kind of separator throughout.
RESIDENT_ID_18_GROUPED4 = (r"[1-9]" + L1 + r"(?<![0-9][ \-].)[0-9]{3}(?P<sep>[ \-])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}"
                           r"(?P=sep)[0-9][0-9Xx]" + R + r"(?![ \-][0-9])")
#: 18-character IDs in any other grouping (6-4-4-4, 3-3-4-4-4 ...): digit groups of 2-8 joined by
#: single spaces or dashes; the validator checks that the digits make 18 with a right check digit.
RESIDENT_ID_18_ANY_GROUPING = (r"[1-9]" + L1 + r"(?<![0-9][ \-].)[0-9]{1,7}(?:[ \-][0-9]{2,8}){2,6}[Xx]?" + R
                               + r"(?![ \-][0-9])")
#: (a grouped number that goes on after a separator is longer than an ID: ``5234 236105 15724 9`` is
#: a card written 4-6-5-1, not a 15-digit ID and a digit)
RESIDENT_ID_CONTEXT = ["身份证", "证件号", "证件号码", "身份号码", "公民身份", "id", "zjhm", "sfz"]
#: GB/T 2260 province-level codes (first two digits of a resident ID).
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83", "91",
})
LEGACY_BIRTH_SLICE = slice(6, 12)  # YYMMDD in a 15-digit ID (19YY)

# --- mobile -----------------------------------------------------------------------------------
_MOBILE_PREFIX = r"(?:\(?(?:\+|00)?86\)?[ \-]?)?"
#: Separator inside a mobile number: space, dash or dot (``138.1234.5678``).
MOBILE_SEP = r"[ \-.]?"
MOBILE = L + _MOBILE_PREFIX + r"1[3-9][0-9]" + MOBILE_SEP + r"[0-9]{4}" + MOBILE_SEP + r"[0-9]{4}" + R
#: Mobiles grouped 4-3-4 (``1381-234-5678``); a ``+86`` before it is left as it is.
MOBILE_434 = r"1" + L1 + r"[3-9][0-9]{2}[ \-.][0-9]{3}[ \-.][0-9]{4}" + R
#: Chinese numerals read out digit by digit (幺 and 两 for 1 and 2, 〇/零 for 0).
ZH_DIGITS = "〇零幺一二两三四五六七八九"
ZH_DIGIT_TABLE = str.maketrans("〇零幺一二两三四五六七八九", "0011223456789")
_ZD = f"[{ZH_DIGITS}]"
#: A mobile read out in Chinese numerals (``一三八一二三四五六七八``), 3-4-4 with optional spaces.
MOBILE_ZH = (rf"(?<!{_ZD})(?:[幺一]{_ZD}{{2}}[ \-]?{_ZD}{{4}}[ \-]?{_ZD}{{4}})(?!{_ZD})")
MOBILE_CONTEXT = ["手机", "手机号", "电话", "联系方式", "致电", "来电", "号码", "tel", "mobile", "sjhm"]
#: Mainland mobile prefixes (first three digits) in use.
MOBILE_PREFIX_RE = r"^1(?:3[0-9]|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8[0-9]|9[0-35-9])"

# --- landline ---------------------------------------------------------------------------------
LANDLINE = L + r"(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[ \-]?[2-9][0-9]{6,7}(?:-[0-9]{1,4})?" + R
LANDLINE_CONTEXT = ["电话", "座机", "固话", "办公电话", "家庭电话", "联系电话", "tel", "phone"]
LANDLINE_AREA_RE = r"^(?:010|02[0-9]|0[3-9][0-9]{2})[2-9][0-9]{6,7}$"

# --- bank card --------------------------------------------------------------------------------
#: Issuer prefixes accepted for cards (UnionPay 62, Visa 4, Mastercard 5, JCB/Amex 3, domestic 9).
CARD_FIRST = "[3-69]"
BANK_CARD_PLAIN = CARD_FIRST + L1 + r"[0-9]{15,18}" + R
BANK_CARD_GROUPED = CARD_FIRST + L1 + r"[0-9]{3}(?:[ \-][0-9]{4}){3}" + R
BANK_CARD_GROUPED_TAIL = CARD_FIRST + L1 + r"[0-9]{3}(?:[ \-][0-9]{4}){3}[ \-][0-9]{1,3}" + R
#: The issuer's six-digit BIN, a separator, then the rest (``622848 0123456789015``).
BANK_CARD_BIN_REST = CARD_FIRST + L1 + r"[0-9]{5}[ \-][0-9]{10,13}" + R
#: Cards in any other grouping (4-6-5-4, 6-4-4-5 ...): the validator checks 16-19 digits and Luhn.
BANK_CARD_ANY_GROUPING = (CARD_FIRST + L1 + r"[0-9]{2,5}(?:(?:[ \-]|  )[0-9]{3,13}){1,4}"
                          r"(?:(?:[ \-]|  )[0-9]{1,2}(?![0-9]|\.[0-9]))?" + R)
BANK_CARD_CONTEXT = ["卡号", "银行卡", "借记卡", "信用卡", "储蓄卡", "账号", "帐号", "card", "kh"]

# --- e-mail -----------------------------------------------------------------------------------
EMAIL = (r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9][A-Za-z0-9\-]*"
         r"(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}(?![A-Za-z])")
EMAIL_CONTEXT = ["邮箱", "电子邮件", "邮件", "email", "e-mail", "mail", "yx"]

# --- passport and Hong Kong-Macau permit --------------------------------------------------------
PASSPORT = r"[EGPSDegpsd]" + L1 + r"(?:(?<=[EGeg])[0-9]{8}|(?<=[Ee])[A-HJ-NP-Za-hj-np-z][0-9]{7}|(?<=[PSDpsd])[0-9]{7,8})" + R
PASSPORT_CONTEXT = ["护照", "passport", "hzhm"]
HK_MACAU_PERMIT = r"[CWcw]" + L1 + r"(?:[0-9]{8}|(?<=[Cc])[A-HJ-NP-Za-hj-np-z][0-9]{7})" + R
HK_MACAU_PERMIT_CONTEXT = ["港澳", "通行证", "往来港澳", "回乡证", "permit"]

# --- WeChat, QQ, licence plates ----------------------------------------------------------------
#: Words that introduce a WeChat ID; the ID itself has no shape of its own, so it is matched only
#: right after one of them.
WECHAT_CONTEXT = ["微信号", "微信", "wechat", "WeChat", "weixin", "vx", "VX", "wx", "WX"]
#: A WeChat ID: 6-20 characters, a letter first, then letters, digits, ``_`` or ``-``.
WECHAT_ID = r"[A-Za-z][A-Za-z0-9_\-]{5,19}" + R
#: The keyword starts with a literal or a character class (fast to scan for); the letter check
#: sits after its first character (``(?<![A-Za-z].)``), so ``vxw`` inside a word does not count.
_WECHAT_LEAD = (r"(?:微信|[Ww](?<![A-Za-z].)(?:e[Cc]hat|eixin|[Xx])|[Vv](?<![A-Za-z].)[Xx])"
                r"(?:号码|号|账号|帐号|[ ]?[Ii][Dd])?[:： ]{0,2}(?:是|为)?[ ]?")
#: ``<context><WeChat ID>`` with the ID as group ``v``.
WECHAT_AFTER_CONTEXT = _WECHAT_LEAD + f"(?P<v>{WECHAT_ID})"
QQ_CONTEXT = ["QQ", "qq", "QQ号", "扣扣"]
QQ_NUMBER = r"[1-9][0-9]{4,10}" + R
_QQ_LEAD = r"(?:[Qq](?<![A-Za-z].)[Qq]|扣扣)(?:号码|号|账号|帐号)?[:： ]{0,2}(?:是|为)?[ ]?"
#: ``<context><QQ number>`` with the number as group ``v`` (5-11 digits, no leading zero).
QQ_AFTER_CONTEXT = _QQ_LEAD + r"(?<![0-9])(?P<v>" + QQ_NUMBER + ")"
#: Province abbreviations that start a mainland licence plate.
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PL = "[A-HJ-NP-Z0-9]"
#: ``京A·12345`` (5 characters, at least one digit) or a new-energy plate (6 characters, D/F
#: first or last: ``沪AD12345``, ``粤B12345F``); an optional ``·``/space/dash after the letter.
LICENSE_PLATE = (rf"[{PLATE_PROVINCES}][A-HJ-NP-Z][·•・ \-]?"
                 f"(?:[DF]{_PL}[0-9]{{4}}|[0-9]{{5}}[DF]|(?={_PL}{{0,4}}[0-9]){_PL}{{5}})"
                 r"(?![0-9A-Za-z])")
LICENSE_PLATE_CONTEXT = ["车牌", "车牌号", "车辆", "号牌", "车号"]

# --- customer number --------------------------------------------------------------------------
CUSTOMER_NO = r"K" + L1 + r"H[0-9]{8,12}" + R
CUSTOMER_NO_CONTEXT = ["客户号", "客户编号", "客户代码", "customer", "khh"]

# --- birth date (in text only with context) ---------------------------------------------------
BIRTH_DATE = (r"(?<![0-9])(?:19|20)[0-9]{2}(?:[-/.年])(?:0?[1-9]|1[0-2])(?:[-/.月])"
              r"(?:0?[1-9]|[12][0-9]|3[01])日?(?![0-9])")
BIRTH_DATE_CONTEXT = ["出生", "生日", "出生日期", "出生年月", "dob", "DOB", "birth", "Birth", "csrq"]

# --- address ----------------------------------------------------------------------------------
PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
             "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
             "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港",
             "澳门")
#: Prefecture-level cities that anchor an address written without its province.
CITIES = ("广州", "深圳", "珠海", "汕头", "佛山", "东莞", "中山", "惠州", "江门", "湛江", "杭州", "宁波",
          "温州", "嘉兴", "湖州", "绍兴", "金华", "台州", "南京", "苏州", "无锡", "常州", "南通", "扬州",
          "徐州", "镇江", "盐城", "济南", "青岛", "烟台", "潍坊", "临沂", "淄博", "威海", "武汉", "宜昌",
          "襄阳", "长沙", "株洲", "湘潭", "岳阳", "成都", "绵阳", "西安", "咸阳", "郑州", "洛阳", "开封",
          "福州", "厦门", "泉州", "漳州", "合肥", "芜湖", "石家庄", "唐山", "保定", "廊坊", "沈阳", "大连",
          "鞍山", "长春", "吉林", "哈尔滨", "大庆", "南昌", "赣州", "九江", "南宁", "桂林", "柳州", "昆明",
          "大理", "贵阳", "遵义", "太原", "大同", "兰州", "海口", "三亚", "呼和浩特", "包头", "乌鲁木齐",
          "银川", "西宁", "拉萨", "北京", "上海", "天津", "重庆")
_CITY = f"[{HAN}]{{1,6}}?(?:市|自治州|州|盟|地区)"
#: A province or known city name starts an address (a literal alternation: fast to scan for).
_ANCHOR = "(?:" + "|".join(sorted(set(PROVINCES) | set(CITIES), key=len, reverse=True)) + ")"
_DISTRICT = f"[{HAN}]{{1,6}}?(?:区|县|旗|镇|乡)"
_STREET = f"[{HAN}0-9]{{0,12}}?(?:大道|大街|路|街|巷|弄|胡同|村)"
_NUMBER = r"[0-9]{1,5}(?:-[0-9]{1,4})?号(?:院)?"
_ESTATE = f"(?:[{HAN}]{{1,6}}?(?:花园|家园|华庭|名苑|公寓|大厦|广场|小区|新村|苑|城|府|园|庭))?"
_UNIT = _ESTATE + r"(?:[0-9]{1,3}(?:栋|幢|号楼|座))?(?:[0-9]{1,2}单元)?(?:[0-9]{1,5}室)?"

ADDRESS = (f"{_ANCHOR}(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?"
           f"(?:{_CITY})?(?:{_DISTRICT})?{_STREET}{_NUMBER}{_UNIT}")
ADDRESS_CONTEXT = ["地址", "住址", "住在", "居住", "家住", "通讯地址", "联系地址", "dz"]
#: Words right before an address written without province or city (``住址：朝阳区人民路12号``).
ADDRESS_PREFIX_CONTEXT = ("通讯地址", "联系地址", "家庭地址", "寄送地址", "新地址", "地址", "住址", "家住",
                          "住在", "居住在", "寄送至", "寄往", "寄到")
#: A district-level address (district, road, number) with the address as group ``addr``.
ADDRESS_AFTER_CONTEXT = (f"(?:{'|'.join(ADDRESS_PREFIX_CONTEXT)})[:： ]?"
                         f"(?P<addr>[{HAN}]{{1,6}}?(?:区|县|镇){_STREET}{_NUMBER}{_UNIT})")

# --- person names -----------------------------------------------------------------------------
#: Words right before a name that say a person is named (longest first: alternation is ordered).
NAME_PREFIX_CONTEXT = (
    "紧急联系人", "共同借款人", "客户经理", "理财经理", "大堂经理", "客户姓名", "联系人", "代理人",
    "委托人", "受托人", "受益人", "担保人", "持卡人", "介绍人", "推荐人", "经办人", "代办人", "陪同人",
    "监护人", "收款人", "付款人", "申请人", "借款人", "开户人", "被保险人", "投保人", "户主", "配偶",
    "丈夫", "妻子", "爱人", "老公", "老婆", "儿子", "女儿", "父亲", "母亲", "家属", "同事", "柜员",
    "员工", "经理", "姓名", "客户", "本人", "专员", "顾问", "自称", "回访", "致电",
    "经办", "复核", "审核", "经手", "操作员",
    "转介人", "授权人", "审批人", "见证人", "主管", "授权",
)
#: Words right after a name (titles, and verbs that follow a named caller).
NAME_SUFFIX_CONTEXT = ("先生", "女士", "小姐", "经理", "老师", "师傅", "阿姨", "主任", "行长", "同志",
                       "本人", "来电", "来行", "致电", "夫妇", "客户", "（客户）", "(客户)")
#: Verbs that follow a name written at the start of a sentence (``王芳咨询...``, ``，李伟表示...``).
NAME_SENTENCE_VERBS = ("咨询", "投诉", "表示", "反映", "办理", "申请", "要求", "来电", "致电", "称",
                       "由", "对", "的", "于", "已", "在", "到", "同意", "确认", "签字", "接听", "代", "打来",
                       "介绍")
#: Time words that may stand between a sentence-initial name and its verb (``李明昨日来电``).
NAME_TIME_WORDS = ("昨日", "今日", "今天", "昨天", "明天", "上午", "下午", "刚才", "刚刚", "当天", "本周", "上周")
#: Verbs after a name that is written with no other cue (``…今天王建国咨询…``): weak evidence, so
#: the candidate must also pass the given-name statistics (:func:`privacy.names.statistically_plausible`).
NAME_VERB_CONTEXT = ("咨询", "表示", "反映", "投诉", "询问", "称其", "到网点", "到行", "到柜", "前来", "签字",
                     "接听", "代为", "打来电话", "打电话", "介绍", "代办", "一起", "一同")
#: Characters that can start a sentence in a note (cell start is the ``\x00`` separator).
SENTENCE_START = "\x00，。；：！？、,.;:!? \n（("
#: Characters that end a name: a given name does not contain them (particles, common verbs).
NAME_STOP_CHARS = ("来去到在于说称表反咨询办的了和与及等已要想需因对为是向给把被将从今昨本上下也都还"
                   "就并但而或电致打申请投诉提出现近前后当该此其再又通告知签确认核实变更开销户号卡账款"
                   "存取转汇理预约联系所您我他她们这那哪个名姓先女经老额面表示由自已曾代替帮陪接听"
                   "不未度没很非均仍即会须总久")
CONTEXT_PERSON = list(NAME_PREFIX_CONTEXT) + list(NAME_SUFFIX_CONTEXT)
#: Words shaped like a name (surname character first) that are ordinary bank vocabulary.
NOT_NAMES = frozenset({
    "高端", "高净值", "高龄", "高频", "高额", "高风险", "金卡", "金葵花", "金融", "白金", "万元", "方面",
    "于是", "张数", "周末", "周一", "周二", "周三", "周四", "周五", "周六", "周日", "余额", "钱款",
    "黄金", "石油", "林业", "安全", "文件", "程序", "常规", "任何", "时间", "江湖", "江浙", "温馨",
    "项目", "章程", "雷同", "毛利", "汤圆", "柳州", "秦岭", "郑重", "谢谢", "韩国", "孙子", "马上",
    "杨浦", "武汉", "武昌", "成都", "宁波", "苏州", "福州", "贵宾", "贾某", "王某", "李某", "张某",
    "严重", "万分", "高度", "明显", "明白", "高兴", "满意", "满足", "满分", "安排", "安装", "安心", "安抚",
    "安全感", "温度", "程度", "常常", "关心", "关注", "关于", "华为", "邓白", "龙头", "江西", "周到",
    "周边", "周期", "高效", "康复", "任意", "申购", "申报", "施工", "包括", "包装", "支付", "支行",
    "甘愿", "宁愿", "齐全", "易懂", "段时", "孔子", "刘某", "陈某", "赵某", "童年", "钱包", "许多",
    "许可", "金融资", "黄金积", "程序上", "方便", "方式", "方案", "方向", "毛病", "车辆", "房产", "房贷",
})
_PUNCT_AFTER_CONTEXT = r"(?:[:：]|是|为|系|叫)?[ ]?"


@functools.lru_cache(maxsize=1)
def surnames() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return ``(compound surnames, single surnames)`` from ``privacy/data/surnames.txt``."""
    text = resources.files("privacy").joinpath("data/surnames.txt").read_text(encoding="utf-8")
    compound: list[str] = []
    single: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for word in line.split():
            target = compound if len(word) > 1 else single
            if word not in target:
                target.append(word)
    return tuple(sorted(compound, key=len, reverse=True)), tuple(single)


#: Adverbs and verbs that a name-shaped candidate must not start with (``万分感`` in ``万分感谢``).
NOT_NAME_STARTS = frozenset({
    "严重", "万分", "高度", "明显", "明白", "高兴", "满意", "满足", "安排", "安装", "安心", "安抚", "关心",
    "关注", "关于", "周到", "常常", "任意", "包括", "支付", "申购", "申报", "高效", "温馨", "郑重",
    "金融", "许多", "钱包", "黄金", "房贷", "房产", "车辆",
})


def not_name(candidates: np.ndarray) -> np.ndarray:
    """True where a name-shaped candidate is bank vocabulary (a listed word, or starting with a
    listed adverb/verb)."""
    c = pd.Series(candidates, dtype=object)
    return (c.isin(NOT_NAMES) | c.str.slice(0, 2).isin(NOT_NAME_STARTS)).to_numpy(dtype=bool)


@functools.lru_cache(maxsize=1)
def rare_surnames() -> tuple[str, ...]:
    """Single surnames of the 《百家姓》 (``privacy/data/baijiaxing.txt``) that are not in
    :func:`surnames`: rarer ones (钭, 笪, 酆 ...) and characters that are mostly ordinary words
    (时, 和, 国 ...). They are names only after a word that introduces a person and when the
    given name passes the given-name statistics (:func:`privacy.names.is_plausible_name`)."""
    text = resources.files("privacy").joinpath("data/baijiaxing.txt").read_text(encoding="utf-8")
    _, common = surnames()
    known = set(common)
    out: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for word in line.split():
            if len(word) == 2:  # a compound surname (all but 伯赏 are in surnames.txt)
                continue
            out.extend(c for c in word if c not in known and c not in out)
    return tuple(out)


def surname_regex() -> str:
    """Alternation of every surname, compound ones first (so 欧阳 wins over 欧)."""
    compound, single = surnames()
    return "(?:" + "|".join(compound) + "|[" + "".join(single) + "])"


def given_name_regex() -> str:
    """One or two given-name characters: Han, not a stop character, not the start of a title.

    A given name that runs into a context word (``王芳复|核李强``) is ended at the word by
    :func:`privacy.names.trim_end`."""
    titles = "|".join(t for t in NAME_SUFFIX_CONTEXT if not t.startswith(("(", "（")))
    one = f"(?!{titles})[^{NAME_STOP_CHARS}\\W0-9_A-Za-z]"
    return f"{one}(?:{one})?"


def name_regex() -> str:
    """A full name: surname then one or two given-name characters (no context)."""
    return surname_regex() + given_name_regex()


def person_prefix_regex(extra_surnames: str = "") -> str:
    """``<context word>[：]<name>`` with the name as group ``name``.

    ``extra_surnames``: more characters that may start the name (the bulk path adds
    :func:`rare_surnames` and :func:`privacy.names.rare_chars`, whose matches it then checks
    with the given-name statistics: one scan for both)."""
    ctx = "|".join(NAME_PREFIX_CONTEXT)
    compound, single = surnames()
    chars = "".join(dict.fromkeys(single + tuple(sorted(set(extra_surnames) - set(single)))))
    return f"(?:{ctx}){_PUNCT_AFTER_CONTEXT}(?P<name>(?:{'|'.join(compound)}|[{chars}]){given_name_regex()})"


def person_suffix_regex() -> str:
    """``<name><title or verb>`` with the name as group ``name``."""
    ctx = "|".join(escape_context(t) for t in NAME_SUFFIX_CONTEXT)
    return f"(?P<name>{name_regex()})(?={ctx})"


def person_sentence_regex() -> str:
    """``<sentence start><name><verb>`` with the name as group ``name``.

    The sentence-start character is consumed (a character class first is fast to scan for);
    callers put a separator before the first text.
    """
    return f"[{SENTENCE_START}](?P<name>{name_regex()})(?={sentence_verb_regex()})"


def sentence_verb_regex() -> str:
    """A verb after a sentence-initial name, optionally after a time word (``昨日来电``)."""
    return f"(?:{'|'.join(NAME_TIME_WORDS)})?(?:{'|'.join(NAME_SENTENCE_VERBS)})"


def birth_date_in_context_regex() -> str:
    """A birth-date context word, then the date as group ``date`` (e.g. ``出生日期：1990-03-07``)."""
    ctx = "|".join(sorted(BIRTH_DATE_CONTEXT, key=len, reverse=True))
    return f"(?:{ctx})[:： ]{{0,2}}(?:为|是|于)?[ ]?(?P<date>{BIRTH_DATE})"


def escape_context(word: str) -> str:
    """A context word as a regex literal (brackets escaped)."""
    return word.replace("(", r"\(").replace(")", r"\)")


# --- canonical forms and bulk validators --------------------------------------------------------
def digits_only(values: np.ndarray) -> np.ndarray:
    """Remove every character that is not an ASCII digit."""
    s = pd.Series(values, dtype="string")
    return s.str.replace(r"[^0-9]", "", regex=True).to_numpy(dtype=object)


def id_body(values: np.ndarray) -> np.ndarray:
    """IDs without separators, upper-case ``X``."""
    s = pd.Series(values, dtype="string")
    return s.str.replace(f"[{SPACE_CHARS}\\-]", "", regex=True).str.upper().to_numpy(dtype=object)


def _valid_dates(ymd: pd.Series) -> np.ndarray:
    """``YYYYMMDD`` strings that are real dates between 1900-01-01 and today."""
    parsed = pd.to_datetime(ymd, format="%Y%m%d", errors="coerce")
    today = pd.Timestamp(dt.date.today())
    return (parsed.notna() & (parsed >= pd.Timestamp("1900-01-01")) & (parsed <= today)).to_numpy()


def resident_id_structure_valid(ids: np.ndarray) -> np.ndarray:
    """Region prefix and birth date plausible (18 or 15 characters); check digit not tested."""
    s = pd.Series(ids, dtype="string").fillna("")
    n = s.str.len().to_numpy()
    region_ok = s.str.slice(0, 2).isin(PROVINCE_CODES).to_numpy()
    d18 = s.str.slice(BIRTH_DATE_SLICE.start, BIRTH_DATE_SLICE.stop)
    d15 = "19" + s.str.slice(LEGACY_BIRTH_SLICE.start, LEGACY_BIRTH_SLICE.stop)
    shape18 = s.str.fullmatch(r"\d{17}[0-9X]").fillna(False).to_numpy(dtype=bool)
    shape15 = s.str.fullmatch(r"\d{15}").fillna(False).to_numpy(dtype=bool)
    date_ok = np.where(n == 18, _valid_dates(d18), _valid_dates(d15))
    return region_ok & date_ok & (((n == 18) & shape18) | ((n == 15) & shape15))


def resident_id_valid(ids: np.ndarray) -> np.ndarray:
    """GB 11643 IDs: structure valid and (18 characters) the MOD 11-2 check digit right.

    Legacy 15-digit IDs have no check digit; structure alone decides.
    """
    ids = np.asarray(ids, dtype=object)
    if ids.size == 0:
        return np.zeros(0, dtype=bool)
    structure = resident_id_structure_valid(ids)
    lengths = np.fromiter((len(v) if isinstance(v, str) else 0 for v in ids), dtype=np.int64,
                          count=ids.size)
    check = gb11643_valid_array(ids)
    return structure & ((lengths == 15) | check)


def mobile_canonical(values: np.ndarray) -> np.ndarray:
    """Mobile numbers as 11 digits (no ``+86``/``0086``, no separators; Chinese numerals read as
    digits)."""
    s = pd.Series(values, dtype="string").str.translate(ZH_DIGIT_TABLE).str.replace(NOT_D, "", regex=True)
    return s.str.replace(f"^(?:0086|86)(1{D}{{10}})$", r"\1", regex=True).to_numpy(dtype=object)


def mobile_valid(canonical: np.ndarray) -> np.ndarray:
    """11 digits with a mainland mobile prefix."""
    s = pd.Series(canonical, dtype="string")
    ok = s.str.fullmatch(r"\d{11}") & s.str.contains(MOBILE_PREFIX_RE, regex=True)
    return ok.fillna(False).to_numpy(dtype=bool)


def bank_card_valid(canonical: np.ndarray) -> np.ndarray:
    """16-19 digits, a known issuer first digit and a correct Luhn check digit."""
    canonical = np.asarray(canonical, dtype=object)
    if canonical.size == 0:
        return np.zeros(0, dtype=bool)
    s = pd.Series(canonical, dtype="string")
    shape = s.str.fullmatch(CARD_FIRST + r"\d{15,18}").fillna(False).to_numpy(dtype=bool)
    return shape & luhn_valid_array(canonical)


def landline_canonical(values: np.ndarray) -> np.ndarray:
    """Landline digits: area code with its ``0``, local number; brackets and extension removed."""
    s = pd.Series(values, dtype="string").str.replace(f"-{D}{{1,4}}$", "", regex=True)
    s = s.str.replace(f"^\\((0{D}{{2,3}})\\)", r"\1", regex=True)
    return digits_only(s.to_numpy(dtype=object))


def landline_valid(canonical: np.ndarray) -> np.ndarray:
    """Area code (010, 02x, 0xxx) and a 7-8 digit local number."""
    s = pd.Series(canonical, dtype="string")
    return s.str.fullmatch(LANDLINE_AREA_RE).fillna(False).to_numpy(dtype=bool)


def email_valid(values: np.ndarray) -> np.ndarray:
    """Shape of an e-mail address (one ``@``, a dotted domain)."""
    s = pd.Series(values, dtype="string")
    return s.str.fullmatch(EMAIL.replace(r"(?![A-Za-z])", "")).fillna(False).to_numpy(dtype=bool)


# --- names in pinyin or English text (``Customer Zhang Wei called``) -----------------------------
#: Pinyin of common surnames (Hanyu Pinyin as written in passports), compound ones first.
PINYIN_SURNAMES = (
    "Ouyang", "Sima", "Shangguan", "Zhuge", "Dongfang", "Huangfu", "Situ", "Xiahou", "Murong",
    "Gongsun", "Zhangsun", "Yuwen", "Linghu", "Zhongli", "Duanmu", "Ximen", "Nangong",
    "Zhang", "Wang", "Li", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma",
    "Zhu", "Hu", "Guo", "He", "Gao", "Lin", "Luo", "Zheng", "Liang", "Xie", "Song", "Tang", "Han",
    "Feng", "Deng", "Cao", "Peng", "Zeng", "Xiao", "Tian", "Dong", "Yuan", "Pan", "Yu", "Jiang",
    "Cai", "Du", "Ye", "Cheng", "Su", "Wei", "Lyu", "Lv", "Lu", "Ding", "Ren", "Shen", "Yao", "Cui",
    "Zhong", "Tan", "Fan", "Jin", "Shi", "Liao", "Jia", "Xia", "Fu", "Fang", "Bai", "Zou", "Meng",
    "Xiong", "Qin", "Qiu", "Yin", "Xue", "Yan", "Duan", "Lei", "Hou", "Long", "Tao", "Gu", "Mao",
    "Hao", "Gong", "Shao", "Wan", "Qian", "Dai", "Mo", "Kong", "Xiang", "Chang", "Wen", "Kang",
    "Niu", "Ge", "Xing", "Qi", "Yi", "Qiao", "Pang", "Ni", "Zhuang", "Nie", "Yue", "Zhai", "Zhan",
    "Ou", "Geng", "Guan", "Lan", "Jiao", "Zuo", "Gan", "Bao", "Ning", "Shang", "Shu", "Ruan",
    "Ke", "Ji", "Mei", "Tong", "Ling", "Bi", "Shan", "Pei", "Huo", "Tu", "Miao", "Sheng", "Qu",
    "Weng", "Ran", "You", "Xin", "Chai", "Hua", "Pu", "Teng", "Rao", "Mu", "Ai", "Nong", "Zhuo",
    "Jian", "Che", "Lian", "Mai", "Chu", "Lou", "Dou", "Cen", "Jing", "Dang", "Fei", "Bu", "Leng",
    "Xi", "Mi", "Zong", "Gui", "Zang", "Min", "Bian", "Luan", "Sui", "Rong", "Kou", "Sang", "Lang",
    "Zhen", "Cong", "Ao", "Ming", "She", "Chi", "Zha", "Kuang", "Ju", "Hui", "Nan", "Ban",
    # Cantonese / Hokkien romanisations common in Hong Kong, Macau and Taiwan
    "Chan", "Wong", "Cheung", "Lee", "Ho", "Chow", "Lau", "Leung", "Ng", "Tsang", "Lam", "Tse",
    "Yeung", "Kwok", "Lai", "Tam", "Fung", "Mak", "Choi", "Yip", "Chiu", "Kwan", "Hsu", "Tsai",
    "Chou", "Chiang", "Hsieh", "Kuo",
    # Wade-Giles spellings used in Taiwan passports (趙 Chao, 高 Kao, 洪 Hung, 管 Kuan ...)
    "Chao", "Kao", "Hung", "Kuan", "Hsiao", "Hsueh", "Tseng", "Chuang", "Chung", "Tsao", "Yeh",
    "Shih", "Chien", "Hsia", "Chin", "Tung", "Sung", "Pai", "Lo", "Ko", "Tai", "Chi", "Kung", "Ting",
    "Juan",
)
#: One pinyin syllable (initial + final), lower case.
PINYIN_SYLLABLE = (r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
                   r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ai|an|ao|ei|en|er|ia|ie|in|iu"
                   r"|ou|ua|ue|ui|un|uo|a|e|i|o|u|v)")
#: A given name in pinyin: one or two syllables, capitalised (``Wei``, ``Xiaoming``, ``Xiao-Ming``).
_PINYIN_GIVEN = r"[A-Z][a-z]{0,9}(?:[-'](?:[A-Z][a-z]{0,6}|[a-z]{1,6}))?"
#: A given name in capitals (``CHIH-WEI``, ``WEI``).
_PINYIN_GIVEN_UPPER = r"[A-Z]{1,10}(?:-[A-Z]{1,8})?"
#: A given name written before the surname (``Guiying Chen``): one or two pinyin syllables.
_PINYIN_GIVEN_FIRST = rf"(?=(?i:(?:{PINYIN_SYLLABLE}){{1,2}}) )[A-Z][a-z]{{0,11}}"
PINYIN_CONTEXT = ["customer", "client", "mr", "mrs", "ms", "miss", "manager", "spouse", "name", "rm",
                  "referred by", "spoke with"]
#: ``Customer|Mr.|Ms.|RM|Referred by ...`` + a pinyin name (group ``name``): surname first
#: (``Zhang Wei``, ``CHEN CHIH-WEI``) or given name first (``Guiying Chen``).
#: The first letters of the context words below, checked first: Python's ``re`` then skips most
#: positions at once instead of trying the lookbehind and the alternation at each (10x faster).
PINYIN_CTX_GUARD = r"(?=[MDCcmSsWwHhNnRrIi])"
PINYIN_AFTER_CONTEXT = (PINYIN_CTX_GUARD + r"(?<![A-Za-z])(?:Mr|Mrs|Ms|Miss|Madam|Dr|[Cc]ustomer|[Cc]lient|[Mm]anager|[Ss]pouse|[Ww]ife"
                        r"|[Hh]usband|[Nn]ame|RM|[Rr]eferred by|[Ss]poke with|[Ii]ntroduced by)\.?:? ?"
                        r"(?P<name>(?:" + "|".join(PINYIN_SURNAMES) + r") " + _PINYIN_GIVEN
                        + r"|(?:" + "|".join(p.upper() for p in PINYIN_SURNAMES) + r") " + _PINYIN_GIVEN_UPPER
                        + r"|" + _PINYIN_GIVEN_FIRST + r" (?:" + "|".join(PINYIN_SURNAMES) + r"))(?![A-Za-z])")
#: A pinyin surname and a pinyin given name with no context word (group ``name``).
PINYIN_NAME = (r"(?=[A-Z])(?<![A-Za-z])(?P<name>(?:" + "|".join(PINYIN_SURNAMES) + r") " + _PINYIN_GIVEN
               + r"|(?:" + "|".join(p.upper() for p in PINYIN_SURNAMES) + r") [A-Z]{1,8}-[A-Z]{1,8})(?![A-Za-z])")
#: Cells that can hold a name in Latin letters (two capitalised words in a row, or two in capitals).
LATIN_NAME_PREFILTER = r"[A-Z][a-z]+[ ][A-Z][a-z]|[A-Z]{2,}[ ][A-Z]{2,}"


def pinyin_given_valid(names: np.ndarray) -> np.ndarray:
    """True where the part after the surname is one or two pinyin syllables (``Wei``,
    ``Xiaoming``) or a hyphenated pair (``CHIH-WEI``), so English words after a surname-like word
    (``Long Term``) are not names."""
    given = pd.Series(names, dtype="string").str.split(" ", n=1).str[1]
    # a two-part hyphenated given name (``CHIH-WEI``, ``Hsiu-Ying``: Wade-Giles, as Taiwan writes it)
    hyphenated = given.str.fullmatch(r"[A-Z][A-Za-z]{0,5}-[A-Z][A-Za-z]{0,5}").fillna(False)
    s = given.str.lower().str.replace(r"[-']", "", regex=True)
    pinyin = s.str.fullmatch(f"(?:{PINYIN_SYLLABLE}){{1,2}}").fillna(False)
    return (pinyin | hyphenated).to_numpy(dtype=bool)
