"""``kequn train``: one tracked, tuned experiment."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


def _split_csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


@click.command("train")
@click.option("--task", type=click.Choice(["churn", "propensity", "segment", "uplift"]), required=True)
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="Pseudonymised table (.parquet from `kequn pseudonymise` or `kequn features`).")
@click.option("--label", default=None, help="Label column (default: churn_label / propensity_label / response).")
@click.option("--positive", default=None, help="Label value that counts as positive (needed for non-binary labels).")
@click.option("--treatment", default=None, help="Treatment column for uplift (default: treatment).")
@click.option("--id", "id_col", default=None, help="Customer id column, never a feature (default: detected).")
@click.option("--protected", default=None, help="Extra protected attributes for fairness, comma-separated.")
@click.option("--trials", type=int, default=20, show_default=True, help="Optuna trials.")
@click.option("--timeout", type=float, default=None, help="Stop tuning after this many seconds.")
@click.option("--dp-epsilon", type=float, default=None,
              help="Train a differentially private logistic regression with this privacy budget "
                   "(churn/propensity; needs kequn[dp]).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Tuning processes sharing one Optuna study (--trials is split between them); "
                   "KEQUN_OPTUNA_STORAGE=postgresql://... shares it across hosts.")
@click.option("--experiment", default=None, help="MLflow experiment name (default: kequn-<task>).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help='Write {"run_id": ..., "metrics": {...}}.')
def command(task: str, data: Path, label: str | None, positive: str | None, treatment: str | None,
            id_col: str | None, protected: str | None, trials: int, timeout: float | None,
            dp_epsilon: float | None, experiment: str | None, seed: int, json_out: Path | None,
            workers: int) -> None:
    """Train a model on pseudonymised data with a held-out test split, an Optuna search and
    one MLflow run that holds metrics, plots, reports, the model and its data lineage.

    \b
    Examples:
      kequn train --task churn --data features.parquet --trials 30
      kequn train --task propensity --data clean/customers.parquet --label bought --positive 1
      kequn train --task uplift --data features.parquet --treatment treatment --label response
      kequn train --task segment --data features.parquet
      kequn train --task churn --data features.parquet --dp-epsilon 3
      kequn train --task churn --data features.parquet --trials 40 --workers 2
    """
    from experiments.train import run_training
    from kequn.io import write_json

    result = run_training(task=task, data=data, label=label, positive=positive, treatment=treatment,
                          id_col=id_col, protected=_split_csv(protected), trials=trials, timeout=timeout,
                          experiment=experiment, seed=seed, dp_epsilon=dp_epsilon, workers=workers)
    if json_out:
        write_json(json_out, {"run_id": result["run_id"], "metrics": result["metrics"]})
    console.result(result["summary"])
