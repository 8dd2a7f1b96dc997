"""The leak scanner used by the end-to-end tests finds what it must (so a clean result means something)."""

from __future__ import annotations

import gzip
import json

import pandas as pd

from tests.leakscan import find_leaks, row_level_tables

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


def test_row_level_tables_are_found_and_aggregates_are_not(tmp_path):
    """What the artifact-store check of the end-to-end test relies on; the first file is the
    shape of the held-out artifact runs logged before issue 13 (eval/test_set.parquet)."""
    import numpy as np

    (tmp_path / "eval").mkdir()
    rng = np.random.default_rng(0)
    pd.DataFrame({"aum": rng.normal(size=300), "gender": ["男", "女"] * 150, "_label": [0, 1] * 150}).to_parquet(
        tmp_path / "eval" / "test_set.parquet")
    pd.DataFrame({"customer_no": ["tk_3f9a0c1b2d4e5f60", "tk_0a1b2c3d4e5f6071"], "score": [0.1, 0.2]}).to_csv(
        tmp_path / "top.csv", index=False)
    (tmp_path / "rows.json").write_text(json.dumps([{"aum": float(i)} for i in range(150)]), encoding="utf-8")
    pd.DataFrame({"decile": range(1, 11), "lift": rng.normal(size=10)}).to_csv(tmp_path / "gain.csv", index=False)
    (tmp_path / "eval" / "heldout_ref.json").write_text(json.dumps({"positions": list(range(300))}),
                                                        encoding="utf-8")
    assert row_level_tables(tmp_path) == ["eval/test_set.parquet: 300 rows", "rows.json: 150 rows",
                                          "top.csv: token column 'customer_no'"]
