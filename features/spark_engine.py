"""``kequn features --engine spark``: the large-table aggregates on Spark SQL.

:class:`SparkDuck` is :class:`features.build._Duck` with Spark's dialect: the clean zone's
``transactions`` and ``accounts_monthly`` Parquet files become temporary views that Spark reads
itself (on a cluster, the clean zone must be on storage every executor can read), and the one
aggregate SQL of :mod:`features.build` runs on them. Only the per-customer aggregates come back
to the driver (through Arrow); the small per-customer tables and the assembly stay on the pandas
path, so both engines share every line after the aggregation.

The clean zone has been verified (signed manifest, table digests) before this module is asked
to open anything. The session comes from :func:`kequn.spark.spark_session` and is stopped on
the way out, also when a query fails.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from features.build import DUCKDB_TABLES, _Duck
from kequn.errors import FeatureError, KequnError
from kequn.spark import quiet_pandas_warnings, spark_session

__all__ = ["SparkDuck", "open_spark_duck"]


class SparkDuck(_Duck):
    """The aggregate SQL of :mod:`features.build` on a Spark session (temporary views over Parquet)."""

    engine = "spark"
    text_type = "STRING"

    def __init__(self, paths: dict[str, Path], spark: Any) -> None:
        import pyarrow.parquet as pq

        self.spark = spark
        self.paths = paths
        self.types = {t: pq.read_schema(paths[t]) for t in DUCKDB_TABLES}
        tag = uuid.uuid4().hex[:8]  # one session may serve several builds (tests, notebooks)
        self.views = {t: f"kequn_{t}_{tag}" for t in DUCKDB_TABLES}
        self._customers: pa.Array | None = None
        for table, view in self.views.items():
            self._run(lambda t=table, v=view: spark.read.parquet(str(paths[t].resolve())).createOrReplaceTempView(v))

    # -- dialect hooks --------------------------------------------------------------------------
    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def day_diff(self, start: str, end: str) -> str:
        return f"datediff({end}, {start})"

    def wall_clock(self, column: str, tz: str) -> str:
        # the session runs in UTC (kequn.spark), so this is the wall-clock time in the column's zone
        return f"from_utc_timestamp({column}, '{tz}')"

    def source(self, table: str) -> str:
        return self.views[table]

    def fetch_row(self, sql: str) -> tuple[Any, ...]:
        rows = self._run(lambda: self.spark.sql(sql).collect())
        return tuple(rows[0])

    def fetch(self, sql: str) -> pd.DataFrame:
        return self._run(lambda: self.spark.sql(sql).toPandas())

    def _run(self, call: Any) -> Any:
        try:
            with quiet_pandas_warnings():
                return call()
        except KequnError:
            raise
        except Exception as exc:  # Py4J, AnalysisException, Connect errors: many types
            # Spark messages can quote a value or a path; name the failure only.
            raise FeatureError(f"the clean zone cannot be aggregated on Spark ({type(exc).__name__}); "
                               "check the column types of transactions and accounts_monthly") from exc

    def set_customers(self, ids: pa.Array) -> None:
        self._customers = ids

    def per_customer(self, aggregate_sql: str) -> pd.DataFrame:
        """Run a ``GROUP BY cid`` query on Spark; one row per customer of the table, in its order.

        Only the aggregates travel to the driver; the customers of the table stay there and the
        rows are placed by a hash lookup (missing customers get NaN, as DuckDB's LEFT JOIN)."""
        if self._customers is None:  # pragma: no cover - set_customers is always called first
            raise FeatureError("internal: customers not set before aggregation")
        agg = self.fetch(aggregate_sql)
        cid = agg.pop("cid").astype("string")
        agg.index = pd.Index(cid.to_numpy(dtype=object, na_value=None))
        agg = agg[agg.index.notna()]
        wanted = pd.Index(self._customers.to_numpy(zero_copy_only=False), dtype=object)
        out = agg.reindex(wanted)
        return out.reset_index(drop=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for view in self.views.values():
                self.spark.catalog.dropTempView(view)


@contextlib.contextmanager
def open_spark_duck(paths: dict[str, Path], master: str | None = None) -> Iterator[SparkDuck]:
    """A :class:`SparkDuck` on a session of :func:`kequn.spark.spark_session`; views dropped and
    the session stopped (if this call started it) on the way out, also after a failed query."""
    with quiet_pandas_warnings(), spark_session(master, app="kequn features") as spark:
        duck = SparkDuck(paths, spark)
        try:
            yield duck
        finally:
            duck.close()
