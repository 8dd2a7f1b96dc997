"""Tests of features/: point-in-time correctness, labels, validation, dictionary and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from features.build import build_features, compute_features
from features.config import FeatureConfig, LifecycleConfig
from features.dictionary import write_dictionary
from features.lifecycle import assign_stage
from features.registry import (
    EXTRACT,
    FEATURES,
    ID_COLUMN,
    LABEL_COLUMNS,
    LABELS,
    OPT_IN_FEATURES,
    PROTECTED_DEFAULT,
    feature_names,
    selected_features,
    table_columns,
)
from kequn.errors import FeatureError, KequnError, LineageError
from kequn.lineage import read_parquet_lineage, require_clean_table
from pipelines.cli.main import main
from tests.conftest import TEST_KEY_FINGERPRINT

SNAP = dt.date(2024, 6, 30)
HORIZON = 90
END = SNAP + dt.timedelta(days=HORIZON)  # 2024-09-28, the last day labels see
TS = pd.Timestamp


def bank() -> dict[str, pd.DataFrame]:
    """A tiny clean zone: A steady, B new without history, C closed before, D closes, E's AUM falls."""
    customers = pd.DataFrame({
        "customer_no": ["tk_a", "tk_b", "tk_c", "tk_d", "tk_e"],
        "gender": ["男", "女", "男", "女", None],
        # the published birth year-month; B turns 30 in July (after the snapshot), E has none
        "birth_month": ["1990-01", "1994-07", "1960-03", "1980-06", None],
        # the extract's current values (after the snapshot for some): not read by default
        "province": ["广东省"] * 5,
        "city": ["广州市", "广州市", "深圳市", "深圳市", "广州市"],
        "occupation": ["企业管理者", "学生", "退休", "公务员", "个体经营"],
        "education": ["本科", "本科", "高中", "硕士", "大专"],
        "risk_level": ["R5", "R2", "R1", "R4", "R5"],
        "branch_code": ["BR001"] * 5,
        "open_date": pd.to_datetime(["2020-01-01", "2024-05-15", "2019-01-01", "2021-03-01", "2021-06-01"]),
        "close_date": pd.to_datetime([None, None, "2024-03-01", "2024-08-15", None]),
    })
    months = pd.date_range("2024-01-31", "2024-12-31", freq="ME")
    rows = []
    for cid in ("tk_a", "tk_c", "tk_d", "tk_e"):
        for i, me in enumerate(months):
            aum = 100_000.0 + 1_000 * i
            if cid == "tk_e" and me > TS("2024-06-30"):
                aum = 40_000.0
            rows.append({"customer_no": cid, "month_end": me, "deposit_balance": aum * 0.5,
                         "wealth_balance": aum * 0.3, "fund_balance": aum * 0.1, "insurance_balance": aum * 0.1,
                         "aum": aum,
                         # A's card: 5,000 of 20,000 used at the snapshot month-end, more later
                         "credit_limit": 20_000.0 if cid == "tk_a" else 0.0,
                         "credit_used_amount": (5_000.0 if me <= TS("2024-06-30") else 15_000.0)
                         if cid == "tk_a" else 0.0,
                         # D's loan amortises: 60,000 outstanding at the snapshot month-end
                         "loan_balance": 60_000.0 - 1_000 * (i - 5) if cid == "tk_d" else 0.0})
    accounts = pd.DataFrame(rows)
    transactions = pd.DataFrame({
        "txn_id": ["T1", "T2", "T3", "T4", "T5", "T6"],
        "customer_no": ["tk_a", "tk_a", "tk_a", "tk_a", "tk_d", "tk_e"],
        "card_no": ["tk_card1"] * 4 + ["tk_card2", "tk_card3"],
        "txn_time": pd.to_datetime(["2024-06-30 23:59:59", "2024-06-10 10:00:00", "2024-04-15 09:00:00",
                                    "2024-01-01 08:00:00", "2024-06-01 12:00:00", "2024-02-01 12:00:00"]),
        "amount": [100.0, 5000.0, 300.0, 50.0, 20.0, 80.0],
        "direction": ["out", "in", "out", "in", "out", "in"],
        "channel": ["mobile_app", "counter", "online", "atm", "pos", "counter"],
        "txn_type": ["consumption", "salary", "transfer", "interest", "consumption", "salary"],
    })
    products = pd.DataFrame({
        "holding_id": ["H1", "H2", "H3", "H4"],
        "customer_no": ["tk_a", "tk_a", "tk_a", "tk_d"],
        "product_type": ["time_deposit", "credit_card", "wealth", "loan"],
        "open_date": pd.to_datetime(["2023-12-01", "2022-01-01", "2024-05-01", "2023-01-01"]),
        "maturity_date": pd.to_datetime(["2024-07-20", None, "2024-09-15", "2026-01-01"]),
        "close_date": pd.to_datetime([None, None, None, None]),
        "amount": [50_000.0, 20_000.0, 30_000.0, 100_000.0],
        "used_amount": [0.0, 5_000.0, 0.0, 60_000.0],
        "rate_sensitive": [1, 0, 0, 0],
    })
    campaigns = pd.DataFrame({
        "campaign_id": ["C0", "C1", "C1"],
        "customer_no": ["tk_a", "tk_d", "tk_e"],
        "campaign_date": pd.to_datetime(["2024-03-01", "2024-07-10", "2024-08-01"]),
        "channel": ["sms", "phone", "sms"],
        "treatment": [1, 1, 0],
        "response": [1, 1, 0],
        "response_date": pd.to_datetime(["2024-03-05", "2024-07-12", None]),
    })
    notes = pd.DataFrame({
        "note_id": ["N1", "N2", "N3"],
        "customer_no": ["tk_a", "tk_a", "tk_e"],
        "note_time": pd.to_datetime(["2024-06-20 10:00:00", "2024-02-01 10:00:00", "2024-06-29 09:00:00"]),
        "category": ["投诉", "咨询", "咨询"],
        "staff_no": ["tk_s1", "tk_s1", "tk_s2"],
        "note": ["客户<姓名>来电投诉", "咨询<手机号>", "业务"],
    })
    risk = pd.DataFrame({  # A was R3 at the snapshot and reassessed R5 after it; E's only one comes later
        "customer_no": ["tk_a", "tk_a", "tk_a", "tk_b", "tk_c", "tk_d", "tk_e"],
        "assessed_on": pd.to_datetime(["2020-01-01", "2022-01-05", "2024-08-01", "2024-05-15", "2019-01-01",
                                       "2021-03-01", "2024-07-15"]),
        "risk_level": ["R2", "R3", "R5", "R2", "R1", "R4", "R5"],
    })
    profile = pd.DataFrame({  # A moved to 广州 and was promoted after the snapshot
        "customer_no": ["tk_a", "tk_a", "tk_b", "tk_c", "tk_d", "tk_e"],
        "effective_from": pd.to_datetime(["2020-01-01", "2024-09-01", "2024-05-15", "2019-01-01", "2021-03-01",
                                          "2021-06-01"]),
        "occupation": ["企业职员", "企业管理者", "学生", "退休", "公务员", "个体经营"],
        "province": ["广东省"] * 6,
        "city": ["深圳市", "广州市", "广州市", "深圳市", "深圳市", "广州市"],
    })
    return {"customers": customers, "accounts_monthly": accounts, "transactions": transactions,
            "products": products, "campaigns": campaigns, "service_notes": notes, "risk_assessments": risk,
            "customer_profile_history": profile}


def add_rows(tables: dict[str, pd.DataFrame], table: str, rows: list[dict]) -> None:
    tables[table] = pd.concat([tables[table], pd.DataFrame(rows)], ignore_index=True)


def build(clean_zone_factory, tables, name="clean", snapshot=SNAP) -> pd.DataFrame:
    zone = clean_zone_factory(tables, name=name)
    frame, _ = compute_features(zone, snapshot, HORIZON)
    return frame.set_index(ID_COLUMN)


def test_table_matches_registry_and_carries_lineage_and_dictionary(clean_zone_factory, tmp_path):
    zone = clean_zone_factory(bank())
    out = tmp_path / "out" / "features.parquet"
    result = build_features(clean_dir=zone, snapshot=SNAP, out=out, horizon_days=HORIZON)
    frame = pd.read_parquet(out)
    assert list(frame.columns) == table_columns()
    assert set(frame[ID_COLUMN]) == {"tk_a", "tk_b", "tk_d", "tk_e"}  # tk_c closed before the snapshot
    for feat in (*selected_features(), *LABELS):
        assert str(frame[feat.name].dtype) == feat.dtype, feat.name
    assert "education" not in frame.columns  # an extract-time attribute is opt-in
    assert result["n_rows"] == 4 and result["n_features"] == len(FEATURES) - len(OPT_IN_FEATURES)
    assert set(result["label_rates"]) == set(LABEL_COLUMNS)
    lineage = read_parquet_lineage(out)
    assert lineage["kind"] == "features" and lineage["status"] == "passed"
    assert lineage["snapshot"] == "2024-06-30" and lineage["horizon_days"] == HORIZON
    assert lineage["key_fingerprint"] == TEST_KEY_FINGERPRINT
    assert require_clean_table(out).kind == "features"
    md, js = (tmp_path / "out" / "features.dictionary.md"), (tmp_path / "out" / "features.dictionary.json")
    assert [str(md), str(js)] == result["dictionary_paths"]
    data = json.loads(js.read_text(encoding="utf-8"))
    assert [f["name"] for f in data["features"]] == feature_names()
    assert "代发工资" in md.read_text(encoding="utf-8")
    assert "4 customers" in result["summary"]


def test_feature_values_and_explicit_missing(clean_zone_factory):
    f = build(clean_zone_factory, bank())
    a, b = f.loc["tk_a"], f.loc["tk_b"]
    # a record exactly on the snapshot day (23:59:59) is part of the features
    assert a["recency_days"] == 0 and a["txn_count_30d"] == 2 and a["txn_count_90d"] == 3
    assert a["txn_count_180d"] == 3  # the January interest credit is older than 180 days
    assert a["txn_amount_30d"] == pytest.approx(5100.0)
    assert a["salary_flag_90d"] == 1 and a["salary_share_90d"] == pytest.approx(1.0)
    assert a["inflow_outflow_ratio_90d"] == pytest.approx(5000 / 400)
    assert a["dormancy_days"] == 0
    assert a["share_mobile_app"] == pytest.approx(1 / 3) and a["digital_share"] == pytest.approx(2 / 3)
    assert a["aum"] == pytest.approx(105_000) and a["aum_change_3m"] == pytest.approx(105 / 102 - 1)
    assert a["value_tier"] == "potential"
    assert a["n_products"] == 3 and a["holds_credit_card"] == 1 and a["holds_fund"] == 0
    assert a["credit_card_utilisation"] == pytest.approx(0.25)  # the month-end at s, not the extract's 0.75
    assert a["maturing_30d"] == 1 and a["maturing_90d"] == 2 and a["rate_sensitive_maturing_90d"] == 1
    assert a["complaints_90d"] == 1 and a["service_contacts_90d"] == 1
    assert a["campaigns_before"] == 1 and a["campaign_responses_before"] == 1
    assert a["tenure_days"] == (SNAP - dt.date(2020, 1, 1)).days
    # no history: unknown is NaN, counts are true zeros, dormancy falls back to tenure
    assert b["has_transactions"] == 0 and np.isnan(b["recency_days"])
    assert b["txn_count_90d"] == 0 and np.isnan(b["share_mobile_app"]) and np.isnan(b["digital_share"])
    assert np.isnan(b["aum"]) and pd.isna(b["value_tier"]) and np.isnan(b["aum_change_3m"])
    assert np.isnan(b["credit_card_utilisation"]) and b["loan_outstanding"] == 0
    assert b["dormancy_days"] == b["tenure_days"] == (SNAP - dt.date(2024, 5, 15)).days
    assert b["lifecycle_stage"] == "acquisition"
    assert f.loc["tk_d", "loan_outstanding"] == 60_000 and f.loc["tk_d", "holds_loan"] == 1
    assert pd.isna(f.loc["tk_e", "gender"])
    assert str(f["age_band"].dtype) == "category"
    # as of the snapshot, not the extract: profile, risk level, age
    assert a["city"] == "深圳市" and a["occupation"] == "企业职员" and a["risk_level"] == "R3"
    assert a["age_band"] == "30-39"
    assert b["age_band"] == "20-29"  # turns 30 in July, after the snapshot
    assert pd.isna(f.loc["tk_e", "age_band"])
    assert pd.isna(f.loc["tk_e", "risk_level"])  # E's only assessment is dated after the snapshot


def test_age_moves_with_the_snapshot_not_the_run_date(clean_zone_factory):
    zone = clean_zone_factory(bank())
    early, _ = compute_features(zone, dt.date(2024, 6, 30), HORIZON)
    late, _ = compute_features(zone, dt.date(2024, 7, 31), HORIZON)
    early, late = early.set_index(ID_COLUMN), late.set_index(ID_COLUMN)
    assert early.loc["tk_b", "age_band"] == "20-29" and late.loc["tk_b", "age_band"] == "30-39"
    assert early.loc["tk_a", "age_band"] == late.loc["tk_a", "age_band"] == "30-39"


def test_birth_year_is_accepted_and_an_age_band_is_refused(clean_zone_factory, tmp_path):
    t = bank()
    t["customers"]["birth_year"] = [1990, 1994, 1960, 1980, None]
    t["customers"] = t["customers"].drop(columns="birth_month")
    f = build(clean_zone_factory, t, name="year")
    assert f.loc["tk_a", "age_band"] == "30-39" and f.loc["tk_b", "age_band"] == "30-39"  # age reached in 2024
    t["customers"] = t["customers"].drop(columns="birth_year").assign(age_band="30-39")
    zone = clean_zone_factory(t, name="band")
    with pytest.raises(FeatureError, match="table 'customers': no birth_month or birth_year column"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")


def test_extract_attributes_are_opt_in(clean_zone_factory, monkeypatch):
    from features import build as build_mod
    from features.config import load_feature_config

    assert {f.name for f in FEATURES if f.as_of == EXTRACT} == set(OPT_IN_FEATURES) == {"education"}
    assert all(f.as_of for f in (*FEATURES, *LABELS))  # the dictionary shows every as-of source
    config = FeatureConfig(extract_attributes=["education"])
    monkeypatch.setattr(build_mod, "load_feature_config", lambda: config)
    zone = clean_zone_factory(bank())
    frame, _ = compute_features(zone, SNAP, HORIZON, config)
    assert list(frame.columns) == table_columns(["education"])
    assert frame.set_index(ID_COLUMN).loc["tk_a", "education"] == "本科"
    with pytest.raises(ValueError, match="extract-time attributes of the feature registry"):
        FeatureConfig(extract_attributes=["risk_level"])
    assert load_feature_config().extract_attributes == []  # conf/features.yaml: none by default


def test_labels(clean_zone_factory):
    f = build(clean_zone_factory, bank())
    assert f["churn_label"].to_dict() == {"tk_a": 0, "tk_b": 0, "tk_d": 1, "tk_e": 1}  # D closes, E's AUM -60%
    assert f.loc["tk_d", "treatment"] == 1 and f.loc["tk_d", "response"] == 1
    assert f.loc["tk_e", "treatment"] == 0 and f.loc["tk_e", "response"] == 0
    assert np.isnan(f.loc["tk_a", "treatment"]) and np.isnan(f.loc["tk_a", "response"])  # campaign before s
    assert f["propensity_label"].sum() == 0


def test_future_records_change_labels_only(clean_zone_factory):
    base = build(clean_zone_factory, bank(), name="base")
    t = bank()
    add_rows(t, "transactions", [
        {"txn_id": "T9", "customer_no": "tk_a", "card_no": "tk_card1", "txn_time": TS("2024-07-01 00:00:00"),
         "amount": 9e6, "direction": "out", "channel": "counter", "txn_type": "withdrawal"},
        {"txn_id": "T10", "customer_no": "tk_b", "card_no": "tk_card4", "txn_time": TS("2024-07-15 09:00:00"),
         "amount": 10.0, "direction": "in", "channel": "mobile_app", "txn_type": "salary"}])
    add_rows(t, "products", [
        {"holding_id": "H8", "customer_no": "tk_a", "product_type": "fund", "open_date": TS("2024-07-10"),
         "maturity_date": TS("2024-07-20"), "close_date": pd.NaT, "amount": 1e5, "used_amount": 0.0,
         "rate_sensitive": 1},
        {"holding_id": "H9", "customer_no": "tk_b", "product_type": "loan", "open_date": TS("2024-07-01"),
         "maturity_date": pd.NaT, "close_date": pd.NaT, "amount": 1e5, "used_amount": 9e4, "rate_sensitive": 0}])
    add_rows(t, "service_notes", [{"note_id": "N9", "customer_no": "tk_a", "note_time": TS("2024-07-01 08:00:00"),
                                   "category": "投诉", "staff_no": "tk_s1", "note": "x"}])
    add_rows(t, "campaigns", [{"campaign_id": "C2", "customer_no": "tk_a", "campaign_date": TS("2024-07-05"),
                               "channel": "sms", "treatment": 1, "response": 1,
                               "response_date": TS("2024-07-06")}])
    acc = t["accounts_monthly"]
    acc.loc[(acc["customer_no"] == "tk_a") & (acc["month_end"] > TS("2024-06-30")), "aum"] = 1.0
    t["customers"].loc[t["customers"]["customer_no"] == "tk_b", "close_date"] = TS("2024-09-28")
    fut = build(clean_zone_factory, t, name="future")
    pd.testing.assert_frame_equal(base[feature_names()], fut[feature_names()])
    assert fut.loc["tk_a", "churn_label"] == 1 and base.loc["tk_a", "churn_label"] == 0  # AUM collapse
    assert fut.loc["tk_a", "propensity_label"] == 1 and base.loc["tk_a", "propensity_label"] == 0
    assert fut.loc["tk_a", "treatment"] == 1 and np.isnan(base.loc["tk_a", "treatment"])
    assert fut.loc["tk_b", "churn_label"] == 1  # closed on the last day of the horizon


def test_labels_ignore_records_after_the_horizon(clean_zone_factory):
    base = build(clean_zone_factory, bank(), name="base")
    t = bank()
    after = TS(END + dt.timedelta(days=1))
    add_rows(t, "products", [{"holding_id": "H8", "customer_no": "tk_a", "product_type": "fund",
                              "open_date": after, "maturity_date": pd.NaT, "close_date": pd.NaT,
                              "amount": 1e5, "used_amount": 0.0, "rate_sensitive": 1}])
    add_rows(t, "campaigns", [{"campaign_id": "C2", "customer_no": "tk_a", "campaign_date": after,
                               "channel": "sms", "treatment": 1, "response": 1, "response_date": after}])
    t["customers"].loc[t["customers"]["customer_no"] == "tk_b", "close_date"] = after
    acc = t["accounts_monthly"]  # a fall visible only at the October month-end, after the horizon
    acc.loc[(acc["customer_no"] == "tk_a") & (acc["month_end"] >= TS("2024-10-31")), "aum"] = 1.0
    later = build(clean_zone_factory, t, name="later")
    pd.testing.assert_frame_equal(base, later)


def test_text_dates_and_numbers_give_the_same_table(clean_zone_factory):
    base = build(clean_zone_factory, bank(), name="typed")
    t = bank()
    for frame in t.values():
        for col in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                fmt = "%Y-%m-%d %H:%M:%S" if col in ("txn_time", "note_time") else "%Y-%m-%d"
                frame[col] = frame[col].dt.strftime(fmt).astype(object)
    t["transactions"]["amount"] = t["transactions"]["amount"].astype(str)
    t["accounts_monthly"]["aum"] = t["accounts_monthly"]["aum"].map(str)
    text = build(clean_zone_factory, t, name="text")
    pd.testing.assert_frame_equal(base, text)


@pytest.mark.parametrize(("table", "column"), [("transactions", "channel"), ("customers", "close_date"),
                                                ("accounts_monthly", "aum"), ("service_notes", "category")])
def test_missing_column_names_table_and_column(clean_zone_factory, tmp_path, table, column):
    t = bank()
    t[table] = t[table].drop(columns=column)
    zone = clean_zone_factory(t)
    with pytest.raises(FeatureError, match=f"table '{table}': missing column '{column}'") as exc:
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "f.parquet").exists()


def test_missing_table(clean_zone_factory, tmp_path):
    t = bank()
    del t["campaigns"]
    zone = clean_zone_factory(t)
    with pytest.raises(FeatureError, match="table 'campaigns' is missing"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")


@pytest.mark.parametrize(("table", "column", "value", "message"), [
    ("transactions", "amount", "lots", "expected numbers; 1 value"),
    ("products", "open_date", "someday", "expected dates .* 1 value"),
    ("transactions", "txn_time", "yesterday", "expected dates .* 1 value"),
])
def test_unparseable_values(clean_zone_factory, tmp_path, table, column, value, message):
    t = bank()
    t[table][column] = t[table][column].astype(str).astype(object)
    t[table].loc[0, column] = value
    zone = clean_zone_factory(t)
    with pytest.raises(FeatureError, match=f"table '{table}', column '{column}': {message}") as exc:
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")
    assert value not in str(exc.value)  # the message never echoes a data value


def test_text_dates_parsed_once_per_value_still_count_bad_rows(clean_zone_factory, tmp_path):
    """Small tables convert each distinct text value once; a repeated bad value counts every row."""
    t = bank()
    t["products"]["open_date"] = t["products"]["open_date"].astype(str).astype(object)
    t["products"].loc[[0, 1, 2], "open_date"] = "someday"
    zone = clean_zone_factory(t)
    with pytest.raises(FeatureError, match="table 'products', column 'open_date': expected dates .* 3 value"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")


def test_wrong_dtype(clean_zone_factory, tmp_path):
    t = bank()
    t["accounts_monthly"]["month_end"] = 20240131
    zone = clean_zone_factory(t)
    with pytest.raises(FeatureError, match="table 'accounts_monthly', column 'month_end': expected a date"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")


def test_label_horizon_after_the_last_record_is_refused(clean_zone_factory, tmp_path, capsys):
    zone = clean_zone_factory(bank())
    message = ("snapshot 2024-11-15 + 90 days horizon ends 2025-02-13, after the last record 2024-12-31; "
               "the latest valid snapshot is 2024-10-02 (or pass --allow-partial-labels)")
    with pytest.raises(FeatureError) as exc:
        build_features(clean_dir=zone, snapshot=dt.date(2024, 11, 15), out=tmp_path / "f.parquet")
    assert str(exc.value) == message and not (tmp_path / "f.parquet").exists()
    compute_features(zone, dt.date(2024, 10, 2), HORIZON)  # the latest valid snapshot is accepted
    with pytest.raises(SystemExit) as cli_exit:
        main(["-q", "features", "--data", str(zone), "--snapshot", "2024-11-15", "--out", str(tmp_path / "f.parquet")])
    assert cli_exit.value.code != 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"kequn: error: {message}"
    main(["-q", "features", "--data", str(zone), "--snapshot", "2024-11-15", "--out", str(tmp_path / "f.parquet"),
          "--allow-partial-labels"])
    assert pd.read_parquet(tmp_path / "f.parquet")["treatment"].isna().all()
    assert read_parquet_lineage(tmp_path / "f.parquet")["allow_partial_labels"] is True


@pytest.mark.parametrize("snapshot", [dt.date(2030, 1, 1), dt.date(2019, 12, 31)])
def test_snapshot_outside_data(clean_zone_factory, tmp_path, snapshot):
    zone = clean_zone_factory(bank())
    with pytest.raises(FeatureError, match=f"snapshot {snapshot} is outside the data's date range "
                                           "2024-01-01..2024-12-31"):
        build_features(clean_dir=zone, snapshot=snapshot, out=tmp_path / "f.parquet")


def test_raw_data_is_refused(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, frame in bank().items():
        frame.to_csv(raw / f"{name}.csv", index=False)
    with pytest.raises(LineageError, match="no manifest.json; this is not a kequn clean zone"):
        build_features(clean_dir=raw, snapshot=SNAP, out=tmp_path / "f.parquet")


def test_failed_pseudonymisation_is_refused(clean_zone_factory, tmp_path):
    zone = clean_zone_factory(bank(), status="failed")
    with pytest.raises(LineageError, match="did not pass"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")


def test_tampered_table_is_refused(clean_zone_factory, tmp_path):
    zone = clean_zone_factory(bank())
    bank()["transactions"].head(2).to_parquet(zone / "transactions.parquet", index=False)
    with pytest.raises(LineageError, match="changed after pseudonymisation"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet")


def test_lifecycle_rules_in_order():
    frame = pd.DataFrame({
        "tenure_days": [30, 400, 400, 400, 400, 400, np.nan],
        "dormancy_days": [200, 190, 5, 5, 5, 5, 5],
        "aum_change_3m": [0.0, 0.0, -0.5, 0.0, 0.0, 0.0, np.nan],
        "txn_count_90d": [0, 10, 10, 1, 10, 10, 10],
        "aum_change_6m": [0.0, 0.0, 0.0, 0.5, 0.2, 0.0, np.nan],
        "n_products": [1, 1, 1, 1, 1, 1, 1],
    })
    stages = assign_stage(frame, LifecycleConfig()).astype(str).tolist()
    assert stages == ["acquisition", "churn_risk", "churn_risk", "activation", "growth", "retention",
                      "retention"]


def test_write_dictionary_for_training_runs(tmp_path):
    paths = write_dictionary(tmp_path / "artifacts", FeatureConfig())
    assert [p.name for p in paths] == ["feature_dictionary.md", "feature_dictionary.json"]
    text = paths[0].read_text(encoding="utf-8")
    for feat in (*FEATURES, *LABELS):
        assert f"`{feat.name}`" in text
    data = json.loads(paths[1].read_text(encoding="utf-8"))
    assert data["protected_default"] == list(PROTECTED_DEFAULT)
    assert {f["name"] for f in data["labels"]} == set(LABEL_COLUMNS)
    assert all(f["description_zh"] and f["missing"] for f in data["features"])


def test_cli_builds_features(clean_zone_factory, tmp_path, capsys):
    zone = clean_zone_factory(bank())
    out = tmp_path / "features.parquet"
    main(["-q", "features", "--data", str(zone), "--snapshot", "2024-06-30", "--out", str(out)])
    captured = capsys.readouterr()
    assert captured.out.startswith("features: 4 customers")
    assert out.is_file() and (tmp_path / "features.dictionary.json").is_file()


def test_cli_refuses_raw_data_with_one_line(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    bank()["customers"].to_csv(raw / "customers.csv", index=False)
    with pytest.raises(SystemExit) as exc:
        main(["features", "--data", str(raw), "--snapshot", "2024-06-30", "--out", str(tmp_path / "f.parquet")])
    assert exc.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kequn:")]
    assert len(errors) == 1
    assert errors[0].startswith("kequn: error: ") and "no manifest.json; this is not a kequn clean zone" in errors[0]


def test_churn_needs_the_configured_aum_fall(clean_zone_factory):
    t = bank()
    acc = t["accounts_monthly"]
    acc.loc[(acc["customer_no"] == "tk_e") & (acc["month_end"] > TS("2024-06-30")), "aum"] = 60_000.0  # −43%
    f = build(clean_zone_factory, t)
    assert f.loc["tk_e", "churn_label"] == 0


def test_bad_horizon_and_output_suffix(clean_zone_factory, tmp_path):
    zone = clean_zone_factory(bank())
    with pytest.raises(KequnError, match="--horizon-days must be at least 1. Got 0"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.parquet", horizon_days=0)
    with pytest.raises(KequnError, match="must be a .parquet file. Got suffix '.csv'"):
        build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / "f.csv")


def test_zone_aware_timestamps_use_local_wall_time(clean_zone_factory):
    early = [{"txn_id": "T9", "customer_no": "tk_a", "card_no": "tk_card1", "txn_time": TS("2024-07-01 00:30:00"),
              "amount": 1.0, "direction": "out", "channel": "atm", "txn_type": "withdrawal"}]
    naive = bank()
    add_rows(naive, "transactions", early)  # after the snapshot in Beijing time, before it in UTC
    base = build(clean_zone_factory, naive, name="naive")
    t = bank()
    add_rows(t, "transactions", early)
    for table, col in (("transactions", "txn_time"), ("service_notes", "note_time"), ("customers", "open_date")):
        t[table][col] = t[table][col].dt.tz_localize("Asia/Shanghai")
    aware = build(clean_zone_factory, t, name="aware")
    pd.testing.assert_frame_equal(base, aware)
