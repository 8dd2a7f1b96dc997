"""Leakage suite: records dated after the snapshot change only the labels, for every raw table.

One test per table of the raw contract (:data:`kequn.schema.RAW_TABLES`): each plants what a
later extract of the same bank would hold (new rows dated after the snapshot *s*, and the
extract's current values of attributes that changed since) and checks that every feature is
unchanged while the labels fed by that table move. A last test does the same end to end on the
synthetic bank: features from the full extract equal features from the extract cut at *s*.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.build import compute_features
from features.registry import ID_COLUMN, LABEL_COLUMNS, feature_names
from kequn.io import read_table
from kequn.schema import DEFAULT_SNAPSHOT, RAW_TABLES
from tests.test_features import HORIZON, SNAP, TS, add_rows, bank

SOON = TS("2024-07-20")  # in the label horizon (s, s+90]
LATER = TS("2024-11-30")  # after the horizon, still before the extract


def _features_and_labels(clean_zone_factory, tables, name):
    zone = clean_zone_factory(tables, name=name)
    frame, _ = compute_features(zone, SNAP, HORIZON)
    frame = frame.set_index(ID_COLUMN)
    return frame[feature_names()], frame[list(LABEL_COLUMNS)]


def _check(clean_zone_factory, plant, changed_labels: set[str]):
    """Plant future records; features must be equal, exactly ``changed_labels`` must differ."""
    base_f, base_l = _features_and_labels(clean_zone_factory, bank(), "base")
    tables = bank()
    plant(tables)
    fut_f, fut_l = _features_and_labels(clean_zone_factory, tables, "future")
    pd.testing.assert_frame_equal(base_f, fut_f)
    moved = {c for c in LABEL_COLUMNS if not base_l[c].equals(fut_l[c])}
    assert moved == changed_labels


def test_every_raw_table_has_a_leakage_test():
    tested = {name.removeprefix("test_future_").removesuffix("_change_only_labels")
              for name in globals() if name.startswith("test_future_")}
    assert tested == set(RAW_TABLES)


def test_future_customers_change_only_labels(clean_zone_factory):
    def plant(t):
        c = t["customers"]
        c.loc[c[ID_COLUMN] == "tk_b", "close_date"] = SOON  # closes in the horizon
        # the extract's current profile values (changed after s) and a customer who joined after s
        c.loc[c[ID_COLUMN] == "tk_d", ["risk_level", "occupation", "city", "province", "education"]] = [
            "R1", "退休", "北京市", "北京市", "博士"]
        add_rows(t, "customers", [{"customer_no": "tk_new", "gender": "女", "birth_month": "2000-01",
                                   "province": "广东省", "city": "深圳市", "occupation": "学生",
                                   "education": "本科", "risk_level": "R3", "branch_code": "BR001",
                                   "open_date": SOON, "close_date": pd.NaT}])
    _check(clean_zone_factory, plant, {"churn_label"})


def test_future_accounts_monthly_change_only_labels(clean_zone_factory):
    def plant(t):
        acc = t["accounts_monthly"]
        later = acc["month_end"] > TS(SNAP)
        a = later & (acc[ID_COLUMN] == "tk_a")
        acc.loc[a, ["aum", "deposit_balance"]] = 1.0  # AUM collapses after s
        acc.loc[a, "credit_used_amount"] = 20_000.0  # the card is maxed out after s
        acc.loc[later & (acc[ID_COLUMN] == "tk_d"), "loan_balance"] = 1e6  # a top-up loan after s
        add_rows(t, "accounts_monthly", [{"customer_no": "tk_b", "month_end": TS("2024-07-31"), "aum": 5e5,
                                          "deposit_balance": 5e5, "wealth_balance": 0.0, "fund_balance": 0.0,
                                          "insurance_balance": 0.0, "credit_limit": 1e5,
                                          "credit_used_amount": 9e4, "loan_balance": 0.0}])
    _check(clean_zone_factory, plant, {"churn_label"})


def test_future_transactions_change_only_labels(clean_zone_factory):
    def plant(t):
        add_rows(t, "transactions", [
            {"txn_id": "T9", "customer_no": "tk_a", "card_no": "tk_card1", "txn_time": TS("2024-07-01 00:00:00"),
             "amount": 9e6, "direction": "out", "channel": "counter", "txn_type": "withdrawal"},
            {"txn_id": "T10", "customer_no": "tk_b", "card_no": "tk_card4", "txn_time": LATER,
             "amount": 10.0, "direction": "in", "channel": "mobile_app", "txn_type": "salary"}])
    _check(clean_zone_factory, plant, set())  # no label reads transactions


def test_future_products_change_only_labels(clean_zone_factory):
    def plant(t):
        add_rows(t, "products", [
            {"holding_id": "H8", "customer_no": "tk_a", "product_type": "fund", "open_date": SOON,
             "maturity_date": pd.NaT, "close_date": pd.NaT, "amount": 1e5, "used_amount": 0.0, "rate_sensitive": 1},
            {"holding_id": "H9", "customer_no": "tk_b", "product_type": "credit_card", "open_date": SOON,
             "maturity_date": pd.NaT, "close_date": pd.NaT, "amount": 5e4, "used_amount": 4e4, "rate_sensitive": 0}])
        p = t["products"]  # the extract's current balances (history is in accounts_monthly)
        p["used_amount"] = p["amount"] * 0.9
    _check(clean_zone_factory, plant, {"propensity_label"})


def test_future_campaigns_change_only_labels(clean_zone_factory):
    def plant(t):
        add_rows(t, "campaigns", [
            {"campaign_id": "C2", "customer_no": "tk_a", "campaign_date": SOON, "channel": "sms", "treatment": 1,
             "response": 1, "response_date": SOON},
            {"campaign_id": "C3", "customer_no": "tk_b", "campaign_date": LATER, "channel": "sms", "treatment": 1,
             "response": 1, "response_date": LATER}])
    _check(clean_zone_factory, plant, {"treatment", "response"})


def test_future_service_notes_change_only_labels(clean_zone_factory):
    def plant(t):
        add_rows(t, "service_notes", [
            {"note_id": "N9", "customer_no": "tk_a", "note_time": TS("2024-07-01 08:00:00"), "category": "投诉",
             "staff_no": "tk_s1", "note": "x"},
            {"note_id": "N10", "customer_no": "tk_b", "note_time": LATER, "category": "咨询",
             "staff_no": "tk_s1", "note": "y"}])
    _check(clean_zone_factory, plant, set())


def test_future_risk_assessments_change_only_labels(clean_zone_factory):
    def plant(t):
        add_rows(t, "risk_assessments", [
            {"customer_no": "tk_d", "assessed_on": TS(SNAP + dt.timedelta(days=1)), "risk_level": "R1"},
            {"customer_no": "tk_b", "assessed_on": LATER, "risk_level": "R5"}])
    _check(clean_zone_factory, plant, set())


def test_future_customer_profile_history_change_only_labels(clean_zone_factory):
    def plant(t):
        add_rows(t, "customer_profile_history", [
            {"customer_no": "tk_d", "effective_from": SOON, "occupation": "退休", "province": "北京市",
             "city": "北京市"},
            {"customer_no": "tk_b", "effective_from": LATER, "occupation": "工程师", "province": "上海市",
             "city": "上海市"}])
    _check(clean_zone_factory, plant, set())


# ------------------------------------------------------------------ end to end on the synthetic bank
_DATE_COLUMNS = {"accounts_monthly": "month_end", "transactions": "txn_time", "products": "open_date",
                 "campaigns": "campaign_date", "service_notes": "note_time", "risk_assessments": "assessed_on",
                 "customer_profile_history": "effective_from", "customers": "open_date"}


def _cut_at(raw: pd.DataFrame, table: str, s: pd.Timestamp) -> pd.DataFrame:
    """The table as an extract taken at the end of day ``s`` would hold it (history tables only)."""
    when = pd.to_datetime(raw[_DATE_COLUMNS[table]], errors="coerce")
    out = raw[~(when >= s + pd.Timedelta(days=1))].copy()
    for col in ("close_date", "response_date"):
        if col in out.columns:
            later = pd.to_datetime(out[col], errors="coerce") > s
            out[col] = out[col].where(~later, None)
            if col == "response_date":
                out.loc[later, "response"] = "0"
    return out


def test_synthetic_bank_features_equal_an_extract_cut_at_the_snapshot(tmp_path):
    from pipelines.synth import generate
    from privacy.pseudonymise import pseudonymise

    key = b"leakage-test-key-0123456789abcdef-xyz"
    summary = generate(n_customers=300, seed=3, out=tmp_path / "raw")
    cut = tmp_path / "cut"
    cut.mkdir()
    s = pd.Timestamp(DEFAULT_SNAPSHOT)
    for table in RAW_TABLES:
        frame = read_table(summary["paths"][table], as_text=True)
        _cut_at(frame, table, s).to_csv(cut / f"{table}.csv", index=False)
    # customers keep the *extract's* current address, occupation and risk level: default features
    # must not read them
    zones = {}
    for name, folder in (("full", tmp_path / "raw"), ("cut", cut)):
        paths = {t: folder / f"{t}.csv" for t in RAW_TABLES}
        pseudonymise(paths, out=tmp_path / f"clean_{name}", policy_path=None, key=key)
        frame, _ = compute_features(tmp_path / f"clean_{name}", DEFAULT_SNAPSHOT, 90,
                                    allow_partial_labels=name == "cut")
        zones[name] = frame.set_index(ID_COLUMN)
    full, short = zones["full"], zones["cut"]
    assert len(full) > 200 and full.index.equals(short.index)
    pd.testing.assert_frame_equal(full[feature_names()], short[feature_names()])
    assert full["churn_label"].sum() > 0 and short["churn_label"].sum() == 0  # only the labels see the future
    raw_customers = read_table(summary["paths"]["customers"], as_text=True)
    profile = read_table(summary["paths"]["customer_profile_history"], as_text=True)
    changed_after = pd.to_datetime(profile["effective_from"]) > s
    assert changed_after.any()  # the bank does plant profile changes after the snapshot
    assert raw_customers["risk_level"].notna().all()
    assert full["age_band"].notna().mean() > 0.95
    # the history tables went through pseudonymise with customer_no tokenised like every table:
    # their tokens join onto the customers
    assert full[["risk_level", "occupation", "city", "province"]].notna().all().all()
    assert full["credit_card_utilisation"].notna().any() and (full["loan_outstanding"] > 0).any()


@pytest.mark.parametrize("table", sorted(_DATE_COLUMNS))
def test_cut_helper_drops_only_later_records(table):
    frame = pd.DataFrame({_DATE_COLUMNS[table]: ["2024-06-30", "2024-06-30 23:59:59", "2024-07-01"]})
    assert len(_cut_at(frame, table, pd.Timestamp("2024-06-30"))) == 2
