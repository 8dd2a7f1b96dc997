"""Point-in-time customer features and labels from a clean zone (``kequn features``).

One row per customer whose relationship is open at the snapshot *s* (``open_date ≤ s`` and no
``close_date ≤ s``). Features use only records dated on or before *s*; labels use only the
horizon ``(s, s + horizon_days]`` (see :mod:`features.labels`). Attributes that change over
time come from their dated history as of *s* (profile from customer_profile_history, risk
level from risk_assessments, card and loan balances from the month-ends of accounts_monthly,
age band from the published birth month), never from the extract's current value; an
extract-time attribute enters only when conf/features.yaml opts in to it. A label horizon
that ends after the last record is refused unless ``allow_partial_labels``. Every column is
documented in :mod:`features.registry` with its as-of source; the data dictionary is written
beside the table.

Engine: the two large tables (``transactions``, ``accounts_monthly``) are aggregated by DuckDB
straight from Parquet (measured fastest and leanest; see bench/RESULTS.md); the small tables
and the assembly use pandas/NumPy on integer customer codes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features import labels as labels_mod
from features.config import (
    FeatureConfig,
    ValueTier,
    assign_value_tier,
    load_feature_config,
    load_value_tiers,
)
from features.dictionary import dictionary_paths_for, write_dictionary_files
from features.lifecycle import assign_stage
from features.registry import (
    ID_COLUMN,
    LABEL_COLUMNS,
    REGISTRY_VERSION,
    feature_names,
    selected_features,
    table_columns,
)
from kequn import console
from kequn.errors import FeatureError, InputError
from kequn.lineage import (
    require_clean_table,
    require_passing_manifest,
    write_signed_features,
)
from kequn.schema import CHANNELS, PRODUCT_TYPES
from kequn.spark import check_engine

TEXT, DATE, NUMBER = "text", "date", "number"

#: Columns the builder reads from each clean table, with the kind of value each must hold.
REQUIRED_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"customer_no": TEXT, "gender": TEXT, "open_date": DATE, "close_date": DATE},
    "accounts_monthly": {"customer_no": TEXT, "month_end": DATE, "deposit_balance": NUMBER,
                         "wealth_balance": NUMBER, "fund_balance": NUMBER, "insurance_balance": NUMBER,
                         "aum": NUMBER, "credit_limit": NUMBER, "credit_used_amount": NUMBER,
                         "loan_balance": NUMBER},
    "transactions": {"customer_no": TEXT, "txn_time": DATE, "amount": NUMBER, "direction": TEXT,
                     "channel": TEXT, "txn_type": TEXT},
    "products": {"customer_no": TEXT, "product_type": TEXT, "open_date": DATE, "maturity_date": DATE,
                 "close_date": DATE, "amount": NUMBER, "rate_sensitive": NUMBER},
    "campaigns": {"customer_no": TEXT, "campaign_date": DATE, "treatment": NUMBER, "response": NUMBER,
                  "response_date": DATE},
    "service_notes": {"customer_no": TEXT, "note_time": DATE, "category": TEXT},
    "risk_assessments": {"customer_no": TEXT, "assessed_on": DATE, "risk_level": TEXT},
    "customer_profile_history": {"customer_no": TEXT, "effective_from": DATE, "occupation": TEXT,
                                 "province": TEXT, "city": TEXT},
}
#: The published birth generalisation (privacy policy BIRTH_DATE ``publish``), one of which customers
#: must carry: age is computed at the snapshot from it.
BIRTH_COLUMNS = {"birth_month": TEXT, "birth_year": NUMBER}
AGE_BAND_WIDTH = 10
AGE_TOP_BAND = 90
#: Tables aggregated by DuckDB straight from Parquet (the large ones).
DUCKDB_TABLES = ("accounts_monthly", "transactions")

RFM_WINDOWS = (30, 90, 180)
TREND_PERIODS = 6  # six 30-day periods
TREND_PERIOD_DAYS = 30
CHANNEL_WINDOW = 180
FLOW_WINDOW = 90
SERVICE_WINDOW = 90
MATURITY_WINDOWS = (30, 90)
PASSIVE_TXN_TYPES = ("salary", "interest")
COMPLAINT_CATEGORY = "投诉"
DIGITAL_CHANNELS = ("mobile_app", "online")


@dataclass(frozen=True)
class Window:
    """The snapshot and the label horizon as NumPy days."""

    snapshot: dt.date
    horizon_days: int

    @property
    def s(self) -> np.datetime64:
        return np.datetime64(self.snapshot, "D")

    @property
    def end(self) -> np.datetime64:
        return self.s + np.timedelta64(self.horizon_days, "D")


# ---------------------------------------------------------------------------------------------
# input: the firewall, tables, columns and dtypes
# ---------------------------------------------------------------------------------------------

def _table_paths(clean_dir: Path, extract: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Path],
                                                                      dict[str, str]]:
    """Check the manifest and every needed table; return the manifest, the table paths and the
    extra customers columns to read (the published birth column, opted-in extract attributes)."""
    if not clean_dir.is_dir():
        raise InputError(f"{clean_dir}: no such folder (--data expects a clean zone from `kequn pseudonymise`)")
    manifest = require_passing_manifest(clean_dir)
    paths = {t: clean_dir / f"{t}.parquet" for t in REQUIRED_COLUMNS}
    # listed in the manifest, unchanged since pseudonymisation: the tables are hashed on every core
    # (SHA-256 and reads release the GIL; 8 GB at 5M customers); the first failure in table order
    # (missing or refused) is the one raised, as when they were checked one by one
    with ThreadPoolExecutor(max_workers=max(1, min(len(paths), os.cpu_count() or 1))) as pool:
        checks = {t: pool.submit(require_clean_table, path) for t, path in paths.items() if path.is_file()}
    for table, path in paths.items():
        if table not in checks:
            raise FeatureError(f"{clean_dir}: table {table!r} is missing (no {path.name} in the clean zone)")
        checks[table].result()
    for table, columns in REQUIRED_COLUMNS.items():
        path = paths[table]
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FeatureError(f"table {table!r} ({path}): not a readable Parquet file") from exc
        for column, kind in columns.items():
            if column not in schema.names:
                raise FeatureError(f"table {table!r}: missing column {column!r} ({path.name})")
            _check_arrow_type(table, column, kind, schema.field(column).type)
        paths[table] = path
    schema = pq.read_schema(paths["customers"])
    birth = [c for c in BIRTH_COLUMNS if c in schema.names]
    if not birth:
        raise FeatureError("table 'customers': no birth_month or birth_year column; age is computed at the "
                           "snapshot, so the privacy policy must publish BIRTH_DATE as birth_year_month or "
                           "birth_year (an age band is fixed on the day pseudonymise ran)")
    extra = {birth[0]: BIRTH_COLUMNS[birth[0]]}
    for column in extract:
        if column not in schema.names:
            raise FeatureError(f"table 'customers': missing column {column!r} (listed in extract_attributes)")
        extra[column] = TEXT
    for column, kind in extra.items():
        _check_arrow_type("customers", column, kind, schema.field(column).type)
    return manifest, paths, extra


def _base_type(typ: pa.DataType) -> pa.DataType:
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def _is_text(typ: pa.DataType) -> bool:
    return pa.types.is_string(typ) or pa.types.is_large_string(typ) or getattr(pa.types, "is_string_view",
                                                                              lambda _t: False)(typ)


def _check_arrow_type(table: str, column: str, kind: str, typ: pa.DataType) -> None:
    """Refuse a column whose stored type cannot hold ``kind`` (text is parsed and checked later)."""
    base = _base_type(typ)
    if pa.types.is_null(base) or _is_text(base):
        return
    ok = {
        TEXT: False,
        DATE: pa.types.is_timestamp(base) or pa.types.is_date(base),
        NUMBER: pa.types.is_integer(base) or pa.types.is_floating(base) or pa.types.is_decimal(base)
        or pa.types.is_boolean(base),
    }[kind]
    if not ok:
        expected = {TEXT: "text", DATE: "a date or timestamp", NUMBER: "a number"}[kind]
        raise FeatureError(f"table {table!r}, column {column!r}: expected {expected}. Got dtype {base}")


def _to_days(series: pd.Series, table: str, column: str) -> np.ndarray:
    """A date/timestamp column (datetime, date objects or ISO text) as ``datetime64[D]``; NaT if empty."""
    try:
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            parsed = series
            if getattr(series.dtype, "tz", None) is not None:
                parsed = series.dt.tz_localize(None)
        else:
            text = series.astype("string").str.strip().replace("", pd.NA)
            parsed = pd.to_datetime(series.where(text.notna()), errors="coerce", format="ISO8601")
            bad = int((parsed.isna() & text.notna()).sum())
            if bad:
                raise FeatureError(f"table {table!r}, column {column!r}: expected dates (YYYY-MM-DD); "
                                   f"{bad} value(s) do not parse")
    except (TypeError, ValueError) as exc:
        raise FeatureError(f"table {table!r}, column {column!r}: expected dates. Got dtype {series.dtype}") from exc
    return parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def _to_number(series: pd.Series, table: str, column: str) -> np.ndarray:
    """A numeric column (numbers or numeric text) as float64; NaN if empty."""
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    text = series.astype("string").str.strip().replace("", pd.NA)
    values = pd.to_numeric(text, errors="coerce")
    bad = int((values.isna() & text.notna()).sum())
    if bad:
        raise FeatureError(f"table {table!r}, column {column!r}: expected numbers; {bad} value(s) are not numeric")
    return values.to_numpy(dtype="float64", na_value=np.nan)


def _read_small(path: Path, table: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Read a small table and convert each needed column to its kind.

    ``customer_no`` stays an Arrow string array (looked up with Arrow's hash kernels), other
    text becomes a ``pandas.Categorical`` (compact; ``==`` gives a NumPy mask), dates
    ``datetime64[D]`` and numbers float64.
    """
    columns = {**REQUIRED_COLUMNS[table], **(extra or {})}
    arrow = pq.read_table(path, columns=list(columns))
    out: dict[str, Any] = {}
    for column, kind in columns.items():
        col = arrow[column].combine_chunks()
        arrow = arrow.drop_columns([column])  # release each column once converted
        if kind == TEXT and column == ID_COLUMN:
            out[column] = col.cast(pa.string()) if not pa.types.is_dictionary(col.type) else col.dictionary_decode()
        elif kind == TEXT or _is_text(_base_type(col.type)):
            out[column] = _convert_distinct(col, kind, table, column)
        elif kind == DATE:
            out[column] = _to_days(col.to_pandas(), table, column)
        else:
            out[column] = _to_number(col.to_pandas(), table, column)
        del col
    return out


def _convert_distinct(col: pa.Array, kind: str, table: str, column: str) -> Any:
    """A text (or dictionary) column converted once per *distinct* value, then broadcast.

    Text dates, numbers and categories repeat (a date column of 40M rows has a few thousand
    values): Python strings and per-row parsing of every row cost gigabytes and minutes at 10M
    customers. The result is what the per-row conversion gives; on a bad value the per-row
    conversion runs again for its message (which counts rows).
    """
    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    uniques = enc.dictionary.to_pandas() if len(enc.dictionary) else pd.Series([], dtype=object)
    if kind == TEXT:
        cats = pd.Categorical(uniques)
        lookup = np.append(np.asarray(cats.codes, dtype=np.int64), -1)
        result = pd.Categorical.from_codes(lookup[codes], categories=cats.categories)
        return result.remove_unused_categories() if pa.types.is_dictionary(col.type) else result
    try:
        values = _to_days(uniques, table, column) if kind == DATE else _to_number(uniques, table, column)
    except FeatureError:
        plain = col.dictionary_decode() if pa.types.is_dictionary(col.type) else col
        (_to_days if kind == DATE else _to_number)(plain.to_pandas(), table, column)  # raises, counting rows
        raise  # pragma: no cover - the per-row conversion always raises when a distinct value failed
    missing = np.datetime64("NaT", "D") if kind == DATE else np.nan
    return np.append(values, np.array([missing], dtype=values.dtype))[codes]


# ---------------------------------------------------------------------------------------------
# DuckDB over Parquet for the large tables
# ---------------------------------------------------------------------------------------------

class _Duck:
    """A DuckDB connection with typed column expressions for the large tables.

    The aggregate SQL of :func:`_transaction_aggregates` and :func:`_account_aggregates` is
    written once against this class's dialect hooks (``quote``, ``text_type``, ``day_diff``,
    ``wall_clock``, ``source``, ``fetch_row``, ``fetch``, ``per_customer``);
    :class:`features.spark_engine.SparkDuck` overrides them to run the same SQL on Spark.
    """

    engine = "local"
    text_type = "VARCHAR"

    def __init__(self, paths: dict[str, Path]) -> None:
        import duckdb

        self.duckdb = duckdb
        self.con = duckdb.connect()
        self.con.execute("SET preserve_insertion_order = false")
        self.paths = paths
        self.types = {t: pq.read_schema(paths[t]) for t in DUCKDB_TABLES}

    # -- dialect hooks --------------------------------------------------------------------------
    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def day_diff(self, start: str, end: str) -> str:
        """Whole days from the DATE ``start`` to the DATE ``end``."""
        return f"date_diff('day', {start}, {end})"

    def wall_clock(self, column: str, tz: str) -> str:
        """A zone-aware timestamp as wall-clock time in its own zone ``tz``."""
        return f"timezone('{tz}', {column})"

    def source(self, table: str) -> str:
        return "read_parquet('" + str(self.paths[table]).replace("'", "''") + "')"

    def fetch_row(self, sql: str) -> tuple[Any, ...]:
        """The first row of a query (dates as ``datetime.date``)."""
        return tuple(self._run(lambda: self.con.execute(sql).fetchall()[0]))

    def fetch(self, sql: str) -> pd.DataFrame:
        return self._run(lambda: self.con.execute(sql).df())

    def _run(self, call: Any) -> Any:
        try:
            return call()
        except self.duckdb.Error as exc:
            # DuckDB messages can quote a value; name the failure only.
            raise FeatureError(f"the clean zone cannot be aggregated ({type(exc).__name__}); "
                               "check the column types of transactions and accounts_monthly") from exc

    def set_customers(self, ids: pa.Array) -> None:
        """Register the customers of the feature table (``cid``, ``pos``) for ordered joins."""
        self._customers = pa.table({"cid": ids, "pos": pa.array(np.arange(len(ids), dtype=np.int64))})
        self.con.register("kequn_customers", self._customers)

    def per_customer(self, aggregate_sql: str) -> pd.DataFrame:
        """Left-join a ``GROUP BY cid`` query onto the customers, one row each in table order."""
        return self.fetch(f"SELECT agg.* EXCLUDE (cid) FROM kequn_customers c "
                          f"LEFT JOIN ({aggregate_sql}) agg ON agg.cid = c.cid ORDER BY c.pos")

    def close(self) -> None:
        self.con.close()

    # -- SQL written once -----------------------------------------------------------------------
    def expr(self, table: str, column: str) -> str:
        """SQL for a column converted to its kind; text is parsed with TRY_CAST (checked by validate)."""
        kind = REQUIRED_COLUMNS[table][column]
        base = _base_type(self.types[table].field(column).type)
        quoted = self.quote(column)
        if kind == TEXT:
            return f"CAST({quoted} AS {self.text_type})"
        if _is_text(base) or pa.types.is_null(base):
            target = "TIMESTAMP" if kind == DATE else "DOUBLE"
            return f"TRY_CAST(NULLIF(trim(CAST({quoted} AS {self.text_type})), '') AS {target})"
        if kind == DATE and pa.types.is_timestamp(base) and base.tz:
            # wall-clock time in the column's own zone, as pandas sees it (not the session's zone)
            return self.wall_clock(quoted, base.tz)
        if kind == DATE:
            return f"CAST({quoted} AS TIMESTAMP)"
        return f"CAST({quoted} AS DOUBLE)"

    def text_checks(self, table: str, parsed: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
        """``(column, kind, SQL)`` counting the text values of a date/number column that do not parse.

        ``parsed`` names columns whose parsed value the query already has (column → SQL name), so
        their text is not parsed a second time."""
        checks = []
        for column, kind in REQUIRED_COLUMNS[table].items():
            base = _base_type(self.types[table].field(column).type)
            if kind != TEXT and _is_text(base):
                raw = f"NULLIF(trim(CAST({self.quote(column)} AS {self.text_type})), '')"
                value = (parsed or {}).get(column) or self.expr(table, column)
                checks.append((column, kind, f"count(*) FILTER (WHERE {raw} IS NOT NULL AND {value} IS NULL)"))
        return checks


def _raise_unparsed(table: str, checks: list[tuple[str, str, str]], counts: tuple[Any, ...]) -> None:
    for (column, kind, _), bad in zip(checks, counts, strict=True):
        if bad:
            what = "dates (YYYY-MM-DD)" if kind == DATE else "numbers"
            raise FeatureError(f"table {table!r}, column {column!r}: expected {what}; "
                               f"{bad} value(s) do not parse")


def _date_sql(day: np.datetime64) -> str:
    return f"DATE '{np.datetime_as_string(day, unit='D')}'"


def _month_index(day: np.datetime64) -> int:
    return int(day.astype("datetime64[M]").astype(np.int64))


def _scan_large_tables(duck: _Duck, window: Window) -> dict[str, tuple[np.datetime64 | None, ...]]:
    """One pass over each large table: the text values that do not parse, the date range and,
    for accounts_monthly, the month-ends the value features use (the last on or before the
    snapshot, the last in the label window).

    Returns ``{table: (first, last[, reference month-end, label month-end])}`` as days; raises
    for an unparsable value. One scan per table instead of three (validation, range, month-ends):
    at 10M customers each pass parses 300M text timestamps.
    """
    s, end = _date_sql(window.s), _date_sql(window.end)
    found: dict[str, tuple[np.datetime64 | None, ...]] = {}
    for table, column in (("accounts_monthly", "month_end"), ("transactions", "txn_time")):
        checks = duck.text_checks(table, parsed={column: "d"})  # each text timestamp parsed once
        parts = [c[2] for c in checks] + ["CAST(min(d) AS DATE)", "CAST(max(d) AS DATE)"]
        if table == "accounts_monthly":
            parts += [f"max(CAST(d AS DATE)) FILTER (WHERE CAST(d AS DATE) <= {s})",
                      f"max(CAST(d AS DATE)) FILTER (WHERE CAST(d AS DATE) > {s} AND CAST(d AS DATE) <= {end})"]
        row = duck.fetch_row(f"SELECT {', '.join(parts)} "
                             f"FROM (SELECT *, {duck.expr(table, column)} AS d FROM {duck.source(table)})")
        _raise_unparsed(table, checks, row[:len(checks)])
        found[table] = tuple(None if v is None else np.datetime64(v, "D") for v in row[len(checks):])
    return found


def _check_snapshot(duck: _Duck, window: Window, allow_partial_labels: bool = False
                    ) -> tuple[np.datetime64 | None, np.datetime64 | None]:
    """Refuse a snapshot outside the data, or whose label horizon ends after the last record.

    Threat: labels computed over a window the data does not cover look like "nobody churned"
    (churn rate 0, responses missing) and surface only at training as a single class, or worse,
    as a model trained on truncated labels. ``allow_partial_labels`` accepts it knowingly.

    Returns accounts_monthly's reference and label month-ends (:func:`_account_aggregates`).
    """
    found = _scan_large_tables(duck, window)
    a_lo, a_hi, ref_day, label_day = found["accounts_monthly"]
    t_lo, t_hi = found["transactions"]
    if a_lo is None:
        raise FeatureError("table 'accounts_monthly', column 'month_end': no dated rows; cannot place the snapshot")
    lo = min(d for d in (a_lo, t_lo) if d is not None)
    hi = max(d for d in (a_hi, t_hi) if d is not None)
    if window.s < lo or window.s > hi:
        raise FeatureError(
            f"snapshot {window.snapshot} is outside the data's date range {lo}..{hi} "
            "(tables 'accounts_monthly' column 'month_end', 'transactions' column 'txn_time')")
    if window.end > hi:
        latest = hi - np.timedelta64(window.horizon_days, "D")
        if not allow_partial_labels:
            raise FeatureError(
                f"snapshot {window.snapshot} + {window.horizon_days} days horizon ends {window.end}, after the "
                f"last record {hi}; the latest valid snapshot is {latest} (or pass --allow-partial-labels)")
        console.info(f"! the label horizon ends {window.end}, after the last dated record {hi}: "
                     "labels see only part of the window (--allow-partial-labels)")
    return ref_day, label_day


def _transaction_aggregates(duck: _Duck, window: Window) -> pd.DataFrame:
    """One row per customer with at least one transaction on or before the snapshot."""
    ts = duck.expr("transactions", "txn_time")
    s = _date_sql(window.s)
    next_day = _date_sql(window.s + np.timedelta64(1, "D"))
    passive = ", ".join(f"'{t}'" for t in PASSIVE_TXN_TYPES)
    parts = [
        "min(age) AS last_age",
        f"min(age) FILTER (WHERE txn_type IS NULL OR txn_type NOT IN ({passive})) AS last_active_age",
    ]
    for w in RFM_WINDOWS:
        parts.append(f"count(*) FILTER (WHERE age < {w}) AS txn_count_{w}d")
        parts.append(f"coalesce(sum(amount) FILTER (WHERE age < {w}), 0) AS txn_amount_{w}d")
    f = FLOW_WINDOW
    parts += [
        f"coalesce(sum(amount) FILTER (WHERE age < {f} AND direction = 'in'), 0) AS inflow",
        f"coalesce(sum(amount) FILTER (WHERE age < {f} AND direction = 'out'), 0) AS outflow",
        f"count(*) FILTER (WHERE age < {f} AND txn_type = 'salary') AS salary_n",
        f"coalesce(sum(amount) FILTER (WHERE age < {f} AND txn_type = 'salary' AND direction = 'in'), 0) AS salary_in",
    ]
    for ch in CHANNELS:
        parts.append(f"count(*) FILTER (WHERE age < {CHANNEL_WINDOW} AND channel = '{ch}') AS ch_{ch}")
    for k in range(TREND_PERIODS):
        lo, hi = k * TREND_PERIOD_DAYS, (k + 1) * TREND_PERIOD_DAYS
        parts.append(f"count(*) FILTER (WHERE age >= {lo} AND age < {hi}) AS period_{k}")
    sql = f"""
        SELECT cid, {', '.join(parts)}
        FROM (
            SELECT {duck.expr('transactions', 'customer_no')} AS cid,
                   {duck.day_diff('CAST(ts AS DATE)', s)} AS age,
                   {duck.expr('transactions', 'amount')} AS amount,
                   {duck.expr('transactions', 'direction')} AS direction,
                   {duck.expr('transactions', 'channel')} AS channel,
                   {duck.expr('transactions', 'txn_type')} AS txn_type
            FROM (SELECT *, {ts} AS ts FROM {duck.source('transactions')})
            WHERE ts < {next_day}
        )
        GROUP BY cid
    """
    return duck.per_customer(sql)


def _account_aggregates(duck: _Duck, window: Window, ref_day: np.datetime64 | None,
                        label_day: np.datetime64 | None) -> tuple[pd.DataFrame, bool]:
    """Month-end balances around the snapshot and at the end of the label window.

    ``ref_day`` and ``label_day`` are the last month-end on or before the snapshot and in
    ``(s, s+h]`` (:func:`_check_snapshot`). Returns the per-customer frame and whether a
    month-end exists in ``(s, s+h]``.
    """
    me = duck.expr("accounts_monthly", "month_end")
    src = duck.source("accounts_monthly")
    s, end = _date_sql(window.s), _date_sql(window.end)
    ref = _month_index(np.datetime64(ref_day, "D")) if ref_day is not None else -10**9
    lab = _month_index(np.datetime64(label_day, "D")) if label_day is not None else -10**9
    cols = {c: duck.expr("accounts_monthly", c) for c in
            ("aum", "deposit_balance", "wealth_balance", "fund_balance", "insurance_balance", "credit_limit",
             "credit_used_amount", "loan_balance")}
    sql = f"""
        SELECT cid,
          max(aum) FILTER (WHERE mi = {ref}) AS aum,
          max(deposit_balance) FILTER (WHERE mi = {ref}) AS aum_deposit,
          max(wealth_balance) FILTER (WHERE mi = {ref}) AS aum_wealth,
          max(fund_balance) FILTER (WHERE mi = {ref}) AS aum_fund,
          max(insurance_balance) FILTER (WHERE mi = {ref}) AS aum_insurance,
          max(credit_limit) FILTER (WHERE mi = {ref}) AS credit_limit,
          max(credit_used_amount) FILTER (WHERE mi = {ref}) AS credit_used_amount,
          max(loan_balance) FILTER (WHERE mi = {ref}) AS loan_balance,
          max(aum) FILTER (WHERE mi = {ref - 3}) AS aum_m3,
          max(aum) FILTER (WHERE mi = {ref - 6}) AS aum_m6,
          stddev_samp(aum) FILTER (WHERE mi > {ref - 6} AND mi <= {ref}) AS aum_sd6,
          avg(aum) FILTER (WHERE mi > {ref - 6} AND mi <= {ref}) AS aum_mean6,
          max(aum) FILTER (WHERE mi = {lab} AND is_label) AS aum_label_end
        FROM (
            SELECT {duck.expr('accounts_monthly', 'customer_no')} AS cid,
                   (year(me) * 12 + month(me) - 1 - {1970 * 12}) AS mi,
                   CAST(me AS DATE) > {s} AS is_label,
                   {', '.join(f'{expr} AS {name}' for name, expr in cols.items())}
            FROM (SELECT *, {me} AS me FROM {src})
            WHERE me IS NOT NULL AND CAST(me AS DATE) <= {end}
        )
        WHERE (NOT is_label AND mi >= {ref - 6} AND mi <= {ref}) OR (is_label AND mi = {lab})
        GROUP BY cid
    """
    return duck.per_customer(sql), label_day is not None


# ---------------------------------------------------------------------------------------------
# assembly
# ---------------------------------------------------------------------------------------------

def _codes(customer_ids: pa.Array, ids: pa.Array) -> np.ndarray:
    """Position of each ``ids`` value among the customers (−1 when not a customer of the table)."""
    found = pc.index_in(ids, value_set=customer_ids)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    np.divide(num, den, out=out, where=ok)
    return out


def _count(codes: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    keep = mask & (codes >= 0)
    return np.bincount(codes[keep], minlength=n).astype(np.int64)


def _value_tier(aum: np.ndarray, tiers: list[ValueTier]) -> pd.Categorical:
    """The feature table's ``value_tier``: the one rule (:func:`features.config.assign_value_tier`),
    missing where the AUM is, as a categorical ordered from the lowest tier up."""
    names = [t.name for t in sorted(tiers, key=lambda t: t.min_aum, reverse=True)]
    return pd.Categorical(assign_value_tier(aum, tiers, missing=None), categories=names[::-1])


def _customers(data: dict[str, Any], window: Window) -> tuple[pa.Array, dict[str, Any]]:
    """Customers open at the snapshot: their IDs (Arrow) and their other columns, filtered."""
    ids: pa.Array = data[ID_COLUMN]
    if ids.null_count:
        raise FeatureError("table 'customers', column 'customer_no': has empty values")
    is_open = ~(data["open_date"] > window.s) & ~(data["close_date"] <= window.s)
    if not is_open.any():
        raise FeatureError(f"table 'customers', columns 'open_date'/'close_date': no customer is open at "
                           f"the snapshot {window.snapshot}")
    open_ids = pc.filter(ids, pa.array(is_open))
    if pc.count_distinct(open_ids).as_py() != len(open_ids):
        raise FeatureError("table 'customers', column 'customer_no': customer numbers are not unique")
    sel = {k: v[is_open] for k, v in data.items() if k != ID_COLUMN}
    return open_ids, sel


def _product_features(data: dict[str, np.ndarray], codes: np.ndarray, n: int, window: Window) -> dict[str, Any]:
    s = window.s
    held = (data["open_date"] <= s) & ~(data["close_date"] <= s)
    ptype = data["product_type"]
    out: dict[str, Any] = {}
    held_types = np.zeros((n, len(PRODUCT_TYPES)), dtype=bool)
    for i, p in enumerate(PRODUCT_TYPES):
        held_types[:, i] = _count(codes, held & (ptype == p), n) > 0
        out[f"holds_{p}"] = held_types[:, i].astype(np.int8)
    out["n_products"] = held_types.sum(axis=1).astype(np.int64)
    out["n_holdings"] = _count(codes, held, n)
    for w in MATURITY_WINDOWS:
        due = data["maturity_date"]
        out[f"maturing_{w}d"] = _count(codes, held & (due > s) & (due <= s + np.timedelta64(w, "D")), n)
    due_90 = held & (data["maturity_date"] > s) & (data["maturity_date"] <= s + np.timedelta64(90, "D"))
    out["rate_sensitive_maturing_90d"] = _count(codes, due_90 & (data["rate_sensitive"] == 1), n)
    recent = (data["open_date"] <= s) & (data["open_date"] > s - np.timedelta64(180, "D"))
    out["products_opened_180d"] = _count(codes, recent, n)
    return out


def _service_features(data: dict[str, np.ndarray], codes: np.ndarray, n: int, window: Window) -> dict[str, Any]:
    day = data["note_time"]
    recent = (day <= window.s) & (day > window.s - np.timedelta64(SERVICE_WINDOW, "D"))
    return {
        "complaints_90d": _count(codes, recent & (data["category"] == COMPLAINT_CATEGORY), n),
        "service_contacts_90d": _count(codes, recent, n),
    }


def _campaign_features(data: dict[str, np.ndarray], codes: np.ndarray, n: int, window: Window) -> dict[str, Any]:
    before = data["campaign_date"] <= window.s
    return {
        "campaigns_before": _count(codes, before, n),
        "campaigns_treated_before": _count(codes, before & (data["treatment"] == 1), n),
        "campaign_responses_before": _count(codes, before & (data["response"] == 1)
                                            & (data["response_date"] <= window.s), n),
    }


def _activity_features(tx: pd.DataFrame, tenure: np.ndarray) -> dict[str, Any]:
    def col(name: str) -> np.ndarray:
        return tx[name].to_numpy(dtype="float64", na_value=np.nan)

    has = ~np.isnan(col("last_age"))
    out: dict[str, Any] = {"has_transactions": has.astype(np.int8), "recency_days": col("last_age")}
    for w in RFM_WINDOWS:
        out[f"txn_count_{w}d"] = np.nan_to_num(col(f"txn_count_{w}d")).astype(np.int64)
        out[f"txn_amount_{w}d"] = np.nan_to_num(col(f"txn_amount_{w}d"))
    inflow, outflow = np.nan_to_num(col("inflow")), np.nan_to_num(col("outflow"))
    out["inflow_outflow_ratio_90d"] = _ratio(inflow, outflow)
    out["salary_flag_90d"] = (np.nan_to_num(col("salary_n")) > 0).astype(np.int8)
    out["salary_share_90d"] = _ratio(np.nan_to_num(col("salary_in")), inflow)
    active = col("last_active_age")
    out["dormancy_days"] = np.where(np.isnan(active), tenure, active)
    periods = np.column_stack([np.nan_to_num(col(f"period_{k}")) for k in range(TREND_PERIODS)])
    # period_0 is the most recent; x runs oldest (0) to newest (TREND_PERIODS-1)
    x = np.arange(TREND_PERIODS)[::-1].astype("float64")
    xc = x - x.mean()
    out["txn_trend_6m"] = periods @ xc / float(xc @ xc)
    channels = {ch: np.nan_to_num(col(f"ch_{ch}")) for ch in CHANNELS}
    total = sum(channels.values())
    for ch in CHANNELS:
        out[f"share_{ch}"] = _ratio(channels[ch], total)
    digital = sum(channels[ch] for ch in DIGITAL_CHANNELS)
    out["digital_share"] = _ratio(digital, total)
    out["digital_adopter"] = (digital > 0).astype(np.int8)
    return out


def _value_features(acc: pd.DataFrame, tiers: list[ValueTier]) -> dict[str, Any]:
    def col(name: str) -> np.ndarray:
        return acc[name].to_numpy(dtype="float64", na_value=np.nan)

    aum = col("aum")
    out: dict[str, Any] = {name: col(name) for name in
                           ("aum", "aum_deposit", "aum_wealth", "aum_fund", "aum_insurance")}
    out["aum_change_3m"] = _ratio(aum, col("aum_m3")) - 1
    out["aum_change_6m"] = _ratio(aum, col("aum_m6")) - 1
    out["aum_volatility_6m"] = _ratio(col("aum_sd6"), col("aum_mean6"))
    out["value_tier"] = _value_tier(aum, tiers)
    # month-end history, not products.used_amount (the extract's current balance)
    out["credit_card_utilisation"] = _ratio(col("credit_used_amount"), col("credit_limit"))
    out["loan_outstanding"] = np.nan_to_num(col("loan_balance"))
    return out


def _as_of_rows(codes: np.ndarray, day: np.ndarray, s: np.datetime64, n: int) -> np.ndarray:
    """Per customer, the row of the last record dated on or before ``s`` (−1 when there is none).

    Records on the same day keep their table order (the later row wins).
    """
    rows = np.flatnonzero((codes >= 0) & (day <= s))  # NaT compares False: undated records never count
    rows = rows[np.lexsort((rows, day[rows], codes[rows]))]
    owner = codes[rows]
    last = np.ones(rows.size, dtype=bool)
    last[:-1] = owner[1:] != owner[:-1]
    out = np.full(n, -1, dtype=np.int64)
    out[owner[last]] = rows[last]
    return out


def _take_category(values: pd.Categorical, rows: np.ndarray) -> pd.Categorical:
    """``values[rows]`` with −1 → missing, as a Categorical with only the categories used."""
    codes = np.where(rows >= 0, np.asarray(values.codes)[np.maximum(rows, 0)], -1)
    return pd.Categorical.from_codes(codes, categories=values.categories).remove_unused_categories()


def _history_features(data: dict[str, dict[str, Any]], codes: dict[str, np.ndarray], n: int,
                      window: Window) -> dict[str, Any]:
    """Profile attributes and risk level in effect at the snapshot, from their dated records."""
    out: dict[str, Any] = {}
    prof = data["customer_profile_history"]
    rows = _as_of_rows(codes["customer_profile_history"], prof["effective_from"], window.s, n)
    for name in ("province", "city", "occupation"):
        out[name] = _take_category(prof[name], rows)
    risk = data["risk_assessments"]
    rows = _as_of_rows(codes["risk_assessments"], risk["assessed_on"], window.s, n)
    out["risk_level"] = _take_category(risk["risk_level"], rows)
    return out


def _age_features(cust: dict[str, Any], window: Window) -> dict[str, Any]:
    """The ten-year band of the age in whole years at the snapshot, from the published birth column.

    Only the band is a feature (it is a protected attribute for fairness; an exact age would be
    its proxy inside the model)."""
    snap_month = int(window.s.astype("datetime64[M]").astype(np.int64))
    if "birth_month" in cust:
        text = pd.Series(np.asarray(cust["birth_month"], dtype=object)).astype("string")
        born = pd.to_datetime(text, format="%Y-%m", errors="coerce")
        bad = int((born.isna() & text.notna() & text.str.strip().ne("")).sum())
        if bad:
            raise FeatureError(f"table 'customers', column 'birth_month': expected YYYY-MM; "
                               f"{bad} value(s) do not parse")
        months = snap_month - born.to_numpy(dtype="datetime64[M]").astype(np.int64).astype("float64")
        months[born.isna().to_numpy()] = np.nan
        age = np.floor(months / 12)  # birthday taken as the 1st of the birth month
    else:
        age = (window.snapshot.year - cust["birth_year"]).astype("float64")
    age = np.where((age >= 0) & (age < 130), age, np.nan)
    lower = np.floor(np.nan_to_num(age) / AGE_BAND_WIDTH) * AGE_BAND_WIDTH
    labels = np.char.add(np.char.add(lower.astype(np.int64).astype(str), "-"),
                         (lower + AGE_BAND_WIDTH - 1).astype(np.int64).astype(str)).astype(object)
    labels[age >= AGE_TOP_BAND] = f"{AGE_TOP_BAND}+"
    labels[np.isnan(age)] = None
    return {"age_band": pd.Categorical(labels)}


def compute_features(clean_dir: Path, snapshot: dt.date, horizon_days: int = 90,
                     config: FeatureConfig | None = None,
                     allow_partial_labels: bool = False, *, engine: str = "local",
                     spark_master: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compute the feature table (ID, features, labels) without writing it.

    A snapshot whose label horizon ends after the last record is a :class:`FeatureError`
    unless ``allow_partial_labels``. ``engine`` is ``local`` (DuckDB) or ``spark`` (the same
    aggregate SQL on Spark SQL, :mod:`features.spark_engine`; ``spark_master`` as
    :func:`kequn.spark.spark_session`). The clean zone's manifest and table digests are
    verified before either engine reads a table.

    Returns
    -------
    frame, manifest
        The table with the columns of :func:`features.registry.table_columns`, and the clean
        zone's manifest.
    """
    if horizon_days < 1:
        raise InputError(f"--horizon-days must be at least 1. Got {horizon_days}")
    config = config or load_feature_config()
    tiers = load_value_tiers()
    window = Window(snapshot, horizon_days)
    extract = tuple(config.extract_attributes)
    check_engine(engine)
    with contextlib.ExitStack() as stack:
        # the firewall first: no engine reads a table of a zone that is unsigned, forged or changed
        manifest, paths, extra = _table_paths(Path(clean_dir), extract)
        if engine == "spark":
            from features.spark_engine import open_spark_duck

            duck: _Duck = stack.enter_context(open_spark_duck(paths, spark_master))
        else:
            duck = _Duck(paths)
            stack.callback(duck.close)
        return _compute(duck, manifest, paths, extra, window, config, tiers, extract, allow_partial_labels)


def _compute(duck: _Duck, manifest: dict[str, Any], paths: dict[str, Path], extra: dict[str, str],
             window: Window, config: FeatureConfig, tiers: list[ValueTier], extract: tuple[str, ...],
             allow_partial_labels: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    snapshot = window.snapshot
    label = "Spark" if duck.engine == "spark" else "DuckDB"
    with console.stage("check clean zone") as st:
        ref_day, label_day = _check_snapshot(duck, window, allow_partial_labels)
        st.done(f"{len(paths)} tables, manifest passed")
    with console.stage("customers, profile and risk history, products, campaigns, service notes") as st:
        small = {t: _read_small(paths[t], t, extra if t == "customers" else None)
                 for t in REQUIRED_COLUMNS if t not in DUCKDB_TABLES}
        customer_ids, cust = _customers(small["customers"], window)
        close_date = cust["close_date"]
        n = len(customer_ids)
        duck.set_customers(customer_ids)
        tenure = (window.s - cust["open_date"]).astype("timedelta64[D]").astype("float64")
        tenure[np.isnat(cust["open_date"])] = np.nan
        codes = {t: _codes(customer_ids, small[t].pop(ID_COLUMN)) for t in small if t != "customers"}
        cols: dict[str, Any] = {}
        cols.update(_product_features(small["products"], codes["products"], n, window))
        cols.update(_service_features(small["service_notes"], codes["service_notes"], n, window))
        cols.update(_campaign_features(small["campaigns"], codes["campaigns"], n, window))
        cols.update(_history_features(small, codes, n, window))
        cols.update(_age_features(cust, window))
        cols["tenure_days"] = tenure
        for name in ("gender", *extract):
            cols[name] = cust[name].remove_unused_categories()
        st.done(f"{n} customers open at {snapshot}")
        # what the labels need later; the other small tables are done with (at 10M customers
        # they are gigabytes, and everything below only adds to the peak)
        for t in [t for t in small if t not in ("products", "campaigns")]:
            del small[t]
        codes = {t: codes[t] for t in ("products", "campaigns")}
        del cust
        # Arrow's allocator keeps the freed pages of the tables just read for its next allocation;
        # the DuckDB stages below allocate outside it, so the pages go back to the OS now
        pa.default_memory_pool().release_unused()
    with console.stage(f"transactions ({label})") as st:
        tx = _transaction_aggregates(duck, window)
        cols.update(_activity_features(tx, tenure))
        del tx
        st.done(f"{int(cols['has_transactions'].sum())} customers with transactions")
    with console.stage(f"accounts_monthly ({label})") as st:
        acc, has_label_month = _account_aggregates(duck, window, ref_day, label_day)
        cols.update(_value_features(acc, tiers))
        aum_label_end = (acc["aum_label_end"].to_numpy(dtype="float64", na_value=np.nan)
                         if has_label_month else None)
        del acc
        st.done(f"{int(np.isfinite(cols['aum']).sum())} customers with AUM at the snapshot month")
    # The table is assembled without copying it as a whole: each feature array is handed over
    # (popped, so at most one column exists twice at a time) and the frames are built with
    # copy=False (one block per column, no consolidation); the final column order is a new
    # frame over the same columns, not a take. (Each was a full copy of the table: 3+ GiB at 10M.)
    aum = cols["aum"]
    columns: dict[str, Any] = {ID_COLUMN: customer_ids.to_pandas().astype("string")}
    for feat in selected_features(extract):
        if feat.name != "lifecycle_stage":
            columns[feat.name] = pd.Series(cols.pop(feat.name), copy=False).astype(feat.dtype)
    del cols
    frame = pd.DataFrame(columns, copy=False)
    del columns
    frame["lifecycle_stage"] = assign_stage(frame, config.lifecycle)
    with console.stage("labels") as st:
        label_cols = labels_mod.build_labels(
            n=n, window=(window.s, window.end), close_date=close_date,
            aum=aum, aum_label_end=aum_label_end,
            products=small["products"], product_codes=codes["products"],
            campaigns=small["campaigns"], campaign_codes=codes["campaigns"], config=config)
        for name in LABEL_COLUMNS:
            frame[name] = label_cols[name]
        st.done(", ".join(f"{k} {v:.3f}" for k, v in labels_mod.label_rates(frame).items()))
    frame = pd.DataFrame({c: frame[c] for c in table_columns(extract)}, copy=False)
    return frame, manifest


def build_features(*, clean_dir: Path, snapshot: dt.date, out: Path, horizon_days: int = 90,
                   allow_partial_labels: bool = False, engine: str = "local",
                   spark_master: str | None = None) -> dict[str, Any]:
    """Build the feature table of a clean zone at ``snapshot`` and write it with its dictionary.

    Parameters
    ----------
    clean_dir:
        Folder written by ``kequn pseudonymise`` (its manifest must have status ``passed``).
    snapshot:
        Features use records dated on or before this day; labels the ``horizon_days`` after it.
    out:
        The ``.parquet`` file to write; ``<stem>.dictionary.md`` and ``<stem>.dictionary.json``
        are written beside it.
    horizon_days:
        Length of the label window after the snapshot.
    allow_partial_labels:
        Accept a horizon that ends after the last record (labels then see only part of it).
    engine, spark_master:
        ``local`` (DuckDB) or ``spark`` (Spark SQL; ``spark_master`` as ``--spark-master``).
        Both give the same table; ``engine`` is recorded in the embedded lineage.

    Returns
    -------
    dict
        ``summary`` (one line for the CLI), ``n_rows``, ``n_features``, ``label_rates``,
        ``out``, ``dictionary_paths`` and ``seconds``.

    Raises
    ------
    LineageError
        The folder is not a passing clean zone (raw data is refused).
    FeatureError
        A table or column is missing or has the wrong type, the snapshot is outside the data, or
        its label horizon ends after the last record (without ``allow_partial_labels``).
    """
    start = time.perf_counter()
    out = Path(out)
    clean_dir = Path(clean_dir)
    if out.suffix.lower() != ".parquet":
        raise InputError(f"--out {out}: the feature table must be a .parquet file. Got suffix {out.suffix!r}")
    try:
        if out.resolve().is_relative_to(clean_dir.resolve()):
            raise InputError(f"--out {out}: write the feature table outside the clean zone {clean_dir}")
    except (OSError, ValueError):  # pragma: no cover - unresolvable paths are caught when writing
        pass
    check_engine(engine)
    config = load_feature_config()
    frame, manifest = compute_features(clean_dir, snapshot, horizon_days, config, allow_partial_labels,
                                       engine=engine, spark_master=spark_master)
    lineage = {
        "kind": "features",
        "manifest_id": manifest["manifest_id"],
        "policy_hash": manifest["policy_hash"],
        "key_fingerprint": manifest["key_fingerprint"],
        "clean_dir": str(clean_dir.resolve()),
        "status": "passed",
        "snapshot": snapshot.isoformat(),
        "horizon_days": horizon_days,
        "feature_registry_version": REGISTRY_VERSION,
        "churn_aum_fall_share": config.churn.aum_fall_share,
        "propensity_target_product": config.propensity.target_product,
        "extract_attributes": list(config.extract_attributes),
        "allow_partial_labels": bool(allow_partial_labels),
        "engine": engine,
    }
    with console.stage("write") as st:
        write_signed_features(frame, out, lineage, manifest)
        md_path, json_path = dictionary_paths_for(out)
        write_dictionary_files(md_path, json_path, config=config)
        st.done(f"{out}")
    rates = labels_mod.label_rates(frame)
    seconds = round(time.perf_counter() - start, 2)
    n_features = len(feature_names(config.extract_attributes))
    summary = (f"features: {len(frame)} customers × {n_features} features at {snapshot} "
               f"(horizon {horizon_days} d) → {out}; labels: "
               + ", ".join(f"{k} {v:.3f}" for k, v in rates.items())
               + f"; dictionary {md_path.name}, {json_path.name}; {seconds:.1f} s")
    return {
        "summary": summary,
        "n_rows": len(frame),
        "n_features": n_features,
        "label_rates": rates,
        "out": str(out),
        "dictionary_paths": [str(md_path), str(json_path)],
        "seconds": seconds,
    }


__all__ = ["build_features", "compute_features", "REQUIRED_COLUMNS"]
