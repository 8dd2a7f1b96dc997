"""``kequn verify``: check a version or alias before trusting it."""

from __future__ import annotations

import click

from kequn import console


@click.command("verify")
@click.option("--name", required=True, help="Registered model name.")
@click.option("--version", default=None, help="Model version to check.")
@click.option("--alias", default=None, help="Alias to check (e.g. champion).")
def command(name: str, version: str | None, alias: str | None) -> None:
    """Check the signed approval (and, for --alias, the signed promotion) against
    conf/keyring.yaml, the model artifact's SHA-256, the gate results and the audit chain.
    Exits 5 with one line naming the first broken link.

    \b
    Examples:
      kequn verify --name churn-model --alias champion
      kequn verify --name churn-model --version 3
    """
    from pipelines.governance import verify

    console.result(verify(name=name, version=version, alias=alias)["summary"])
