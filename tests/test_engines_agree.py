"""Differential test: the vectorised span finder and Presidio's AnalyzerEngine find the same spans.

Both run kequn's recognizers (privacy/recognizers/); the bulk path compiles their patterns into
a few passes over a whole column. On a small corpus of notes (every recognizer's positives and
near misses, plus mixed notes) every span one engine finds with a pattern, the other finds too,
with the same boundaries and entity. Spans found by the bulk path's extra evidence (exact
matches, given-name statistics) are outside Presidio's reach and not compared.
"""

from __future__ import annotations

import pandas as pd
import pytest

from privacy.analyzer import analyze_text, build_analyzer
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.text import METHOD_PATTERN, find_spans
from tests.test_recognizers import CASES

ID18 = "44030519850612331" + gb11643_check_digit("44030519850612331")
CARD = "622848012345678901" + luhn_check_digit("622848012345678901")
NOTES = [
    f"客户王小明来电，手机138-1234-5678，身份证{ID18}，卡号{CARD}，邮箱wang.xm@163.com。",
    "回访：客户经理司徒浩联系客户，配偶欧阳娜娜接听，微信号ouyang_nana88。",
    f"客戶陳美玲來電，帳戶凍結，卡號{CARD[:6]} {CARD[6:]}，QQ号2847561930。",
    "车牌粤B12345的车主张伟先生，新地址广东省深圳市南山区科技路88号3栋1202室。",
    "Customer Zhang Wei called; Mr. Ouyang Xiaoming will visit. 尾号6789，客服95588，收益率3.25%。",
    "手机一三八一二三四五六七八，座机010-62345678，护照号E12345678，港澳通行证C12345678。",
    "客户张三身份证号码已核对，刘洋工作日可联系，商务经理已跟进，客户号KH0000012345。",
]
CORPUS = sorted({text for _, text, _ in CASES} | set(NOTES))


@pytest.fixture(scope="module")
def analyzer():
    return build_analyzer()


def test_bulk_path_and_presidio_find_the_same_pattern_spans(analyzer):
    texts = pd.Series(CORPUS)
    spans = find_spans(texts)
    spans = spans[spans["method"] == METHOD_PATTERN]
    bulk = {(int(r), int(s), int(e), ent) for r, s, e, ent
            in zip(spans["row"], spans["start"], spans["end"], spans["entity"], strict=True)}
    presidio = set()
    for i, text in enumerate(CORPUS):
        results = analyze_text(text, analyzer=analyzer)
        # Presidio keeps overlapping results of different recognizers; the bulk path keeps the best
        kept: list = []
        for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
            if all(r.end <= k.start or k.end <= r.start for k in kept):
                kept.append(r)
        presidio |= {(i, r.start, r.end, r.entity_type) for r in kept}
    assert len(bulk) > 40
    only_bulk = sorted((CORPUS[r][s:e], ent, CORPUS[r]) for r, s, e, ent in bulk - presidio)
    only_presidio = sorted((CORPUS[r][s:e], ent, CORPUS[r]) for r, s, e, ent in presidio - bulk)
    assert only_bulk == [] and only_presidio == []
