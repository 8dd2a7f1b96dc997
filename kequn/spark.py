"""The one Spark session of ``--engine spark`` (``kequn pseudonymise`` and ``kequn features``).

Where the session comes from, in order:

1. ``--spark-master URL`` (``spark://host:7077``, ``yarn``, ``k8s://…``, ``local[4]``);
2. Spark Connect when ``SPARK_REMOTE`` is set (``sc://host:15002``): the client talks to a
   server the bank already runs;
3. ``local[*]``: every core of this machine, the default and what the tests use.

The session is configured for kequn's rules, not for speed alone: the UI is off (it would show
job descriptions and SQL plans on a port), Arrow carries the pandas UDF batches, timestamps are
UTC, and the Python workers are this interpreter (so executors import the same kequn). Nothing
secret is ever put into the Spark configuration: a stage that needs the pseudonymisation key
ships it to executors inside its UDF's closure (see ``privacy/spark_engine.py``), where it never
appears in ``spark.conf``, the event log or the UI.

PySpark is an optional dependency (``pip install 'kequn[spark]'``) and needs Java 17 or newer;
either missing is a one-line :class:`~kequn.errors.InputError`, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kequn.errors import InputError

__all__ = ["ENGINES", "check_engine", "quiet_pandas_warnings", "spark_session"]

ENGINES = ("local", "spark")

#: Settings every kequn session gets (a user's spark-defaults.conf may add more; these win).
_SESSION_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.eventLog.enabled": "false",
}


#: log4j 2 settings of a session this process launches: errors only, on stderr (Spark's default
#: profile prints its banner and WARN lines about the hostname and native Hadoop on every run).
LOG4J2_PROPERTIES = Path(__file__).with_name("log4j2-spark.properties")


@contextlib.contextmanager
def quiet_pandas_warnings() -> Iterator[None]:
    """PySpark warns about the pandas version (FutureWarning) and pandas about PySpark's calls
    (deprecations) on every conversion; neither is the user's concern nor belongs on stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"pyspark(\.|$)")
        warnings.filterwarnings("ignore", category=FutureWarning, message=r"PySpark does not yet")
        yield


def _local_driver_memory() -> str:
    """Half of this machine's physical memory, in whole GiB (at least 1)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2g"
    return f"{max(1, total // 2 // 2**30)}g"


def check_engine(engine: str) -> str:
    """The engine name, or a one-line error for a typo'd ``--engine``."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    return engine


def _import_pyspark() -> Any:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise InputError(
            "--engine spark needs PySpark 4 or newer: pip install 'kequn[spark]'"
        ) from exc
    return SparkSession


def _require_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise InputError(
            "--engine spark in local mode needs Java 17 or newer (set JAVA_HOME or put java on PATH)"
        )


@contextlib.contextmanager
def spark_session(master: str | None = None, *, app: str = "kequn",
                  conf: dict[str, str] | None = None) -> Iterator[Any]:
    """A configured SparkSession for one command; stopped afterwards if this call started it.

    Parameters
    ----------
    master:
        ``--spark-master``; None means Spark Connect when ``SPARK_REMOTE`` is set, else
        ``local[*]``.
    app:
        The application name shown to the cluster manager (never data).
    conf:
        Extra non-secret settings (e.g. ``spark.sql.shuffle.partitions``).
    """
    SparkSession = _import_pyspark()
    remote = os.environ.get("SPARK_REMOTE")
    settings = {**_SESSION_CONF, **(conf or {})}
    builder = SparkSession.builder.appName(app)
    if master is None and remote:
        builder = builder.remote(remote)
        # A Connect server owns its own configuration; only session-level SQL settings apply.
        settings = {k: v for k, v in settings.items() if k.startswith("spark.sql.")}
    else:
        target = master or "local[*]"
        if target.startswith("local"):
            _require_java()
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        if target.startswith("local"):
            # local mode binds to loopback (nothing listens on the machine's network) and logs
            # errors only; a cluster's driver options stay the operator's.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # local mode runs the executors inside the driver's JVM; Spark's 1 GiB default failed
            # features at 1M customers (bench/RESULTS.md, session of 2026-12-03). Half the machine's memory, unless
            # the operator set it (SPARK_DRIVER_MEMORY or conf).
            if not os.environ.get("SPARK_DRIVER_MEMORY"):
                settings.setdefault("spark.driver.memory", _local_driver_memory())
            settings.setdefault("spark.driver.extraJavaOptions",
                                f"-Dlog4j2.configurationFile={LOG4J2_PROPERTIES.as_uri()}")
        builder = builder.master(target)
    for key, value in settings.items():
        builder = builder.config(key, value)
    existing = SparkSession.getActiveSession() if hasattr(SparkSession, "getActiveSession") else None
    try:
        with quiet_pandas_warnings():
            session = builder.getOrCreate()
    except Exception as exc:  # JVM launch or Connect failures arrive as many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot start Spark ({master or remote or 'local[*]'}): {first}") from exc
    with contextlib.suppress(Exception):
        session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        if existing is None and os.environ.get("KEQUN_SPARK_KEEP") != "1":
            with contextlib.suppress(Exception):
                session.stop()
