"""``kequn erase``: remove people from a clean zone and feature tables (PIPL Art. 47)."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("erase")
@click.option("--ids", "ids_file", type=click.Path(path_type=Path), required=True,
              help="CSV/Parquet listing the people by raw customer number (secure zone).")
@click.option("--column", default=None,
              help="Column of --ids holding the customer numbers (default: its only column, else the "
                   "zone's customer-number column name, e.g. customer_no).")
@click.option("--raw", type=click.Path(path_type=Path), required=True,
              help="The raw zone the clean zone was pseudonymised from (their other identifiers are read there).")
@click.option("--clean", "clean_dir", type=click.Path(path_type=Path), required=True,
              help="Clean-zone folder written by `kequn pseudonymise`.")
@click.option("--features", "features", type=click.Path(path_type=Path), multiple=True,
              help="A feature table built from the zone (repeatable); erased and re-signed too.")
@click.option("--key-file", type=click.Path(path_type=Path), default=None,
              help="File holding the pseudonymisation key (else $KEQUN_PSEUDONYM_KEY).")
@click.option("--records", "records_dir", type=click.Path(path_type=Path), default=None,
              help="Secure-zone folder for the erasure record (default: RAW/erasures/).")
@click.option("--json", "json_file", type=click.Path(path_type=Path), default=None,
              help="Write the result (counts, record path, model versions) as JSON.")
def command(ids_file: Path, column: str | None, raw: Path, clean_dir: Path, features: tuple[Path, ...],
            key_file: Path | None, records_dir: Path | None, json_file: Path | None) -> None:
    """Erase people (key holder, secure zone): recompute their tokens with the pseudonymisation
    key, remove their rows from every clean table and each --features table, re-sign the manifest
    and the feature lineage with the privacy step's key ($KEQUN_STEP_KEY, else
    ~/.kequn/keys/steps/privacy.key; the manifest records the count and the erasure record's
    SHA-256, never an id), write the erasure record (tokens only) to the secure zone, append an
    `erase` entry to the audit trail, and list the registered model versions trained on data that
    included them. All files are replaced together or not at all; a second run with the same ids
    changes nothing and says so. The key must be the zone's (its fingerprint is checked).

    \b
    Example:
      kequn erase --ids requests/2024-07.csv --raw raw/ --clean clean/ --features features.parquet
    """
    from pipelines.erase import erase, write_summary_json
    from privacy.keys import load_key

    key = load_key(key_file)
    result = erase(ids_file=ids_file, raw=raw, clean_dir=clean_dir, features=list(features), key=key,
                   column=column, records_dir=records_dir)
    if json_file is not None:
        write_summary_json(json_file, result)
    console.result(result["summary"])
