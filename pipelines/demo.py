"""The demo chain on a synthetic bank, from raw data to a tokens-only contact list.

synth → pseudonymise → features → train churn and uplift → publish (gates) → approve (a
second person, signed) → promote (an owner, signed) → score the next quarter's snapshot with
``models:/demo-churn@champion`` → plan a campaign and retention list with the champions.

``kequn demo`` is the first thing a new user runs. It works in one folder (default
``kequn-demo/``)::

    kequn-demo/
      raw/                 synthetic raw tables with PII (+ ground_truth/), the input
      pseudonym.key        created (mode 0600) only when no key is configured
      clean/               pseudonymised Parquet, manifest.json, privacy_report.{json,html}
      features.parquet     point-in-time features and labels at 2024-06-30 (+ data dictionary)
      features_next.parquet  the same features at 2024-09-30 (what is scored and planned)
      keyring.yaml         the demo's reviewer and owner public keys (their private keys in
                           $KEQUN_KEY_DIR, else OUT/keys/ when OUT is outside the repository,
                           else ~/.kequn/keys; mode 0600, reused on a re-run)
      scores.parquet       tokens + churn probability (kequn score)
      plan.parquet         tokens-only contact list + plan.report.{html,json} (kequn plan)

and tracks everything in MLflow (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the
working directory). The demo's identities are self-declared and local: the current user
(``KEQUN_USER``) trains and publishes, ``demo.reviewer`` approves, ``demo.owner`` promotes.
Re-running it is safe: each output is replaced atomically, and each re-run registers, approves
and promotes new versions.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from kequn import console
from kequn.errors import InputError
from kequn.io import check_output_dir, ensure_writable_dir, make_dirs, write_json
from kequn.schema import DEFAULT_HORIZON_DAYS, DEFAULT_SNAPSHOT

DEMO_MARKER = ".kequn-demo"
KEY_FILE_NAME = "pseudonym.key"
REVIEWER, OWNER = "demo.reviewer", "demo.owner"
CHURN_MODEL, UPLIFT_MODEL = "demo-churn", "demo-uplift"
NEXT_SNAPSHOT = datetime.date(2024, 9, 30)
PLAN_BUDGET = "20%"
STEPS = 9


def demo_key(out: Path) -> tuple[bytes, str]:
    """The pseudonymisation key for the demo and a sentence saying where it came from.

    ``KEQUN_PSEUDONYM_KEY`` wins; otherwise ``OUT/pseudonym.key`` is reused, or created with
    mode 0600 (readable by its owner only).
    """
    from privacy.keys import load_key

    if os.environ.get("KEQUN_PSEUDONYM_KEY"):
        return load_key(None), "key from $KEQUN_PSEUDONYM_KEY"
    path = out / KEY_FILE_NAME
    if path.exists():
        return load_key(path), f"key from {path}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    return load_key(path), f"created a local key file {path} (mode 0600); keep it secret to keep tokens stable"


def prepare_out(out: Path) -> None:
    """Create the demo folder, or accept an earlier demo folder; refuse anything else."""
    check_output_dir(out, marker=DEMO_MARKER)
    ensure_writable_dir(out)
    make_dirs(out)
    (out / DEMO_MARKER).write_text(json.dumps({"tool": "kequn demo"}) + "\n", encoding="utf-8")


def run_demo(*, n_customers: int = 20_000, out: Path = Path("kequn-demo"), trials: int = 8,
             uplift_trials: int = 2, seed: int = 42) -> dict[str, Any]:
    """Run the demo chain and print a summary; returns paths, run id and metrics."""
    if n_customers <= 0:
        raise InputError(f"--customers must be a positive integer. Got {n_customers}")
    if trials <= 0:
        raise InputError(f"--trials must be a positive integer. Got {trials}")
    if uplift_trials <= 0:
        raise InputError(f"--uplift-trials must be a positive integer. Got {uplift_trials}")
    started = time.perf_counter()
    out = Path(out)
    prepare_out(out)
    raw, clean, features_path = out / "raw", out / "clean", out / "features.parquet"

    from pipelines.synth import generate

    with console.stage(f"1/{STEPS} synth: {n_customers:,} customers") as st:
        synth = generate(n_customers=n_customers, seed=seed, out=raw, fmt="csv", encoding="utf-8")
        st.done(", ".join(f"{t} {n:,}" for t, n in synth["rows"].items()))

    key, key_note = demo_key(out)
    console.info(f"  {key_note}")

    from kequn.io import find_tables
    from privacy.pseudonymise import pseudonymise

    with console.stage(f"2/{STEPS} pseudonymise") as st:
        privacy = pseudonymise(find_tables([raw]), out=clean, policy_path=None, key=key)
        st.done(f"clean zone {clean}")

    from features.build import build_features

    with console.stage(f"3/{STEPS} features at {DEFAULT_SNAPSHOT}") as st:
        feats = build_features(clean_dir=clean, snapshot=DEFAULT_SNAPSHOT, out=features_path,
                               horizon_days=DEFAULT_HORIZON_DAYS)
        st.done(f"{feats['n_rows']:,} customers × {feats['n_features']} features")

    from experiments.train import run_training

    def train(step: int, task: str, n_trials: int) -> dict[str, Any]:
        with console.stage(f"{step}/{STEPS} train {task} ({n_trials} Optuna trials)") as st:
            result = run_training(task=task, data=features_path, label=None, positive=None, treatment=None,
                                  id_col=None, protected=[], trials=n_trials, timeout=None,
                                  experiment="kequn-demo", seed=seed)
            st.done(f"run {result['run_id']}")
        return result

    trained = train(4, "churn", trials)
    uplift_trained = train(5, "uplift", uplift_trials)

    from kequn.tracking import display_uri, tracking_uri

    uri = display_uri(tracking_uri())
    metrics = trained["metrics"]
    summary: dict[str, Any] = {
        "raw": str(raw), "clean": str(clean), "features": str(features_path),
        "privacy_report": str(clean / "privacy_report.html"),
        "run_id": trained["run_id"], "uplift_run_id": uplift_trained["run_id"], "tracking_uri": uri,
        "metrics": {k: metrics[k] for k in sorted(metrics) if k.startswith("test_")},
    }
    chain = _governed_chain(out, {CHURN_MODEL: trained["run_id"], UPLIFT_MODEL: uplift_trained["run_id"]},
                            clean=clean)
    summary.update(chain)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_json(out / "demo_summary.json", summary)
    lines = [
        "",
        f"kequn demo finished in {summary['seconds']} s",
        f"  raw data (synthetic, with PII)  {raw}/",
        f"  clean zone                      {clean}/  ({privacy.get('status', 'passed')})",
        f"  privacy report                  {clean / 'privacy_report.html'}",
        f"  features                        {features_path}",
        f"  MLflow run                      {trained['run_id']} in experiment kequn-demo",
    ]
    for name, value in summary["metrics"].items():
        lines.append(f"    {name:<28}{value:.4f}")
    lines += _chain_lines(chain)
    lines += [
        "",
        "Look at it in the MLflow UI:",
        f"  open {uri}" if uri.startswith(("http://", "https://")) else f"  mlflow ui --backend-store-uri {uri}",
    ]
    if chain.get("plan"):
        keyring = chain["keyring"]
        lines += [
            "Next (the demo's champions verify against its keyring):",
            f"  export KEQUN_KEYRING={keyring}",
            f"  kequn monitor --model models:/{CHURN_MODEL}@champion --data {out / 'features_next.parquet'} "
            f"--out {out / 'monitor'}",
            f"  kequn relink --list {out / 'plan.parquet'} --raw {raw} --purpose outbound_call "
            f"--approved-by {REVIEWER} --out /secure/calls.csv"
            + ("" if os.environ.get("KEQUN_PSEUDONYM_KEY") else f" --key-file {out / KEY_FILE_NAME}")
            + "   # the key holder, audited",
        ]
    else:
        lines += [
            "Next: kequn publish --run " + trained["run_id"] + " --name churn-model",
            "      (conf/gates.yaml decides pending or rejected; see docs/governance.md)",
        ]
    console.result("\n".join(lines))
    return summary


# --------------------------------------------------------------------------------------------
# publish → approve → promote → score → plan


def demo_key_dir(out: Path) -> Path:
    """Where the demo's private signing keys live: ``KEQUN_KEY_DIR``, else ``OUT/keys`` when
    ``OUT`` is outside the repository (keys never go into it), else ``~/.kequn/keys``."""
    from pipelines.signing import REPO_ROOT, key_dir

    if os.environ.get("KEQUN_KEY_DIR", "").strip():
        return key_dir()
    folder = (out / "keys").resolve()
    if folder == REPO_ROOT or REPO_ROOT in folder.parents:
        return key_dir()
    return folder


def demo_keyring(out: Path, key_folder: Path) -> Path:
    """``OUT/keyring.yaml`` naming the demo's reviewer and owner with their public keys
    (their key pairs are created in ``key_folder`` on the first run, reused afterwards)."""
    from kequn.io import write_text
    from pipelines import signing

    lines = ["# kequn demo: local, self-declared identities (not a reviewed keyring)", "people:"]
    with _environ(KEQUN_KEY_DIR=str(key_folder)):
        for person, role in ((REVIEWER, "reviewer"), (OWNER, "owner")):
            if signing.has_private_key(person):
                public = signing.public_key_text(signing.load_private_key(person).public_key())
            else:
                public = signing.init_key(person)[1]
            lines.append(f'  {person}: {{public_key: "{public}", roles: [{role}]}}')
    path = out / "keyring.yaml"
    write_text(path, "\n".join(lines) + "\n")
    return path


class _environ:
    """Set environment variables for a block and restore them afterwards."""

    def __init__(self, **values: str) -> None:
        self.values, self.saved = values, {}

    def __enter__(self) -> None:
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc: Any) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _governed_chain(out: Path, runs: dict[str, str], *, clean: Path) -> dict[str, Any]:
    """Publish, approve and promote each run's model, then score the next snapshot and plan.

    A model the gates reject stops the chain there (reported, not an error: the demo shows
    what governance decided)."""
    from features.build import build_features
    from kequn.schema import DEFAULT_HORIZON_DAYS
    from kequn.tracking import tracking_uri
    from pipelines import registry
    from pipelines.governance import is_local_uri
    from pipelines.planning import run_plan
    from pipelines.scoring import run_score

    key_folder = demo_key_dir(out)
    keyring = demo_keyring(out, key_folder)
    result: dict[str, Any] = {"keyring": str(keyring), "models": {}}
    # On a shared tracking server identities are the server's users: the demo cannot act as a
    # second person there, so it publishes and stops (the reviewer approves as themself).
    shared_server = not is_local_uri(tracking_uri())
    with _environ(KEQUN_KEYRING=str(keyring), KEQUN_KEY_DIR=str(key_folder)):
        with console.stage(f"6/{STEPS} publish → approve ({REVIEWER}) → promote ({OWNER})") as st:
            for name, run_id in runs.items():
                published = registry.publish(run_id=run_id, name=name)
                version = str(published["version"])
                status = published["approval_status"]
                entry: dict[str, Any] = {"version": version, "status": status}
                if status == registry.REJECTED:
                    entry["failed_gates"] = ", ".join(g for g, v in published["gates"].items() if not v["passed"])
                    result["models"][name] = entry
                    continue
                if shared_server:
                    entry["stopped"] = (f"a second person approves it on the shared server: kequn approve "
                                        f"--name {name} --version {version}")
                    result["models"][name] = entry
                    continue
                registry.approve(name=name, version=version, approver=REVIEWER,
                                 reason="kequn demo: gates and model card reviewed")
                registry.promote(name=name, version=version, by=OWNER, reason="kequn demo")
                entry.update(status="approved", uri=f"models:/{name}@champion")
                result["models"][name] = entry
            st.done(", ".join(f"{k} v{v['version']} {v['status']}" for k, v in result["models"].items()))
        if any(m["status"] != "approved" for m in result["models"].values()):
            return result
        nxt = out / "features_next.parquet"
        with console.stage(f"7/{STEPS} features at {NEXT_SNAPSHOT} (the snapshot to score)") as st:
            feats = build_features(clean_dir=clean, snapshot=NEXT_SNAPSHOT, out=nxt,
                                   horizon_days=DEFAULT_HORIZON_DAYS)
            st.done(f"{feats['n_rows']:,} customers")
        with console.stage(f"8/{STEPS} score with models:/{CHURN_MODEL}@champion") as st:
            scored = run_score(model_uri=f"models:/{CHURN_MODEL}@champion", data=nxt, out=out / "scores.parquet")
            churn = scored["aggregates"].get("churn_probability", {})
            st.done(f"{scored['rows']:,} customers, mean churn probability {churn.get('mean', float('nan')):.3f}")
        with console.stage(f"9/{STEPS} plan (budget {PLAN_BUDGET})") as st:
            planned = run_plan(data=nxt, uplift_uri=f"models:/{UPLIFT_MODEL}@champion",
                               churn_uri=f"models:/{CHURN_MODEL}@champion", budget=PLAN_BUDGET,
                               out=out / "plan.parquet", history=clean / "campaigns.parquet")
            st.done(f"{planned['report']['selected']:,} selected")
    report = planned["report"]
    seg_key = next((k for k in ("persona", "value_tier") if k in report["composition"]), None)
    result["scores"] = {"out": scored["out"], "rows": scored["rows"], "scoring_run_id": scored["scoring_run_id"],
                        "mean_churn_probability": churn.get("mean")}
    result["plan"] = {
        "out": planned["out"], "report": str(out / "plan.report.html"), "customers": report["customers"],
        "budget": report["budget"], "contacted": report["selected"], "lists": report["lists"],
        "expected_incremental_responses": report["expected_incremental_responses"],
        "expected_saves": report["expected_saves"], "expected_profit": report["expected_profit"],
        "currency": report["currency"], "sleeping_dogs_contacted": report["sleeping_dogs_contacted"],
        "by_segment_key": seg_key,
        "by_segment": [{k: r[k] for k in ("value", "contacts", "expected_incremental_responses")}
                       for r in report["composition"].get(seg_key, [])] if seg_key else [],
    }
    return result


def _chain_lines(chain: dict[str, Any]) -> list[str]:
    """The summary lines of the governed part of the demo (models, scores, the list)."""
    lines = []
    for name, m in chain.get("models", {}).items():
        if m.get("uri"):
            where = f"→ {m['uri']}"
        elif m.get("stopped"):
            where = f"(stopped here: {m['stopped']})"
        else:
            where = f"(stopped here, gates failed: {m.get('failed_gates') or 'see kequn registry'})"
        lines.append(f"  registered {name:<20}v{m['version']} {m['status']} {where}")
    if "scores" in chain:
        s = chain["scores"]
        mean = s.get("mean_churn_probability")
        lines.append(f"  scores                          {s['out']}  ({s['rows']:,} customers at {NEXT_SNAPSHOT}"
                     + (f", mean churn probability {mean:.3f})" if mean is not None else ")"))
    plan = chain.get("plan")
    if plan:
        lists = ", ".join(f"{k} {v:,}" for k, v in plan["lists"].items()) or "none"
        lines += [
            f"  contact list (tokens only)      {plan['out']}  (report {plan['report']})",
            f"    contacted                     {plan['contacted']:,} of {plan['customers']:,} "
            f"(budget {plan['budget']:,}; {lists})",
            f"    expected incremental responses {plan['expected_incremental_responses']:,.1f}; "
            f"expected saves {plan['expected_saves']:,.1f}; expected profit {plan['expected_profit']:,.0f} "
            f"{plan['currency']}; sleeping dogs contacted {plan['sleeping_dogs_contacted']}",
        ]
        if plan["by_segment"]:
            lines.append(f"    by {plan['by_segment_key']}: " + ", ".join(
                f"{r['value']} {r['contacts']:,} ({r['expected_incremental_responses']:,.1f})"
                for r in plan["by_segment"]))
    return lines
