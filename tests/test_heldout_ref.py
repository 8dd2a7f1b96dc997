"""The held-out set by reference (issue 13, item 7): re-materialised at publish, refused when the
table it names is missing or changed, and never copied into MLflow."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments.heldout import HeldOutError, materialise, reference
from pipelines.gates import load_gates, regression_gate
from tests.conftest import make_clean_zone
from tests.test_registry_support import bank_frame, make_run


def _champion_and_candidate(tmp_path):
    import mlflow

    from pipelines.registry import publish

    champion = make_run(tmp_path, seed=0)
    candidate = make_run(tmp_path, seed=1)
    client = mlflow.MlflowClient()
    publish(run_id=champion, name="m")
    client.set_registered_model_alias("m", "champion", "1")  # the gate reads only the holder
    local = mlflow.artifacts.download_artifacts(run_id=candidate, artifact_path="eval/heldout_ref.json",
                                                dst_path=str(tmp_path / "dl"))
    ref = json.loads(open(local, encoding="utf-8").read())
    return client, client.get_run(candidate), ref


def _gate(client, run):
    return regression_gate(run, "churn", "m", f"runs:/{run.info.run_id}/model", load_gates(None), client)


def test_regression_gate_rematerialises_the_rows_and_fails_clearly_when_the_table_is_missing_or_changed(
        mlflow_uri, tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    client, run, ref = _champion_and_candidate(tmp_path)
    ok = _gate(client, run)
    assert "vs @champion v1" in ok["detail"], ok["detail"]
    table = Path(ref["table"])
    original = table.read_bytes()

    edited = pd.read_parquet(table)
    edited.loc[0, "aum_trend"] += 1.0
    edited.to_parquet(table, index=False)
    changed = _gate(client, run)
    assert not changed["passed"]
    assert changed["detail"] == (f"regression: the held-out set's table {table} changed since training (SHA-256 "
                                 "differs); restore the table the run was trained on, or retrain")

    table.unlink()
    missing = _gate(client, run)
    assert not missing["passed"]
    assert missing["detail"] == (f"regression: the held-out set's table {table} is missing (it is kept by "
                                 "reference, not copied into MLflow); restore it there or retrain")
    table.write_bytes(original)
    assert _gate(client, run)["passed"]


def test_reference_holds_no_row_content_and_names_exactly_the_rows(tmp_path):
    frame = bank_frame(3)
    zone = make_clean_zone(tmp_path / "z", {"features": frame})
    positions = np.array([5, 1, 399, 42])
    ref = reference(path=zone / "features.parquet", positions=positions, n_rows=len(frame), task="churn",
                    label="churn_label", positive=None, treatment=None, seed=3)
    text = json.dumps(ref)
    assert "男" not in text and "女" not in text and f"{frame.loc[5, 'aum_trend']:.6f}"[:8] not in text
    held = materialise(ref)
    expected = frame.iloc[sorted(positions)].reset_index(drop=True)
    assert held.rows["aum_trend"].tolist() == expected["aum_trend"].tolist()
    assert held.y.tolist() == expected["churn_label"].tolist()

    tampered = {**ref, "positions": [0, 1, 2, 3]}
    with pytest.raises(HeldOutError, match="row positions were edited"):
        materialise(tampered)
    (zone / "manifest.json").write_text("{}", encoding="utf-8")  # the table's clean zone broken
    with pytest.raises(HeldOutError, match="fails the privacy firewall"):
        materialise(ref)
