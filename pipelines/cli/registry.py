"""``kequn registry``: list versions with aliases, status, metrics and gates."""

from __future__ import annotations

import click

from kequn import console


@click.command("registry")
@click.option("--name", default=None, help="Only this registered model.")
def command(name: str | None) -> None:
    """List registered kequn models and their versions.

    \b
    Examples:
      kequn registry
      kequn registry --name churn-model
    """
    from pipelines.registry import registry_listing

    console.result(registry_listing(name=name))
