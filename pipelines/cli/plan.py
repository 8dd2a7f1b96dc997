"""``kequn plan``: the campaign and retention contact list from governed models (tokens only)."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("plan")
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="Feature table (.parquet from `kequn features`, any snapshot).")
@click.option("--uplift", "uplift_uri", default=None, metavar="URI",
              help="Uplift model, models:/NAME@ALIAS or models:/NAME/VERSION (required; verified before use).")
@click.option("--churn", "churn_uri", default=None, metavar="URI",
              help="Churn model for the retention list (流失预警→挽回).")
@click.option("--segment", "segment_uri", default=None, metavar="URI",
              help="Segment model: persona and value tier decide each customer's offer.")
@click.option("--budget", required=True, metavar="N|P%",
              help="Most contacts in the list: a number (5000) or a share of the customers (20%).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The list (.parquet, tokens only); the report goes beside it as OUT.report.html/.json. "
                   "An existing file is replaced only if it is an earlier plan.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the JSON report here.")
@click.option("--history", type=click.Path(path_type=Path), default=None,
              help="Earlier contacts (customer_no tokens + contact_date or campaign_date, e.g. the clean zone's "
                   "campaigns table) for the cool-down and the cap per customer.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Plan configuration (default conf/plan.yaml): channel costs, offers, retention, contact rules.")
@click.option("--as-of", default=None, metavar="YYYY-MM-DD",
              help="Day the cool-down is counted to (default: the feature table's snapshot).")
def command(data: Path, uplift_uri: str | None, churn_uri: str | None, segment_uri: str | None, budget: str,
            out: Path, json_out: Path | None, history: Path | None, config_path: Path | None,
            as_of: str | None) -> None:
    """Give each customer at most one action (the segment's offer, or retention when churn risk
    is high), ranked by expected gain (uplift × value per response − contact cost); sleeping dogs
    (negative uplift), customers in the cool-down and customers at the contact cap are never
    contacted. Writes tokens, segment, action, expected gain and reason codes, and a report with
    expected incremental responses and profit at each budget, the list's composition and its
    selection rates across protected groups.

    \b
    Example:
      kequn plan --data features.parquet --uplift models:/uplift-model@champion \\
                 --churn models:/churn-model@champion --segment models:/segment-model@champion \\
                 --budget 20% --out plan.parquet --json plan.json
    """
    from pipelines.planning import run_plan

    result = run_plan(data=data, uplift_uri=uplift_uri, churn_uri=churn_uri, segment_uri=segment_uri,
                      budget=budget, out=out, json_out=json_out, history=history, config_path=config_path,
                      as_of=as_of)
    console.result(result["summary"])
