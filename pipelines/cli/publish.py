"""``kequn publish``: register a run's model and evaluate the gates."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("publish")
@click.option("--run", "run_id", required=True, help="MLflow run id of a `kequn train` run.")
@click.option("--name", required=True, help="Registered model name.")
@click.option("--gates", "gates_path", type=click.Path(path_type=Path), default=None,
              help="Gates YAML (default: conf/gates.yaml).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help='Write {"name", "version", "approval_status", "gates"}.')
def command(run_id: str, name: str, gates_path: Path | None, json_out: Path | None) -> None:
    """Register the run's model as a new version, evaluate conf/gates.yaml (privacy lineage,
    metric floors, no regression against @champion, fairness limits, positive Qini for uplift)
    and tag the version approval_status=pending or rejected, with a model card.

    Exit codes: 0 pending (awaiting approval), 4 registered but rejected by its gates (the
    --json file and the summary name the failed gates), 1 nothing registered (bad input).

    \b
    Example:
      kequn publish --run 3f2a... --name churn-model --json publish.json
    """
    from kequn.io import write_json
    from pipelines.registry import REJECTED, VersionRejected, publish

    result = publish(run_id=run_id, name=name, gates_path=gates_path)
    if json_out:
        write_json(json_out, {k: result[k] for k in ("name", "version", "approval_status", "gates")})
    console.result(result["summary"])
    if result["approval_status"] == REJECTED:
        failed = [g for g, r in result["gates"].items() if not r["passed"]]
        raise VersionRejected(f"{result['name']} v{result['version']} was rejected by its gates "
                              f"({', '.join(failed)}); fix the model and retrain, or record a reviewed "
                              "exemption with its reason in the gates file")
