"""``kequn features --engine spark``: the same feature table as the local engine, on Spark SQL.

One Spark session (local[2]) for the module; every build inside reuses it. Equality is checked
on a small synthetic bank (synth → pseudonymise → features, both engines) and on the unit test
bank of tests/test_features.py with its edge cases (a customer without transactions or balances,
a closed customer, missing values, text dates and numbers, zone-aware timestamps). The signed
zone is verified before Spark reads anything: a forged or failed zone gets the local engine's
refusal, word for word.
"""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import pytest

from features.build import build_features, compute_features
from features.registry import ID_COLUMN
from kequn.errors import InputError, LineageError
from kequn.lineage import read_parquet_lineage
from pipelines.cli.main import main
from tests.test_features import HORIZON, SNAP, TS, add_rows, bank

pytestmark = pytest.mark.spark

SYNTH_SNAPSHOT = "2024-03-31"


@pytest.fixture(scope="module")
def spark():
    from kequn.spark import quiet_pandas_warnings, spark_session

    with quiet_pandas_warnings(), spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "2"}) as session:
        yield session


@pytest.fixture(scope="module")
def synthetic_zone(tmp_path_factory):
    """`kequn synth --customers 300` → `kequn pseudonymise`: a real clean zone."""
    root = tmp_path_factory.mktemp("synth-bank")
    mp = pytest.MonkeyPatch()
    mp.setenv("KEQUN_PSEUDONYM_KEY", "c" * 40)
    try:
        main(["-q", "synth", "--customers", "300", "--seed", "7", "--format", "parquet", "--out", str(root / "raw")])
        main(["-q", "pseudonymise", str(root / "raw"), "--out", str(root / "clean")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    finally:
        mp.undo()
    return root / "clean"


def assert_same_table(local: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(local.columns) == list(spark.columns)
    assert local.dtypes.to_dict() == spark.dtypes.to_dict()
    pd.testing.assert_frame_equal(local, spark, check_exact=False, rtol=1e-9, atol=1e-9)


def test_cli_spark_writes_the_local_engines_table(spark, synthetic_zone, tmp_path, capsys):
    out = tmp_path / "features.parquet"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(["-q", "features", "--data", str(synthetic_zone), "--snapshot", SYNTH_SNAPSHOT, "--out", str(out),
              "--engine", "spark"])
    captured = capsys.readouterr()
    assert captured.out.startswith("features: ") and "Warning" not in captured.err
    # PySpark's pandas FutureWarnings (and pandas' deprecations of PySpark's calls) never reach stderr
    assert [str(w.message) for w in caught if "pyspark" in w.filename] == []
    assert out.is_file() and (tmp_path / "features.dictionary.json").is_file()
    assert read_parquet_lineage(out)["engine"] == "spark"
    on_spark = pd.read_parquet(out)
    local, _ = compute_features(synthetic_zone, dt.date.fromisoformat(SYNTH_SNAPSHOT), 90)
    assert len(local) > 200 and local["has_transactions"].sum() > 100  # a bank, not an empty table
    assert_same_table(local, on_spark)


def _edge_bank() -> dict[str, pd.DataFrame]:
    """The unit bank plus: text dates and numbers in both large tables, zone-aware transaction
    times (one just after midnight in Beijing, i.e. before the snapshot in UTC), a transaction
    with no amount, channel or type, an account row with no balances, and F with no rows at all."""
    t = bank()
    add_rows(t, "transactions", [
        {"txn_id": "T9", "customer_no": "tk_a", "card_no": "tk_card1", "txn_time": TS("2024-07-01 00:30:00"),
         "amount": 1.0, "direction": "out", "channel": "atm", "txn_type": "withdrawal"},
        {"txn_id": "T10", "customer_no": "tk_e", "card_no": "tk_card3", "txn_time": TS("2024-06-15 12:00:00"),
         "amount": None, "direction": None, "channel": None, "txn_type": None}])
    t["transactions"]["txn_time"] = t["transactions"]["txn_time"].dt.tz_localize("Asia/Shanghai")
    t["transactions"]["amount"] = t["transactions"]["amount"].map(lambda v: "" if pd.isna(v) else str(v))
    acc = t["accounts_monthly"]
    acc.loc[(acc["customer_no"] == "tk_d") & (acc["month_end"] == TS("2024-04-30")), ["aum", "loan_balance"]] = None
    acc["month_end"] = acc["month_end"].dt.strftime("%Y-%m-%d").astype(object)
    add_rows(t, "customers", [{"customer_no": "tk_f", "gender": "男", "birth_month": "2000-02",
                               "open_date": TS("2024-06-29"), "close_date": pd.NaT}])
    return t


def test_edge_cases_equal_on_both_engines(spark, clean_zone_factory):
    zone = clean_zone_factory(_edge_bank(), name="edge")
    local, _ = compute_features(zone, SNAP, HORIZON)
    on_spark, _ = compute_features(zone, SNAP, HORIZON, engine="spark")
    assert_same_table(local, on_spark)
    rows = on_spark.set_index(ID_COLUMN)
    # B and F have no transactions: explicit missing recency, zero counts; F has no balances
    assert rows.loc["tk_f", "has_transactions"] == 0 and pd.isna(rows.loc["tk_f", "recency_days"])
    assert rows.loc["tk_b", "txn_count_90d"] == 0 and pd.isna(rows.loc["tk_f", "aum"])
    # A's 00:30 Beijing transaction on 1 July is after the snapshot: not counted
    assert rows.loc["tk_a", "txn_count_30d"] == 2


@pytest.mark.parametrize("forgery", ["tampered", "failed"])
def test_forged_or_failed_zone_refused_before_spark_reads(spark, clean_zone_factory, tmp_path, forgery):
    zone = clean_zone_factory(bank(), status="failed" if forgery == "failed" else "passed", name=forgery)
    if forgery == "tampered":
        bank()["transactions"].head(2).to_parquet(zone / "transactions.parquet", index=False)
    messages = []
    for engine in ("local", "spark"):
        with pytest.raises(LineageError) as exc:
            build_features(clean_dir=zone, snapshot=SNAP, out=tmp_path / f"{engine}.parquet", engine=engine)
        messages.append(str(exc.value))
        assert not (tmp_path / f"{engine}.parquet").exists()
    assert messages[0] == messages[1]
    assert ("changed after pseudonymisation" if forgery == "tampered" else "did not pass") in messages[1]
    assert not [v for v in spark.catalog.listTables() if v.name.startswith("kequn_")]


def test_typo_engine_is_one_line(clean_zone_factory, tmp_path, capsys):
    zone = clean_zone_factory(bank())
    with pytest.raises(SystemExit) as exc:
        main(["features", "--data", str(zone), "--snapshot", "2024-06-30", "--out", str(tmp_path / "f.parquet"),
              "--engine", "sparc"])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["kequn: error: unknown engine 'sparc': choose one of local, spark"]
    assert not (tmp_path / "f.parquet").exists()
    with pytest.raises(InputError, match="unknown engine"):
        compute_features(zone, SNAP, HORIZON, engine="sparc")


def test_a_local_session_binds_to_loopback_logs_errors_only_and_has_a_usable_heap(spark):
    import os

    from kequn.spark import LOG4J2_PROPERTIES, _local_driver_memory

    conf = dict(spark.sparkContext.getConf().getAll())
    assert LOG4J2_PROPERTIES.is_file() and f"-Dlog4j2.configurationFile={LOG4J2_PROPERTIES.as_uri()}" in \
        conf["spark.driver.extraJavaOptions"]
    if not os.environ.get("SPARK_DRIVER_MEMORY"):  # half the machine, not Spark's 1 GiB default
        assert conf["spark.driver.memory"] == _local_driver_memory()
    assert conf["spark.driver.host"] in ("127.0.0.1", "localhost")
    assert conf["spark.ui.enabled"] == "false"
