"""``kequn audit verify``: check the hash-chained audit trail in the tracking store."""

from __future__ import annotations

import click

from kequn import console


@click.group("audit")
def command() -> None:
    """The shared audit trail (MLflow experiment kequn-audit, one run per entry).

    \b
    Example:
      kequn audit verify
    """


@command.command("verify")
def verify() -> None:
    """Check every entry's hash and link; exit non-zero naming the first entry removed,
    edited or reordered.

    \b
    Example:
      kequn audit verify
    """
    from pipelines.audit import AUDIT_EXPERIMENT, verify_chain
    from pipelines.registry import _client

    entries = verify_chain(_client())
    last = f"; last: #{entries[-1]['seq']} {entries[-1]['action']} by {entries[-1]['actor']}" if entries else ""
    console.result(f"audit trail ({AUDIT_EXPERIMENT}): {len(entries)} entries, chain intact{last}")
