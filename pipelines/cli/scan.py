"""``kequn scan``: classify columns and find PII, changing nothing."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("scan")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the findings as JSON.")
@click.option("--encoding", default=None, help="CSV encoding (default: detect UTF-8/GBK).")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path), default=None,
              help="Policy YAML whose custom_recognizers also run (default: conf/privacy_policy.yaml).")
def command(paths: tuple[Path, ...], json_out: Path | None, encoding: str | None,
            policy_path: Path | None) -> None:
    """Decide each column's entity type (with confidence and evidence) and count PII spans
    in free-text columns. Prints a table; values are never printed.

    \b
    Examples:
      kequn scan raw/
      kequn scan raw/customers.csv --json scan.json
    """
    from kequn.io import find_tables, write_json
    from privacy.policy import load_policy
    from privacy.scan import scan_tables

    policy = load_policy(policy_path)
    tables = find_tables(paths)
    with console.stage(f"scan {len(tables)} table(s)") as st:
        report = scan_tables(tables, encoding=encoding, custom=policy.custom)
        st.done(f"{sum(len(t['columns']) for t in report['tables'])} columns")
    for table in report["tables"]:
        console.result(f"{table['table']} ({table['rows']:,} rows)")
        for col in table["columns"]:
            spans = f"  spans: {col['span_counts']}" if col.get("span_counts") else ""
            console.result(f"  {col['column']:<24} {col['entity']:<16} {col['confidence']:.2f}  "
                           f"{col['evidence']}{spans}")
    if json_out:
        write_json(json_out, report)
        console.result(f"findings written to {json_out}")
