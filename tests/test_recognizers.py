"""Recognizers: positives, near misses and messy formats, through Presidio and the bulk path.

Each case is checked twice: with the Presidio ``AnalyzerEngine`` built by
:func:`privacy.analyzer.build_analyzer` (blank spaCy ``zh`` + jieba, our recognizers only) and
with the vectorised :func:`privacy.text.find_spans`. Both must agree.
"""

from __future__ import annotations

import pandas as pd
import pytest

from privacy import entities as E
from privacy.analyzer import analyze_text, build_analyzer
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.recognizers import (
    RECOGNIZER_CLASSES,
    CnBankCardRecognizer,
    CnMobileRecognizer,
    CnResidentIdRecognizer,
)
from privacy.text import find_spans


def _id(body17: str) -> str:
    return body17 + gb11643_check_digit(body17)


def _wrong_check(valid: str) -> str:
    return valid[:-1] + ("0" if valid[-1] != "0" else "1")


def _card(body: str) -> str:
    return body + luhn_check_digit(body)


ID18 = _id("11010519491231002")          # check character X
ID18_B = _id("44030519850612331")
ID15 = "440305850612331"                 # legacy: region, YYMMDD, sequence
CARD19 = _card("622848012345678901")       # 19-digit UnionPay
CARD16 = _card("622588123456789")
CARD18 = _card("62102212345678901")
FW = str.maketrans("0123456789+", "０１２３４５６７８９＋")


def _grouped(card: str, sep: str) -> str:
    return sep.join(card[i:i + 4] for i in range(0, len(card), 4))


# (entity, text, expected span text or None)
CASES = [
    # --- resident ID
    (E.CN_RESIDENT_ID, f"身份证号{ID18}已核对", ID18),
    (E.CN_RESIDENT_ID, f"证件号码{ID18.lower()}，", ID18.lower()),
    (E.CN_RESIDENT_ID, f"客户身份证：{ID18_B}", ID18_B),
    (E.CN_RESIDENT_ID, f"旧身份证{ID15}", ID15),
    (E.CN_RESIDENT_ID, f"证件{ID18_B[:6]} {ID18_B[6:14]} {ID18_B[14:]}", f"{ID18_B[:6]} {ID18_B[6:14]} {ID18_B[14:]}"),
    (E.CN_RESIDENT_ID, f"证件号{ID18_B[:6]}-{ID18_B[6:14]}-{ID18_B[14:]}", f"{ID18_B[:6]}-{ID18_B[6:14]}-{ID18_B[14:]}"),
    (E.CN_RESIDENT_ID, f"身份证{_grouped(ID18_B, ' ')}，", _grouped(ID18_B, " ")),          # 4-4-4-4-2
    (E.CN_RESIDENT_ID, f"身份证{_grouped(ID18, '-')}", _grouped(ID18, "-")),               # ...X
    (E.CN_RESIDENT_ID, f"编号{_grouped(_wrong_check(ID18_B), ' ')}", None),                 # 4-4-4-4-2, bad check
    # mixed separators: still a valid ID, so still caught (fail closed)
    (E.CN_RESIDENT_ID, f"身份证{ID18_B[:4]} {ID18_B[4:8]}-{ID18_B[8:12]} {ID18_B[12:16]}-{ID18_B[16:]}",
     f"{ID18_B[:4]} {ID18_B[4:8]}-{ID18_B[8:12]} {ID18_B[12:16]}-{ID18_B[16:]}"),
    (E.CN_RESIDENT_ID, f"编号{_wrong_check(ID18_B)}", None),            # wrong check digit
    (E.CN_RESIDENT_ID, "流水号20240315000123456789", None),               # 20-digit serial
    (E.CN_RESIDENT_ID, "订单号12345678901234567", None),                  # 17 digits
    (E.CN_RESIDENT_ID, f"编号99{ID18_B[2:]}", None),                      # no such region
    (E.CN_RESIDENT_ID, "于19900307办理", None),                           # a date, not an ID
    # --- mobile
    (E.CN_MOBILE, "手机13812345678", "13812345678"),
    (E.CN_MOBILE, "电话+86 138 1234 5678。", "+86 138 1234 5678"),
    (E.CN_MOBILE, "0086-13912345678", "0086-13912345678"),
    (E.CN_MOBILE, "回访电话(+86)15012345678", "(+86)15012345678"),
    (E.CN_MOBILE, "预留手机138-1234-5678，", "138-1234-5678"),
    (E.CN_MOBILE, "联系" + "13812345678".translate(FW) + "即可", "13812345678".translate(FW)),
    (E.CN_MOBILE, "手机138.1234.5678。", "138.1234.5678"),               # dotted
    (E.CN_MOBILE, "手机1381-234-5678", "1381-234-5678"),                  # 4-3-4
    (E.CN_MOBILE, "手机1381 234 5678，", "1381 234 5678"),
    (E.CN_MOBILE, "手机号一三八一二三四五六七八", "一三八一二三四五六七八"),      # read out
    (E.CN_MOBILE, "电话幺三九 幺二三四 五六七八", "幺三九 幺二三四 五六七八"),  # 幺 = 1, grouped
    (E.CN_MOBILE, "电话一二三四五六七八九零一", None),                     # 123... no such prefix
    (E.CN_MOBILE, "一三八一二三四五六七八九", None),                       # 12 numerals
    (E.CN_MOBILE, "金额138.12元", None),                                  # a decimal
    (E.CN_MOBILE, "尾号5678", None),                                      # last digits
    (E.CN_MOBILE, "客服95588", None),                                     # hotline
    (E.CN_MOBILE, "编号12345678901", None),                               # no such prefix
    (E.CN_MOBILE, "金额13812345678901元", None),                          # 14-digit number
    (E.CN_MOBILE, "单号T13812345678", None),                              # letter before
    (E.CN_MOBILE, "人民币50,000.00元", None),                             # amount
    # --- bank card
    (E.BANK_CARD, f"卡号{CARD19}挂失", CARD19),                            # 19 digits next to Han
    (E.BANK_CARD, f"卡号{CARD16}", CARD16),
    (E.BANK_CARD, f"信用卡{CARD18}，", CARD18),
    (E.BANK_CARD, f"原卡号{_grouped(CARD19, ' ')}，", _grouped(CARD19, " ")),
    (E.BANK_CARD, f"卡号{_grouped(CARD16, '-')}", _grouped(CARD16, "-")),
    (E.BANK_CARD, f"卡号{CARD19.translate(FW)}", CARD19.translate(FW)),
    (E.BANK_CARD, f"卡号{CARD19[:6]} {CARD19[6:]}", f"{CARD19[:6]} {CARD19[6:]}"),   # BIN + rest
    (E.BANK_CARD, f"卡号{CARD16[:6]}-{CARD16[6:]}", f"{CARD16[:6]}-{CARD16[6:]}"),
    (E.BANK_CARD, f"卡号{_grouped(CARD19, ' ')}", _grouped(CARD19, " ")),               # 4-4-4-4-3
    (E.BANK_CARD, f"卡号{_wrong_check(CARD19)[:6]} {_wrong_check(CARD19)[6:]}", None),   # BIN + rest, Luhn fails
    (E.BANK_CARD, "尾号6789的卡", None),                                  # last four only
    (E.BANK_CARD, f"卡号{_wrong_check(CARD19)}", None),                   # Luhn fails
    (E.BANK_CARD, "流水号20240315000123456789", None),                    # 20 digits
    (E.BANK_CARD, "订单2024031512345678", None),                          # starts with 2
    # --- e-mail
    (E.EMAIL_ADDRESS, "邮箱zhang.san@163.com联系", "zhang.san@163.com"),
    (E.EMAIL_ADDRESS, "留邮箱Li_Si88@foxmail.com。", "Li_Si88@foxmail.com"),
    (E.EMAIL_ADDRESS, "发到admin@localhost", None),
    # --- landline
    (E.CN_LANDLINE, "座机010-62345678", "010-62345678"),
    (E.CN_LANDLINE, "办公电话(0755)86001234", "(0755)86001234"),
    (E.CN_LANDLINE, "编号010-1234567", None),                             # local part starts 1
    # --- passport and permit: only with context
    (E.CN_PASSPORT, "护照号E12345678", "E12345678"),
    (E.CN_PASSPORT, "产品编号E12345678", None),
    (E.HK_MACAU_PERMIT, "港澳通行证C12345678", "C12345678"),
    (E.HK_MACAU_PERMIT, "批次C12345678", None),
    # --- WeChat, QQ, licence plates
    (E.WECHAT_ID, "客户微信号zhangsan_88，", "zhangsan_88"),
    (E.WECHAT_ID, "微信：wxid_abc12345", "wxid_abc12345"),
    (E.WECHAT_ID, "加vx: Li-Lei2024 了", "Li-Lei2024"),
    (E.WECHAT_ID, "请加微信zhangsanfeng", "zhangsanfeng"),                # a cell with no digit
    (E.WECHAT_ID, "用户名zhangsan_88", None),                             # no WeChat word
    (E.WECHAT_ID, "微信zs1", None),                                       # too short
    (E.WECHAT_ID, "微信支付已开通", None),
    (E.QQ_NUMBER, "QQ号123456789，", "123456789"),
    (E.QQ_NUMBER, "qq:10001", "10001"),
    (E.QQ_NUMBER, "扣扣 2847561930", "2847561930"),
    (E.QQ_NUMBER, "客服95588", None),                                     # hotline, no QQ word
    (E.QQ_NUMBER, "QQ号0123456", None),                                   # leading zero
    (E.QQ_NUMBER, "QQ号1234", None),                                      # too short
    (E.LICENSE_PLATE, "车牌京A·12345", "京A·12345"),
    (E.LICENSE_PLATE, "车辆粤B12345已登记", "粤B12345"),
    (E.LICENSE_PLATE, "新能源车沪AD12345", "沪AD12345"),
    (E.LICENSE_PLATE, "粤B12345F", "粤B12345F"),
    (E.LICENSE_PLATE, "京ABCDE", None),                                   # no digit
    (E.LICENSE_PLATE, "沪A123456789", None),                              # too long
    (E.LICENSE_PLATE, "京I12345", None),                                  # I is never a letter
    # --- passports: E/G + 8 digits
    (E.CN_PASSPORT, "护照G87654321", "G87654321"),
    (E.CN_PASSPORT, "护照号码EA1234567", "EA1234567"),
    # --- customer number
    (E.CUSTOMER_NO, "客户号KH0000012345", "KH0000012345"),
    (E.CUSTOMER_NO, "代码KH123", None),
    # --- birth date: only right after 出生/生日
    (E.BIRTH_DATE, "出生日期：1990-03-07", "1990-03-07"),
    (E.BIRTH_DATE, "2024-03-15转账5000元", None),
    (E.BIRTH_DATE, "预约1985年6月12日面谈", None),
    # --- address
    (E.CN_ADDRESS, "新地址广东省深圳市南山区科技路88号3栋1202室，", "广东省深圳市南山区科技路88号3栋1202室"),
    (E.CN_ADDRESS, "寄送北京市朝阳区人民路12号阳光花园5栋301室", "北京市朝阳区人民路12号阳光花园5栋301室"),
    (E.CN_ADDRESS, "前往深圳分行营业部", None),
    (E.CN_ADDRESS, "住址：朝阳区人民路12号2单元301室。", "朝阳区人民路12号2单元301室"),
    (E.CN_ADDRESS, "前往朝阳区人民路12号网点", None),
    # --- person
    (E.PERSON, "客户王小明来电咨询", "王小明"),
    (E.PERSON, "配偶欧阳娜娜也有开户意向", "欧阳娜娜"),
    (E.PERSON, "经办：客户经理司马懿，", "司马懿"),
    (E.PERSON, "张伟先生来电", "张伟"),
    (E.PERSON, "由代理人诸葛亮代为办理", "诸葛亮"),
    (E.PERSON, "客户来电咨询理财", None),
    (E.PERSON, "王小姐来电", None),
    (E.PERSON, "高端客户专享", None),
    (E.PERSON, "客户万分感谢", None),
    (E.PERSON, "客户严重不满", None),
    (E.PERSON, "客户经理安抚客户", None),
    (E.PERSON, "客户于昨日来电", None),
    (E.PERSON, "张三的账户已冻结", "张三"),
    (E.PERSON, "丈夫：李梅，", "李梅"),
    (E.PERSON, "联系人：赵六，电话", "赵六"),
    # --- person: the span ends where the name ends, never at the next word's first character
    (E.PERSON, "客户张三身份证号码已核对", "张三"),
    (E.PERSON, "客户刘洋工作日可联系", "刘洋"),
    (E.PERSON, "理财经理欧阳明确认签字", "欧阳明"),
    (E.PERSON, "客户王建国来电", "王建国"),                             # 3 characters stay 3
    (E.PERSON, "配偶欧阳娜娜也有开户意向", "欧阳娜娜"),
    # --- traditional Chinese: detected on the simplified text, offsets of the original
    (E.PERSON, "客戶陳美玲來電，帳戶凍結", "陳美玲"),
    (E.PERSON, "理財經理歐陽明確認簽字", "歐陽明"),
    (E.CN_MOBILE, "客戶手機13812345678已變更", "13812345678"),
    (E.PERSON, "客戶來電諮詢帳戶餘額", None),
    # --- names in pinyin / English notes
    (E.PERSON, "Customer Zhang Wei called about his card", "Zhang Wei"),
    (E.PERSON, "Mr. Ouyang Xiaoming visited the branch", "Ouyang Xiaoming"),
    (E.PERSON, "Follow-up: Wang Jianguo called again", "Wang Jianguo"),
    (E.PERSON, "Ms Chan Tai-Man asked for a statement", "Chan Tai-Man"),
    (E.PERSON, "Long Term deposit matured", None),                     # "term" is no syllable
    (E.PERSON, "He Said the Bank Of China card", None),
    (E.PERSON, "customer zhang wei called", None),                      # not capitalised
    # --- job titles are not persons
    (E.PERSON, "储备经理人", None),
    (E.PERSON, "商务经理", None),
    (E.PERSON, "管家部经理", None),
]
IDS = [f"{e}-{i}" for i, (e, _, _) in enumerate(CASES)]


@pytest.fixture(scope="module")
def analyzer():
    return build_analyzer()


@pytest.mark.parametrize(("entity", "text", "expected"), CASES, ids=IDS)
def test_presidio_recognizers(analyzer, entity, text, expected):
    found = [text[r.start:r.end] for r in analyze_text(text, entities=[entity], analyzer=analyzer)]
    assert found == ([expected] if expected else [])


@pytest.mark.parametrize(("entity", "text", "expected"), CASES, ids=IDS)
def test_bulk_path_agrees(entity, text, expected):
    spans = find_spans(pd.Series([text]))
    found = [text[s:e] for s, e, ent in zip(spans["start"], spans["end"], spans["entity"], strict=True)
             if ent == entity]
    assert found == ([expected] if expected else [])


def test_every_recognizer_has_class_constants_and_zh():
    for cls in RECOGNIZER_CLASSES:
        rec = cls()
        assert cls.PATTERNS and cls.CONTEXT and rec.supported_language == "zh"
        assert rec.supported_entities == [cls.ENTITY]


def test_patterns_and_context_overridable():
    from presidio_analyzer import Pattern

    rec = CnMobileRecognizer(patterns=[Pattern("only", r"1[3-9][0-9]{9}", 0.6)], context=["电话"])
    assert [p.name for p in rec.patterns] == ["only"] and rec.context == ["电话"]


def test_validate_result_uses_check_digits():
    assert CnResidentIdRecognizer().validate_result(ID18) is True
    assert CnResidentIdRecognizer().validate_result(_wrong_check(ID18)) is False
    assert CnResidentIdRecognizer.BIRTH_DATE_SLICE == slice(6, 14)
    assert CnBankCardRecognizer().validate_result(CARD19) is True
    assert CnBankCardRecognizer().validate_result(_wrong_check(CARD19)) is False


def test_context_words_raise_the_score_with_jieba_lemmas(analyzer):
    bare = analyze_text("编号13812345678", entities=[E.CN_MOBILE], analyzer=analyzer, score_threshold=0)
    ctx = analyze_text("手机号码13812345678", entities=[E.CN_MOBILE], analyzer=analyzer, score_threshold=0)
    assert bare[0].score < ctx[0].score


def test_builtin_presidio_misses_what_ours_finds():
    """The gotchas we work around: \\b next to Han, 19-digit UnionPay cards."""
    from presidio_analyzer.predefined_recognizers import CreditCardRecognizer

    text = f"卡号{CARD19}"
    builtin = CreditCardRecognizer(supported_language="zh").analyze(text, entities=["CREDIT_CARD"])
    ours = CnBankCardRecognizer().analyze(text, entities=[E.BANK_CARD])
    assert not builtin
    assert [text[r.start:r.end] for r in ours] == [CARD19]


def test_tokens_are_never_identifiers(analyzer):
    text = "客户号tk_3f9a0c1b2d4e5f60，手机tk_1381234567801234，卡号tk_6222021234567890"
    assert analyze_text(text, analyzer=analyzer) == []
    assert find_spans(pd.Series([text])).empty


def test_jieba_engine_tokens_cover_the_text_with_lemma_equal_text():
    from privacy.nlp import JiebaNlpEngine

    engine = JiebaNlpEngine()
    text = "客户手机号码13812345678，卡号6222"
    art = engine.process_text(text, "zh")
    assert "".join(t.text for t in art.tokens) == text
    assert art.lemmas == [t.text for t in art.tokens] == [t.lemma_ for t in art.tokens]
    assert [text[i:i + len(t.text)] for i, t in zip(art.tokens_indices, art.tokens, strict=True)] == art.lemmas
    assert "手机" in " ".join(art.keywords) and "，" not in art.keywords


def test_analyzer_registers_only_kequn_recognizers(analyzer):
    names = {r.name for r in analyzer.registry.get_recognizers(language="zh", all_fields=True)}
    assert names == {cls.__name__ for cls in RECOGNIZER_CLASSES}


def test_batch_analyzer_engine_works_with_the_jieba_engine(analyzer):
    from presidio_analyzer import BatchAnalyzerEngine

    results = BatchAnalyzerEngine(analyzer_engine=analyzer).analyze_iterator(
        ["手机13812345678", "客户王小明来电", "无"], language="zh")
    assert [[r.entity_type for r in rs] for rs in results] == [[E.CN_MOBILE], [E.PERSON], []]
