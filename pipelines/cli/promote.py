"""``kequn promote``: move an alias to an approved version (also the rollback)."""

from __future__ import annotations

import click

from kequn import console


@click.command("promote")
@click.option("--name", required=True, help="Registered model name.")
@click.option("--version", required=True, help="Approved model version.")
@click.option("--alias", default="champion", show_default=True, help="Alias to move.")
@click.option("--by", "by", default=None,
              help="Who promotes (default: you); holds the owner role in conf/keyring.yaml when signing.")
@click.option("--reason", default="", help="Why (recorded in the audit log).")
def command(name: str, version: str, alias: str, by: str | None, reason: str) -> None:
    """Point models:/NAME@ALIAS at an approved version; the previous holder is recorded, so
    promoting it again is a one-command rollback. Signed by the promoter's key when signing is
    in force; fails cleanly if the alias or version changed meanwhile (compare-and-set).

    \b
    Examples:
      kequn promote --name churn-model --version 3 --by wang.owner
      kequn promote --name churn-model --version 2 --by wang.owner --reason rollback
    """
    from pipelines.registry import promote

    result = promote(name=name, version=version, alias=alias, by=by, reason=reason)
    console.result(result["summary"])
