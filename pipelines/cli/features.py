"""``kequn features``: point-in-time features and labels from a clean zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from kequn import console


@click.command("features")
@click.option("--data", "clean_dir", type=click.Path(path_type=Path), required=True,
              help="Clean-zone folder written by `kequn pseudonymise`.")
@click.option("--snapshot", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="Snapshot date YYYY-MM-DD: features use only records up to it.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Feature table (.parquet); an existing file is replaced only if kequn wrote it.")
@click.option("--horizon-days", type=int, default=90, show_default=True,
              help="Label window after the snapshot.")
@click.option("--allow-partial-labels", is_flag=True,
              help="Accept a snapshot whose label horizon ends after the last record (labels then see only "
                   "part of the window); without it that is an error naming the latest valid snapshot.")
@click.option("--engine", default="local", show_default=True, metavar="local|spark",
              help="Where transactions and accounts_monthly are aggregated: local (DuckDB) or spark "
                   "(Spark SQL; local[*] unless --spark-master or SPARK_REMOTE). Same feature table.")
@click.option("--spark-master", default=None, metavar="URL",
              help="Spark master for --engine spark (spark://host:7077, yarn, k8s://..., local[4]).")
def command(clean_dir: Path, snapshot: dt.datetime, out: Path, horizon_days: int,
            allow_partial_labels: bool, engine: str, spark_master: str | None) -> None:
    """Build one row per pseudonymous customer as of the snapshot, labels from the horizon
    after it, and a data dictionary (Markdown + JSON) beside the output. Every feature uses only
    records dated on or before the snapshot; extract-time attributes are opt-in
    (conf/features.yaml extract_attributes). The clean zone's signed manifest and table digests
    are verified first; the table's embedded lineage is signed with the privacy step's key
    ($KEQUN_STEP_KEY, else ~/.kequn/keys/steps/privacy.key).

    \b
    Example:
      kequn features --data clean/ --snapshot 2024-06-30 --out features.parquet
      kequn features --data clean/ --snapshot 2024-06-30 --out features.parquet --engine spark
    """
    from features.build import build_features
    from kequn.io import check_output_file
    from kequn.lineage import read_parquet_lineage
    from kequn.spark import check_engine

    check_engine(engine)  # a typo'd --engine is one line before anything is read
    if spark_master is not None and engine != "spark":
        from kequn.errors import InputError

        raise InputError("--spark-master needs --engine spark")

    # An existing --out is replaced only when it is an earlier feature table (kequn's lineage is
    # in its Parquet metadata), as an output folder is only when it holds kequn's marker.
    check_output_file(out, is_earlier_output=lambda path: read_parquet_lineage(path) is not None)
    summary = build_features(clean_dir=clean_dir, snapshot=snapshot.date(), out=out, horizon_days=horizon_days,
                             allow_partial_labels=allow_partial_labels, engine=engine,
                             spark_master=spark_master)
    console.result(summary["summary"])
