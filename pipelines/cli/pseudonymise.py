"""``kequn pseudonymise``: raw tables → clean zone + privacy report."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("pseudonymise")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Clean-zone folder to write.")
@click.option("--policy", type=click.Path(path_type=Path), default=None,
              help="Privacy policy YAML (default: conf/privacy_policy.yaml).")
@click.option("--key-file", type=click.Path(path_type=Path), default=None,
              help="File holding the pseudonymisation key (else $KEQUN_PSEUDONYM_KEY).")
@click.option("--encoding", default=None, help="CSV encoding (default: detect UTF-8/GBK).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for free-text detection (default: $KEQUN_WORKERS, else every core); "
                   "the output is the same for any number.")
@click.option("--engine", default="local", show_default=True,
              help="local (this process) or spark (Spark reads the tables, executors tokenise and redact); "
                   "the same output.")
@click.option("--spark-master", default=None,
              help="Spark master URL for --engine spark (spark://host:7077, yarn, local[4]); default "
                   "Spark Connect when $SPARK_REMOTE is set, else local[*].")
def command(paths: tuple[Path, ...], out: Path, policy: Path | None, key_file: Path | None,
            encoding: str | None, workers: int | None, engine: str, spark_master: str | None) -> None:
    """Scan, pseudonymise per the policy (keyed HMAC tokens, generalisation, drop, redaction),
    measure k-anonymity, re-scan the output, and write DIR/<table>.parquet, manifest.json,
    privacy_report.json and privacy_report.html. If the policy is not met, both reports are
    still written, no table is published and the exit code is non-zero. The manifest (with the
    SHA-256 of every table) is signed with the privacy step's Ed25519 key: $KEQUN_STEP_KEY, else
    ~/.kequn/keys/steps/privacy.key, created (mode 0600) on first use; it is not the
    pseudonymisation key.

    \b
    Examples:
      export KEQUN_PSEUDONYM_KEY=$(cat /secure/kequn.key)
      kequn pseudonymise raw/ --out clean/
      kequn pseudonymise raw/customers.csv --out clean/ --key-file /secure/kequn.key
      kequn pseudonymise raw/ --out clean/ --engine spark --spark-master spark://host:7077
    """
    from kequn.io import find_tables
    from kequn.spark import check_engine
    from privacy.keys import load_key
    from privacy.pseudonymise import pseudonymise

    engine = check_engine(engine)  # a typo'd engine fails before the key is read
    if spark_master is not None and engine != "spark":
        from kequn.errors import InputError

        raise InputError("--spark-master needs --engine spark")
    key = load_key(key_file)
    tables = find_tables(paths)
    result = pseudonymise(tables, out=out, policy_path=policy, key=key, encoding=encoding, workers=workers,
                          engine=engine, spark_master=spark_master)
    console.result(result["summary"])
