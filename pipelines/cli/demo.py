"""``kequn demo``: the whole chain on a synthetic bank."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--customers", "n_customers", type=int, default=20_000, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("kequn-demo"), show_default=True,
              help="Working folder for raw data, clean zone and features.")
@click.option("--trials", type=int, default=8, show_default=True, help="Optuna trials for the churn model.")
@click.option("--uplift-trials", type=int, default=2, show_default=True,
              help="Optuna trials for the uplift model the plan uses (few, to keep the demo fast).")
@click.option("--seed", type=int, default=42, show_default=True)
def command(n_customers: int, out: Path, trials: int, uplift_trials: int, seed: int) -> None:
    """synth → pseudonymise → features → train churn and uplift → publish → approve
    (demo.reviewer) → promote (demo.owner) → score the next snapshot → plan, then print what
    was produced (the contact list: contacted, expected incremental responses, by segment) and how
    to look at it in the MLflow UI. Creates OUT/pseudonym.key (mode 0600) when no key is
    configured. Safe to re-run: outputs are replaced atomically.

    \b
    Examples:
      kequn demo
      kequn demo --customers 2000 --out /tmp/kequn-demo
    """
    from pipelines.demo import run_demo

    run_demo(n_customers=n_customers, out=out, trials=trials, uplift_trials=uplift_trials, seed=seed)
