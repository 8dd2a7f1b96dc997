"""``kequn rekey``: rotate the pseudonymisation key (secure zone, key holder, audited)."""

from __future__ import annotations

from pathlib import Path

import click

from kequn import console


@click.command("rekey")
@click.option("--raw", type=click.Path(path_type=Path), default=None,
              help="The raw zone the old clean zone was pseudonymised from (secure zone).")
@click.option("--clean", "clean_dir", type=click.Path(path_type=Path), required=True,
              help="The old clean zone (written by `kequn pseudonymise` under the old key).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="New, empty folder for the clean zone under the new key (with --apply-map: that new zone).")
@click.option("--old-key-file", type=click.Path(path_type=Path), default=None,
              help="File holding the old pseudonymisation key (the zone's; its fingerprint is checked).")
@click.option("--new-key-file", type=click.Path(path_type=Path), default=None,
              help="File holding the new pseudonymisation key.")
@click.option("--apply-map", "apply_map", type=click.Path(path_type=Path), default=None,
              help="Only migrate --migrate files with the map of an earlier rekey (--clean OLD --out NEW; no key).")
@click.option("--policy", type=click.Path(path_type=Path), default=None,
              help="Privacy policy YAML (default: conf/privacy_policy.yaml).")
@click.option("--map", "map_path", type=click.Path(path_type=Path), default=None,
              help="Old→new token map to create (.parquet, mode 0600; default RAW/rekeys/rekey-OLD-NEW.parquet).")
@click.option("--migrate", "migrate", type=click.Path(path_type=Path), multiple=True,
              help="A feature table or `kequn plan` list of the old zone to migrate (repeatable).")
@click.option("--migrated", "migrated_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the migrated --migrate files (same file names).")
@click.option("--encoding", default=None, help="CSV encoding of the raw zone (default: detect UTF-8/GBK).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for free-text detection (as `kequn pseudonymise`).")
@click.option("--json", "json_file", type=click.Path(path_type=Path), default=None,
              help="Write the result (counts, map path and SHA-256, manifest ids) as JSON.")
def command(raw: Path | None, clean_dir: Path, out: Path, old_key_file: Path | None, new_key_file: Path | None,
            apply_map: Path | None, policy: Path | None, map_path: Path | None, migrate: tuple[Path, ...], migrated_dir: Path | None, encoding: str | None,
            workers: int | None, json_file: Path | None) -> None:
    """Rotate the pseudonymisation key (key holder, secure zone): pseudonymise the raw zone again
    under the new key into --out (same policy checks, report and signed manifest as `kequn
    pseudonymise`), write the old→new token map (entity, old_token, new_token; tokens only) with
    mode 0600, migrate the --migrate feature tables (re-signed for the new zone) and plan lists by
    token replacement, and append a `rekey` entry to the audit trail (key fingerprints, counts,
    the map's SHA-256). Refused when the old key is not the zone's, the new key is the old one,
    or the raw zone is not the one the old zone was made from (a table missing or changed). The
    old zone is left as it was.

    With --apply-map MAP, only migrate more files later (a feature table or list found after
    the rotation) with that map from the old zone --clean to the new zone --out; audited too.

    \b
    Examples:
      kequn rekey --raw raw/ --clean clean/ --out clean-2025/ \\
                  --old-key-file /secure/kequn.key --new-key-file /secure/kequn-2025.key \\
                  --migrate features.parquet --migrate plan.parquet --migrated migrated/
      kequn rekey --apply-map raw/rekeys/rekey-31a177-15bb94.parquet --clean clean/ --out clean-2025/ \\
                  --migrate old_list.parquet --migrated migrated/
    """
    from kequn.errors import InputError
    from kequn.io import write_json
    from pipelines.rekey import apply_map as run_apply_map
    from pipelines.rekey import rekey
    from privacy.keys import load_key

    if apply_map is not None:
        given = [o for o, v in (("--raw", raw), ("--old-key-file", old_key_file), ("--new-key-file", new_key_file),
                                ("--map", map_path), ("--policy", policy)) if v is not None]
        if given:
            raise InputError(f"--apply-map migrates files only; {', '.join(given)} belong to a rotation")
        result = run_apply_map(map_path=apply_map, clean_dir=clean_dir, out=out, migrate=list(migrate),
                               migrated_dir=migrated_dir)
        if json_file is not None:
            write_json(json_file, {k: v for k, v in result.items() if k != "summary"})
        console.result(result["summary"])
        return
    missing = [o for o, v in (("--raw", raw), ("--old-key-file", old_key_file), ("--new-key-file", new_key_file))
               if v is None]
    if missing:
        raise InputError(f"rekey needs {', '.join(missing)} (or --apply-map MAP to only migrate files)")
    old_key, new_key = load_key(old_key_file), load_key(new_key_file)
    result = rekey(raw=raw, clean_dir=clean_dir, out=out, old_key=old_key, new_key=new_key, map_path=map_path,
                   policy_path=policy, migrate=list(migrate), migrated_dir=migrated_dir, encoding=encoding,
                   workers=workers)
    if json_file is not None:
        write_json(json_file, {k: v for k, v in result.items() if k != "summary"})
    console.result(result["summary"])
