"""`kequn score` and `kequn monitor` on a tiny synthetic bank, through the governed chain.

One module-scoped bank: synth → pseudonymise → features at two snapshots → real `kequn train`
(churn and segment, which log the monitoring reference) → publish → approve (a second person,
signed) → promote (an owner, signed), in a real MLflow SQLite store and a real keyring. Each
test then scores or monitors, and checks the result against an independent computation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import kequn

# The module's bank takes ~30 s to build on a quiet 2-core box (synth, pseudonymise, two trainings).
pytestmark = pytest.mark.slow

CHURN, SEGMENT = "churn-model", "segment-model"


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    import mlflow.tracking.fluent

    from experiments.train import run_training
    from features.build import build_features
    from kequn.io import find_tables
    from pipelines.registry import approve, promote, publish
    from pipelines.signing import init_key
    from pipelines.synth import generate
    from privacy.keys import load_key
    from privacy.pseudonymise import pseudonymise

    tmp = tmp_path_factory.mktemp("bank")
    with pytest.MonkeyPatch.context() as mp:
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_REGISTRY_URI", uri)
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mp.setenv("KEQUN_KEY_DIR", str(tmp / "keys"))
        mp.setenv("KEQUN_KEYRING", str(tmp / "keyring.yaml"))
        mp.setenv("KEQUN_PSEUDONYM_KEY", "serve-test-key-0123456789abcdef0123456789")
        mp.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        mp.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
        mp.chdir(tmp)
        lines = ["people:"]
        for name, role in (("alice", "author"), ("bob", "reviewer"), ("carol", "owner")):
            _, public = init_key(name)
            lines.append(f"  {name}: {{public_key: \"{public}\", roles: [{role}]}}")
        (tmp / "keyring.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        generate(n_customers=700, seed=5, out=tmp / "raw", fmt="parquet", encoding="utf-8")
        pseudonymise(find_tables([tmp / "raw"]), out=tmp / "clean", policy_path=None, key=load_key(None))
        import datetime as dt

        paths = {}
        for day in ("2024-06-30", "2024-09-30"):
            paths[day] = tmp / f"features_{day}.parquet"
            build_features(clean_dir=tmp / "clean", snapshot=dt.date.fromisoformat(day), out=paths[day],
                           horizon_days=90)
        mp.setenv("KEQUN_USER", "alice")
        runs = {task: run_training(task=task, data=paths["2024-06-30"], trials=2, seed=1)["run_id"]
                for task in ("churn", "segment")}
        for task, model in (("churn", CHURN), ("segment", SEGMENT)):
            mp.setenv("KEQUN_USER", "alice")
            version = publish(run_id=runs[task], name=model)["version"]
            mp.setenv("KEQUN_USER", "bob")
            approve(name=model, version=version, reason="reviewed")
            mp.setenv("KEQUN_USER", "carol")
            promote(name=model, version=version)
        mp.setenv("KEQUN_USER", "dave")
        yield {"tmp": tmp, "train": paths["2024-06-30"], "later": paths["2024-09-30"], "runs": runs}


def with_lineage(source: Path, frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` written as a feature table signed like ``kequn features`` signs one, carrying
    ``source``'s lineage (passes the firewall: the session's step key is trusted)."""
    from kequn.lineage import read_parquet_lineage, write_signed_features
    from kequn.signing import SIGNATURE_KEY

    meta = read_parquet_lineage(source)
    body = {k: v for k, v in meta.items() if k not in (SIGNATURE_KEY, "manifest", "table_sha256")}
    return write_signed_features(frame, path, body, meta["manifest"])


def test_score_churn_champion(bank, capsys):
    import tempfile

    import mlflow

    from experiments.data import table_digest
    from pipelines.governance import load_champion

    out, summary = bank["tmp"] / "churn_scores.parquet", bank["tmp"] / "score.json"
    downloads = set(Path(tempfile.gettempdir()).glob("kequn-score-model-*"))
    code, stdout, err = kequn(capsys, "score", "--model", f"models:/{CHURN}@champion", "--data", str(bank["later"]),
                              "--out", str(out), "--json", str(summary))
    assert code == 0, err
    assert set(Path(tempfile.gettempdir()).glob("kequn-score-model-*")) == downloads  # no model copy left behind
    assert f"with {CHURN} v1 (@champion) (churn)" in stdout
    scores = pd.read_parquet(out)
    features = pd.read_parquet(bank["later"])
    assert list(scores.columns) == ["customer_no", "churn_probability"]
    assert scores["customer_no"].tolist() == features["customer_no"].astype(str).tolist()
    expected = np.asarray(load_champion(CHURN).predict(features))  # the governance loader, independently
    assert np.allclose(scores["churn_probability"], expected)
    meta = json.loads(pq.read_schema(out).metadata[b"kequn.score"])
    assert meta["model"]["name"] == CHURN and meta["model"]["version"] == "1"
    assert meta["feature_table"]["digest"] == table_digest(features)
    assert meta["feature_table"]["snapshot"] == "2024-09-30"
    written = json.loads(summary.read_text(encoding="utf-8"))
    assert written["rows"] == len(features) and written["scoring_run_id"] == meta["scoring_run_id"]

    run = mlflow.MlflowClient().get_run(meta["scoring_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["kequn.model.run_id"] == bank["runs"]["churn"]
    assert run.data.tags["kequn.table_digest"] == table_digest(features)
    assert run.data.metrics["n_rows"] == len(features)
    dataset = run.inputs.dataset_inputs[0]
    assert {t.key: t.value for t in dataset.tags}["mlflow.data.context"] == "scoring"
    assert "customer_no" not in dataset.dataset.schema
    everything = json.dumps([run.data.params, run.data.tags, dataset.dataset.schema, dataset.dataset.profile])
    assert "tk_" not in everything  # no token (let alone a row) in the scoring run
    assert not mlflow.MlflowClient().list_artifacts(run.info.run_id)

    # an earlier kequn score output is replaced; a file of the user's is not
    code, _, err = kequn(capsys, "score", "--model", f"models:/{CHURN}/1", "--data", str(bank["train"]),
                         "--out", str(out))
    assert code == 0, err
    assert len(pd.read_parquet(out)) == len(pd.read_parquet(bank["train"]))
    mine = bank["tmp"] / "mine.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(mine)
    before = mine.read_bytes()
    code, _, err = kequn(capsys, "score", "--model", f"models:/{CHURN}/1", "--data", str(bank["train"]),
                         "--out", str(mine))
    assert code == 1 and "exists and is not an earlier kequn output" in err and len(err.strip().splitlines()) == 1
    assert mine.read_bytes() == before


def test_score_segment_by_version_gives_the_feature_tables_value_tier(bank, capsys):
    out = bank["tmp"] / "segments.parquet"
    code, _, err = kequn(capsys, "score", "--model", f"models:/{SEGMENT}/1", "--data", str(bank["later"]),
                         "--out", str(out))
    assert code == 0, err
    scores = pd.read_parquet(out)
    assert list(scores.columns) == ["customer_no", "segment", "persona", "value_tier"]
    features = pd.read_parquet(bank["later"])
    # the model's tier and the feature builder's come from the one rule
    assert (scores["value_tier"].to_numpy() == features["value_tier"].astype(str).to_numpy()).all()
    assert scores["segment"].nunique() >= 2 and scores["persona"].notna().all()


@pytest.mark.parametrize("uri, message", [
    ("churn-model@champion", "not a registered model URI"),
    ("models:/no-such-model@champion", "no such registered model"),
    (f"models:/{CHURN}@staging", "has no alias @staging"),
    (f"models:/{CHURN}/9", "has no version 9"),
])
def test_score_refuses_an_unresolvable_uri(bank, capsys, uri, message):
    out = bank["tmp"] / "refused.parquet"
    code, _, err = kequn(capsys, "score", "--model", uri, "--data", str(bank["later"]), "--out", str(out))
    assert code == 1 and message in err, err
    assert err.startswith("kequn: error:") and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_score_names_missing_extra_and_wrongly_typed_columns(bank, capsys):
    frame = pd.read_parquet(bank["later"])
    bad = frame.drop(columns=["aum_change_3m", "dormancy_days"])
    bad["favourite_colour_code"] = 1.0
    bad["txn_count_90d"] = bad["txn_count_90d"].astype(str)
    path = with_lineage(bank["later"], bad, bank["tmp"] / "bad_features.parquet")
    out = bank["tmp"] / "never.parquet"
    code, _, err = kequn(capsys, "score", "--model", f"models:/{CHURN}@champion", "--data", str(path),
                         "--out", str(out))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "missing columns aum_change_3m, dormancy_days" in err
    assert "extra columns not in its training table favourite_colour_code" in err
    assert "wrong types txn_count_90d (long expected" in err
    assert "tk_" not in err and not out.exists()


def test_score_refuses_an_unapproved_version_and_raw_data(bank, capsys, monkeypatch):
    from pipelines.registry import publish

    monkeypatch.setenv("KEQUN_USER", "alice")
    version = publish(run_id=bank["runs"]["churn"], name=CHURN)["version"]  # pending, never approved
    out = bank["tmp"] / "pending.parquet"
    code, _, err = kequn(capsys, "score", "--model", f"models:/{CHURN}/{version}", "--data", str(bank["later"]),
                         "--out", str(out))
    assert code == 5 and "not approved" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    raw = bank["tmp"] / "raw" / "customers.parquet"
    code, _, err = kequn(capsys, "score", "--model", f"models:/{CHURN}@champion", "--data", str(raw),
                         "--out", str(out))
    assert code == 1 and "pseudonymise" in err and not out.exists()


def test_monitor_is_quiet_on_the_training_table_and_flags_planted_drift(bank, capsys):
    out = bank["tmp"] / "monitor_same"
    code, stdout, err = kequn(capsys, "monitor", "--model", f"models:/{CHURN}@champion", "--data", str(bank["train"]),
                              "--out", str(out), "--json", str(bank["tmp"] / "m.json"))
    assert code == 0, err
    report = json.loads((out / "monitor_report.json").read_text(encoding="utf-8"))
    assert report == json.loads((bank["tmp"] / "m.json").read_text(encoding="utf-8"))
    assert report["breaches"] == [] and max(f["psi"] for f in report["features"]) < 1e-9
    assert report["outputs"][0]["column"] == "churn_probability" and report["outputs"][0]["psi"] < 1e-9
    perf = report["performance"]
    assert perf["measured"] and 0.5 < perf["metrics"]["roc_auc"] <= 1.0  # labels of the training snapshot
    html = (out / "monitor_report.html").read_text(encoding="utf-8")
    assert "All limits met" in html and "data:image/png;base64," in html and "<script" not in html

    frame = pd.read_parquet(bank["train"])
    frame["aum"] = frame["aum"] * 4 + 50_000  # planted drift in one column
    frame.loc[frame.sample(frac=0.3, random_state=0).index, "recency_days"] = np.nan  # and in missing values
    drifted = with_lineage(bank["train"], frame, bank["tmp"] / "drifted.parquet")
    out2 = bank["tmp"] / "monitor_drift"
    code, _, err = kequn(capsys, "monitor", "--model", f"models:/{CHURN}@champion", "--data", str(drifted),
                         "--out", str(out2))
    assert code == 6, err
    assert err.startswith("kequn: error: monitor: limit breached:") and len(err.strip().splitlines()) == 1
    report = json.loads((out2 / "monitor_report.json").read_text(encoding="utf-8"))
    by_column = {f["column"]: f for f in report["features"]}
    assert by_column["aum"]["status"] == "drift" and by_column["aum"]["psi"] > 0.25
    assert by_column["recency_days"]["missing_shift"] == pytest.approx(0.3, abs=0.01)
    assert any("recency_days missing share" in b for b in report["breaches"])
    untouched = [f for c, f in by_column.items() if c not in ("aum", "recency_days")]
    assert all(f["psi"] < 1e-9 for f in untouched)  # only the planted columns move
    assert "limit(s) breached" in (out2 / "monitor_report.html").read_text(encoding="utf-8")


def test_monitor_segment_migration_matches_the_feature_tables(bank, capsys):
    out = bank["tmp"] / "monitor_segment"
    code, _, err = kequn(capsys, "monitor", "--model", f"models:/{SEGMENT}@champion", "--data", str(bank["later"]),
                         "--out", str(out))
    assert code in (0, 6), err
    report = json.loads((out / "monitor_report.json").read_text(encoding="utf-8"))
    moves = report["migration"]
    assert moves["available"], moves
    before = pd.read_parquet(bank["train"])[["customer_no", "value_tier"]]
    now = pd.read_parquet(bank["later"])[["customer_no", "value_tier"]]
    joined = before.merge(now, on="customer_no", suffixes=("_b", "_n"))
    expected = pd.crosstab(joined["value_tier_b"].astype(str), joined["value_tier_n"].astype(str))
    tier = moves["value_tier"]
    got = pd.DataFrame(tier["matrix"], index=tier["labels"], columns=tier["labels"])
    assert got.loc[expected.index, expected.columns].to_numpy().tolist() == expected.to_numpy().tolist()
    assert got.to_numpy().sum() == len(joined) == moves["customers_in_both"]
    assert tier["upgraded"] + tier["downgraded"] + tier["stayed"] == len(joined)
    assert {o["column"] for o in report["outputs"]} == {"segment", "persona", "value_tier"}
    assert (out / "migration_value_tier.png").is_file()

    # tokens under another key: no customer to follow, said so (not a crash)
    frame = pd.read_parquet(bank["later"])
    frame["customer_no"] = "tk_" + frame["customer_no"].astype(str).str[3:].str[::-1]
    other = with_lineage(bank["later"], frame, bank["tmp"] / "other_tokens.parquet")
    code, _, err = kequn(capsys, "monitor", "--model", f"models:/{SEGMENT}@champion", "--data", str(other),
                         "--out", str(bank["tmp"] / "monitor_other"))
    assert code in (0, 6), err
    report = json.loads((bank["tmp"] / "monitor_other" / "monitor_report.json").read_text(encoding="utf-8"))
    assert not report["migration"]["available"] and "no customer token" in report["migration"]["why"]


def test_monitor_refuses_a_model_trained_without_a_reference(bank, capsys, monkeypatch):
    from pipelines.registry import approve, promote, publish
    from tests.test_registry_support import make_run

    monkeypatch.setenv("KEQUN_USER", "alice")
    run = make_run(bank["tmp"], clean_dir=bank["tmp"] / "clean")  # logged without the training wrapper
    version = publish(run_id=run, name="old-model")["version"]
    monkeypatch.setenv("KEQUN_USER", "bob")
    approve(name="old-model", version=version, reason="reviewed")
    monkeypatch.setenv("KEQUN_USER", "carol")
    promote(name="old-model", version=version)
    out = bank["tmp"] / "monitor_old"
    code, _, err = kequn(capsys, "monitor", "--model", "models:/old-model@champion", "--data", str(bank["later"]),
                         "--out", str(out))
    assert code == 1 and "has no monitoring/reference.json" in err and "retrain" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_monitor_limits_file_is_strict(bank, capsys):
    limits = bank["tmp"] / "limits.yaml"
    limits.write_text("psi_feature_max: 0.2\npsi_max_typo: 1\n", encoding="utf-8")
    code, _, err = kequn(capsys, "monitor", "--model", f"models:/{CHURN}@champion", "--data", str(bank["train"]),
                         "--out", str(bank["tmp"] / "m_limits"), "--limits", str(limits))
    assert code == 1 and "unknown key 'psi_max_typo'" in err and len(err.strip().splitlines()) == 1
