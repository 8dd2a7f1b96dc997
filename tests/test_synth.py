"""The synthetic bank (`kequn synth`) and the shared check-digit helpers."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kequn.errors import InputError
from kequn.io import read_table
from kequn.schema import CHANNELS, NOTE_CATEGORIES, PRODUCT_TYPES, RAW_TABLES, TXN_TYPES
from pipelines import _synth_data as D
from pipelines.cli.main import main
from pipelines.synth import MARKER, generate
from privacy.checksums import (
    gb11643_check_digit,
    gb11643_valid,
    gb11643_valid_array,
    luhn_check_digit,
    luhn_valid,
    luhn_valid_array,
)

COLUMNS = {
    "customers": ["customer_no", "name", "gender", "id_number", "birth_date", "mobile", "email", "address",
                  "occupation", "education", "risk_level", "branch_code", "open_date", "close_date"],
    "accounts_monthly": ["customer_no", "month_end", "deposit_balance", "wealth_balance", "fund_balance",
                         "insurance_balance", "aum", "credit_limit", "credit_used_amount", "loan_balance"],
    "transactions": ["txn_id", "customer_no", "card_no", "txn_time", "amount", "direction", "channel", "txn_type"],
    "products": ["holding_id", "customer_no", "product_type", "open_date", "maturity_date", "close_date",
                 "amount", "used_amount", "rate_sensitive"],
    "campaigns": ["campaign_id", "customer_no", "campaign_date", "channel", "treatment", "response",
                  "response_date"],
    "service_notes": ["note_id", "customer_no", "note_time", "category", "staff_no", "note"],
    "risk_assessments": ["customer_no", "assessed_on", "risk_level"],
    "customer_profile_history": ["customer_no", "effective_from", "occupation", "province", "city"],
    "customers_truth": ["customer_no", "value_tier", "segment", "churn_prob", "churned", "uplift_group",
                        "treatment_effect"],
    "notes_pii": ["note_id", "entity_type", "value"],
}
FULLWIDTH = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")
MOBILE_PREFIXES = set(D.MOBILE_PREFIXES)


def normalise_mobile(text: str) -> str:
    digits = re.sub(r"\D", "", text.translate(FULLWIDTH))
    for prefix in ("0086", "86"):
        if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("bank") / "raw"
    summary = generate(n_customers=1500, seed=7, out=out)
    tables = {name: read_table(path, as_text=True) for name, path in summary["paths"].items()}
    for name, frame in tables.items():
        assert len(frame) == summary["rows"][name]
    return tables


# ---------------------------------------------------------------- checksums
@pytest.mark.parametrize("value, ok", [
    ("11010519491231002X", True), ("11010519491231002x", True), ("110105194912310021", False),
    ("1101051949123100", False), ("11010519491231002Y", False), ("２２０１０５１９４９１２３１００２X", False),
])
def test_gb11643_valid(value, ok):
    assert gb11643_valid(value) is ok
    assert gb11643_valid_array([value]).tolist() == [ok]


@pytest.mark.parametrize("value, ok", [
    ("79927398713", True), ("79927398710", False), ("6228480402564890018", True),
    ("6228480402564890019", False), ("6228 4804", False), ("7", False),
])
def test_luhn_valid(value, ok):
    assert luhn_valid(value) is ok
    assert luhn_valid_array([value]).tolist() == [ok]


def test_check_digit_builders():
    assert gb11643_check_digit("11010519491231002") == "X"
    assert luhn_check_digit("7992739871") == "3"
    with pytest.raises(ValueError):
        gb11643_check_digit("123")


# ---------------------------------------------------------------- contract
def test_every_table_with_the_contract_columns(bank):
    assert set(RAW_TABLES) <= set(bank)
    for name, cols in COLUMNS.items():
        assert list(bank[name].columns) == cols, name


def test_value_sets_and_dates(bank):
    c, t, p, cm, n = (bank[k] for k in ("customers", "transactions", "products", "campaigns", "service_notes"))
    assert set(c.gender) == {"男", "女"}
    assert set(c.risk_level) <= {"R1", "R2", "R3", "R4", "R5"}
    assert c.customer_no.str.fullmatch(r"KH\d{10}").all() and c.customer_no.is_unique
    assert c.branch_code.str.fullmatch(r"BR\d{3}").all()
    assert set(t.channel) == set(CHANNELS) and set(t.txn_type) == set(TXN_TYPES)
    assert set(t.direction) == {"in", "out"} and (t.amount.astype(float) > 0).all()
    assert t.txn_time.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert t.txn_time.min() >= "2023-01-01" and t.txn_time.max() <= "2024-12-31 23:59:59"
    assert set(p.product_type) == set(PRODUCT_TYPES) and p.close_date.isna().all()
    assert set(n.category) == set(NOTE_CATEGORIES)
    assert set(cm.campaign_id) == {"CMP2024Q1", "CMP2024Q3"}
    responded = cm.response == "1"
    assert cm.response_date.isna().eq(~responded).all()
    lag = pd.to_datetime(cm.response_date[responded]) - pd.to_datetime(cm.campaign_date[responded])
    assert lag.dt.days.between(1, 30).all()
    a = bank["accounts_monthly"]
    assert a.month_end.min() == "2023-01-31" and a.month_end.max() == "2024-12-31"
    closed = c.dropna(subset=["close_date"]).set_index("customer_no").close_date
    last = a.groupby("customer_no").month_end.max().reindex(closed.index).dropna()
    assert len(last) > 0 and (last < closed.reindex(last.index)).all()
    for table, col in (("transactions", "txn_time"), ("service_notes", "note_time")):
        frame = bank[table].merge(closed.rename("close").reset_index(), on="customer_no")
        assert (frame[col].str[:10] < frame.close).all(), table
    first = a.groupby("customer_no").month_end.min()
    opened = c.set_index("customer_no").open_date.reindex(first.index)
    assert (first >= opened).all()


def test_dated_history_ends_in_the_extract_values(bank):
    """Profile, risk and credit history: dated, within the relationship, and its latest record is
    what the extract's customers and products rows hold (so only the history says what was true at s)."""
    c = bank["customers"].set_index("customer_no")
    prof, risk = bank["customer_profile_history"], bank["risk_assessments"]
    for frame, col in ((prof, "effective_from"), (risk, "assessed_on")):
        assert frame[col].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
        assert (frame[col].to_numpy() >= c.open_date.reindex(frame.customer_no).to_numpy()).all()
        assert frame[col].max() <= "2024-12-31" and set(frame.customer_no) == set(c.index)
    latest = prof.sort_values(["customer_no", "effective_from"], kind="stable").groupby("customer_no").tail(1)
    latest = latest.set_index("customer_no").reindex(c.index)
    assert (latest.occupation == c.occupation).all()
    assert all(city in address for city, address in zip(latest.city, c.address, strict=True))
    changes = prof.groupby("customer_no").size()
    assert 0.1 < (changes > 1).mean() < 0.3  # movers and job changes, once each
    after = prof[prof.effective_from > "2024-06-30"].customer_no
    assert len(set(after)) > 10  # some change only after the snapshot: the extract would leak them
    last_risk = risk.sort_values(["customer_no", "assessed_on"], kind="stable").groupby("customer_no").tail(1)
    assert (last_risk.set_index("customer_no").risk_level.reindex(c.index) == c.risk_level).all()
    assert set(risk.risk_level) <= {"R1", "R2", "R3", "R4", "R5"} and len(risk) > 2 * len(c)
    at_s = risk[risk.assessed_on <= "2024-06-30"].sort_values(["customer_no", "assessed_on"], kind="stable") \
        .groupby("customer_no").tail(1).set_index("customer_no").risk_level
    assert 0.02 < (at_s != c.risk_level.reindex(at_s.index)).mean() < 0.4  # reassessed since s
    a = bank["accounts_monthly"]
    num = a[["credit_limit", "credit_used_amount", "loan_balance"]].astype(float)
    assert (num >= 0).all().all() and (num.credit_used_amount <= num.credit_limit + 0.01).all()
    p = bank["products"]
    last = a[a.month_end == "2024-12-31"].set_index("customer_no")
    for ptype, col in (("credit_card", "credit_used_amount"), ("loan", "loan_balance")):
        held = p[p.product_type == ptype].set_index("customer_no").used_amount.astype(float)
        both = held.index.intersection(last.index)
        assert len(both) > 20
        assert np.allclose(held[both], last.loc[both, col].astype(float), atol=0.011), ptype
    card = a[a.customer_no.isin(p[p.product_type == "credit_card"].customer_no)]
    assert card.groupby("customer_no").credit_used_amount.nunique().median() > 3  # balances move month to month


# ---------------------------------------------------------------- identifiers
def test_resident_ids_consistent_with_birth_date_and_gender(bank):
    c = bank["customers"]
    long_ = c[c.id_number.str.len() == 18]
    short = c[c.id_number.str.len() == 15]
    assert len(long_) + len(short) == len(c)
    assert gb11643_valid_array(long_.id_number.to_numpy()).all()
    assert (long_.id_number.str[6:14] == long_.birth_date.str.replace("-", "")).all()
    assert (short.id_number.str[6:12] == short.birth_date.str[2:].str.replace("-", "")).all()
    for frame, pos in ((long_, 16), (short, 14)):
        odd = frame.id_number.str[pos].astype(int) % 2 == 1
        assert (odd == (frame.gender == "男")).all()
    regions = {r[0] for r in D.REGIONS}
    assert c.id_number.str[:6].isin(regions).all()
    assert 0.04 < long_.id_number.str.endswith("X").mean() < 0.15
    assert 0.005 < len(short) / len(c) < 0.05


def test_cards_pass_luhn_with_unionpay_bins(bank):
    cards = bank["transactions"].card_no.drop_duplicates()
    assert luhn_valid_array(cards.to_numpy()).all()
    assert cards.str.len().between(16, 19).all() and cards.str.startswith("62").all()
    assert cards.str.len().nunique() >= 3


def test_mobiles_normalise_to_valid_numbers_and_some_are_messy(bank):
    mobiles = bank["customers"].mobile
    norm = mobiles.map(normalise_mobile)
    assert norm.str.fullmatch(r"1\d{10}").all() and norm.str[:3].isin(MOBILE_PREFIXES).all()
    messy = mobiles != norm
    assert 0.05 < messy.mean() < 0.3
    assert mobiles.str.contains("＋|０|１|２|３|４|５|６|７|８|９").any()
    assert mobiles.str.startswith(("+86", "0086")).any() and mobiles.str.contains("-").any()


def test_names_emails_addresses(bank):
    c = bank["customers"]
    compound = tuple(s for s, _, _ in D.SURNAMES if len(s) == 2)
    assert c.name.str.startswith(compound).any()
    assert c.name.str.len().between(2, 4).all()
    assert c.email.str.fullmatch(r"[a-z0-9.]+@[a-z0-9.]+\.(com|net)").all()
    assert c.address.str.contains(r"(?:省|市).*区.*(?:路|街|大道)\d+号.*\d+栋\d+室$").all()


# ---------------------------------------------------------------- notes
def test_every_planted_pii_value_is_in_its_note(bank):
    notes = bank["service_notes"].set_index("note_id").note
    pii = bank["notes_pii"]
    assert set(pii.entity_type) == {"PERSON", "CN_MOBILE", "CN_RESIDENT_ID", "BANK_CARD", "EMAIL_ADDRESS",
                                    "CN_ADDRESS"}
    joined = notes.reindex(pii.note_id).to_numpy()
    assert all(v in text for v, text in zip(pii.value, joined, strict=True))
    mobiles = pii.value[pii.entity_type == "CN_MOBILE"].map(normalise_mobile)
    assert mobiles.str.fullmatch(r"1\d{10}").all()
    ids = pii.value[pii.entity_type == "CN_RESIDENT_ID"]
    assert ids.str.endswith("x").any()
    assert gb11643_valid_array(ids[ids.str.len() == 18].to_numpy()).all()
    cards = pii.value[pii.entity_type == "BANK_CARD"]
    assert cards.str.contains(" ").any() and cards.str.contains("-").any()
    assert luhn_valid_array(cards.str.replace(r"[ -]", "", regex=True).to_numpy()).all()
    people = pii[pii.entity_type == "PERSON"].value
    assert not people.isin(set(bank["customers"].name)).all()  # spouses, agents, staff too


def test_notes_have_decoys_and_markup(bank):
    text = "\n".join(bank["service_notes"].note)
    for pattern in (r"人民币\d{1,3},\d{3}\.\d{2}元", r"\d+万", r"20\d\d年\d{1,2}月\d{1,2}日", r"20\d\d-\d\d-\d\d",
                    r"流水号\d{20}", r"GD\d{10}", r"PR20\d\d[A-D]\d{4}", r"\d\.\d\d%", "<", ">", "&"):
        assert re.search(pattern, text), pattern
    assert 0.5 < len(bank["service_notes"]) / len(bank["customers"]) < 0.7


# ---------------------------------------------------------------- planted structure
def test_planted_churn_rate_and_drivers(bank):
    truth = bank["customers_truth"].set_index("customer_no")
    truth["churned"] = truth.churned.astype(int)
    at_risk = truth[truth.churn_prob.notna()]
    assert 0.07 < at_risk.churned.mean() < 0.18
    aum = bank["accounts_monthly"].assign(aum=lambda f: f.aum.astype(float)).pivot(
        index="customer_no", columns="month_end", values="aum")
    trend = (aum["2024-06-30"] / aum["2023-12-31"]).reindex(at_risk.index)
    assert trend[at_risk.churned == 1].mean() < trend[at_risk.churned == 0].mean() - 0.05
    notes = bank["service_notes"]
    complained = set(notes[(notes.category == "投诉") & notes.note_time.between("2024-04-01", "2024-06-30 23:59:59")]
                     .customer_no)
    share = at_risk.index.isin(complained)
    assert share[at_risk.churned == 1].mean() > 2 * share[at_risk.churned == 0].mean()
    # churners either close in the horizon or lose >= 70 % of their AUM
    closes = bank["customers"].set_index("customer_no").close_date.reindex(at_risk.index)
    in_horizon = closes.between("2024-07-01", "2024-09-28")
    fell = (aum["2024-08-31"] / aum["2024-06-30"]).reindex(at_risk.index) <= 0.3
    assert (in_horizon | fell)[at_risk.churned == 1].all()
    assert not in_horizon[at_risk.churned == 0].any()


def test_value_tiers_segments_and_uplift(bank):
    truth = bank["customers_truth"]
    assert set(truth.segment) == {"young_digital", "salaried_family", "affluent_investor", "senior_saver", "dormant"}
    assert {"mass", "potential", "high_net_worth"} <= set(truth.value_tier)
    cm = bank["campaigns"].merge(truth, on="customer_no")
    q3 = cm[cm.campaign_id == "CMP2024Q3"].astype({"treatment": int, "response": int})
    rate = q3.groupby(["uplift_group", "treatment"]).response.mean().unstack()
    assert rate.loc["persuadables", 1] - rate.loc["persuadables", 0] > 0.15
    assert rate.loc["sleeping_dogs", 1] < rate.loc["sleeping_dogs", 0]
    assert 0.4 < q3.treatment.mean() < 0.6
    assert (truth.treatment_effect.astype(float)[truth.uplift_group == "sure_things"] == 0).all()
    p = bank["products"]
    takers = p[(p.product_type == "fund") & p.open_date.between("2024-07-01", "2024-09-28")]
    assert 0.03 < takers.customer_no.nunique() / len(truth) < 0.15
    t = bank["transactions"].merge(truth[["customer_no", "segment"]], on="customer_no")
    app = t.assign(app=t.channel == "mobile_app").groupby("segment").app.mean()
    assert app["young_digital"] > 0.5 > 0.2 > app["senior_saver"]


def _visible(bank: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per customer, attributes visible at the 2024-06-30 snapshot (as the feature table sees them)."""
    c = bank["customers"].set_index("customer_no")
    snap = pd.Timestamp("2024-06-30")
    t = bank["transactions"]
    t = t[t.txn_time.between("2024-01-02", "2024-06-30 23:59:59")]
    a = bank["accounts_monthly"].assign(aum=lambda f: f.aum.astype(float)).pivot(
        index="customer_no", columns="month_end", values="aum")
    notes = bank["service_notes"]
    complained = notes[(notes.category == "投诉") & notes.note_time.between("2024-04-01", "2024-06-30 23:59:59")]
    truth = bank["customers_truth"].set_index("customer_no").reindex(c.index)
    return pd.DataFrame({
        "age": (snap - pd.to_datetime(c.birth_date)).dt.days / 365.25,
        "tenure": (snap - pd.to_datetime(c.open_date)).dt.days / 365.25,
        "digital": t.channel.isin(["mobile_app", "online"]).groupby(t.customer_no).mean().reindex(c.index),
        "log_aum": np.log10(a["2024-06-30"].reindex(c.index).clip(lower=1)),
        "aum_change_6m": (a["2024-06-30"] / a["2023-12-31"] - 1).reindex(c.index),
        "complaint": c.index.isin(complained.customer_no),
        "group": truth.uplift_group, "effect": truth.treatment_effect.astype(float),
        "churn_prob": truth.churn_prob.astype(float),
    }, index=c.index)


def test_uplift_group_and_effect_follow_visible_attributes(bank):
    from sklearn.model_selection import cross_val_predict
    from sklearn.tree import DecisionTreeRegressor

    v = _visible(bank)
    shares = v.group.value_counts(normalize=True)
    assert all(0.1 < shares[g] < 0.45 for g in ("persuadables", "sure_things", "lost_causes", "sleeping_dogs"))
    assert (v.group[v.complaint] == "sleeping_dogs").mean() > 0.5
    young, old = v.age < 40, v.age >= 60
    assert (v.group[young] == "persuadables").mean() > 5 * (v.group[old] == "persuadables").mean()
    assert (v.group[old] == "sleeping_dogs").mean() > 5 * (v.group[young] == "sleeping_dogs").mean()
    # an oracle told the effect recovers it from visible attributes alone (random groups gave ~0.2)
    x = v[["age", "tenure", "digital", "log_aum", "complaint"]].fillna(-1)
    pred = cross_val_predict(DecisionTreeRegressor(max_depth=5, min_samples_leaf=20, random_state=0), x, v.effect, cv=5)
    assert np.corrcoef(pred, v.effect)[0, 1] > 0.6


def test_churn_has_thresholds_and_interactions(bank):
    v = _visible(bank)
    v = v[v.churn_prob.notna()]
    steady = v.churn_prob[v.aum_change_6m > -0.03].mean()
    small_fall = v.churn_prob[v.aum_change_6m.between(-0.25, -0.08)]
    assert len(small_fall) > 30 and small_fall.mean() < 1.5 * steady  # falls under 30 % do not matter
    assert v.churn_prob[v.aum_change_6m < -0.35].mean() > 2.5 * steady
    complained = v[v.complaint]
    assert complained.churn_prob[complained.tenure < 4].mean() > 2 * complained.churn_prob[complained.tenure >= 4].mean()


# ---------------------------------------------------------------- files
def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_files_and_rerun_replaces(tmp_path):
    generate(n_customers=300, seed=11, out=tmp_path / "a")
    generate(n_customers=300, seed=11, out=tmp_path / "b")
    first = _digests(tmp_path / "a")
    assert first == _digests(tmp_path / "b")
    assert MARKER in first and "ground_truth/notes_pii.csv" in first
    generate(n_customers=300, seed=12, out=tmp_path / "a")  # an earlier output is replaced
    assert _digests(tmp_path / "a")["customers.csv"] != first["customers.csv"]


def test_refuses_a_foreign_non_empty_folder(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        generate(n_customers=50, seed=1, out=out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_gbk_round_trip(tmp_path):
    generate(n_customers=300, seed=5, out=tmp_path / "u")
    generate(n_customers=300, seed=5, out=tmp_path / "g", encoding="gbk")
    for name in ("customers", "service_notes", "ground_truth/notes_pii"):
        raw = (tmp_path / "g" / f"{name}.csv").read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        utf = read_table(tmp_path / "u" / f"{name}.csv", as_text=True)
        gbk = read_table(tmp_path / "g" / f"{name}.csv", as_text=True, encoding="gbk")
        pd.testing.assert_frame_equal(utf, gbk)


def test_parquet_matches_csv(tmp_path):
    csv = generate(n_customers=200, seed=9, out=tmp_path / "c")
    parquet = generate(n_customers=200, seed=9, out=tmp_path / "p", fmt="parquet")
    assert csv["rows"] == parquet["rows"]
    for name in ("customers", "transactions", "service_notes"):
        a = read_table(csv["paths"][name], as_text=True)
        b = read_table(parquet["paths"][name])
        assert list(a.columns) == list(b.columns)
        np.testing.assert_array_equal(a.iloc[:, 0].to_numpy(), b.iloc[:, 0].to_numpy())
    assert read_table(parquet["paths"]["customers"]).id_number.equals(
        read_table(csv["paths"]["customers"], as_text=True).id_number)


def test_notes_written_in_blocks_keep_their_pii(tmp_path, monkeypatch):
    import pipelines.synth as synth

    monkeypatch.setattr(synth, "NOTE_BLOCK", 37)
    summary = generate(n_customers=300, seed=4, out=tmp_path / "b")
    notes = read_table(summary["paths"]["service_notes"], as_text=True)
    pii = read_table(summary["paths"]["notes_pii"], as_text=True)
    assert notes.note_id.is_unique and notes.note_id.is_monotonic_increasing
    text = notes.set_index("note_id").note.reindex(pii.note_id)
    assert all(v in t for v, t in zip(pii.value, text, strict=True))


@pytest.mark.parametrize("n", [1, 2, 7])
def test_tiny_banks(tmp_path, n):
    summary = generate(n_customers=n, seed=n, out=tmp_path / "t", fmt="parquet")
    assert summary["rows"]["customers"] == n
    assert set(summary["paths"]) == {*RAW_TABLES, "customers_truth", "notes_pii"}


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_size_is_refused(tmp_path, bad):
    with pytest.raises(InputError, match="positive"):
        generate(n_customers=bad, seed=1, out=tmp_path / "x")


def test_cli_refuses_zero_customers(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--customers", "0", "--out", str(tmp_path / "x")])
    assert exc.value.code != 0
    assert "kequn: error: --customers must be a positive integer. Got 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_writes_a_bank(tmp_path, capsys):
    main(["-q", "synth", "--customers", "40", "--out", str(tmp_path / "raw"), "--format", "parquet"])
    assert "raw tables written" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "raw").glob("*.parquet")) == sorted(f"{t}.parquet" for t in RAW_TABLES)
