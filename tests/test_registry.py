"""Governed registry end to end through the CLI: publish → approve → promote → rollback, every
refusal with its message and an unchanged registry, audit log, listing, model card, @champion."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.cli.main import main
from tests.test_registry_support import bank_frame, make_run

MODEL = "churn-model"


def kequn(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = 0
    try:
        main(["-q", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def snapshot() -> dict:
    """Everything a refused command must leave untouched: models, versions, tags, aliases."""
    from mlflow import MlflowClient

    client = MlflowClient()
    state = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name='{model.name}'")
        state[model.name] = {"aliases": dict(model.aliases), "tags": dict(model.tags),
                             "versions": {v.version: dict(v.tags) for v in versions}}
    return state


def refused(capsys, message: str, *argv: str) -> str:
    before = snapshot()
    code, out, err = kequn(capsys, *argv)
    assert code != 0, out
    assert message in err, err
    assert len(err.strip().splitlines()) == 1
    assert snapshot() == before
    return err


@pytest.fixture
def audit_log(mlflow_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return tmp_path / "kequn_audit.jsonl"  # beside the sqlite store


def test_publish_to_champion_and_back(mlflow_uri, tmp_path, monkeypatch, capsys, clean_zone_factory, audit_log):
    import mlflow

    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    monkeypatch.setenv("KEQUN_USER", "alice")
    run1 = make_run(tmp_path, clean_dir=clean)

    code, out, err = kequn(capsys, "publish", "--run", run1, "--name", MODEL, "--json", str(tmp_path / "p.json"))
    assert code == 0, err
    published = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert set(published) == {"name", "version", "approval_status", "gates"}
    assert published["approval_status"] == "pending" and str(published["version"]) == "1"
    assert all(g["passed"] for g in published["gates"].values())
    assert "passed, residual scan clean" in published["gates"]["privacy"]["detail"]
    assert "no @champion yet" in published["gates"]["regression"]["detail"]

    client = mlflow.MlflowClient()
    tags = client.get_model_version(MODEL, "1").tags
    assert tags["approval_status"] == "pending" and tags["kequn.author"] == "alice"
    assert tags["kequn.published_by"] == "alice" and json.loads(tags["kequn.gates"])["fairness"]["passed"]
    card = mlflow.artifacts.load_text(tags["kequn.model_card"])
    for needle in ("Intended use", "Out-of-scope", "test-policy-hash", "privacy_report.html",
                   "test_roc_auc", "demographic parity ratio", "Caveats"):
        assert needle in card
    assert "Art. 24" in mlflow.artifacts.load_text(tags["kequn.model_card"].replace(".html", ".md"))

    # four eyes, and promotion only after approval
    refused(capsys, "is not approved (it is pending", "promote", "--name", MODEL, "--version", "1", "--by", "alice")
    refused(capsys, "approving one's own run is not allowed", "approve", "--name", MODEL, "--version", "1",
            "--approver", "alice")
    code, out, err = kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--approver", "bob",
                           "--reason", "gates reviewed")
    assert code == 0 and "approved by bob" in out, err
    refused(capsys, "already approved", "approve", "--name", MODEL, "--version", "1", "--approver", "carol")
    code, out, err = kequn(capsys, "promote", "--name", MODEL, "--version", "1", "--by", "alice")
    assert code == 0 and "promoted to @champion" in out, err
    refused(capsys, "already holds @champion", "promote", "--name", MODEL, "--version", "1", "--by", "alice")

    # @champion loads and scores a clean table
    champion = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    scores = champion.predict(bank_frame(5)[["aum_trend", "txn_count_90d"]])
    assert scores.shape == (400, 2) and ((scores >= 0) & (scores <= 1)).all()

    # a second, better-or-equal run compared with @champion on its own held-out set
    run2 = make_run(tmp_path, clean_dir=clean, seed=0)
    code, out, err = kequn(capsys, "publish", "--run", run2, "--name", MODEL, "--json", str(tmp_path / "p2.json"))
    assert code == 0, err
    second = json.loads((tmp_path / "p2.json").read_text(encoding="utf-8"))
    regression = second["gates"]["regression"]
    assert second["approval_status"] == "pending" and regression["passed"]
    assert "vs @champion v1" in regression["detail"]
    assert regression["checks"][0]["champion_value"] == pytest.approx(regression["checks"][0]["value"])
    assert kequn(capsys, "approve", "--name", MODEL, "--version", "2", "--approver", "bob")[0] == 0
    code, out, err = kequn(capsys, "promote", "--name", MODEL, "--version", "2", "--by", "alice",
                           "--reason", "better recall")
    assert code == 0 and "previous @champion was v1" in out, err
    assert client.get_model_version(MODEL, "2").tags["kequn.previous.champion"] == "1"

    # one-command rollback
    code, out, err = kequn(capsys, "promote", "--name", MODEL, "--version", "1", "--by", "alice",
                           "--reason", "incident 42")
    assert code == 0 and "rolled back to @champion" in out, err
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"

    entries = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()]
    assert [(e["action"], e["version"], e["actor"]) for e in entries] == [
        ("publish", "1", "alice"), ("approve", "1", "bob"), ("promote", "1", "alice"),
        ("publish", "2", "alice"), ("approve", "2", "bob"), ("promote", "2", "alice"),
        ("rollback", "1", "alice")]
    assert entries[0]["gates"]["privacy"] is True and entries[1]["reason"] == "gates reviewed"
    assert entries[5]["previous"] == "1" and entries[6]["previous"] == "2" and entries[6]["reason"] == "incident 42"
    v1_tags = client.get_model_version(MODEL, "1").tags
    mirrored = [json.loads(v) for k, v in sorted(v1_tags.items()) if k.startswith("kequn.audit.")]
    assert [m["action"] for m in mirrored] == ["publish", "approve", "promote", "rollback"]
    assert v1_tags["kequn.last_action"].startswith("rollback by alice")

    code, out, err = kequn(capsys, "registry", "--name", MODEL)
    assert code == 0, err
    lines = out.splitlines()
    v1 = next(line for line in lines if line.startswith("v1 "))
    assert "@champion" in v1 and "approved" in v1 and "test_roc_auc=" in v1 and "✓privacy" in v1 and "bob" in v1
    assert "@champion" not in next(line for line in lines if line.startswith("v2 "))
    assert lines[-1] == f"audit trail: experiment kequn-audit (7 entries, chain intact); local copy {audit_log}"


def test_rejected_version_and_refusals(mlflow_uri, tmp_path, monkeypatch, capsys, clean_zone_factory, audit_log):
    monkeypatch.setenv("KEQUN_USER", "alice")
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    unfair = make_run(tmp_path, clean_dir=clean,
                      fairness_override={"fairness_positive_balance_difference_gender": 0.55,
                                         "fairness_positive_balance_pvalue_gender": 0.001})
    code, out, err = kequn(capsys, "publish", "--run", unfair, "--name", MODEL,
                           "--json", str(tmp_path / "p.json"))
    assert code == 4, err  # registered but rejected: a documented non-zero exit
    assert err.strip().splitlines()[-1] == (f"kequn: error: {MODEL} v1 was rejected by its gates (fairness); fix the "
                                            "model and retrain, or record a reviewed exemption with its reason in "
                                            "the gates file")
    result = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert result["approval_status"] == "rejected"
    assert not result["gates"]["fairness"]["passed"] and result["gates"]["quality"]["passed"]
    detail = result["gates"]["fairness"]["detail"]
    assert "positive_balance_difference[gender] = 0.5500, needs <= 0.1: FAILED" in detail
    assert "rejected" in out and "fairness" in out

    err = refused(capsys, "approving a rejected version is not allowed", "approve", "--name", MODEL, "--version", "1",
                  "--approver", "bob")
    assert "rejected by its gates (fairness: positive_balance_difference[gender])" in err
    assert "fix the model and retrain" in err and "exemption" in err
    refused(capsys, "it was rejected by its gates", "promote", "--name", MODEL, "--version", "1", "--by", "bob")
    refused(capsys, "no such MLflow run", "publish", "--run", "0" * 32, "--name", MODEL)
    refused(capsys, "model 'nope': no such registered model", "approve", "--name", "nope", "--version", "1",
            "--approver", "bob")
    refused(capsys, f"model '{MODEL}' has no version 9", "promote", "--name", MODEL, "--version", "9", "--by", "bob")
    refused(capsys, "no such registered model", "registry", "--name", "nope")
    no_model = make_run(tmp_path, clean_dir=clean, with_model=False)
    refused(capsys, "no model logged under artifact path 'model'", "publish", "--run", no_model, "--name", "other")
    bad_gates = tmp_path / "gates.yaml"
    bad_gates.write_text("quality:\n  floors:\n    churn: {test_auc: '>= 0.6'}\n", encoding="utf-8")
    refused(capsys, "quality.floors.churn.test_auc: unknown metric for task churn", "publish", "--run", unfair,
            "--name", MODEL, "--gates", str(bad_gates))

    entries = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()]
    assert [(e["action"], e["approval_status"]) for e in entries] == [("reject", "rejected")]
    assert entries[0]["gates"]["fairness"] is False


def test_regression_against_champion_rejects_a_weaker_model(mlflow_uri, tmp_path, monkeypatch, capsys,
                                                           clean_zone_factory, audit_log):
    import mlflow

    from pipelines.registry import approve, promote, publish

    monkeypatch.setenv("KEQUN_USER", "alice")
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    good = make_run(tmp_path, clean_dir=clean)
    assert publish(run_id=good, name=MODEL)["approval_status"] == "pending"
    approve(name=MODEL, version="1", approver="bob", reason="ok")
    promote(name=MODEL, version="1", by="alice")
    weak = make_run(tmp_path, clean_dir=clean, strength="weak")
    weak_auc = mlflow.MlflowClient().get_run(weak).data.metrics["test_roc_auc"]
    assert weak_auc >= 0.6  # passes the floor; only the comparison can stop it
    result = publish(run_id=weak, name=MODEL)
    assert result["approval_status"] == "rejected"
    assert [g for g, r in result["gates"].items() if not r["passed"]] == ["regression"]
    check = result["gates"]["regression"]["checks"][0]
    assert check["value"] == pytest.approx(weak_auc)  # same held-out set, same metric function
    assert check["champion_value"] > check["value"] + 0.01
    assert "FAILED" in result["gates"]["regression"]["detail"]


def test_model_card_escapes_values_and_is_self_contained():
    from types import SimpleNamespace

    from pipelines import model_card

    run = SimpleNamespace(info=SimpleNamespace(run_id="r1"), data=SimpleNamespace(
        tags={"kequn.task": "uplift", "kequn.author": "<script>alert(1)</script>", "kequn.manifest_id": "m1"},
        metrics={"test_qini_auc": 0.04, "test_auuc": 0.07, "fairness_demographic_parity_ratio_gender": 0.9}))
    gates = {"uplift": {"passed": False, "applicable": True, "detail": "uplift: a | b <i>"}}
    context = model_card.card_context(name="m", version="1", run=run, gates=gates, approval_status="rejected",
                                      published_by="x", published_at="t")
    markdown, page = model_card.render(context)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;i&gt;" in page
    assert "src=" not in page and "href=" not in page
    assert "## Uplift results" in markdown and "test_qini_auc | 0.0400" in markdown
    assert "a \\| b" in markdown  # a gate detail cannot break the Markdown table
    assert "Gates failed: uplift" in markdown and "| gender | — | 0.9000 |" in markdown


def test_empty_registry_listing(mlflow_uri, capsys):
    code, out, err = kequn(capsys, "registry")
    assert code == 0 and "no registered models yet" in out, err


def test_uplift_regression_uses_the_training_qini_on_the_same_held_out_set(mlflow_uri, tmp_path, monkeypatch,
                                                                          clean_zone_factory, audit_log):
    import mlflow

    from experiments.uplift_metrics import qini_coefficient
    from pipelines.registry import approve, promote, publish
    from tests.test_registry_support import make_uplift_run, uplift_frame

    monkeypatch.setenv("KEQUN_USER", "alice")
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    champion = make_uplift_run(tmp_path, clean_dir=clean, w=1.0, seed=0)
    first = publish(run_id=champion, name="uplift-model")
    assert first["approval_status"] == "pending" and first["gates"]["uplift"]["passed"]
    approve(name="uplift-model", version="1", approver="bob")
    promote(name="uplift-model", version="1", by="alice")

    noisy = make_uplift_run(tmp_path, clean_dir=clean, w=1.0, v=3.0, seed=1)
    result = publish(run_id=noisy, name="uplift-model")
    check = result["gates"]["regression"]["checks"][0]
    test = uplift_frame(1)
    expected_champion = qini_coefficient(test["response"], test["treatment"], test["x"].to_numpy())
    assert check["metric"] == "test_qini_auc"
    assert check["champion_value"] == pytest.approx(expected_champion)
    assert check["value"] == pytest.approx(mlflow.MlflowClient().get_run(noisy).data.metrics["test_qini_auc"])
    assert check["value"] < expected_champion - 0.01  # noise blurs the ranking
    assert result["approval_status"] == "rejected" and not result["gates"]["regression"]["passed"]


def test_the_publisher_cannot_approve_either(mlflow_uri, tmp_path, monkeypatch, capsys, clean_zone_factory,
                                             audit_log):
    clean = clean_zone_factory({"customers": pd.DataFrame({"age_band": ["30-39"]})})
    monkeypatch.setenv("KEQUN_USER", "alice")
    run = make_run(tmp_path, clean_dir=clean)  # alice trains
    monkeypatch.setenv("KEQUN_USER", "carol")
    code, out, err = kequn(capsys, "publish", "--run", run, "--name", MODEL)  # carol submits it
    assert code == 0, err
    refused(capsys, "'carol' published this version; approving one's own submission is not allowed",
            "approve", "--name", MODEL, "--version", "1", "--approver", "carol")
    assert kequn(capsys, "approve", "--name", MODEL, "--version", "1", "--approver", "bob")[0] == 0
