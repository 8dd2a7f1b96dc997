"""The demo chain: synth → pseudonymise → features → train churn, on a synthetic bank.

``kequn demo`` is the first thing a new user runs. It works in one folder (default
``kequn-demo/``)::

    kequn-demo/
      raw/                 synthetic raw tables with PII (+ ground_truth/), the input
      pseudonym.key        created (mode 0600) only when no key is configured
      clean/               pseudonymised Parquet, manifest.json, privacy_report.{json,html}
      features.parquet     point-in-time features and labels (+ data dictionary)

and tracks the churn experiment in MLflow (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
in the working directory). Re-running it is safe: each output is replaced atomically.
"""

from __future__ import annotations

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
             seed: int = 42) -> dict[str, Any]:
    """Run the demo chain and print a summary; returns paths, run id and metrics."""
    if n_customers <= 0:
        raise InputError(f"--customers must be a positive integer. Got {n_customers}")
    if trials <= 0:
        raise InputError(f"--trials must be a positive integer. Got {trials}")
    started = time.perf_counter()
    out = Path(out)
    prepare_out(out)
    raw, clean, features_path = out / "raw", out / "clean", out / "features.parquet"

    from pipelines.synth import generate

    with console.stage(f"1/4 synth: {n_customers:,} customers") as st:
        synth = generate(n_customers=n_customers, seed=seed, out=raw, fmt="csv", encoding="utf-8")
        st.done(", ".join(f"{t} {n:,}" for t, n in synth["rows"].items()))

    key, key_note = demo_key(out)
    console.info(f"  {key_note}")

    from kequn.io import find_tables
    from privacy.pseudonymise import pseudonymise

    with console.stage("2/4 pseudonymise") as st:
        privacy = pseudonymise(find_tables([raw]), out=clean, policy_path=None, key=key)
        st.done(f"clean zone {clean}")

    from features.build import build_features

    with console.stage(f"3/4 features at {DEFAULT_SNAPSHOT}") as st:
        feats = build_features(clean_dir=clean, snapshot=DEFAULT_SNAPSHOT, out=features_path,
                               horizon_days=DEFAULT_HORIZON_DAYS)
        st.done(f"{feats['n_rows']:,} customers × {feats['n_features']} features")

    from experiments.train import run_training

    with console.stage(f"4/4 train churn ({trials} Optuna trials)") as st:
        trained = run_training(task="churn", data=features_path, label=None, positive=None, treatment=None,
                               id_col=None, protected=[], trials=trials, timeout=None,
                               experiment="kequn-demo", seed=seed)
        st.done(f"run {trained['run_id']}")

    from kequn.tracking import display_uri, tracking_uri

    uri = display_uri(tracking_uri())
    metrics = trained["metrics"]
    summary = {
        "raw": str(raw), "clean": str(clean), "features": str(features_path),
        "privacy_report": str(clean / "privacy_report.html"),
        "run_id": trained["run_id"], "tracking_uri": uri,
        "metrics": {k: metrics[k] for k in sorted(metrics) if k.startswith("test_")},
        "seconds": round(time.perf_counter() - started, 1),
    }
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
    lines += [
        "",
        "Look at it in the MLflow UI:",
        f"  open {uri}" if uri.startswith(("http://", "https://")) else f"  mlflow ui --backend-store-uri {uri}",
        "Next: kequn publish --run " + trained["run_id"] + " --name churn-model",
        "      (conf/gates.yaml decides pending or rejected; see docs/governance.md)",
    ]
    console.result("\n".join(lines))
    return summary
