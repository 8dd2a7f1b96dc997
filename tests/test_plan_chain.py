"""The whole chain on the synthetic bank through the CLI: synth → pseudonymise → features → train
uplift → publish → approve (a second person, signed) → promote → plan → relink, and a plan on a
later snapshot with the same champion. Real Presidio, XGBoost and MLflow SQLite store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pandas as pd
import pytest

from privacy.tokens import TOKEN_PATTERN
from tests.test_plan import kequn

pytestmark = pytest.mark.slow


def test_synthetic_bank_from_training_to_a_relinked_call_list(mlflow_uri, tmp_path, monkeypatch, capsys):
    from pipelines.signing import init_key

    monkeypatch.setenv("KEQUN_PSEUDONYM_KEY", "c" * 40)
    monkeypatch.setenv("KEQUN_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    lines = ["people:"]
    for name, role in (("alice", "author"), ("bob", "reviewer"), ("carol", "owner")):
        lines.append(f'  {name}: {{public_key: "{init_key(name)[1]}", roles: [{role}]}}')
    (tmp_path / "keyring.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("KEQUN_KEYRING", str(tmp_path / "keyring.yaml"))

    def ok(*argv: str, user: str = "alice") -> str:
        monkeypatch.setenv("KEQUN_USER", user)
        code, out, err = kequn(capsys, *argv)
        assert code == 0, err
        return out

    ok("synth", "--customers", "1500", "--seed", "4", "--out", "raw")
    ok("pseudonymise", "raw", "--out", "clean")
    ok("features", "--data", "clean", "--snapshot", "2024-06-30", "--out", "features.parquet")
    ok("train", "--task", "uplift", "--data", "features.parquet", "--trials", "1", "--json", "t.json")
    run = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["run_id"]
    # A 1,500-customer uplift model trained with one trial memorises (its membership-inference
    # attack AUC is about 0.69, lower bound 0.64): the shipped model_privacy gate rightly rejects
    # it. This test is about planning and relinking, so it publishes under a copy of the gates
    # whose membership limit is lifted (recorded as an unreviewed gates file on the version); the
    # gate itself is tested in tests/test_model_privacy.py.
    import yaml

    gates = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf" / "gates.yaml").read_text(encoding="utf-8"))
    gates["model_privacy"]["limits"] = {"privacy_mia_auc_lower": "<= 1.0"}
    (tmp_path / "gates_chain.yaml").write_text(yaml.safe_dump(gates, allow_unicode=True), encoding="utf-8")
    ok("publish", "--run", run, "--name", "uplift-model", "--gates", "gates_chain.yaml", "--json", "p.json")
    version = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))["version"]
    ok("approve", "--name", "uplift-model", "--version", version, "--reason", "reviewed", user="bob")
    ok("promote", "--name", "uplift-model", "--version", version, user="carol")

    out = ok("plan", "--data", "features.parquet", "--uplift", "models:/uplift-model@champion", "--budget", "20%",
             "--out", "plan.parquet", "--history", "clean/campaigns.parquet")
    assert "sleeping dogs contacted 0" in out
    listing = pd.read_parquet(tmp_path / "plan.parquet")
    assert len(listing) > 0 and (listing["uplift"] > 0).all()
    assert listing["customer_no"].str.fullmatch(TOKEN_PATTERN).all()
    raw = pd.read_csv(tmp_path / "raw" / "customers.csv", dtype=str)
    plan_bytes = (tmp_path / "plan.parquet").read_bytes() + (tmp_path / "plan.report.html").read_bytes()
    for value in raw["mobile"].head(200).tolist() + raw["name"].head(200).tolist():
        assert value.encode("utf-8") not in plan_bytes  # tokens only

    ok("relink", "--list", "plan.parquet", "--raw", "raw", "--purpose", "outbound_call", "--approved-by", "bob",
       "--out", "calls.csv")
    calls = pd.read_csv(tmp_path / "calls.csv", dtype=str)
    assert stat.S_IMODE((tmp_path / "calls.csv").stat().st_mode) == 0o600
    assert len(calls) == len(listing) and set(calls["mobile"]) <= set(raw["mobile"])
    assert "id_number" not in calls.columns and "email" not in calls.columns

    ok("features", "--data", "clean", "--snapshot", "2024-09-30", "--out", "features_q3.parquet")
    ok("plan", "--data", "features_q3.parquet", "--uplift", f"models:/uplift-model/{version}", "--budget", "100",
       "--out", "plan_q3.parquet")
    assert 0 < len(pd.read_parquet(tmp_path / "plan_q3.parquet")) <= 100
