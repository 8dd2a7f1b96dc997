"""Names and identifiers the free-text detector used to miss (issue 12, item 3 and 5), with near misses.

One test per failure class: staff and referrers, two names side by side, rare surnames after a
context word, names with no context word, romanised names of people in no column, a customer's
name that is the start of a longer name, traditional-script customer names, cards and handles in
awkward written forms; and the near misses that must stay (job titles next to a surname, kinds of
customer, amounts, English words after a surname-like word).
"""

from __future__ import annotations

import pandas as pd
import pytest

from privacy import entities as E
from privacy import names
from privacy.checksums import luhn_check_digit
from privacy.exact_match import ExactMatcher
from privacy.recognizers import patterns as P
from privacy.text import METHOD_EXACT, find_spans, redact_texts


def _found(texts: list[str], **kwargs) -> list[list[tuple[str, str]]]:
    spans = find_spans(pd.Series(texts, dtype="string"), **kwargs)
    out: list[list[tuple[str, str]]] = [[] for _ in texts]
    for r, s, e, ent in zip(spans["row"], spans["start"], spans["end"], spans["entity"], strict=True):
        out[r].append((texts[r][s:e], ent))
    return out


def _persons(texts: list[str], **kwargs) -> list[list[str]]:
    return [[v for v, ent in row if ent == E.PERSON] for row in _found(texts, **kwargs)]


@pytest.mark.parametrize(("text", "expected"), [
    ("经办张伟复核李娜，授权王芳。", ["张伟", "李娜", "王芳"]),
    ("柜员赵敏，主管孙立新审批通过。", ["赵敏", "孙立新"]),
    ("审批人洪文彬意见：同意。", ["洪文彬"]),
    # near misses: the same context words before ordinary words
    ("授权书已签，主管部门已审批。", []),
    ("客户经理已电话回访，主管单位无异议。", []),
])
def test_staff_names_and_their_near_misses(text, expected):
    assert _persons([text])[0] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("转介人黃麗美介紹，客戶任職某某科技有限公司。", ["黃麗美"]),
    ("由马晓东介绍来行开户。", ["马晓东"]),
    ("由客户经理介绍来行开户。", []),
])
def test_referrers(text, expected):
    assert _persons([text])[0] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("刘欢和阎宁夫妇一同询问房贷。", ["刘欢", "阎宁"]),
    ("潘欢、李玉华夫妇一同询问。", ["潘欢", "李玉华"]),
    ("联系人：吴刚、郑爽。", ["吴刚", "郑爽"]),
    ("上官婉清和诸葛亮亮一起来咨询留学贷款。", ["上官婉清", "诸葛亮亮"]),
    # a name joined by 和 to ordinary words is not a pair of names
    ("联系人：吴刚和高端客户一同到场。", ["吴刚"]),
    ("联系人：吴刚与周边网点确认。", ["吴刚"]),
])
def test_two_names_side_by_side(text, expected):
    assert _persons([text])[0] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("理财经理笪莉陪同客户购买。", ["笪莉"]),  # a 百家姓 surname outside the common list
    ("客户母亲亓秀兰为共同借款人。", ["亓秀兰"]),  # a character rare in running text
    ("理财经理禤国强跟进。", ["禤国强"]),
    # near misses: common characters of the 百家姓 (时, 和) after the same words are words
    ("理财经理时间紧，客户经理和客户约在下午。", []),
    ("客户母亲名下借记卡被冻结。", []),
])
def test_rare_surnames_after_a_context_word(text, expected):
    assert _persons([text])[0] == expected


def test_rare_surname_characters_come_from_the_dictionary_not_a_list():
    rare = names.rare_chars()
    assert {"琚", "睢", "禤", "亓"} <= rare
    assert not ({"陪", "已", "时", "和", "国", "客"} & rare)
    assert "钭" in P.rare_surnames() and "王" not in P.rare_surnames()


@pytest.mark.parametrize(("text", "expected"), [
    ("黄鑫代厍淑珍办理挂失，出示身份证。", ["黄鑫"]),
    ("今天下午刘晓燕打来电话，说卡被吞了。", ["刘晓燕"]),
    ("李明昨日来电，要求回拨。", ["李明"]),  # a time word between the name and its verb
    ("现代化网点已启用，打来电话请转人工。", []),
    ("，上午来电的客户已回拨。", []),
])
def test_names_with_no_context_word(text, expected):
    assert _persons([text])[0] == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("RM Guiying Chen met the client at Tianhe Sub-branch.", ["Guiying Chen"]),
    ("Referred by SU HSIN-HUNG. Passport E44860130.", ["SU HSIN-HUNG"]),
    ("Spoke with Yin Xiuying on 2023-02-16.", ["Yin Xiuying"]),
    ("CHEN CHIH-WEI requested a wire transfer of USD 12,000.", ["CHEN CHIH-WEI"]),
    ("Referred by Tsai Hsiu-Ying last year.", ["Tsai Hsiu-Ying"]),
    # near misses: capitals and words after a surname-like word
    ("RMB 4,000 refunded; ATM PIN reset, see the LONG TERM plan.", []),
    ("Referred by the branch manager.", []),
])
def test_romanised_names_of_people_in_no_column(text, expected):
    assert _persons([text])[0] == expected


def test_a_customers_name_inside_a_longer_name_takes_the_whole_name():
    matcher = ExactMatcher({E.PERSON: ["慕容玉", "陈俊"]})
    texts = ["配偶慕容玉珍陪同办理。", "客户陈俊明申请变更地址。", "陈俊来电。"]
    assert _persons(texts, matcher=matcher) == [["慕容玉珍"], ["陈俊明"], ["陈俊"]]
    red = redact_texts(pd.Series(texts, dtype="string"), find_spans(pd.Series(texts, dtype="string"),
                                                                     matcher=matcher))
    assert red.tolist() == ["配偶<姓名>陪同办理。", "客户<姓名>申请变更地址。", "<姓名>来电。"]


def test_traditional_customer_names_are_found_by_exact_match():
    matcher = ExactMatcher({E.PERSON: ["徐志強", "歐陽明珠"]})
    texts = ["帳戶徐志強於2023年10月3日轉帳。", "帳戶歐陽明珠於3月8日轉帳。"]
    spans = find_spans(pd.Series(texts, dtype="string"), matcher=matcher)
    assert [texts[r][s:e] for r, s, e in zip(spans["row"], spans["start"], spans["end"], strict=True)] == [
        "徐志強", "歐陽明珠"]
    assert set(spans["method"]) == {METHOD_EXACT}


def test_romanised_name_without_its_space_does_not_exact_match_a_user_name():
    matcher = ExactMatcher({E.PERSON: ["Liang Yan"]})
    found = _found(["WeChat ID liangyan_1970, spoke with Liang Yan."], matcher=matcher)[0]
    assert ("liangyan_1970", E.WECHAT_ID) in found and ("Liang Yan", E.PERSON) in found


@pytest.mark.parametrize("text", [
    "职业金融产品经理，任职于某某科技有限公司。",
    "职业公司业务客户经理，月收入约1万元。",
    "车贷客户，车牌号未登记，每月还款1,449.84元。",
    "理财客户与高端客户均可购买，起购金额5万元。",
    "储备经理人和商务经理两个岗位。",
])
def test_job_titles_and_kinds_of_customer_are_not_people(text):
    assert _persons([text])[0] == []


def test_a_name_before_kehu_still_counts_when_it_reads_as_a_name():
    assert _persons(["王芳客户来电，要求回拨。"])[0] == ["王芳"]


def _card(body: str) -> str:
    return body + luhn_check_digit(body)


def test_cards_in_awkward_groupings_and_the_near_misses():
    c17 = _card("5234236105157240")[:16]  # any 16 digits; the check digit below makes it valid
    c17 = _card(c17)
    grouped = f"{c17[:4]} {c17[4:10]} {c17[10:15]} {c17[15:]}"  # 4-6-5-2
    bad = c17[:-1] + str((int(c17[-1]) + 1) % 10)
    texts = [f"Card on file: {grouped}.", f"借记卡{grouped}。", f"合同号{bad[:4]} {bad[4:10]} {bad[10:15]} {bad[15:]}。",
             "金额98.5元，利率3.25%。"]
    found = _found(texts)
    assert found[0] == [(grouped, E.BANK_CARD)]
    assert found[1] == [(grouped, E.BANK_CARD)]
    assert found[2] == [] and found[3] == []


def test_handles_are_not_cut_by_a_window_that_reaches_into_the_next_cell():
    # the first cell's 微信 window ends inside the second cell's QQ number
    texts = ["微信" + "无" * 38, "原QQ号9086371388已停用，WeChat ID wxid_u7z9dua2cw。"]
    found = _found(texts)
    assert found[0] == []
    assert found[1] == [("9086371388", E.QQ_NUMBER), ("wxid_u7z9dua2cw", E.WECHAT_ID)]


@pytest.mark.parametrize(("text", "expected"), [
    ("passport no. D50369008 on file", [("D50369008", E.CN_PASSPORT)]),
    ("护照号P1234567", [("P1234567", E.CN_PASSPORT)]),
    ("订单号D50369008", []),  # no passport context word
])
def test_passports_with_seven_or_eight_digits(text, expected):
    assert [f for f in _found([text])[0] if f[1] == E.CN_PASSPORT] == expected
