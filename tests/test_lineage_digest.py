"""A feature table's data digest covers what the table holds, not the bytes under null slots.

Arrow leaves the value bytes of a null slot undefined and the Parquet reader leaves stale pool
memory there; from ~1M rows on, `kequn features` read its own table back with other bytes under
the nulls of aum_change_3m and refused it ("does not read back as signed"). Each test builds
the stale bytes by hand and checks the digest ignores them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kequn.lineage import table_data_sha256


def with_bytes_under_nulls(values: np.ndarray, valid: np.ndarray, typ: pa.DataType) -> pa.Array:
    """An array of ``values`` where ``valid`` is False is null, the stale value still in the buffer."""
    bitmap = pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(typ, len(values), [bitmap, pa.py_buffer(values.tobytes())], int((~valid).sum()), 0)


def test_stale_bytes_under_nulls_do_not_change_the_digest():
    valid = np.array([True, False, True, False])
    clean = with_bytes_under_nulls(np.array([1.5, 0.0, 3.0, 0.0]), valid, pa.float64())
    stale = with_bytes_under_nulls(np.array([1.5, -0.2443, 3.0, 7e9]), valid, pa.float64())
    ints = with_bytes_under_nulls(np.array([1, 99, 3, 12345], dtype=np.int64), valid, pa.int64())
    ints0 = with_bytes_under_nulls(np.array([1, 0, 3, 0], dtype=np.int64), valid, pa.int64())
    codes = with_bytes_under_nulls(np.array([0, 5, 1, 7], dtype=np.int8), valid, pa.int8())
    codes0 = with_bytes_under_nulls(np.array([0, 0, 1, 0], dtype=np.int8), valid, pa.int8())
    words = pa.array(["a", "b", "c", "d", "e", "f", "g", "h"])
    a = pa.table({"x": clean, "n": ints0, "c": pa.DictionaryArray.from_arrays(codes0, words)})
    b = pa.table({"x": stale, "n": ints, "c": pa.DictionaryArray.from_arrays(codes, words)})
    assert a.equals(b)  # the same table ...
    assert a["x"].chunk(0).buffers()[1] != b["x"].chunk(0).buffers()[1]  # ... with other bytes under nulls
    assert table_data_sha256(a) == table_data_sha256(b)


def test_a_changed_value_still_changes_the_digest():
    valid = np.array([True, False, True])
    a = pa.table({"x": with_bytes_under_nulls(np.array([1.5, 0.0, 3.0]), valid, pa.float64())})
    b = pa.table({"x": with_bytes_under_nulls(np.array([1.5, 0.0, 3.5]), valid, pa.float64())})
    c = pa.table({"x": pa.array([1.5, 0.0, 3.0])})  # a null made 0.0
    assert len({table_data_sha256(a), table_data_sha256(b), table_data_sha256(c)}) == 3


def test_digest_of_a_table_with_zeroed_null_slots_is_the_earlier_one():
    """Tables signed before the fix (small ones had zeros under nulls) still verify."""
    table = pa.table({"x": pa.array([1.5, None, 3.0]), "s": pa.array(["a", None, "b"]),
                      "k": pa.array(["u", None, "u"]).dictionary_encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:  # the digest as it was computed before
        writer.write_table(table.combine_chunks())
    assert table["x"].chunk(0).buffers()[1].to_pybytes()[8:16] == b"\0" * 8
    assert table_data_sha256(table) == hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


# --- the per-column digest (table_digest "sha256-arrow-ipc-per-column-v2") --------------------

def _columns(table: pa.Table):
    return ((table.schema.field(i), table.column(i)) for i in range(table.num_columns))


def _v2(table: pa.Table) -> str:
    from kequn.lineage import columns_data_sha256

    return columns_data_sha256(_columns(table), table.num_rows)


def test_column_digest_ignores_chunking_and_bytes_under_nulls():
    valid = np.array([True, False, True, False])
    clean = with_bytes_under_nulls(np.array([1.5, 0.0, 3.0, 0.0]), valid, pa.float64())
    stale = with_bytes_under_nulls(np.array([1.5, -0.2443, 3.0, 7e9]), valid, pa.float64())
    a = pa.table({"x": clean, "s": pa.array(["a", None, "b", "c"])})
    b = pa.table({"x": pa.chunked_array([stale[:1], stale[1:]]),
                  "s": pa.chunked_array([pa.array(["a", None]), pa.array(["b", "c"])])})
    assert a.equals(b) and b["x"].num_chunks == 2
    assert _v2(a) == _v2(b)


def test_column_digest_changes_with_a_value_a_name_the_column_order_and_the_row_order():
    base = pa.table({"x": pa.array([1.0, 2.0, 3.0]), "y": pa.array([4.0, 5.0, 6.0])})
    variants = [
        base,
        pa.table({"x": pa.array([1.0, 2.0, 3.5]), "y": pa.array([4.0, 5.0, 6.0])}),  # a value
        pa.table({"x": pa.array([1.0, 2.0, 3.0]), "z": pa.array([4.0, 5.0, 6.0])}),  # a name
        pa.table({"y": pa.array([4.0, 5.0, 6.0]), "x": pa.array([1.0, 2.0, 3.0])}),  # column order
        pa.table({"x": pa.array([2.0, 1.0, 3.0]), "y": pa.array([5.0, 4.0, 6.0])}),  # row order
        pa.table({"x": pa.array([1.0, None, 3.0]), "y": pa.array([4.0, 5.0, 6.0])}),  # a value made missing
        pa.table({"x": pa.array([1, 2, 3]), "y": pa.array([4.0, 5.0, 6.0])}),  # a type
        base.slice(0, 2),  # a row dropped
    ]
    assert len({_v2(t) for t in variants}) == len(variants)
    assert _v2(base) != table_data_sha256(base)  # its own definition, never confused with the old one


def test_the_file_digest_read_column_by_column_is_the_round_trip_digest(tmp_path):
    from kequn.lineage import COLUMN_DIGEST, _round_trip_digest, parquet_data_sha256

    n = 5000
    rng = np.random.default_rng(3)
    x = rng.random(n)
    x[rng.random(n) < 0.3] = np.nan
    table = pa.Table.from_pandas(pd.DataFrame({
        "customer_no": [f"tk_{i:06d}" for i in range(n)], "x": x,
        "tier": pd.Categorical(rng.choice(["钻石", "黄金", "白银"], n)),
        "n": rng.integers(0, 9, n)}), preserve_index=False)
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=1200)  # several row groups: several chunks on reading
    assert pq.ParquetFile(path).metadata.num_row_groups == 5
    assert parquet_data_sha256(path, COLUMN_DIGEST) == _round_trip_digest(table)
    assert parquet_data_sha256(path, COLUMN_DIGEST) == _v2(pq.read_table(path))
    assert parquet_data_sha256(path) == table_data_sha256(pq.read_table(path))  # the old definition
