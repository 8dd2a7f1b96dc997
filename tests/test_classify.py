"""Column classification: values decide, headers help; business and categorical columns are not PII."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privacy import entities as E
from privacy.checksums import gb11643_check_digit, luhn_check_digit
from privacy.classify import ColumnFinding, classify_columns, header_hints

N = 120


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    out = []
    for _ in range(n):
        body = (f"{rng.choice(['110105', '440305', '310104', '510107'])}"
                f"{rng.integers(1950, 2000)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
                f"{rng.integers(0, 1000):03d}")
        out.append(body + gb11643_check_digit(body))
    return out


def _cards(rng: np.random.Generator, n: int) -> list[str]:
    out = []
    for _ in range(n):
        body = "622848" + "".join(str(d) for d in rng.integers(0, 10, 12))
        out.append(body + luhn_check_digit(body))
    return out


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    """A bank extract with Chinese/pinyin headers and messy formats, all as text."""
    rng = np.random.default_rng(3)
    ids = _ids(rng, N)
    ids[::10] = [i[:-1] + ("0" if i[-1] != "0" else "1") for i in ids[::10]]  # 10% typos
    ids[1::15] = [i[:-1] + "x" if i.endswith("X") else i for i in ids[1::15]]
    mobiles = [f"{p}{rng.integers(0, 10**8):08d}" for p in rng.choice(["138", "159", "186"], N)]
    styles = ["{}", "+86 {}", "0086-{}", "１３９{}"]
    mob = []
    for i, m in enumerate(mobiles):
        s = styles[i % 4]
        mob.append(s.format(m[3:]) if s.startswith("１") else s.format(m))
    surnames = ["王", "李", "张", "欧阳", "司马", "陈"]
    given = ["伟", "娜", "小明", "建国", "婷婷", "磊"]
    return pd.DataFrame({
        "客户号": [f"KH{i:010d}" for i in range(N)],
        "XM": [f"{surnames[i % 6]}{given[(i * 7) % 6]}" for i in range(N)],
        "性别": rng.choice(["男", "女"], N),
        "ZJHM": ids,
        "SJHM": mob,
        "卡号": [c if i % 3 else f"{c[:4]} {c[4:8]} {c[8:12]} {c[12:16]} {c[16:]}"
                for i, c in enumerate(_cards(rng, N))],
        "邮箱": [f"user{i}@163.com" for i in range(N)],
        "CSRQ": [f"{rng.integers(1950, 2000)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}" for _ in range(N)],
        "开户日期": [f"{rng.integers(2015, 2024)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}" for _ in range(N)],
        "txn_time": [f"2024-0{rng.integers(1, 10)}-1{rng.integers(0, 10)} 10:{rng.integers(10, 60)}:00" for _ in range(N)],
        "地址": [f"广东省深圳市南山区科技路{i + 1}号" for i in range(N)],
        "余额": [f"{x:.2f}" for x in rng.random(N) * 1e5],
        # long integers under a business header (not mobile-shaped: values that pass an identifier
        # check are never downgraded by a header, see test_header_never_downgrades_identifiers)
        "aum": [str(int(x)) for x in rng.integers(20_000_000_000, 29_999_999_999, N)],
        "交易笔数": rng.integers(0, 40, N).astype(str),
        "年龄": rng.integers(18, 90, N).astype(str),
        "channel": rng.choice(["mobile_app", "atm", "counter"], N),
        "职业": rng.choice(["教师", "退休", "个体经营", "公务员"], N),
        "学历": rng.choice(["本科", "硕士", "大专"], N),
        "城市": rng.choice(["深圳市", "广州市", "北京市"], N),
        "备注": [f"客户来电咨询理财产品第{i}期收益情况，已解答并登记回访" for i in range(N)],
        "token": [f"tk_{rng.integers(0, 2**62):016x}" for _ in range(N)],
    })


@pytest.fixture(scope="module")
def findings(messy) -> dict[str, ColumnFinding]:
    return {f.column: f for f in classify_columns(messy, "customers", sample_size=500)}


@pytest.mark.parametrize(("column", "entity", "kind"), [
    ("客户号", E.CUSTOMER_NO, "identifier"),
    ("XM", E.PERSON, "identifier"),
    ("ZJHM", E.CN_RESIDENT_ID, "identifier"),
    ("SJHM", E.CN_MOBILE, "identifier"),
    ("卡号", E.BANK_CARD, "identifier"),
    ("邮箱", E.EMAIL_ADDRESS, "identifier"),
    ("CSRQ", E.BIRTH_DATE, "identifier"),
    ("地址", E.CN_ADDRESS, "identifier"),
    ("性别", E.GENDER, "quasi_identifier"),
    ("年龄", E.AGE, "quasi_identifier"),
    ("职业", E.OCCUPATION, "quasi_identifier"),
    ("学历", E.EDUCATION, "quasi_identifier"),
    ("城市", E.CITY, "quasi_identifier"),
    ("备注", E.FREE_TEXT, "text"),
    ("开户日期", E.NONE, "other"),
    ("txn_time", E.NONE, "other"),
    ("余额", E.NONE, "other"),
    ("aum", E.NONE, "other"),
    ("交易笔数", E.NONE, "other"),
    ("channel", E.NONE, "other"),
    ("token", E.NONE, "other"),
])
def test_messy_table_with_chinese_headers(findings, column, entity, kind):
    f = findings[column]
    assert (f.entity, f.kind) == (entity, kind), f.evidence
    assert 0.0 <= f.confidence <= 1.0


def test_ids_with_typos_are_still_ids_with_valid_share(findings):
    f = findings["ZJHM"]
    assert 0.85 <= f.valid_share < 0.95
    assert "valid GB 11643 IDs" in f.evidence and "header hint" in f.evidence


def test_evidence_never_holds_a_value(messy, findings):
    for col, f in findings.items():
        for value in messy[col].head(20):
            if len(str(value)) >= 5:  # short values (counts, ages) are numbers evidence may hold
                assert str(value) not in f.evidence


def test_header_alone_never_decides():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "身份证号": [f"{x:.2f}" for x in rng.random(50) * 1000],   # amounts under an ID header
        "姓名": rng.choice(["男", "女"], 50),                      # gender under a name header
        "c7": _ids(rng, 50),                                      # IDs without any header hint
        "col_x": _cards(rng, 50),
    })
    got = {f.column: f.entity for f in classify_columns(frame, "t")}
    assert got == {"身份证号": E.NONE, "姓名": E.GENDER, "c7": E.CN_RESIDENT_ID, "col_x": E.BANK_CARD}


def test_birth_dates_without_header_by_range_but_recent_dates_are_not():
    rng = np.random.default_rng(1)
    old = [f"{y}-{m:02d}-{d:02d}" for y, m, d in zip(rng.integers(1940, 2000, 80), rng.integers(1, 13, 80),
                                                        rng.integers(1, 29, 80), strict=True)]
    recent = [f"2024-{m:02d}-{d:02d}" for m, d in zip(rng.integers(1, 13, 80), rng.integers(1, 29, 80), strict=True)]
    got = {f.column: f.entity for f in classify_columns(pd.DataFrame({"d1": old, "d2": recent}), "t")}
    assert got == {"d1": E.BIRTH_DATE, "d2": E.NONE}


def test_numeric_dtypes_and_missing_values():
    frame = pd.DataFrame({"deposit_balance": np.linspace(0, 1e6, 40), "n": np.arange(40),
                          "empty": [None] * 40, "mobile": [13812345678 + i for i in range(40)]})
    got = {f.column: f.entity for f in classify_columns(frame, "t")}
    assert got == {"deposit_balance": E.NONE, "n": E.NONE, "empty": E.NONE, "mobile": E.CN_MOBILE}


def test_to_dict_and_sampling_is_deterministic(messy):
    a = [f.to_dict() for f in classify_columns(messy, "t", sample_size=50, seed=7)]
    b = [f.to_dict() for f in classify_columns(messy, "t", sample_size=50, seed=7)]
    assert a == b
    assert set(a[0]) == {"column", "entity", "confidence", "evidence", "valid_share", "kind", "dtype", "decided_by"}


@pytest.mark.parametrize(("header", "hint"), [
    ("ZJHM", E.CN_RESIDENT_ID), ("证件号码", E.CN_RESIDENT_ID), ("SJHM", E.CN_MOBILE),
    ("KHH", E.CUSTOMER_NO), ("XM", E.PERSON), ("CSRQ", E.BIRTH_DATE), ("DZ", E.CN_ADDRESS),
    ("YX", E.EMAIL_ADDRESS), ("card_no", E.BANK_CARD), ("customer_no", E.CUSTOMER_NO),
])
def test_header_hints(header, hint):
    assert hint in header_hints(header)


@pytest.mark.parametrize(("entity", "raw", "canonical"), [
    (E.CN_MOBILE, ["138-1234-5678", "+86 138 1234 5678", "0086-13812345678", "(+86)13812345678",
                   "１３８１２３４５６７８", "'13812345678", "13812345678.0", " 13812345678 "], "13812345678"),
    (E.CN_RESIDENT_ID, ["11010519491231002x", "110105 19491231 002X", "１１０１０５１９４９１２３１００２Ｘ"],
     "11010519491231002X"),
    (E.BANK_CARD, ["6222 0212 3456 7890 123", "6222-0212-3456-7890-123", "'6222021234567890123"],
     "6222021234567890123"),
    (E.EMAIL_ADDRESS, ["Zhang.San@163.COM", " zhang.san@163.com "], "zhang.san@163.com"),
    (E.CUSTOMER_NO, ["kh0000012345", "KH 0000012345"], "KH0000012345"),
    (E.PERSON, ["张 三", "张三"], "张三"),
])
def test_canonical_identifier_makes_messy_forms_equal(entity, raw, canonical):
    from privacy.normalise import canonical_identifier

    out = canonical_identifier(pd.Series(raw + [None]), entity)
    assert out.iloc[:-1].tolist() == [canonical] * len(raw)
    assert pd.isna(out.iloc[-1])


def test_normalise_series_cleans_spreadsheet_artifacts():
    from privacy.normalise import normalise_series

    out = normalise_series(pd.Series(["'00123", "13812345678.0", "  ", "１２３.50", None, 42]))
    assert out.tolist()[:2] == ["00123", "13812345678"]
    assert pd.isna(out.iloc[2]) and out.iloc[3] == "123.50" and pd.isna(out.iloc[4]) and out.iloc[5] == "42"


# -- fail-closed classification (issue 12): whole-token header hints, values decide ----------

def _frame_of(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


@pytest.mark.parametrize(("header", "tokens"), [
    ("account_no", ["account", "no"]), ("AcctNo", ["acct", "no"]), ("CERTNo", ["cert", "no"]),
    ("mobile-no 2", ["mobile", "no", "2"]), ("col_07", ["col", "07"]), ("f12", ["f", "12"]),
    ("客户证件号码", ["客", "户", "证件号码"]), ("交易次数", ["交易", "次数"]),
])
def test_header_tokens(header, tokens):
    from privacy.classify import header_tokens

    assert header_tokens(header) == tokens


@pytest.mark.parametrize(("header", "hint"), [
    ("账号", E.BANK_CARD), ("卡号", E.BANK_CARD), ("户名", E.PERSON), ("证件号码", E.CN_RESIDENT_ID),
    ("联系电话", E.CN_MOBILE), ("联系地址", E.CN_ADDRESS), ("acct_no", E.BANK_CARD), ("account_no", E.BANK_CARD),
    ("card_nbr", E.BANK_CARD), ("CardNo", E.BANK_CARD), ("cert_no", E.CN_RESIDENT_ID), ("id_no", E.CN_RESIDENT_ID),
    ("cust_name", E.PERSON), ("mobile_no", E.CN_MOBILE), ("tel", E.CN_MOBILE), ("yhkh", E.BANK_CARD),
    ("khmc", E.PERSON), ("lxdz", E.CN_ADDRESS), ("KHH", E.CUSTOMER_NO), ("occupation", E.OCCUPATION),
    ("city", E.CITY), ("district", E.DISTRICT), ("marital_status", E.MARITAL_STATUS), ("employer", E.EMPLOYER),
])
def test_bank_extract_headers_are_hints(header, hint):
    assert hint in header_hints(header)


@pytest.mark.parametrize(("header", "not_hint"), [
    ("discount", E.BANK_CARD),          # "count" is not a token of "discount"
    ("company", E.BANK_CARD),           # "pan" is inside "company", not a token of it
    ("hotel_code", E.CN_MOBILE),        # "tel" is inside "hotel"
    ("product_name", E.PERSON),         # a lone "name" hints a person only as the whole header
    ("mileage", E.AGE),                 # "age" is inside "mileage"
    ("col_07", E.CN_RESIDENT_ID),
])
def test_header_substrings_are_not_hints(header, not_hint):
    assert not_hint not in header_hints(header)


def test_luhn_cards_under_account_no_are_cards_not_a_count_column():
    rng = np.random.default_rng(12)
    cards = [c for c in _cards(rng, 200)]
    got = {f.column: f for f in classify_columns(_frame_of(account_no=cards, acct_no=cards), "t")}
    for col in ("account_no", "acct_no"):
        assert got[col].entity == E.BANK_CARD and got[col].valid_share == 1.0
        assert got[col].decided_by == "values+header"
        assert "Luhn-valid" in got[col].evidence and f"token '{col}'" in got[col].evidence


def test_business_columns_whose_names_contain_hint_substrings_stay_business():
    rng = np.random.default_rng(13)
    frame = _frame_of(discount=[f"{x:.2f}" for x in rng.random(100)],
                      account_count=rng.integers(0, 9, 100).astype(str),
                      account_balance=[f"{x:.2f}" for x in rng.random(100) * 1e5])
    assert {f.column: f.entity for f in classify_columns(frame, "t")} == dict.fromkeys(frame.columns, E.NONE)


def test_header_never_downgrades_identifiers():
    """A business header over values that pass an identifier check is ignored (fail closed)."""
    rng = np.random.default_rng(14)
    mobiles = [f"1{rng.choice(['38', '59', '86'])}{rng.integers(0, 10**8):08d}" for _ in range(100)]
    frame = _frame_of(aum=mobiles, amount=_cards(rng, 100), cnt=_ids(rng, 100),
                      score=[f"user{i}@example.cn" for i in range(100)])
    got = {f.column: f for f in classify_columns(frame, "t")}
    assert {c: f.entity for c, f in got.items()} == {
        "aum": E.CN_MOBILE, "amount": E.BANK_CARD, "cnt": E.CN_RESIDENT_ID, "score": E.EMAIL_ADDRESS}
    assert all("business header ignored" in f.evidence for c, f in got.items() if c != "score")


def test_opaque_headers_are_classified_from_values_alone():
    rng = np.random.default_rng(15)
    frame = _frame_of(col_07=_ids(rng, 100), f12=_cards(rng, 100),
                      c3=[f"1{rng.choice(['38', '59', '86'])}{rng.integers(0, 10**8):08d}" for _ in range(100)])
    got = {f.column: f for f in classify_columns(frame, "t")}
    assert {c: f.entity for c, f in got.items()} == {"col_07": E.CN_RESIDENT_ID, "f12": E.BANK_CARD,
                                                     "c3": E.CN_MOBILE}
    assert {f.decided_by for f in got.values()} == {"values"}
    assert all("header hint" not in f.evidence for f in got.values())


def test_distinct_codes_under_an_account_header_fail_closed_but_serials_do_not():
    """acct_no of a non-card format is still an account identifier; the same codes under a
    neutral header are business data (and failing Luhn, not cards)."""
    rng = np.random.default_rng(16)
    codes = [f"{rng.integers(10**11, 10**12)}" for _ in range(100)]
    got = {f.column: f for f in classify_columns(_frame_of(acct_no=codes, contract_serial=codes), "t")}
    assert got["acct_no"].entity == E.BANK_CARD and got["acct_no"].decided_by == "header"
    assert got["contract_serial"].entity == E.NONE


JOB_TITLES = ["储备经理人", "商务经理", "管家部经理", "客户经理", "软件工程师", "理财顾问", "大堂经理", "行政主管",
              "前台接待员", "销售总监"]


def test_job_titles_are_occupations_not_names():
    rng = np.random.default_rng(17)
    frame = _frame_of(occupation=rng.choice(JOB_TITLES, 150), col_09=rng.choice(JOB_TITLES, 150),
                      name=rng.choice(["王建国", "欧阳娜娜", "李伟", "张三丰", "商颖", "管仲"], 150))
    got = {f.column: f for f in classify_columns(frame, "t")}
    assert got["occupation"].entity == E.OCCUPATION and got["occupation"].kind == E.KIND_QUASI
    assert got["col_09"].entity == E.OCCUPATION and got["col_09"].decided_by == "values"
    assert got["name"].entity == E.PERSON  # near miss: real names (商, 管 are surnames too) stay names


@pytest.mark.parametrize(("header", "values", "entity"), [
    ("city", ["杭州市", "深圳", "北京市", "成都市", "武汉"], E.CITY),
    ("c1", ["浙江省", "广东省", "四川", "江苏省"], E.CITY),
    ("区县", ["西湖区", "南山区", "武侯区", "余杭区"], E.DISTRICT),
    ("c2", ["西湖区", "南山区", "武侯区", "余杭区"], E.DISTRICT),
    ("marital", ["已婚", "未婚", "离异"], E.MARITAL_STATUS),
    ("employer", ["杭州某某科技有限公司", "中国工商银行深圳分行", "浙江大学", "某某医院"], E.EMPLOYER),
    ("education", ["本科", "硕士", "大专"], E.EDUCATION),
])
def test_quasi_identifiers_by_header_token_and_by_values(header, values, entity):
    rng = np.random.default_rng(18)
    f = classify_columns(_frame_of(**{header: rng.choice(values, 120)}), "t")[0]
    assert (f.entity, f.kind) == (entity, E.KIND_QUASI), f.evidence


def test_addresses_without_number_or_room_are_an_address_column():
    rng = np.random.default_rng(19)
    roads = ["文三路", "科技园路", "中山东路", "人民南路"]
    values = [f"浙江省杭州市西湖区{rng.choice(roads)}电子大厦{'ABCD'[i % 4]}座，邮编3100{i % 90 + 10}" for i in range(80)]
    got = {f.column: f for f in classify_columns(_frame_of(c5=values, lxdz=values), "t")}
    assert got["c5"].entity == E.CN_ADDRESS and got["c5"].decided_by == "values"
    assert got["lxdz"].entity == E.CN_ADDRESS and "token 'lxdz'" in got["lxdz"].evidence


def test_romanised_name_column_is_a_person_column_whatever_the_order():
    """An English-name column (Zhang Wei / Wei Zhang / CHEN CHIH-WEI) was kept as business data,
    so the residual scan refused the whole extract; product names are not people."""
    given = ["Wei", "Na", "Jianguo", "Xiaoming", "Fang", "Lei", "Chih-Wei", "Yan"]
    surnames = ["Zhang", "Wang", "Li", "Chen", "Liu", "Ouyang"]
    names = [f"{surnames[i % 6]} {given[i % 8]}" if i % 2 else f"{given[i % 8]} {surnames[i % 6]}".upper()
             for i in range(120)]
    frame = pd.DataFrame({"col_21": names, "product": ["Long Term Deposit", "Gold Card", "Wealth Plus"] * 40,
                          "city_en": ["Shanghai", "Beijing", "Hangzhou", "Shenzhen"] * 30})
    found = {f.column: f.entity for f in classify_columns(frame, "t")}
    assert found["col_21"] == E.PERSON
    assert found["product"] == E.NONE and found["city_en"] != E.PERSON
