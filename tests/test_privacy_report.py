"""The privacy report: escaped, self-contained HTML with the same numbers as its JSON twin."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from privacy.policy import load_policy
from privacy.pseudonymise import pseudonymise
from privacy.report import build_examples, synthetic_examples
from privacy.tokens import TOKEN_PATTERN

KEY = b"report-test-key-0123456789abcdef-0123456789"
MARKUP = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    raw = tmp / "客户<b>表.csv"
    pd.DataFrame({
        "customer_no": [f"KH{1000000000 + i}" for i in range(8)],
        f"备注{MARKUP}": ["客户来电<img src=x onerror=alert(1)>咨询理财产品的到期时间和收益情况",
                          "客户表示对本行的服务非常满意，希望以后多推荐稳健型产品", "<b>VIP</b> 客户要求上门办理大额存单业务",
                          "客户咨询信用卡额度调整的流程以及所需要提供的材料清单",
                          "客户的手机13911223344已更新，后续短信通知发送到新的号码",
                          "客户反映手机银行登录时偶尔出现验证码收不到的问题", "客户计划下月办理房贷提前还款，需要预约网点柜台",
                          "客户对基金定投的扣款日期有疑问，已解释并记录在案"],
        "gender": ["男", "女"] * 4,
        "aum": ["100.5", "2000", "3", "4", "5", "6", "7", "8"],
    }).to_csv(raw, index=False, encoding="utf-8")
    out = tmp / "clean"
    pseudonymise({raw.stem: raw}, out=out, policy_path=None, key=KEY)
    return out


def test_html_escapes_every_value_and_is_self_contained(clean):
    html = (clean / "privacy_report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html  # the column name is shown, escaped
    assert not re.search(r"(src|href)\s*=", html, flags=re.I)
    assert "@import" not in html and "url(" not in html
    assert "13911223344" not in html


def test_json_and_html_carry_the_same_numbers(clean):
    report = json.loads((clean / "privacy_report.json").read_text(encoding="utf-8"))
    html = (clean / "privacy_report.html").read_text(encoding="utf-8")
    manifest = json.loads((clean / "manifest.json").read_text(encoding="utf-8"))
    assert report["policy_hash"] == manifest["policy_hash"] == load_policy(None).hash
    assert report["policy_hash"] in html and report["key_fingerprint"] in html and report["manifest_id"] in html
    assert len(report["inventory"]) == 4
    for row in report["inventory"]:
        assert f"<td>{row['present']}</td><td>{row['malformed']}</td></tr>" in html
    text = report["text_redaction"][0]
    assert text["total"] >= 1 and text["spans"].get("CN_MOBILE") == 1
    assert f"<td>{text['total']}</td>" in html
    k = report["k_anonymity"][0]
    assert k["quasi_identifiers"] == ["gender"] and k["before"]["min_class_size"] == 4
    assert k["k_reached"] is False and k["met"] is True  # default policy: measured and shown, not enforced
    assert k["suppressed_records"] == 0 and "measured only" in html
    assert "Sign-off" in html and "签字" in html and "合规审核" in html
    assert report["status"] == "passed" and "通过 PASSED" in html


def test_examples_are_synthetic_and_never_masks(clean):
    report = json.loads((clean / "privacy_report.json").read_text(encoding="utf-8"))
    fakes = synthetic_examples(load_policy(None))
    befores = {row["entity"]: row["before"] for row in report["examples"]["columns"]}
    assert befores["CN_RESIDENT_ID"] == fakes["CN_RESIDENT_ID"]
    assert fakes == synthetic_examples(load_policy(None))  # fixed seed
    dumped = json.dumps(report, ensure_ascii=False)
    assert "****" not in dumped and not re.search(r"\d\*+\d", dumped)
    afters = {row["entity"]: row["after"] for row in report["examples"]["columns"]}
    assert re.fullmatch(TOKEN_PATTERN, afters["CN_MOBILE"])
    assert afters["BIRTH_DATE"] == "birth_year = 1990"  # the policy publishes a birth year
    text = build_examples(load_policy(None))["text"]
    assert fakes["CN_MOBILE"] in text["before"] and "<手机号>" in text["after"]


def test_report_says_how_each_text_span_was_found(clean):
    report = json.loads((clean / "privacy_report.json").read_text(encoding="utf-8"))
    html = (clean / "privacy_report.html").read_text(encoding="utf-8")
    text = report["text_redaction"][0]
    assert text["methods"]["CN_MOBILE"] == {"pattern": 1}
    assert sum(sum(m.values()) for m in text["methods"].values()) == text["total"]
    assert "模式 pattern 1" in html and "精确匹配 exact match" in html
