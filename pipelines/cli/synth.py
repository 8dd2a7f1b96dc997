"""``kequn synth``: generate a synthetic Chinese retail bank."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("synth")
@click.option("--customers", "n_customers", type=int, required=True, help="Number of customers (> 0).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; same seed, same bank.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("raw"), show_default=True,
              help="Output folder (new, empty or an earlier synth output).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--encoding", type=click.Choice(["utf-8", "gbk"]), default="utf-8", show_default=True,
              help="CSV encoding; many bank extracts are GBK.")
def command(n_customers: int, seed: int, out: Path, fmt: str, encoding: str) -> None:
    """Generate a synthetic bank: customers, accounts_monthly, transactions, products,
    campaigns, service_notes (raw, with realistic PII) and ground_truth/.

    \b
    Examples:
      kequn synth --customers 20000 --out raw
      kequn synth --customers 5000 --encoding gbk --out raw_gbk
    """
    from kequn.errors import InputError

    if n_customers <= 0:
        raise InputError(f"--customers must be a positive integer. Got {n_customers}")
    from pipelines.synth import generate

    with console.stage(f"synth {n_customers:,} customers") as st:
        summary = generate(n_customers=n_customers, seed=seed, out=out, fmt=fmt, encoding=encoding)
        st.done(", ".join(f"{t} {n:,}" for t, n in summary["rows"].items()))
    console.result(f"raw tables written to {out}/ (ground truth in {out}/ground_truth/)")
