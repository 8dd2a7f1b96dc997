"""``kequn scan`` and the residual scan."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.cli.main import main
from privacy import entities as E
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.scan import residual_findings, scan_tables

ID18 = "31010419850612331" + gb11643_check_digit("31010419850612331")
CARD = "622202123456789012" + luhn_check_digit("622202123456789012")
NAMES = ["王伟", "李娜", "欧阳建国", "张小明", "陈静", "刘洋"]


def _customers(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame({
        "客户号": [f"KH{i:010d}" for i in range(n)],
        "姓名": [NAMES[i % len(NAMES)] for i in range(n)],
        "手机号": [f"+86 138-{i:04d}-{i * 7 % 10000:04d}" for i in range(n)],
        "余额": [f"{i * 1234.5:.2f}" for i in range(n)],
        "备注": [f"{NAMES[i % len(NAMES)]}来电，配偶司马光陪同，身份证{ID18}，卡号{CARD}，金额5000元" for i in range(n)],
    })


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_scan_tables_reads_encodings_and_counts_spans(tmp_path, encoding):
    path = tmp_path / "customers.csv"
    _customers().to_csv(path, index=False, encoding=encoding)
    report = scan_tables({"customers": path})
    (table,) = report["tables"]
    assert table["table"] == "customers" and table["rows"] == 30
    cols = {c["column"]: c for c in table["columns"]}
    assert {k: v["entity"] for k, v in cols.items()} == {
        "客户号": E.CUSTOMER_NO, "姓名": E.PERSON, "手机号": E.CN_MOBILE, "余额": E.NONE, "备注": E.FREE_TEXT}
    assert cols["备注"]["span_counts"] == {E.CN_RESIDENT_ID: 30, E.BANK_CARD: 30, E.PERSON: 60}
    assert "span_counts" not in cols["余额"]


def test_scan_cli_writes_json_without_values(tmp_path, capsys):
    data = tmp_path / "raw"
    data.mkdir()
    _customers().to_csv(data / "customers.csv", index=False)
    out = tmp_path / "scan.json"
    main(["scan", str(data), "--json", str(out)])
    text = out.read_text(encoding="utf-8")
    report = json.loads(text)
    assert report["tables"][0]["table"] == "customers"
    printed = capsys.readouterr()
    for secret in [ID18, CARD, "KH0000000001", "王伟", "司马光", "138-0001"]:
        assert secret not in text and secret not in printed.out and secret not in printed.err


def test_scan_cli_empty_file_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["scan", str(path)])
    assert exc.value.code == 1
    assert "the file is empty" in capsys.readouterr().err


def test_residual_scan_of_a_clean_table_is_empty():
    clean = pd.DataFrame({
        "customer_no": [f"tk_{i:016x}" for i in range(40)],
        "mobile": [f"tk_{(i * 7919) % 2**60:016x}" for i in range(40)],
        "age_band": ["30-39", "40-49"] * 20,
        "city": ["深圳市", "广州市"] * 20,
        "aum": [f"{i * 1000.5:.2f}" for i in range(40)],
        "note": ["<姓名>来电，手机<手机号>，卡号<银行卡号>，金额5000元，流水号20240315000123456789"] * 20
        + ["客户tk_3f9a0c1b2d4e5f60来电，手机tk_1381234567801234，已解答"] * 20,
    })
    assert residual_findings(clean, "customers") == []


def test_residual_scan_finds_leftovers_and_reports_counts_only():
    frame = pd.DataFrame({
        "customer_no": [f"tk_{i:016x}" for i in range(40)],
        "id_number": [f"tk_{i:016x}" for i in range(38)] + [ID18, ID18.lower()],   # 2 stragglers
        "mobile": [f"138{i:08d}" for i in range(40)],                              # not tokenised
        "note": ["客户<姓名>来电咨询理财产品的收益情况，已解答"] * 39 + [f"客户来电挂失，卡号{CARD}，已办理"],
    })
    found = {(f["column"], f["entity"], f["level"]): f["count"] for f in residual_findings(frame, "t")}
    assert found == {("id_number", E.CN_RESIDENT_ID, "cells"): 2,
                     ("mobile", E.CN_MOBILE, "column"): 40,
                     ("note", E.BANK_CARD, "span"): 1}
    for f in residual_findings(frame, "t"):
        assert ID18 not in json.dumps(f, ensure_ascii=False) and CARD not in json.dumps(f, ensure_ascii=False)


def test_residual_scan_does_not_take_job_titles_for_names():
    """Job titles (储备经理人, 商务经理, 管家部经理) in any column are occupations; a name column
    under an opaque header is still caught (near miss)."""
    from privacy.scan import residual_findings

    titles = ["储备经理人", "商务经理", "管家部经理", "客户经理", "行政主管", "前台接待员"] * 10
    assert residual_findings(pd.DataFrame({"occupation": titles, "col_09": titles}), "t") == []
    names = [s + g for s in ("王", "欧阳", "李", "张", "商", "管") for g in ("建国", "娜", "伟", "三丰", "颖",
                                                                     "仲", "芳", "敏", "静", "磊")]
    found = residual_findings(pd.DataFrame({"col_09": names}), "t")
    assert [(f["column"], f["entity"]) for f in found] == [("col_09", "PERSON")]
