"""Free-text spans: offsets in the original text, names in and out of columns, decoys, redaction."""

from __future__ import annotations

import pandas as pd
import pytest

from privacy import entities as E
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.text import SPAN_COLUMNS, find_spans, redact_texts

ID18 = "44030519850612331" + gb11643_check_digit("44030519850612331")
CARD19 = "622848012345678901" + luhn_check_digit("622848012345678901")
FW_MOBILE = "１３８１２３４５６７８"


def _found(texts: pd.Series, spans: pd.DataFrame) -> list[tuple[int, str, str]]:
    return [(r, texts.iloc[r][s:e], ent) for r, s, e, ent
            in zip(spans["row"], spans["start"], spans["end"], spans["entity"], strict=True)]


def test_spans_in_messy_note_with_original_offsets():
    note = (f"客户刘洋来电，手机{FW_MOBILE}，身份证{ID18}，卡号{CARD19[:4]} {CARD19[4:8]} "
            f"{CARD19[8:12]} {CARD19[12:16]} {CARD19[16:]}，邮箱liu.yang@163.com。")
    texts = pd.Series([note])
    spans = find_spans(texts)
    assert list(spans.columns) == SPAN_COLUMNS
    found = {ent: txt for _, txt, ent in _found(texts, spans)}
    assert found == {
        E.PERSON: "刘洋", E.CN_MOBILE: FW_MOBILE, E.CN_RESIDENT_ID: ID18,
        E.BANK_CARD: f"{CARD19[:4]} {CARD19[4:8]} {CARD19[8:12]} {CARD19[12:16]} {CARD19[16:]}",
        E.EMAIL_ADDRESS: "liu.yang@163.com",
    }
    assert spans["score"].between(0.5, 1.0).all()


def test_decoys_are_not_flagged():
    texts = pd.Series([
        "客户投诉转账失败，流水号20240315000123456789，金额人民币50,000.00元，工单号GD0012345678，"
        "要求2024年3月20日前回复。",
        "咨询稳健理财（产品代码PR2024A0042），预期年化收益率3.25%，共3笔，计划存入12.5万元 <b>&</b>。",
        "订单12345678901234567，批次2024031512345678，编号E12345678。",
    ])
    assert find_spans(texts).empty


def test_names_of_people_in_no_column_and_compound_surnames():
    texts = pd.Series([
        "来电人自称王芳的配偶欧阳建国，咨询账户余额。",
        "张敏由代理人上官婉代为办理定期存款。",
        "回访：客户经理司徒浩联系客户，赵静表示近期有资金到账。",
        "回访陈晨，客户不在，其配偶林雪接听。",
    ])
    got = {(r, txt) for r, txt, ent in _found(texts, find_spans(texts)) if ent == E.PERSON}
    assert got == {(0, "王芳"), (0, "欧阳建国"), (1, "张敏"), (1, "上官婉"), (2, "司徒浩"),
                   (2, "赵静"), (3, "陈晨"), (3, "林雪")}


def test_known_names_are_the_strongest_evidence():
    texts = pd.Series(["黄磊咨询大额存单利率。", "没有名字", None, "周杰周杰"])
    names = pd.Series(["黄磊", "黄磊", "李四", "周杰"])
    spans = find_spans(texts, known_names=names)
    assert _found(texts, spans) == [(0, "黄磊", E.PERSON), (3, "周杰", E.PERSON), (3, "周杰", E.PERSON)]
    assert (spans["score"] == 1.0).all()


def test_name_the_context_alone_misses_is_found_from_the_column():
    texts = pd.Series(["今天黄磊没有来"])
    assert find_spans(texts).empty
    spans = find_spans(texts, known_names=pd.Series(["黄磊"]))
    assert _found(texts, spans) == [(0, "黄磊", E.PERSON)]


def test_rows_are_positions_and_spans_do_not_overlap():
    texts = pd.Series(["无", f"卡号{CARD19}，手机13812345678", "客户王伟先生"], index=[10, 5, 7])
    spans = find_spans(texts, known_names=pd.Series(["x", "y", "王伟"], index=[1, 2, 3]))
    assert set(spans["row"]) == {1, 2}
    for _, g in spans.groupby("row"):
        g = g.sort_values("start")
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1]).all()


def test_empty_and_missing():
    assert find_spans(pd.Series([], dtype="string")).empty
    assert find_spans(pd.Series([None, pd.NA, ""], dtype="object")).empty


def test_misaligned_known_names_is_an_input_error():
    from kequn.errors import InputError

    with pytest.raises(InputError, match="known_names has 1 rows, texts has 2"):
        find_spans(pd.Series(["a", "b"]), known_names=pd.Series(["x"]))


def test_redact_with_placeholders_keeps_the_rest():
    texts = pd.Series([f"客户刘洋来电，手机{FW_MOBILE}，2024-03-15转账5000元。", None, "无敏感信息"],
                      index=["a", "b", "c"])
    out = redact_texts(texts, find_spans(texts))
    assert out.tolist()[0] == "客户<姓名>来电，手机<手机号>，2024-03-15转账5000元。"
    assert out.isna().tolist() == [False, True, False]
    assert out.iloc[2] == "无敏感信息" and list(out.index) == ["a", "b", "c"]


def test_redact_with_a_replace_function():
    texts = pd.Series([f"身份证{ID18}，邮箱a.b@163.com"])
    seen = []

    def replace(entity: str, value: str) -> str:
        seen.append((entity, value))
        return f"tk_{entity.lower()[:4]}"

    out = redact_texts(texts, find_spans(texts), replace=replace)
    assert out.iloc[0] == "身份证tk_cn_r，邮箱tk_emai"
    assert seen == [(E.CN_RESIDENT_ID, ID18), (E.EMAIL_ADDRESS, "a.b@163.com")]


def test_redacted_text_has_no_spans_left():
    texts = pd.Series([f"客户刘洋（{FW_MOBILE}）新地址广东省深圳市南山区科技路88号3栋1202室，卡号{CARD19}。"])
    spans = find_spans(texts)
    assert set(spans["entity"]) == {E.PERSON, E.CN_MOBILE, E.CN_ADDRESS, E.BANK_CARD}
    redacted = redact_texts(texts, spans)
    assert find_spans(redacted).empty
    tokens = redact_texts(texts, spans, replace=lambda e, v: "tk_3f9a0c1b2d4e5f60")
    assert find_spans(tokens).empty


def test_ordinary_service_notes_have_no_spans():
    texts = pd.Series([
        "客户来电咨询信用卡年费减免政策，已告知相关规定。", "客户对理财产品收益表示不满，要求经理回电。",
        "客户经理王总已跟进。", "客户要求提前支取定期存款，已办理。", "客户表示近期资金紧张，希望延期还款。",
        "客户同意参加理财讲座，预约周三下午。", "客户本人持身份证原件到柜面办理。", "客户询问黄金积存业务，已介绍。",
        "客户向我行申请增加信用额度。", "客户家属代为咨询，按规定未予告知。", "客户张先生来电，询问基金赎回到账时间。",
        "客户李女士称其配偶已同意。", "客户高度关注汇率变化。", "客户万分感谢。", "客户许久未登录手机银行。",
        "客户金融资产较多。", "客户于2024年5月到期的大额存单自动转存，金额12.5万元。",
    ])
    spans = find_spans(texts)
    assert spans.empty, [texts.iloc[r][s:e] for r, s, e in zip(spans["row"], spans["start"], spans["end"], strict=True)]


def test_redaction_never_swallows_the_next_character():
    texts = pd.Series(["客户张三身份证号码已核对", "客户刘洋工作日可联系", "理财经理欧阳明确认签字"])
    assert redact_texts(texts, find_spans(texts)).tolist() == [
        "客户<姓名>身份证号码已核对", "客户<姓名>工作日可联系", "理财经理<姓名>确认签字"]


def test_job_titles_in_an_occupation_column_are_not_names():
    texts = pd.Series(["储备经理人", "商务经理", "管家部经理", "客户经理", "大堂经理", "理财经理"])
    assert find_spans(texts).empty


def test_identifiers_in_any_digit_grouping_and_their_near_misses():
    from privacy.checksums import gb11643_check_digit, luhn_check_digit

    body = "11010519491231002"
    rid = body + gb11643_check_digit(body)
    card = "62284801234567890"
    card += luhn_check_digit(card)
    bad_card = card[:-1] + str((int(card[-1]) + 1) % 10)
    texts = pd.Series([f"证件 {rid[:3]} {rid[3:6]} {rid[6:10]} {rid[10:14]} {rid[14:]} 已核",
                       f"证件{rid[:6]}-{rid[6:10]}-{rid[10:14]}-{rid[14:]}",
                       f"卡 {card[:4]} {card[4:10]} {card[10:15]} {card[15:]}",
                       f"卡 {bad_card[:4]} {bad_card[4:10]} {bad_card[10:15]} {bad_card[15:]}",  # fails Luhn
                       f"流水 {rid[:-1] + ('1' if rid[-1] != '1' else '2')}",  # fails the check digit
                       "2024-05-01 12:30 共 3 笔 5 单"], dtype="string")
    spans = find_spans(texts)
    got = {(int(r.row), r.entity) for r in spans.itertuples()}
    assert got == {(0, E.CN_RESIDENT_ID), (1, E.CN_RESIDENT_ID), (2, E.BANK_CARD)}


@pytest.mark.parametrize("text", ["客户任職明陽海運有限公司，年薪稳定", "客户任职华晶国际酒店股份有限公司",
                                  "单位为某某科技有限公司"])
def test_company_names_after_a_common_word_are_not_people(text):
    spans = find_spans(pd.Series([text], dtype="string"))
    assert not spans["entity"].eq(E.PERSON).any()
    assert find_spans(pd.Series(["客户王建国任职明阳海运有限公司"], dtype="string"))["entity"].eq(E.PERSON).any()


def test_token_replacer_batches_match_one_token_per_span():
    """Token mode redacts a column's spans in one batch (TokenReplacer.many); each span gets the
    token of its canonical form, as one span at a time would: two writings of one mobile share a
    token, the same digits as another entity do not, and an overlapping later span is skipped."""
    from privacy.normalise import canonical_identifier
    from privacy.tokens import TokenReplacer, token_of, token_replacer

    key = b"k" * 32
    texts = pd.Series(["手机138-1234-5678，身份证" + ID18, "再次来电+86 13812345678", None, "无"], dtype="string")
    spans = pd.DataFrame({"row": [0, 0, 0, 1], "start": [2, 6, 19, 4], "end": [15, 10, 37, 21],
                          "entity": [E.CN_MOBILE, E.CUSTOMER_NO, E.CN_RESIDENT_ID, E.CN_MOBILE],
                          "score": 1.0, "method": "pattern"})
    replacer = token_replacer(key)
    assert isinstance(replacer, TokenReplacer)
    out = redact_texts(texts, spans, replace=replacer).tolist()

    def one(entity: str, value: str) -> str:
        canonical = canonical_identifier(pd.Series([value], dtype="string"), entity).iloc[0]
        return token_of(value if pd.isna(canonical) else str(canonical), entity, key)

    mobile = one(E.CN_MOBILE, "13812345678")
    assert out[0] == f"手机{mobile}，身份证{one(E.CN_RESIDENT_ID, ID18)}"
    assert out[1] == f"再次来电{mobile}"
    assert out[2] is pd.NA and out[3] == "无"
    # per span (no batch method) gives the same text; a second batch is served from the cache
    assert redact_texts(texts, spans, replace=lambda e, v: one(e, v)).tolist()[:2] == out[:2]
    assert replacer(E.CN_MOBILE, "138 1234 5678") == mobile
    assert replacer(E.CUSTOMER_NO, "13812345678") != mobile
