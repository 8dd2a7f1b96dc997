"""bench/gen_clean_zone.py writes what `kequn pseudonymise` of `kequn synth` writes, at any size.

The scale benchmarks of `kequn features` (bench/RESULTS.md, session of 2026-12-03) run on zones this generator
makes, so it must match the real pipeline: the same tables, column names and Arrow types, the
same tokens for the join keys under the same key, a manifest signed by the step key that
`features` accepts unmodified -- and features that come out sane.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from features.build import build_features
from kequn.lineage import MANIFEST_NAME, require_passing_manifest
from pipelines.synth import generate as synth
from privacy.pseudonymise import pseudonymise
from tests.test_features import SNAP

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import gen_clean_zone as gen  # noqa: E402

KEY = b"gen-clean-zone-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> tuple[Path, Path]:
    """A real chain: `kequn synth` (parquet) → `kequn pseudonymise`, under KEY."""
    work = tmp_path_factory.mktemp("real")
    synth(n_customers=80, seed=5, out=work / "raw", fmt="parquet")
    tables = {p.stem: p for p in sorted((work / "raw").glob("*.parquet"))}
    pseudonymise(tables, out=work / "clean", policy_path=None, key=KEY, workers=1)
    return work / "raw", work / "clean"


@pytest.fixture(scope="module")
def zone(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "zone"
    gen.generate(out, 300, 30, key=KEY, chunk=120)  # three chunks: row groups appended
    return out


def _text_as_one(typ) -> str:
    return "string" if str(typ) in ("string", "large_string") else str(typ)


def test_same_tables_columns_and_arrow_types_as_pseudonymise(real, zone):
    clean = real[1]
    real_tables = sorted(p.name for p in clean.glob("*.parquet"))
    assert sorted(p.name for p in zone.glob("*.parquet")) == real_tables
    for name in real_tables:
        want, got = pq.read_schema(clean / name), pq.read_schema(zone / name)
        assert got.names == want.names, name
        # text is large_string from pandas 3 on, string before, and an all-missing text column is
        # typed null before pandas 3: the same column to every reader
        wanted = [_text_as_one(t) for t in want.types]
        gotten = [_text_as_one(t) for t in got.types]
        assert [g if w == "null" and g == "string" else w for w, g in zip(wanted, gotten, strict=True)] == gotten, name
    assert pq.read_metadata(zone / "transactions.parquet").num_row_groups == 3


def test_join_keys_get_the_tokens_pseudonymise_gives(real):
    raw, clean = real
    for table, column, entity in (("customers", "customer_no", "CUSTOMER_NO"),
                                  ("transactions", "card_no", "BANK_CARD")):
        raw_values = pq.read_table(raw / f"{table}.parquet", columns=[column])[column]
        mine = gen.token_column(raw_values.combine_chunks(), entity, KEY).to_pylist()
        theirs = pq.read_table(clean / f"{table}.parquet", columns=[column])[column].to_pylist()
        assert mine == theirs, table
        assert all(t.startswith("tk_") for t in mine)


def test_manifest_is_signed_and_shaped_like_the_real_one(real, zone):
    real_manifest = json.loads((real[1] / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest = require_passing_manifest(zone)  # signature by the trusted step key, status passed
    assert set(real_manifest) <= set(manifest)
    assert manifest["policy_hash"] == real_manifest["policy_hash"]
    assert manifest["key_fingerprint"] == real_manifest["key_fingerprint"]
    assert manifest["columns"] == real_manifest["columns"]
    assert manifest["residual_scan"]["clean"] is None  # not claimed: no scan was run
    rows = {o["table"]: o["rows"] for o in manifest["outputs"]}
    assert rows["customers"] == 300 and 6_000 < rows["transactions"] < 12_000


def test_features_accepts_it_unmodified_and_the_features_are_sane(zone, tmp_path):
    out = tmp_path / "features.parquet"
    result = build_features(clean_dir=zone, snapshot=SNAP, out=out)
    frame = pq.read_table(out).to_pandas()
    assert 200 < result["n_rows"] == len(frame) <= 300
    assert frame["has_transactions"].mean() > 0.9
    assert 2 < frame["txn_count_90d"].mean() < 8  # ~30 transactions over two years
    assert (frame["aum"] > 0).mean() > 0.95
    assert 0.3 < frame["digital_share"].mean() < 0.8
    assert frame["risk_level"].notna().all() and frame["province"].notna().all()


def test_a_missing_key_is_a_one_line_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KEQUN_PSEUDONYM_KEY"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gen_clean_zone.py"), "--customers", "10",
                           "--out", str(tmp_path / "z")], capture_output=True, text=True, env=env, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("kequn: error:"), proc.stderr
    assert not (tmp_path / "z").exists()
