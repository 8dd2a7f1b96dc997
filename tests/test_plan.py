"""`kequn plan` and `kequn relink` on a tiny synthetic bank with governed (signed, approved,
promoted) uplift and churn models in a real MLflow SQLite store.

The bank: raw customers (customer number, name, mobile) in a raw folder, and a clean table
whose customer_no is the keyed token of the raw number (privacy.tokens, the same HMAC as
pseudonymise) with the columns the test models read. The uplift model predicts 0.1·x, so the
planted sleeping dogs are exactly the customers with x < 0.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from privacy.tokens import TOKEN_PATTERN
from tests.conftest import kequn

KEY = "k" * 40
N = 400


def raw_customers(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    surnames, given = list("王李张刘陈杨黄赵"), list("伟芳娜敏静丽强磊军洋")
    return pd.DataFrame({
        "customer_no": [f"KH{6000000000 + i:010d}" for i in range(n)],
        "name": [rng.choice(surnames) + "".join(rng.choice(given, 2)) for _ in range(n)],
        "mobile": [f"138-{rng.integers(1000, 9999)}-{i:04d}" for i in range(n)],
        "id_number": [f"11010519800101{i:04d}" for i in range(n)],
        "branch_code": [f"BR{i % 7:03d}" for i in range(n)],
    })


@pytest.fixture(scope="module")
def bank_store(tmp_path_factory):
    """Built once per module (publishing and signing take a while on a loaded machine): raw folder,
    clean feature table (tokens), and signed champions uplift-model / churn-model."""
    import mlflow.tracking.fluent

    from features.config import assign_value_tier, load_value_tiers
    from pipelines.registry import approve, promote, publish
    from pipelines.signing import init_key
    from privacy.entities import CUSTOMER_NO
    from privacy.keys import key_fingerprint
    from privacy.tokens import tokenise_series
    from tests.conftest import make_clean_zone
    from tests.test_registry_support import make_run, make_uplift_run

    root = tmp_path_factory.mktemp("bank")
    with pytest.MonkeyPatch.context() as mp:
        uri = f"sqlite:///{root / 'mlflow.db'}"
        env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
               "KEQUN_KEY_DIR": str(root / "keys"), "KEQUN_PSEUDONYM_KEY": KEY, "KEQUN_KEYRING": str(root / "keyring.yaml")}
        for k, v in env.items():
            mp.setenv(k, v)
        for k in ("MLFLOW_TRACKING_USERNAME", "KEQUN_AUDIT_LOG", "MLFLOW_EXPERIMENT_ID"):
            mp.delenv(k, raising=False)
        mp.chdir(root)
        mp.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
        lines = ["people:"]
        for name, roles in (("alice", "author"), ("bob", "reviewer"), ("carol", "owner"), ("dora", "reviewer")):
            _, public = init_key(name)
            lines.append(f'  {name}: {{public_key: "{public}", roles: [{roles}]}}')
        (root / "keyring.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

        raw_dir = root / "raw"
        raw_dir.mkdir()
        raw = raw_customers()
        raw.to_csv(raw_dir / "customers.csv", index=False)
        rng = np.random.default_rng(1)
        aum = np.round(np.exp(rng.normal(10.5, 1.5, N)), 2)
        clean = pd.DataFrame({
            "customer_no": tokenise_series(raw["customer_no"], CUSTOMER_NO, KEY.encode()).to_numpy(),
            "x": rng.normal(size=N), "noise": rng.normal(size=N),
            "aum_trend": rng.normal(size=N), "txn_count_90d": rng.normal(size=N),
            "aum": aum, "value_tier": assign_value_tier(aum, load_value_tiers(), missing=None),
            "lifecycle_stage": rng.choice(["growth", "retention", "churn_risk", "<b>bold</b>"], N),
            "gender": np.where(np.arange(N) % 2 == 0, "男", "女"),
            "age_band": rng.choice(["20-29", "30-39", "40-49", "50-59"], N),
        })
        zone = make_clean_zone(root / "clean", {"features": clean}, key_fingerprint=key_fingerprint(KEY.encode()))

        mp.setenv("KEQUN_USER", "alice")
        up = publish(run_id=make_uplift_run(root, clean_dir=zone, w=0.1), name="uplift-model")["version"]
        churn = publish(run_id=make_run(root, clean_dir=zone), name="churn-model")["version"]
        mp.setenv("KEQUN_USER", "bob")
        approve(name="uplift-model", version=up, reason="ok")
        approve(name="churn-model", version=churn, reason="ok")
        mp.setenv("KEQUN_USER", "carol")
        promote(name="uplift-model", version=up)
        promote(name="churn-model", version=churn)
        mp.setenv("KEQUN_USER", "alice")
        yield {"root": root, "raw": raw_dir, "raw_frame": raw, "features": zone / "features.parquet",
               "clean": clean, "zone": zone}


@pytest.fixture
def bank(bank_store, tmp_path, monkeypatch):
    """The module's bank, with this test's own output folder; acting as alice."""
    monkeypatch.setenv("KEQUN_USER", "alice")
    return {**bank_store, "tmp": tmp_path}


def plan(capsys, bank, *extra: str, out: str = "plan.parquet") -> tuple[int, str, str]:
    return kequn(capsys, "plan", "--data", str(bank["features"]), "--uplift", "models:/uplift-model@champion",
                 "--out", str(bank["tmp"] / out), *extra)


# --------------------------------------------------------------------------------------------
# plan


def test_plan_end_to_end_never_contacts_sleeping_dogs(bank, capsys):
    from kequn.lineage import read_parquet_lineage
    from pipelines.planning import load_plan_config

    code, out, err = plan(capsys, bank, "--churn", "models:/churn-model@champion", "--budget", "25%",
                          "--json", str(bank["tmp"] / "plan.json"))
    assert code == 0, err
    listing = pd.read_parquet(bank["tmp"] / "plan.parquet")
    clean = bank["clean"].set_index("customer_no")
    assert 0 < len(listing) <= 100  # 25 % of 400
    assert listing["customer_no"].str.fullmatch(TOKEN_PATTERN).all()  # tokens only
    assert set(listing.columns) >= {"customer_no", "segment", "action", "expected_gain", "reason_codes"}
    x = clean.loc[listing["customer_no"], "x"].to_numpy()
    assert (x > 0).all()  # the planted sleeping dogs (x < 0, uplift 0.1·x < 0) are never on the list
    assert np.allclose(listing["uplift"], 0.1 * x)
    assert listing["expected_gain"].is_monotonic_decreasing and (listing["expected_gain"] > 0).all()
    assert listing["priority"].tolist() == list(range(1, len(listing) + 1))
    config, _ = load_plan_config()
    costs = {k: c.cost for k, c in config.channels.items()}
    campaign = listing[listing["list"] == "campaign"]
    value = {o.action: o.value_per_response for o in config.offers}
    expected = (campaign["uplift"] * campaign["action"].astype(object).map(value).astype(float)
                - campaign["channel"].astype(object).map(costs).astype(float))
    assert np.allclose(campaign["expected_gain"], expected)
    hnw = listing["value_tier"] == "high_net_worth"
    assert (listing.loc[hnw & (listing["list"] == "campaign"), "action"] == "专属理财顾问").all()
    assert listing["reason_codes"].str.contains("UPLIFT_POSITIVE").all()

    report = json.loads((bank["tmp"] / "plan.report.json").read_text(encoding="utf-8"))
    assert report == json.loads((bank["tmp"] / "plan.json").read_text(encoding="utf-8"))
    assert report["sleeping_dogs"] == int((bank["clean"]["x"] < 0).sum()) and report["sleeping_dogs_contacted"] == 0
    assert report["selected"] == len(listing)
    assert report["expected_incremental_responses"] == pytest.approx(campaign["uplift"].sum())
    assert report["expected_profit"] == pytest.approx(listing["expected_gain"].sum())
    curve = report["budgets"]
    assert [b["contacts"] for b in curve] == sorted(b["contacts"] for b in curve)
    assert all(a["expected_incremental_responses"] <= b["expected_incremental_responses"] + 1e-9
               for a, b in zip(curve, curve[1:], strict=False))
    assert report["models"]["uplift"]["name"] == "uplift-model" and report["models"]["churn"]["version"] == "1"
    gender = report["fairness"]["attributes"]["gender"]["groups"]
    assert sum(g["selected"] for g in gender) == len(listing)
    assert sum(r["contacts"] for r in report["composition"]["value_tier"]) == len(listing)
    html = (bank["tmp"] / "plan.report.html").read_text(encoding="utf-8")
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html  # every value escaped
    assert f"{report['expected_profit']:,.0f}" in html and "<script" not in html
    lineage = read_parquet_lineage(bank["tmp"] / "plan.parquet")
    assert lineage["kind"] == "plan" and lineage["key_fingerprint"] == json.loads(
        (bank["zone"] / "manifest.json").read_text(encoding="utf-8"))["key_fingerprint"]
    assert "sleeping dogs contacted 0" in out

    code, _, err = plan(capsys, bank, "--budget", "10")  # an earlier plan is replaced
    assert code == 0, err
    assert len(pd.read_parquet(bank["tmp"] / "plan.parquet")) == 10


def test_retention_list_and_best_action(bank, capsys, tmp_path):
    """A customer at churn risk gets the retention action when it is worth more than the offer."""
    config = (tmp_path / "plan.yaml")
    text = open(os.path.join(os.path.dirname(__file__), "..", "conf", "plan.yaml"), encoding="utf-8").read()
    config.write_text(text.replace("churn_threshold: 0.3", "churn_threshold: 0.6"), encoding="utf-8")
    code, _, err = plan(capsys, bank, "--churn", "models:/churn-model@champion", "--budget", "400",
                        "--config", str(config))
    assert code == 0, err
    listing = pd.read_parquet(bank["tmp"] / "plan.parquet")
    retention = listing[listing["list"] == "retention"]
    assert len(retention) > 0 and (retention["churn_risk"] >= 0.6).all()
    assert retention["action"].str.startswith("流失预警").all()  # conf/segments.yaml churn_risk strategy
    assert retention["reason_codes"].str.contains("CHURN_RISK").all()
    assert (listing["uplift"] > 0).all()  # not even for retention is a sleeping dog contacted


def test_cool_down_and_cap_from_the_contact_history(bank, capsys):
    tokens = bank["clean"].sort_values("x", ascending=False)["customer_no"].tolist()
    recent, capped = tokens[:3], tokens[3:5]  # the best customers, who would be first on the list
    rows = [{"customer_no": t, "contact_date": "2024-06-25"} for t in recent]
    rows += [{"customer_no": t, "contact_date": d} for t in capped for d in ("2024-04-10", "2024-05-01", "2024-05-20")]
    rows += [{"customer_no": tokens[5], "contact_date": "2023-01-05"}]  # long ago: no effect
    pd.DataFrame(rows).to_csv(bank["tmp"] / "history.csv", index=False)
    code, _, err = plan(capsys, bank, "--budget", "50", "--history", str(bank["tmp"] / "history.csv"),
                        "--as-of", "2024-06-30")
    assert code == 0, err
    listed = set(pd.read_parquet(bank["tmp"] / "plan.parquet")["customer_no"])
    assert not listed & set(recent + capped) and tokens[5] in listed
    report = json.loads((bank["tmp"] / "plan.report.json").read_text(encoding="utf-8"))
    assert report["not_contacted"]["COOL_DOWN"] == 3 and report["not_contacted"]["CONTACT_CAP"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--budget", "0"], "--budget must be a positive number of contacts"),
    (["--budget", "-5"], "--budget must be a positive number of contacts"),
    (["--budget", "0%"], "--budget must be a positive number of contacts"),
    (["--budget", "lots"], "--budget must be a positive number of contacts"),
    (["--budget", "10", "--uplift", ""], "plan needs an uplift model"),
    (["--budget", "10", "--uplift", "models:/no-such-model@champion"], "'no-such-model': no such registered model"),
    (["--budget", "10", "--uplift", "models:/uplift-model@gold"], "has no alias @gold"),
    (["--budget", "10", "--uplift", "runs:/abc/model"], "expected a registered model as models:/NAME@ALIAS"),
    (["--budget", "10", "--churn", "models:/churn-model/7"], "has no version 7"),
    (["--budget", "10", "--uplift", "models:/churn-model@champion"], "a churn model; --uplift needs an uplift model"),
    (["--budget", "10", "--churn", "models:/uplift-model@champion"], "an uplift model; --churn needs a churn model"),
])
def test_bad_plan_input_is_one_line_and_writes_nothing(bank, capsys, args, message):
    code, _, err = plan(capsys, bank, *args)
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("kequn: error:") and message in lines[0], err
    assert not any(bank["tmp"].iterdir())


def test_no_uplift_option_at_all(bank, capsys):
    code, _, err = kequn(capsys, "plan", "--data", str(bank["features"]), "--budget", "10",
                         "--out", str(bank["tmp"] / "plan.parquet"))
    assert code == 1 and err.strip().startswith("kequn: error: plan needs an uplift model")


def test_an_existing_file_that_is_not_a_plan_is_not_replaced(bank, capsys):
    mine = bank["tmp"] / "plan.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(mine)
    before = mine.read_bytes()
    code, _, err = plan(capsys, bank, "--budget", "10")
    assert code == 1 and err.strip() == (f"kequn: error: --out {mine}: the file exists and is not an earlier "
                                         "kequn output; choose another --out")
    assert mine.read_bytes() == before


def test_an_unapproved_version_is_refused(bank, capsys):
    from pipelines.registry import publish
    from tests.test_registry_support import make_uplift_run

    v2 = publish(run_id=make_uplift_run(bank["tmp"], clean_dir=bank["zone"], w=0.1, seed=3),
                 name="uplift-model")["version"]
    capsys.readouterr()  # publish's own identity note is not the plan's output
    code, _, err = plan(capsys, bank, "--budget", "10", "--uplift", f"models:/uplift-model/{v2}")
    assert code == 5 and err.strip() == f"kequn: error: uplift-model v{v2}: not approved (approval_status 'pending')"


def test_missing_model_columns_are_named(bank, capsys):
    from privacy.keys import key_fingerprint
    from tests.conftest import make_clean_zone

    zone = make_clean_zone(bank["tmp"] / "clean2", {"features": bank["clean"].drop(columns=["noise"])},
                           key_fingerprint=key_fingerprint(KEY.encode()))
    code, _, err = kequn(capsys, "plan", "--data", str(zone / "features.parquet"), "--uplift",
                         "models:/uplift-model@champion", "--budget", "10", "--out", str(bank["tmp"] / "p.parquet"))
    assert code == 1 and "the feature table lacks the model's input columns noise" in err, err


def test_selection_rules_on_arrays():
    """select(): sleeping dogs, zero uplift, cool-down, cap and no profit are excluded; budget ranks by gain."""
    from pipelines.planning import PlanConfig, select

    config = PlanConfig.model_validate({
        "channels": {"phone": {"cost": 1.0}},
        "offers": [{"action": "A", "channel": "phone", "value_per_response": 100}],
        "retention": {"churn_threshold": 0.5, "save_rate": 0.5, "value_per_save": 100, "channel": "phone"}})
    uplift = np.array([0.2, -0.3, 0.0, 0.05, 0.1, 0.3, 0.005, 0.02])
    churn = np.array([0.0, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.8])
    cooldown = np.array([False, False, False, True, False, False, False, False])
    cap = np.array([False, False, False, False, True, False, False, False])
    d = select(uplift=uplift, churn=churn, offer_idx=np.zeros(8, dtype=int), cooldown=cooldown, cap=cap,
               budget=2, config=config)
    assert d["excluded"].tolist() == ["OVER_BUDGET", "SLEEPING_DOG", "UPLIFT_AT_OR_BELOW_MIN", "COOL_DOWN",
                                      "CONTACT_CAP", "", "NO_EXPECTED_PROFIT", ""]
    # sleeping dog 1 is not contacted for retention despite churn 0.9; gains 19 (0), 29 (5), and 7 on retention 0.8·0.5·100 − 1 = 39 (> 0.02·100 − 1)
    assert d["candidate"][7] == "retention" and d["gain"][7] == pytest.approx(39.0)
    assert np.flatnonzero(d["selected"]).tolist() == [5, 7]
    assert d["rank"][7] == 0 and d["rank"][5] == 1 and d["rank"][0] == 2


@pytest.mark.parametrize(("text", "n"), [("10", 10), ("20%", 20), ("0.5%", 1), ("100%", 100)])
def test_budget_forms(text, n):
    from pipelines.planning import parse_budget

    assert parse_budget(text, 100) == n


def test_plan_config_names_are_checked(tmp_path):
    from experiments.segment.config import load_segments_config
    from kequn.errors import ConfigError
    from pipelines.planning import load_plan_config

    path = tmp_path / "plan.yaml"
    path.write_text("channels: {phone: {cost: 1}}\noffers:\n  - {when: {persona: yuong_digital}, action: A, "
                    "channel: phone, value_per_response: 1}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'yuong_digital' is not a persona of conf/segments.yaml"):
        load_plan_config(path, load_segments_config())
    path.write_text("channels: {phone: {cost: 1}}\noffers:\n  - {action: A, channel: fax, value_per_response: 1}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown channel 'fax'"):
        load_plan_config(path)


# --------------------------------------------------------------------------------------------
# relink


def relink(capsys, bank, *extra: str, out: str = "secure/calls.csv", user: str = "alice",
           monkeypatch=None) -> tuple[int, str, str]:
    return kequn(capsys, "relink", "--list", str(bank["tmp"] / "plan.parquet"), "--raw", str(bank["raw"]),
                 "--out", str(bank["tmp"] / out), *extra)


@pytest.fixture
def planned(bank, capsys):
    code, _, err = plan(capsys, bank, "--budget", "30")
    assert code == 0, err
    return bank


def test_relink_writes_only_allowed_columns_0600_and_audits(planned, capsys):
    from mlflow import MlflowClient

    from kequn.io import sha256_file
    from pipelines import audit

    bank = planned
    code, out, err = relink(capsys, bank, "--purpose", "outbound_call", "--approved-by", "bob")
    assert code == 0, err
    path = bank["tmp"] / "secure" / "calls.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    contacts = pd.read_csv(path, dtype=str)
    assert list(contacts.columns) == ["customer_no", "priority", "list", "action", "channel", "name", "mobile"]
    listing = pd.read_parquet(bank["tmp"] / "plan.parquet")
    assert contacts["customer_no"].tolist() == listing["customer_no"].tolist()
    raw = bank["raw_frame"]
    from privacy.entities import CUSTOMER_NO
    from privacy.tokens import tokenise_series

    raw = raw.assign(token=tokenise_series(raw["customer_no"], CUSTOMER_NO, KEY.encode()).to_numpy()).set_index("token")
    assert contacts["mobile"].tolist() == raw.loc[contacts["customer_no"], "mobile"].tolist()
    assert contacts["name"].tolist() == raw.loc[contacts["customer_no"], "name"].tolist()
    entry = audit.read(MlflowClient())[-1]
    assert entry["action"] == "relink" and entry["actor"] == "alice" and entry["approved_by"] == "bob"
    assert entry["purpose"] == "outbound_call" and entry["rows"] == len(listing) == 30 and entry["unmatched"] == 0
    assert entry["list_sha256"] == sha256_file(bank["tmp"] / "plan.parquet") and entry["columns"] == ["name", "mobile"]
    assert entry["identity"] == "self-declared"
    trail = (bank["root"] / "kequn_audit.jsonl").read_text(encoding="utf-8")
    for text in (out, err, trail, json.dumps(entry, ensure_ascii=False)):
        assert "calls.csv" not in text and "secure" not in text  # the path is never logged
        assert raw["mobile"].iloc[0] not in text

    code, _, err = relink(capsys, bank, "--purpose", "sms", "--approved-by", "dora", "--columns", "mobile",
                          out="sms.parquet")
    assert code == 0, err
    assert list(pd.read_parquet(bank["tmp"] / "sms.parquet").columns)[-1:] == ["mobile"]
    assert "name" not in pd.read_parquet(bank["tmp"] / "sms.parquet").columns


@pytest.mark.parametrize(("args", "message"), [
    (["--approved-by", "bob"], "--purpose is required"),
    (["--purpose", "lottery", "--approved-by", "bob"], "--purpose 'lottery' is not a relink purpose"),
    (["--purpose", "outbound_call"], "--approved-by is required"),
    (["--purpose", "outbound_call", "--approved-by", "ALICE"], "--approved-by 'ALICE' is the caller 'alice'"),
    (["--purpose", "outbound_call", "--approved-by", " Alice "], "is the caller 'alice'"),
    (["--purpose", "outbound_call", "--approved-by", "ａｌｉｃｅ"], "is the caller 'alice'"),  # full-width
    (["--purpose", "outbound_call", "--approved-by", "mallory"], "'mallory' is not in the keyring"),
    (["--purpose", "sms", "--approved-by", "bob", "--columns", "mobile,id_number"],
     "id_number may not be released for purpose 'sms'"),
])
def test_relink_refusals_write_nothing(planned, capsys, args, message):
    from mlflow import MlflowClient

    from pipelines import audit

    before = len(audit.read(MlflowClient()))
    code, _, err = relink(capsys, planned, *args)
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("kequn: error:") and message in lines[0], err
    assert not (planned["tmp"] / "secure").exists()
    assert len(audit.read(MlflowClient())) == before


def test_relink_with_another_key_is_refused(planned, capsys, tmp_path):
    other = tmp_path / "other.key"
    other.write_text("z" * 40, encoding="utf-8")
    code, _, err = relink(capsys, planned, "--purpose", "sms", "--approved-by", "bob", "--key-file", str(other))
    assert code == 1 and "the key given has fingerprint" in err and "relink needs the key" in err
    assert not (planned["tmp"] / "secure").exists()


def test_relink_never_replaces_a_file_and_refuses_a_list_kequn_did_not_write(planned, capsys):
    target = planned["tmp"] / "secure" / "calls.csv"
    target.parent.mkdir()
    target.write_text("keep me\n", encoding="utf-8")
    code, _, err = relink(capsys, planned, "--purpose", "sms", "--approved-by", "bob")
    assert code == 1 and "--out: the file exists" in err and str(target) not in err
    assert target.read_text(encoding="utf-8") == "keep me\n"
    pd.DataFrame({"customer_no": ["tk_0000000000000000"]}).to_parquet(planned["tmp"] / "mine.parquet")
    code, _, err = kequn(capsys, "relink", "--list", str(planned["tmp"] / "mine.parquet"), "--raw",
                         str(planned["raw"]), "--purpose", "sms", "--approved-by", "bob",
                         "--out", str(planned["tmp"] / "x.csv"))
    assert code == 1 and "carries no kequn lineage" in err


def test_same_person_spellings():
    from pipelines.relink import same_person

    assert same_person("wang.owner", "Wang_Owner") and same_person("李 强", "李强") and not same_person("bob", "bobby")


def test_a_list_edited_after_planning_is_refused(planned, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = planned["tmp"] / "plan.parquet"
    table = pq.read_table(path)
    extra = planned["clean"].loc[planned["clean"]["x"] < 0, "customer_no"].iloc[0]  # a customer not selected
    frame = table.to_pandas()
    frame.loc[len(frame) - 1, "customer_no"] = extra
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(table.schema.metadata),
                   path)
    code, _, err = relink(capsys, planned, "--purpose", "sms", "--approved-by", "bob")
    assert code == 1 and "its customers are not the ones `kequn plan` selected" in err
    assert not (planned["tmp"] / "secure").exists()


def test_offers_follow_tier_then_persona():
    """A high-net-worth customer gets the advisor whatever their persona; a young digital one the small loan."""
    from experiments.segment.config import load_segments_config
    from pipelines.planning import build_plan, load_plan_config

    segments = load_segments_config()
    config, _ = load_plan_config(None, segments)
    features = pd.DataFrame({"customer_no": [f"tk_{i:016x}" for i in range(4)],
                             "gender": ["男", "女", "男", "女"]})
    seg = pd.DataFrame({"segment": [0, 1, 1, 2], "persona": ["young_digital", "young_digital", "senior_saver", "x"],
                        "value_tier": ["high_net_worth", "mass", "mass", "mass"]})
    listing, report = build_plan(features, uplift=np.array([0.3, 0.3, 0.3, -0.1]), churn=None, segment=seg,
                                 budget=10, config=config, segments_config=segments)
    assert listing.set_index("customer_no")["action"].to_dict() == {
        "tk_0000000000000000": "专属理财顾问", "tk_0000000000000001": "小额信用贷款",
        "tk_0000000000000002": "低风险定期存款与保险"}
    assert report["strategies"]["young_digital"] == next(p.strategy for p in segments.personas
                                                         if p.name == "young_digital")


def test_do_not_contact_rules():
    from pipelines.planning import DoNotContact, PlanConfig, select

    frame = pd.DataFrame({"complaints_90d": [0, 2, None], "risk_level": ["R1", "R5", "R5"]})
    assert DoNotContact(column="complaints_90d", min=1, reason="RECENT_COMPLAINT").mask(frame).tolist() == \
        [False, True, False]
    assert DoNotContact(column="risk_level", equals="R5", reason="HIGH_RISK").mask(frame).tolist() == [False, True, True]
    assert DoNotContact(column="nope", min=1, reason="NOPE").mask(frame) is None
    config = PlanConfig.model_validate({"channels": {"phone": {"cost": 0.1}},
                                        "offers": [{"action": "A", "channel": "phone", "value_per_response": 10}]})
    d = select(uplift=np.array([0.5, 0.5, -0.1]), churn=None, offer_idx=np.zeros(3, dtype=int),
               cooldown=np.zeros(3, bool), cap=np.zeros(3, bool), budget=3, config=config,
               blocked=np.array(["", "RECENT_COMPLAINT", "RECENT_COMPLAINT"], dtype=object))
    assert d["selected"].tolist() == [True, False, False]
    assert d["excluded"].tolist() == ["", "RECENT_COMPLAINT", "SLEEPING_DOG"]  # a sleeping dog is named as such


def test_policy_never_releases_the_raw_join_key(tmp_path):
    import yaml

    from kequn.errors import ConfigError
    from privacy.policy import DEFAULT_POLICY_PATH, parse_policy

    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    assert parse_policy(data).relink.purposes["outbound_call"].columns == ["name", "mobile"]
    data["relink"]["purposes"]["sms"]["columns"] = ["customer_no", "mobile"]
    with pytest.raises(ConfigError, match=r"relink: purposes.sms.columns: 'customer_no' is the join key"):
        parse_policy(data)
    data["relink"]["purposes"]["sms"] = {"columns": ["mobile"], "colour": "red"}
    with pytest.raises(ConfigError, match="unknown key"):
        parse_policy(data)
