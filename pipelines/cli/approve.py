"""``kequn approve``: four-eyes approval of a pending version."""

from __future__ import annotations

import click

from kequn import console


@click.command("approve")
@click.option("--name", required=True, help="Registered model name.")
@click.option("--version", required=True, help="Model version.")
@click.option("--approver", default=None,
              help="Who approves (default: you); must not be the run's author or the publisher. With an "
                   "authenticating tracking server it must match the authenticated user.")
@click.option("--reason", default="", help="Why it is approved (recorded in the audit log).")
def command(name: str, version: str, approver: str | None, reason: str) -> None:
    """Set approval_status=approved on a pending version, refusing the run's author and publisher.

    The approval record (model, version, run, artifact SHA-256, gate results and gates file
    digests, approver, time) is signed with the approver's key (~/.kequn/keys/WHO.key, see
    `kequn keys init`) when the approver is in conf/keyring.yaml or signatures are required.

    \b
    Example:
      kequn approve --name churn-model --version 3 --approver li.reviewer --reason "gates reviewed"
    """
    from pipelines.registry import approve

    result = approve(name=name, version=version, approver=approver, reason=reason)
    console.result(result["summary"])
