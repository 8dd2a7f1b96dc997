"""``kequn relink``: tokens back to contact details, for one approved purpose, audited (secure zone)."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("relink")
@click.option("--list", "list_path", type=click.Path(path_type=Path), required=True,
              help="The list written by `kequn plan` (.parquet, tokens only).")
@click.option("--raw", type=click.Path(path_type=Path), required=True,
              help="Folder (or file) of the raw customer table, in the secure zone.")
@click.option("--purpose", default="", help="Why: a purpose of the privacy policy's relink section (e.g. outbound_call).")
@click.option("--approved-by", "approved_by", default="", help="Who approved this release (not you).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Contact file to create (.csv or .parquet, mode 0600; never replaced, never logged).")
@click.option("--key-file", type=click.Path(path_type=Path), default=None,
              help="Pseudonymisation key (default $KEQUN_PSEUDONYM_KEY); must be the key the list was made under.")
@click.option("--columns", default=None, metavar="COLS",
              help="Comma-separated subset of the columns the policy allows for the purpose.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path), default=None,
              help="Privacy policy (default conf/privacy_policy.yaml).")
def command(list_path: Path, raw: Path, purpose: str, approved_by: str, out: Path, key_file: Path | None,
            columns: str | None, policy_path: Path | None) -> None:
    """Recompute the tokens over the raw customer table with the key, join the list, and write
    only the contact columns the privacy policy allows for the purpose (e.g. outbound_call:
    name, mobile). Refused without a purpose, when the approver is the caller, or when the
    key's fingerprint differs from the list's. Every release is an entry in the audit trail.

    \b
    Example:
      kequn relink --list plan.parquet --raw raw/ --purpose outbound_call \\
                   --approved-by li.compliance --out /secure/call_list.csv --key-file pseudonym.key
    """
    from pipelines.relink import relink

    result = relink(list_path=list_path, raw=raw, purpose=purpose, approved_by=approved_by, out=out,
                    key_file=key_file, columns=columns, policy_path=policy_path)
    console.result(result["summary"])
