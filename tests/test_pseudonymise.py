"""`kequn pseudonymise` end to end on small raw tables, plus the generalisation helpers."""

from __future__ import annotations

import json
import re

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from kequn.errors import InputError, PolicyNotMetError
from kequn.lineage import require_clean_table
from privacy import entities as E
from privacy.checksums import gb11643_check_digit, luhn_check_digit, luhn_valid_array
from privacy.generalise import age_band, birth_level, numeric_if_possible, province_city, to_month
from privacy.keys import key_fingerprint
from privacy.policy import DEFAULT_POLICY_PATH
from privacy.pseudonymise import pseudonymise
from privacy.tokens import TOKEN_PATTERN

KEY = b"pseudonymise-test-key-0123456789abcdef-xyz"
OTHER_KEY = b"pseudonymise-other-key-0123456789abcdef-xyz"


def _rid(body: str) -> str:
    return body + gb11643_check_digit(body)


def _bad_rid(body: str) -> str:
    """A resident ID with a wrong check digit (a typo is still someone's ID)."""
    good = gb11643_check_digit(body)
    return body + ("1" if good != "1" else "2")


def _card(body: str) -> str:
    return body + luhn_check_digit(body)


# Made-up people, in messy real-world shapes (full-width digits, +86, dashes, x check digit).
CUSTOMERS = {
    "客户号": ["KH0000000101", "KH0000000102", "KH0000000103", "KH0000000104", "KH0000000105", "KH0000000106"],
    "姓名": ["欧阳沐晴", "司马云舒", "诸葛明远", "上官若溪", "钟离子墨", "慕容清越"],
    "身份证号": [_rid("11010519870615002"), _rid("31010419921123001").lower(), _rid("44010619850314003"),
              _rid("11010519870615008"), _rid("33010619750228004"), _bad_rid("32010219881111001")],
    "手机号": ["+86 139-1122-3344", "１３６２２３３４４５５", "137 3344 5566", "0086-15844556677",
            "18655667788", "13966778899.0"],
    "邮箱": ["muqing.oy@example.cn", "yunshu.sm@example.cn", "mingyuan.zg@example.cn",
           "ruoxi.sg@example.cn", "zimo.zl@example.cn", "qingyue.mr@example.cn"],
    "出生日期": ["1987-06-15", "1992/11/23", "19850314", "1987-06-15", "1975-02-28", "1988-11-11"],
    "地址": ["北京市朝阳区光华路12号3栋201室", "上海市徐汇区漕溪北路88号", "广东省广州市天河区体育西路5号",
           "北京市海淀区中关村大街1号", "浙江省杭州市西湖区文三路90号", "江苏省南京市玄武区中山路1号"],
    "性别": ["女", "女", "男", "女", "男", "女"],
    "余额": ["12345.67", "88000", "150.5", "0", "990000.1", "3.2"],
    "产品数": ["1", "3", "2", "0", "5", "2"],
    "备注": ["客户欧阳沐晴来电，手机13911223344，卡号" + _card("622202020011223344"), "无", "<b>VIP</b> 客户", None,
           "配偶公孙静怡陪同办理", "邮箱qingyue.mr@example.cn已更新"],
}
CARDS = [_card("622202020011223344"), _card("622848040256489001"), _card("621700001000123456")]


def _raw(tmp_path, encoding="utf-8"):
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame(CUSTOMERS).to_csv(raw / "customers.csv", index=False, encoding=encoding)
    pd.DataFrame({"客户号": ["KH0000000101", "KH0000000103", "KH0000000101"],
                  "卡号": [CARDS[0], " ".join(re.findall(".{1,4}", CARDS[1])), CARDS[2]],
                  "金额": ["100.5", "20", "3000"]}).to_csv(raw / "transactions.csv", index=False, encoding=encoding)
    return raw


def _tables(raw):
    return {p.stem: p for p in sorted(raw.glob("*.csv"))}


def _policy(tmp_path, **changes):
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    data["entities"]["BIRTH_DATE"]["options"]["reference_date"] = "2024-06-30"
    data["k_anonymity"].update({"k": 2, "on_violation": "report"})
    for key, value in changes.items():
        data[key] = value
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _output_texts(root):
    """Every text under ``root``: Parquet read as data (cells, column names, metadata), the rest decoded."""
    for path in sorted(root.rglob("*")):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            frame = table.to_pandas().astype(object)
            yield path.name, "\n".join("\t".join("" if pd.isna(v) else str(v) for v in row)
                                       for row in frame.itertuples(index=False))
            yield path.name, "\t".join(map(str, frame.columns))
            yield path.name, "\n".join(v.decode("utf-8", "ignore") for v in (table.schema.metadata or {}).values())
        elif path.is_file():
            yield path.name, path.read_bytes().decode("utf-8", "ignore")


def _leaks(root, values):
    found = []
    for name, text in _output_texts(root):
        squeezed = re.sub(r"[\s\-]", "", text)
        for entity, needles in values.items():
            if any(v in text or (entity != "PERSON" and v in squeezed) for v in needles):
                found.append(f"{name}: {entity}")
    return found


def _all_bytes(root):
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


# -- generalisation ----------------------------------------------------------------------------

def test_birth_levels_do_not_depend_on_the_run_date():
    born = pd.Series(["1990-05-17", "1990年5月3日", "19851231", "not a date", None])
    assert birth_level(born, "birth_year_month").tolist()[:3] == ["1990-05", "1990-05", "1985-12"]
    assert birth_level(born, "birth_year").tolist()[:3] == ["1990", "1990", "1985"]
    assert birth_level(born, "birth_year").iloc[3:].isna().all()
    with pytest.raises(ValueError, match="birth level must be"):
        birth_level(born, "age")


def test_age_band_width_top_band_and_bad_dates():
    born = pd.Series(["1990-07-01", "1990-06-30", "1990年6月30日", "20000101", "1920-01-01", "not a date", None])
    assert age_band(born, width=10, reference_date="2024-06-30").tolist()[:5] == [
        "30-39", "30-39", "30-39", "20-29", "90+"]
    assert age_band(born, width=5, top_band=None, reference_date="2024-06-30").tolist()[:2] == ["30-34", "30-34"]
    assert age_band(pd.Series(["1990-07-01"]), width=10, reference_date="2020-06-30").tolist() == ["20-29"]
    assert age_band(born, reference_date="2024-06-30").iloc[5:].isna().all()


def test_province_city_and_month():
    parts = province_city(pd.Series(["北京市朝阳区光华路12号", "广东省广州市天河区体育西路5号",
                                     "新疆维吾尔自治区乌鲁木齐市天山区", "杭州市西湖区文三路", None]))
    assert parts["province"].tolist()[:3] == ["北京市", "广东省", "新疆维吾尔自治区"]
    assert pd.isna(parts["province"].iloc[3])
    assert parts["city"].tolist()[:4] == ["北京市", "广州市", "乌鲁木齐市", "杭州市"]
    assert to_month(pd.Series(["2024-03-15", "2024/3/1 10:00:00", "x"])).tolist()[:2] == ["2024-03", "2024-03"]


def test_numeric_columns_come_back_as_numbers_but_codes_do_not():
    assert numeric_if_possible(pd.Series(["1", "2", None], dtype="string")).dtype == "Int64"
    assert numeric_if_possible(pd.Series(["1.5", "-2"], dtype="string")).dtype == "float64"
    assert numeric_if_possible(pd.Series(["007", "12"], dtype="string")).tolist() == ["007", "12"]
    assert numeric_if_possible(pd.Series(["BR001"], dtype="string")).tolist() == ["BR001"]


# -- end to end --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """One pseudonymisation of the messy Chinese-header tables, shared by the read-only tests."""
    tmp = tmp_path_factory.mktemp("run")
    raw = _raw(tmp)
    policy = _policy(tmp)
    out = tmp / "clean"
    result = pseudonymise(_tables(raw), out=out, policy_path=policy, key=KEY)
    return {"tmp": tmp, "raw": raw, "policy": policy, "out": out, "result": result}


def test_no_raw_value_reaches_the_clean_zone(default_run):
    raw, out = default_run["raw"], default_run["out"]
    assert default_run["result"]["status"] == "passed"
    assert sorted(p.name for p in out.iterdir()) == [
        "customers.parquet", "manifest.json", "privacy_report.html", "privacy_report.json", "transactions.parquet"]
    values = {
        "CN_RESIDENT_ID": set(CUSTOMERS["身份证号"]),
        "CN_MOBILE": {"13911223344", "13622334455", "13733445566", "15844556677", "18655667788", "13966778899"},
        "PERSON": set(CUSTOMERS["姓名"]) | {"公孙静怡"},
        "EMAIL_ADDRESS": set(CUSTOMERS["邮箱"]),
        "BANK_CARD": set(CARDS),
        "CN_ADDRESS": set(CUSTOMERS["地址"]),
        "CUSTOMER_NO": set(CUSTOMERS["客户号"]),
    }
    values["CN_RESIDENT_ID"] |= {v.upper() for v in CUSTOMERS["身份证号"]}
    assert len(_leaks(raw, values)) >= 5  # the check finds raw values where they are
    assert _leaks(out, values) == []
    customers = pd.read_parquet(out / "customers.parquet")
    assert "姓名" not in customers.columns and "出生日期" not in customers.columns and "地址" not in customers.columns
    assert {"birth_year", "province", "city"} <= set(customers.columns)  # policy publish: birth_year
    for col in ("客户号", "身份证号", "手机号", "邮箱"):
        assert customers[col].str.fullmatch(TOKEN_PATTERN).all(), col
    assert pd.api.types.is_float_dtype(customers["余额"]) and customers["余额"].sum() == pytest.approx(1090499.47)
    assert pd.api.types.is_integer_dtype(customers["产品数"])
    assert customers["备注"].str.contains("<手机号>").any()
    # The clean zone passes the privacy firewall.
    assert require_clean_table(out / "customers.parquet").key_fingerprint == key_fingerprint(KEY)


def test_tokens_join_across_tables_and_runs_and_change_with_the_key(tmp_path, default_run):
    raw, policy = default_run["raw"], default_run["policy"]
    (tmp_path / "a").symlink_to(default_run["out"], target_is_directory=True)
    pseudonymise(_tables(raw), out=tmp_path / "b", policy_path=policy, key=KEY)
    pseudonymise(_tables(raw), out=tmp_path / "c", policy_path=policy, key=OTHER_KEY)
    a_cust = pd.read_parquet(tmp_path / "a" / "customers.parquet")
    a_txn = pd.read_parquet(tmp_path / "a" / "transactions.parquet")
    b_cust = pd.read_parquet(tmp_path / "b" / "customers.parquet")
    c_cust = pd.read_parquet(tmp_path / "c" / "customers.parquet")
    joined = a_txn.merge(a_cust, on="客户号", how="left")
    assert joined["birth_year"].notna().all()  # every transaction finds its customer
    assert a_cust["客户号"].tolist() == b_cust["客户号"].tolist()
    assert a_cust["手机号"].tolist() == b_cust["手机号"].tolist()
    assert set(a_cust["客户号"]).isdisjoint(c_cust["客户号"])
    assert a_txn["卡号"].iloc[0] != a_txn["卡号"].iloc[1]
    assert pd.api.types.is_float_dtype(a_txn["金额"])
    for out in ("a", "b", "c"):  # the key itself is never written
        data = _all_bytes(tmp_path / out)
        assert KEY not in data and OTHER_KEY not in data


def test_manifest_and_malformed_counts(default_run):
    out = default_run["out"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for key in ("manifest_id", "status", "created_at", "tool_version", "policy_hash", "key_fingerprint", "inputs",
                "outputs", "columns", "k_anonymity", "residual_scan"):
        assert key in manifest, key
    assert re.fullmatch(r"[0-9a-f]{32}", manifest["manifest_id"])
    assert manifest["residual_scan"] == {"clean": True, "findings": 0}
    assert {o["file"] for o in manifest["outputs"]} == {"customers.parquet", "transactions.parquet"}
    assert manifest["columns"]["customers"]["出生日期"] == {"entity": "BIRTH_DATE", "action": "generalise",
                                                         "outputs": ["birth_year"]}
    assert manifest["columns"]["customers"]["姓名"]["action"] == "drop"
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    ids = next(r for r in report["inventory"] if r["column"] == "身份证号")
    assert ids["entity"] == "CN_RESIDENT_ID" and ids["malformed"] == 1 and ids["jrt_category"] == "C2"
    assert pq.read_table(out / "customers.parquet").num_rows == 6


def test_gbk_input_gives_the_same_tokens(tmp_path, default_run):
    gbk = tmp_path / "g"
    gbk.mkdir()
    pseudonymise(_tables(_raw(gbk, encoding="gbk")), out=gbk / "clean", policy_path=default_run["policy"], key=KEY)
    a = pd.read_parquet(default_run["out"] / "customers.parquet")
    b = pd.read_parquet(gbk / "clean" / "customers.parquet")
    assert a["身份证号"].tolist() == b["身份证号"].tolist()
    manifest = json.loads((gbk / "clean" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["inputs"][0]["encoding"] == "gb18030"


def test_failed_residual_scan_publishes_no_table_but_writes_both_reports(tmp_path):
    raw = _raw(tmp_path)
    out = tmp_path / "clean"
    pseudonymise(_tables(raw), out=out, policy_path=_policy(tmp_path), key=KEY)  # an earlier, passing run
    policy = _policy(tmp_path, columns={"customers.手机号": {"action": "keep"}})
    with pytest.raises(PolicyNotMetError, match="residual scan") as info:
        pseudonymise(_tables(raw), out=out, policy_path=policy, key=KEY)
    assert "13911223344" not in str(info.value)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "privacy_report.html", "privacy_report.json"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["outputs"] == []
    assert manifest["residual_scan"]["clean"] is False and manifest["residual_scan"]["findings"] >= 1
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    assert report["status"] == "failed"
    assert "WARNING: 1 kept as they are by the policy." in report["summary"]["en"][1]
    assert "警告：策略保留了 1 个原值字段" in report["summary"]["zh"][1]
    html = (out / "privacy_report.html").read_text(encoding="utf-8")
    assert "13911223344" not in html and "1122-3344" not in html


def test_k_anonymity_failure_fails_the_policy(tmp_path):
    raw = _raw(tmp_path)
    policy = _policy(tmp_path, k_anonymity={"k": 3, "quasi_identifiers": ["AGE", "GENDER", "CITY"],
                                            "on_violation": "fail"})
    with pytest.raises(PolicyNotMetError, match="k-anonymity"):
        pseudonymise(_tables(raw), out=tmp_path / "clean", policy_path=policy, key=KEY)
    assert not list((tmp_path / "clean").glob("*.parquet"))
    manifest = json.loads((tmp_path / "clean" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["k_anonymity"]["customers"]["met"] is False


def test_suppression_reaches_k(tmp_path):
    raw = _raw(tmp_path)
    policy = _policy(tmp_path, k_anonymity={"k": 2, "quasi_identifiers": ["GENDER"], "on_violation": "suppress"})
    result = pseudonymise(_tables(raw), out=tmp_path / "clean", policy_path=policy, key=KEY)
    k = result["k_anonymity"]["customers"]
    assert k["met"] is True and k["suppressed_records"] == 0 and k["min_class_size"] == 2


@pytest.mark.parametrize(("content", "encoding", "message"), [
    (b"", None, "empty"),
    (b"   \n", None, "empty"),
    ("手机号\n13911223344\n".encode("gbk"), "ascii", "cannot decode"),
    (b"a,b\n", None, "no rows"),
])
def test_bad_input_is_refused_and_nothing_is_published(tmp_path, content, encoding, message):
    raw = tmp_path / "bad.csv"
    raw.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        pseudonymise({"bad": raw}, out=tmp_path / "clean", policy_path=None, key=KEY, encoding=encoding)
    assert "\n" not in str(info.value) and "13911223344" not in str(info.value)
    assert not (tmp_path / "clean").exists()


def test_identifier_inside_a_kept_short_text_column_fails_the_residual_scan(tmp_path):
    raw = tmp_path / "memo.csv"
    pd.DataFrame({"状态": ["无", "已办结", "手机13911223344已更新", "无", "已办结", "无"],
                  "金额": ["1", "2", "3", "4", "5", "6"]}).to_csv(raw, index=False)
    policy = _policy(tmp_path, columns={"memo.状态": {"action": "keep"}})
    with pytest.raises(PolicyNotMetError, match="residual scan"):
        pseudonymise({"memo": raw}, out=tmp_path / "clean", policy_path=policy, key=KEY)
    report = json.loads((tmp_path / "clean" / "privacy_report.json").read_text(encoding="utf-8"))
    assert report["residual_scan"]["details"][0]["entity"] == "CN_MOBILE"
    assert report["residual_scan"]["details"][0]["column"] == "状态"


def test_token_mode_in_text_matches_the_column_tokens(tmp_path, default_run):
    policy = _policy(tmp_path, free_text={"action": "redact", "mode": "token"})
    pseudonymise(_tables(default_run["raw"]), out=tmp_path / "clean", policy_path=policy, key=KEY)
    customers = pd.read_parquet(tmp_path / "clean" / "customers.parquet")
    note = customers["备注"].iloc[0]
    assert "13911223344" not in note and "<手机号>" not in note
    assert customers["手机号"].iloc[0] in note  # the note's mobile joins to the mobile column


# -- issue 12: lossless output, residual scan over every dtype, quasi-identifiers -----------------

def _wide_extract(n=60):
    """A bank extract from another system: English/pinyin/opaque headers, job titles, cities."""
    import numpy as np

    rng = np.random.default_rng(21)

    def card():
        body = "622588" + "".join(str(d) for d in rng.integers(0, 10, 12))
        return _card(body)

    def failing_serial():  # 18 digits that are neither a valid ID nor a Luhn-valid card
        while True:
            s = "9" + "".join(str(d) for d in rng.integers(0, 10, 17))
            if not luhn_valid_array(np.array([s], dtype=object))[0]:
                return s

    def failing_contract():  # 16 digits, a card prefix, wrong Luhn digit
        body = "6225" + "".join(str(d) for d in rng.integers(0, 10, 11))
        good = luhn_check_digit(body)
        return body + ("1" if good != "1" else "2")

    return pd.DataFrame({
        "cust_no": [f"KH{1000000000 + i}" for i in range(n)],
        "account_no": [card() for _ in range(n)],
        "branch_code": [f"{rng.integers(0, 1000):06d}" for _ in range(n)],       # leading zeros
        "serial_no": [failing_serial() for _ in range(n)],
        "contract_no": [failing_contract() for _ in range(n)],
        "occupation": rng.choice(["储备经理人", "商务经理", "管家部经理", "客户经理"], n),
        "city": rng.choice(["杭州市", "深圳市"], n),
        "discount": [f"{x:.2f}" for x in rng.random(n)],
        "account_count": rng.integers(0, 5, n).astype(str),
        # addresses without 号 or 室: province + city + district + road + building letter + postcode
        "lxdz": [f"浙江省杭州市西湖区文{i}路电子大厦{'ABCD'[i % 4]}座，邮编3100{i % 90 + 10}" for i in range(n)],
    })


def test_wide_extract_is_published_losslessly_with_quasi_identifiers(tmp_path):
    from privacy.policy import load_policy
    from privacy.pseudonymise import pseudonymise_frames

    raw = _wide_extract()
    result = pseudonymise_frames({"extract": raw}, policy=load_policy(_policy(tmp_path)), key=KEY)[0]
    out = result.frame
    assert result.residual == []  # job titles are not taken for names: the run is not refused
    by_col = {c.column: c for c in result.columns}
    assert by_col["account_no"].action == "token" and out["account_no"].str.fullmatch(TOKEN_PATTERN).all()
    for col in ("branch_code", "serial_no", "contract_no"):  # text, unchanged, never scientific notation
        assert by_col[col].action == "keep" and pd.api.types.is_string_dtype(out[col])
        assert out[col].tolist() == raw[col].tolist()
    assert out["discount"].dtype == "float64" and out["account_count"].dtype == "int64"
    assert by_col["occupation"].entity == E.OCCUPATION and by_col["city"].entity == E.CITY
    assert {"occupation", "city"} <= set(result.k_anonymity["quasi_identifiers"])
    assert by_col["lxdz"].entity == E.CN_ADDRESS and by_col["lxdz"].action == "generalise"
    assert "lxdz" not in out.columns and set(out["province"]) == {"浙江省"} and set(out["lxdz_city"]) == {"杭州市"}


def test_wide_extract_end_to_end_parquet_keeps_types(tmp_path):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    raw = _wide_extract()
    raw.to_csv(raw_dir / "extract.csv", index=False)
    result = pseudonymise({"extract": raw_dir / "extract.csv"}, out=tmp_path / "clean",
                          policy_path=_policy(tmp_path), key=KEY)
    assert result["status"] == "passed"
    table = pq.read_table(tmp_path / "clean" / "extract.parquet")
    assert str(table.schema.field("serial_no").type) in ("string", "large_string")
    back = table.to_pandas()
    assert back["serial_no"].tolist() == raw["serial_no"].tolist()
    report = json.loads((tmp_path / "clean" / "privacy_report.json").read_text(encoding="utf-8"))
    rows = {r["column"]: r for r in report["inventory"]}
    assert rows["account_no"]["decided_by"] == "values+header" and "Luhn" in rows["account_no"]["evidence"]
    assert rows["city"]["decided_by"] == "values+header"
    html = (tmp_path / "clean" / "privacy_report.html").read_text(encoding="utf-8")
    assert "<td>values+header</td>" in html and "判定来源 Decided by" in html


@pytest.mark.parametrize(("values", "dtype", "unchanged"), [
    (["007", "12"], "string", True),                                 # leading zero
    (["123456789012345678", "223456789012345679"], "string", True),  # > 15 significant digits
    (["20240315", "20240316"], "string", True),                      # same-length 8-digit codes
    (["1e5", "2"], "string", True),                                  # exponent forms stay as written
    (["100", "2000000000"], "int64", False),                         # amounts become numbers
    (["1.25", "-3"], "float64", False),
])
def test_numbers_only_when_lossless(values, dtype, unchanged):
    out = numeric_if_possible(pd.Series(values, dtype="string"))
    assert str(out.dtype).startswith(dtype) or (dtype == "string" and pd.api.types.is_string_dtype(out))
    if unchanged:
        assert out.tolist() == values


def test_residual_scan_covers_numeric_columns():
    import numpy as np

    from privacy.scan import residual_findings

    card = int(_card("622848040256489001"))
    amounts = np.arange(100, 160, dtype="int64")
    dirty = pd.DataFrame({"amount": np.r_[amounts, [card]].astype("int64")})
    found = residual_findings(dirty, "t")
    assert [(f["column"], f["entity"], f["count"]) for f in found] == [("amount", "BANK_CARD", 1)]
    big = _card("999999999999999999")  # 19 digits, above int64: held as uint64
    unsigned = pd.DataFrame({"ref": np.array([*map(int, amounts), int(big)], dtype="uint64")})
    assert [f["entity"] for f in residual_findings(unsigned, "t")] == ["BANK_CARD"]
    # near misses: plain amounts, and a float column printed without scientific notation
    assert residual_findings(pd.DataFrame({"amount": amounts}), "t") == []
    floats = pd.DataFrame({"x": np.r_[amounts.astype(float), [float(13912345678)]]})
    assert [f["entity"] for f in residual_findings(floats, "t")] == ["CN_MOBILE"]


def test_residual_scan_ignores_chance_luhn_passes_in_a_serial_column_but_not_cards():
    import numpy as np

    from privacy.scan import residual_findings

    rng = np.random.default_rng(22)
    serials = ["6" + "".join(str(d) for d in rng.integers(0, 10, 17)) for _ in range(200)]
    passes = luhn_valid_array(np.array(serials, dtype=object)).mean()
    assert 0.02 < passes < 0.2  # some pass Luhn by chance, as in a real serial column
    assert residual_findings(pd.DataFrame({"serial": serials}), "t") == []
    cards = [_card(s[:17]) for s in serials[:60]] + serials[60:80]  # 75% real cards: not chance
    assert {f["entity"] for f in residual_findings(pd.DataFrame({"ref": cards}), "t")} == {"BANK_CARD"}

