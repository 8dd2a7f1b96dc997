"""``kequn monitor``: compare a new snapshot with a model's training reference."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("monitor")
@click.option("--model", "model_uri", required=True,
              help="Registered model: models:/NAME@ALIAS or models:/NAME/VERSION (verified before use).")
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="Feature table of the new snapshot (.parquet from `kequn features`).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Report folder (monitor_report.html/.json and plots); replaced only if it is an earlier one.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the report's JSON here.")
@click.option("--limits", "limits_path", type=click.Path(path_type=Path), default=None,
              help="Limits YAML (default: conf/monitor.yaml).")
def command(model_uri: str, data: Path, out: Path, json_out: Path | None, limits_path: Path | None) -> None:
    """PSI per model input and for the model's output against the training reference (logged
    with the training run as aggregates), missing-value shifts, realised performance when the
    snapshot has labels, and for segment models the segment and value-tier migration matrix
    (客户升降级) between the training snapshot and this one. Writes a self-contained HTML report
    with plots and its JSON twin.

    Exit codes: 0 all limits met, 6 a limit of conf/monitor.yaml is breached (the report is
    written; alert or retrain), 1 bad input (nothing written), 5 the model does not verify.

    \b
    Example:
      kequn monitor --model models:/churn-model@champion --data features_2024-09-30.parquet \\
                    --out monitor/ --json monitor.json
    """
    from pipelines.monitor import LimitBreached, run_monitor

    report = run_monitor(model_uri=model_uri, data=data, out=out, json_out=json_out, limits_path=limits_path)
    console.result(report["summary"])
    if report["breaches"]:
        more = f" (+{len(report['breaches']) - 1} more)" if len(report["breaches"]) > 1 else ""
        raise LimitBreached(f"monitor: limit breached: {report['breaches'][0]}{more}; see {out}/monitor_report.html")
