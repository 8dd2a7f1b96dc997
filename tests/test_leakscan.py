"""The leak scanner used by the end-to-end tests finds what it must (so a clean result means something)."""

from __future__ import annotations

import gzip

import pandas as pd

from tests.leakscan import find_leaks

VALUES = {
    "CN_MOBILE": {"13812345678"},
    "CN_RESIDENT_ID": {"11010519491231002X"},
    "PERSON": {"欧阳娜娜"},
    "EMAIL_ADDRESS": {"ouyang.nana@example.cn"},
    "BANK_CARD": {"6222021234567890123"},
}


def test_finds_values_hidden_in_parquet_gzip_and_messy_formats(tmp_path):
    pd.DataFrame({"note": ["客户欧阳娜娜来电", "ok"], "n": [1, 2]}).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.log.gz").write_bytes(gzip.compress("手机 138-1234-5678".encode()))
    (tmp_path / "c.txt").write_text("卡号6222 0212 3456 7890 123，身份证11010519491231002x", encoding="gb18030")
    (tmp_path / "d.json").write_text('{"e": "Ouyang.Nana@example.cn"}', encoding="utf-8")
    leaks = find_leaks(tmp_path, VALUES)
    assert leaks == [
        "a.parquet: PERSON",
        "b.log.gz: CN_MOBILE",
        "c.txt: BANK_CARD",
        "c.txt: CN_RESIDENT_ID",
        "d.json: EMAIL_ADDRESS",
    ]


def test_tokens_and_placeholders_are_not_leaks(tmp_path):
    pd.DataFrame({"customer_no": ["tk_3f9a0c1b2d4e5f60"], "note": ["客户<姓名>来电，手机<手机号>"]}).to_parquet(
        tmp_path / "clean.parquet")
    assert find_leaks(tmp_path, VALUES) == []
