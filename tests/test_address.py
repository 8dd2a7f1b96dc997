"""Addresses from the administrative-division gazetteer: in columns, in notes, and generalised."""

from __future__ import annotations

import pandas as pd
import pytest

from privacy import entities as E
from privacy.address import find_addresses
from privacy.analyzer import analyze_text
from privacy.gazetteer import gazetteer
from privacy.generalise import province_city
from privacy.text import find_spans

# (text, the address it holds or None). Positives include addresses without 号 or 室.
CASES = [
    ("新地址广东省深圳市南山区科技路88号3栋1202室，", "广东省深圳市南山区科技路88号3栋1202室"),
    ("客户新地址浙江省杭州市西湖区文三路电子大厦B座，邮编310012，请更新", "浙江省杭州市西湖区文三路电子大厦B座，邮编310012"),
    ("寄往上海市浦东新区世纪大道 邮编200120，谢谢", "上海市浦东新区世纪大道 邮编200120"),
    ("江苏南京玄武区中山路1号", "江苏南京玄武区中山路1号"),
    ("住在四川省成都市武侯区人民南路四段。", "四川省成都市武侯区人民南路四段"),
    ("湖北省武汉市洪山区珞喻路１０３７号", "湖北省武汉市洪山区珞喻路１０３７号"),  # full-width digits
    ("送到杭州市余杭区文一西路未来科技城5幢2单元", "杭州市余杭区文一西路未来科技城5幢2单元"),
    ("住址：朝阳区人民路12号2单元301室。", "朝阳区人民路12号2单元301室"),
    # near misses: a branch, a road named after a city, a place without street detail, a district
    # address without a context word, an event, plain text
    ("前往深圳分行营业部", None),
    ("北京路88号网点", None),
    ("客户常住广东省深圳市，近期出差", None),
    ("前往朝阳区人民路12号网点", None),
    ("参加北京路演活动", None),
    ("客户来电咨询理财产品收益情况", None),
]


@pytest.mark.parametrize(("text", "address"), CASES)
def test_find_addresses_table(text, address):
    spans = find_addresses(pd.Series([text]))
    got = [text[s:e] for s, e in zip(spans["start"], spans["end"], strict=True)]
    assert got == ([address] if address else [])


@pytest.mark.parametrize(("text", "address"), CASES)
def test_presidio_recognizer_agrees_with_the_vectorised_path(text, address):
    found = [text[r.start:r.end] for r in analyze_text(text, entities=[E.CN_ADDRESS])]
    assert found == ([address] if address else [])


def test_address_without_number_or_room_is_redacted_in_a_note():
    notes = pd.Series(["客户来电，新地址浙江省杭州市西湖区文三路电子大厦B座，邮编310012，已登记",
                       "客户来电咨询，2024-03-15转账5000元"])
    spans = find_spans(notes)
    addr = spans[spans["entity"] == E.CN_ADDRESS]
    assert addr["row"].tolist() == [0]
    start, end = int(addr["start"].iloc[0]), int(addr["end"].iloc[0])
    assert notes[0][start:end] == "浙江省杭州市西湖区文三路电子大厦B座，邮编310012"
    assert notes[0][end] == "，"  # the span stops at the address


def test_gazetteer_levels_and_parents():
    g = gazetteer()
    assert len(g.provinces) == 34 and len(g.cities) > 330 and len(g.districts) > 2800
    assert {"浙江省", "北京市", "广西壮族自治区", "香港特别行政区"} <= g.provinces
    assert g.province_short["广西"] == "广西壮族自治区" and g.city_short["杭州"] == "杭州市"
    assert "杭州市" in g.city_of["余杭区"] and "浙江省" in g.province_of["余杭区"]
    assert "北京市" in g.cities  # a municipality is its own city


def test_generalisation_uses_the_gazetteer_and_never_passes_finer_text():
    parts = province_city(pd.Series(["浙江杭州西湖区文三路电子大厦B座", "湖北省仙桃市沔阳大道1号", "浙江省余杭区文一西路",
                                     "上海徐汇区漕溪北路88号", "某某村超市旁边", "北京朝阳区光华路12号"]))
    assert parts["province"].tolist()[:4] == ["浙江省", "湖北省", "浙江省", "上海市"]
    assert parts["city"].tolist()[:4] == ["杭州市", "仙桃市", "杭州市", "上海市"]
    assert parts.iloc[4].isna().all()  # an unknown place gives nothing, never a piece of the address
    assert parts.iloc[5].tolist() == ["北京市", "北京市"]  # 朝阳区 of Beijing, not 朝阳市 of Liaoning


@pytest.mark.parametrize("text, address", [
    ("黑龙江省马鞍山县闵行高街Y座 555641，请核实", "黑龙江省马鞍山县闵行高街Y座 555641"),  # bare postcode
    ("客户新址197 花蓮市松山路443號4樓，已更新", "197 花蓮市松山路443號4樓"),  # Taiwan, no gazetteer name
    ("寄往95264 新竹永安巷1號之4", "95264 新竹永安巷1號之4"),
    ("前往中山路100号支行办理", None),  # a branch's address is not a person's
    ("合同号123号已归档", None),  # no road
])
def test_street_addresses_without_a_gazetteer_name_and_bare_postcodes(text, address):
    spans = find_addresses(pd.Series([text]))
    got = [text[s:e] for s, e in zip(spans["start"], spans["end"], strict=True)]
    assert got == ([address] if address else [])


def test_street_number_windows_find_what_the_whole_text_scan_finds():
    """The street-number scan runs only around a 号 with a road before it: on random texts dense
    with numbers, roads and 号 it returns exactly the matches of the expression over the whole text."""
    import random

    from privacy import address as A

    rng = random.Random(3)
    alpha = list("0123456789 -号號路街巷弄大道段楼樓层層F室房之一二三网点支行中山北京人民")
    texts = ["".join(rng.choice(alpha) for _ in range(rng.randint(1, 120))) for _ in range(3000)]
    texts += ["中山路12号3楼", "手机号13812345678", "人民大道1-2号之3 5层 101室网点", "北京路88号网点"]
    joined = "\x00" + "\x00".join(texts)
    whole = [m.span() for m in A._street_number().finditer(joined)]
    assert len(whole) > 100
    assert [m.span() for m in A._street_number_matches(joined)] == whole
    assert A._street_number_matches("没有门牌号") == []
