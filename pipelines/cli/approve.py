"""``kequn approve``: four-eyes approval of a pending version."""

from __future__ import annotations

import click

from kequn import console


@click.command("approve")
@click.option("--name", required=True, help="Registered model name.")
@click.option("--version", required=True, help="Model version.")
@click.option("--approver", required=True, help="Who approves; must not be the training run's author.")
@click.option("--reason", default="", help="Why it is approved (recorded in the audit log).")
def command(name: str, version: str, approver: str, reason: str) -> None:
    """Set approval_status=approved on a pending version, refusing the run's author.

    \b
    Example:
      kequn approve --name churn-model --version 3 --approver li.reviewer --reason "gates reviewed"
    """
    from pipelines.registry import approve

    result = approve(name=name, version=version, approver=approver, reason=reason)
    console.result(result["summary"])
