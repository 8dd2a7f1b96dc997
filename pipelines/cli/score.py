"""``kequn score``: score a feature table with a verified, registered model version."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("score")
@click.option("--model", "model_uri", required=True,
              help="Registered model: models:/NAME@ALIAS (e.g. @champion) or models:/NAME/VERSION.")
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="Feature table (.parquet from `kequn features`, any snapshot).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Scores (.parquet): tokens + outputs; an existing file is replaced only if `kequn score` wrote it.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Write a summary (rows, model, feature-table digest, scoring run id, aggregates).")
def command(model_uri: str, data: Path, out: Path, json_out: Path | None) -> None:
    """Verify the model version (signed approval, promotion for an alias, artifact SHA-256,
    audit chain; an unapproved or unverifiable version is refused), check the table against the
    model's signature (missing, extra and wrongly typed columns are named), and write the
    customer tokens with the model's outputs: churn_probability, propensity_probability,
    uplift, or segment + persona + value_tier. The file's Parquet metadata names the model,
    version and feature-table digest; the scoring run in MLflow (experiment kequn-scoring)
    holds lineage and aggregates, no rows.

    Exit codes: 0 written, 1 bad input (nothing written), 5 the version is not approved or does
    not verify.

    \b
    Example:
      kequn score --model models:/churn-model@champion --data features_2024-09-30.parquet \\
                  --out churn_scores.parquet --json score.json
    """
    from pipelines.scoring import run_score

    result = run_score(model_uri=model_uri, data=data, out=out, json_out=json_out)
    console.result(result["summary"])
