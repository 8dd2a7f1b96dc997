"""``kequn pseudonymise --engine spark``: the per-row work on Spark executors.

What runs where:

* **Spark reads** every input table (CSV: every column as text, with the local reader's rules:
  header names stripped, pandas' missing-value strings such as ``""``, ``NA``, ``null`` become
  missing; Parquet as stored) and cuts it into contiguous row ranges, one per partition.
* **The driver** collects each table once and runs, with the very code of the local engine
  (:mod:`privacy.pseudonymise`), everything that needs a whole column: classification, policy
  decisions, the exact-match dictionary, generalisation, malformed counts, k-anonymity, risk,
  the residual scan, the reports, the signed manifest and the atomic write of the clean zone.
* **Executors** do the per-row work through ``mapInPandas``: keyed tokens of every ``token``
  column (:func:`privacy.tokens.tokenise_series`) and the detection and redaction of every
  free-text column (:func:`privacy.pseudonymise._redact_rows`, the one detection engine).

The pseudonymisation key and the exact-match automaton reach the executors only inside the
closure of the ``mapInPandas`` function, which PySpark pickles into the task; they are never put
into the Spark configuration, a job description or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kequn.errors import InputError
from kequn.io import detect_encoding, sha256_file

#: Strings pandas' CSV reader reads as missing (``keep_default_na=True``); the Spark reader maps
#: the same strings to null so both engines see the same values.
try:
    from pandas._libs.parsers import STR_NA_VALUES as _PANDAS_NA
except ImportError:  # pragma: no cover - older/newer pandas layout
    _PANDAS_NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                  "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
NA_STRINGS = sorted(_PANDAS_NA)
#: The row number column Spark carries through every stage (file order).
ROW = "__kequn_row"
#: Rows per partition the per-row stage aims at (fewer partitions for small tables).
ROWS_PER_PARTITION = 50_000
#: Fewest rows per partition (a small table is not cut finer than this).
MIN_ROWS_PER_PARTITION = 1000
#: Spark's names for the encodings :func:`kequn.io.detect_encoding` returns.
_SPARK_ENCODING = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "gb18030": "GB18030", "gbk": "GBK"}


def _local_text_dtype() -> Any:
    """The dtype :func:`kequn.io.read_table` gives CSV text columns (object, or ``str`` in pandas 3)."""
    import io

    return pd.read_csv(io.StringIO("a\nx\n"), dtype=str)["a"].dtype


def _quiet() -> None:
    """In an executor's Python worker: PySpark warns on every pandas conversion under pandas 3 (the
    conversions used here are tested). The driver uses :func:`kequn.spark.quiet_pandas_warnings`."""
    import warnings

    warnings.filterwarnings("ignore", module=r"pyspark(\.|$)")
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def _parallelism(spark: Any) -> int:
    try:
        return max(int(spark.sparkContext.defaultParallelism), 1)
    except Exception:  # Spark Connect has no SparkContext on the client
        return 8


def read_tables(spark: Any, tables: dict[str, Path], encoding: str | None) -> tuple[
        dict[str, pd.DataFrame], list[dict[str, Any]], dict[str, Any]]:
    """Read every table with Spark; return ``(frames, inputs, spark_frames)``.

    ``frames`` are the driver's pandas copies (same values and dtypes as
    :func:`kequn.io.read_table` with ``as_text=True``), ``inputs`` the manifest's input records,
    ``spark_frames`` the Spark DataFrames (columns ``c0..cN`` plus :data:`ROW`).
    """
    from pyspark.sql import functions as F

    frames: dict[str, pd.DataFrame] = {}
    inputs: list[dict[str, Any]] = []
    sframes: dict[str, Any] = {}
    for name, path in tables.items():
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        suffix = path.suffix.lower()
        enc = None
        if suffix == ".csv":
            enc = detect_encoding(path, encoding)
            sdf = (spark.read.option("header", "true").option("multiLine", "true").option("escape", '"')
                   .option("inferSchema", "false").option("mode", "FAILFAST")
                   .option("encoding", _SPARK_ENCODING.get(enc.lower(), enc)).csv(str(path)))
            names = [str(c).lstrip("\ufeff").strip() for c in sdf.columns]
        elif suffix == ".parquet":
            if path.stat().st_size == 0:
                raise InputError(f"{path}: the file is empty")
            sdf = spark.read.parquet(str(path))
            names = [str(c).strip() for c in sdf.columns]
        else:
            raise InputError(f"{path}: not a table; expected .csv or .parquet. Got {suffix!r}")
        if not names:
            raise InputError(f"{path}: the table has no columns")
        cols = [F.col(f"`{c}`").alias(f"c{i}") for i, c in enumerate(sdf.columns)]
        sdf = sdf.select(*cols)
        if suffix == ".csv":
            sdf = sdf.select(*[F.when(F.col(c).isin(NA_STRINGS), F.lit(None)).otherwise(F.col(c)).alias(c)
                               for c in sdf.columns])
        sdf = sdf.withColumn(ROW, F.monotonically_increasing_id())
        try:
            local = sdf.toPandas()
        except Exception as exc:  # malformed CSV (FAILFAST) and unreadable files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: cannot read the table ({first[:200]})") from exc
        if len(local) == 0:
            raise InputError(f"{path}: the table has a header but no rows")
        local = local.sort_values(ROW, kind="stable").reset_index(drop=True)
        rows = local.pop(ROW)
        if suffix == ".csv":  # the local reader's text columns (its dtype, NaN for missing)
            local = local.astype(object).where(local.notna(), np.nan)
            text_dtype = _local_text_dtype()
            if not isinstance(text_dtype, np.dtype):  # pandas 3: the str dtype
                local = local.astype(text_dtype)
        local.columns = names
        # contiguous row ranges per partition; the file-order row id orders the results
        n_parts = max(min(_parallelism(spark), -(-len(local) // MIN_ROWS_PER_PARTITION)), -(-len(local) // ROWS_PER_PARTITION))
        if n_parts > 1:
            sdf = sdf.repartitionByRange(n_parts, ROW)
        frames[name] = local
        sframes[name] = (sdf, rows.to_numpy())
        inputs.append({"table": name, "path": str(path), "sha256": sha256_file(path), "rows": int(len(local)),
                       "encoding": enc})
    return frames, inputs, sframes


def row_work(sframes: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """The ``row_work`` hook of :func:`privacy.pseudonymise.pseudonymise_frames` for Spark."""

    def run(table: str, frame: pd.DataFrame, plan: dict[str, Any], *, key: bytes, matcher: Any,
            custom: tuple) -> dict[str, Any]:
        sdf, rows = sframes[table]
        return _run_table(sdf, rows, frame, plan, key=key, matcher=matcher, custom=custom)

    return run


def _batch_function(plan: dict[str, Any], index: dict[str, int], key: bytes, matcher: Any,
                    custom: tuple) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The executor side: one closure holding the key and the matcher (pickled by PySpark)."""
    tokens = list(plan["token"].items())
    texts = list(plan["text"].items())
    names_col = plan["names"]

    def apply(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from privacy.pseudonymise import _redact_rows
        from privacy.tokens import tokenise_series

        _quiet()
        for batch in batches:
            batch = batch.reset_index(drop=True)
            out: dict[str, Any] = {ROW: batch[ROW].to_numpy()}
            for i, (column, entity) in enumerate(tokens):
                values = batch[f"c{index[column]}"].astype(object)
                out[f"t{i}"] = tokenise_series(values.where(values.notna(), np.nan), entity, key).astype(object)
            names = None
            if names_col is not None and texts:
                raw = batch[f"c{index[names_col]}"].astype(object)
                names = raw.where(raw.notna(), np.nan)
            for i, (column, as_token) in enumerate(texts):
                values = batch[f"c{index[column]}"].astype("string")
                redacted, spans, clean = _redact_rows(values, names, matcher, custom, key if as_token else None)
                per_row: list[list] = [[] for _ in range(len(batch))]
                for r, s, e, ent, sc, m in spans[["row", "start", "end", "entity", "score", "method"]].itertuples(
                        index=False, name=None):
                    per_row[int(r)].append([int(s), int(e), str(ent), float(sc), str(m)])
                out[f"r{i}"] = redacted.astype(object).where(redacted.notna(), None).to_numpy()
                out[f"s{i}"] = [json.dumps(p) if p else None for p in per_row]
                out[f"c{i}"] = np.full(len(batch), bool(clean))
            yield pd.DataFrame(out)

    return apply


def _run_table(sdf: Any, rows: np.ndarray, frame: pd.DataFrame, plan: dict[str, Any], *, key: bytes,
               matcher: Any, custom: tuple) -> dict[str, Any]:
    index = {str(c): i for i, c in enumerate(frame.columns)}
    schema = [f"{ROW} long"]
    schema += [f"t{i} string" for i in range(len(plan["token"]))]
    for i in range(len(plan["text"])):
        schema += [f"r{i} string", f"s{i} string", f"c{i} boolean"]
    needed = {index[c] for c in plan["token"]} | {index[c] for c in plan["text"]}
    if plan["names"] is not None and plan["text"]:
        needed.add(index[plan["names"]])
    fn = _batch_function(plan, index, key, matcher, custom)
    try:
        done = sdf.select(ROW, *[f"c{i}" for i in sorted(needed)]).mapInPandas(fn, ", ".join(schema)).toPandas()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"the Spark stage failed: {first[:300]}") from exc
    done = done.sort_values(ROW, kind="stable").reset_index(drop=True)
    if len(done) != len(frame) or not np.array_equal(done[ROW].to_numpy(), rows):
        raise InputError("the Spark stage returned a different set of rows than it read (a bug; nothing published)")
    result: dict[str, Any] = {}
    for i, column in enumerate(plan["token"]):
        result[column] = pd.Series(done[f"t{i}"].to_numpy(dtype=object), index=frame.index, dtype="string")
    for i, column in enumerate(plan["text"]):
        redacted = pd.Series(done[f"r{i}"].to_numpy(dtype=object), dtype="string")
        redacted.name = column
        spans = []
        for row, cell in enumerate(done[f"s{i}"].to_numpy(dtype=object)):
            if isinstance(cell, str):  # a row without spans arrives as None or NaN
                spans.extend([row, *span] for span in json.loads(cell))
        spans_df = pd.DataFrame(spans, columns=["row", "start", "end", "entity", "score", "method"])
        result[column] = (redacted, spans_df, bool(done[f"c{i}"].all()))
    return result
