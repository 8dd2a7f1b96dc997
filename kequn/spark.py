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

The JVM that ``local`` and cluster-client modes launch inherits this process's standard error and
prints its start-up lines there before any logging configuration applies ("Using incubator
modules", "Setting default log level"). While it starts, standard error is pointed at a private
file (:func:`jvm_log_path`, mode 0600); the JVM keeps that file as its stderr. Whatever it writes
there apart from those start-up lines is forwarded to the real standard error when a session
ends, and the file is removed when this process exits; if the JVM fails to start, the error
names the file.

PySpark is an optional dependency (``pip install 'kequn[spark]'``) and needs Java 17 or newer;
either missing is a one-line :class:`~kequn.errors.InputError`, never a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kequn.errors import InputError

__all__ = ["ENGINES", "check_engine", "jvm_log_path", "quiet_pandas_warnings", "spark_session"]

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


#: What the JVM prints on every start before log4j's configuration applies; never forwarded.
_START_LINES = re.compile(
    r"^(WARNING: Using incubator modules:.*"
    r"|Setting default log level to .*"
    r"|To adjust logging level use sc\.setLogLevel\(newLevel\).*)$")


def jvm_log_path() -> Path:
    """The private file the driver JVM this process launches writes its standard error to."""
    return Path(tempfile.gettempdir()) / f"kequn-spark-{os.getpid()}.log"


class _JvmLog:
    """The JVM's standard error file: what is new in it (start-up lines aside) is forwarded."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def forward(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return
        # forward whole lines only; a partial last line waits for the next call
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        news = [line for line in complete.decode("utf-8", "replace").splitlines()
                if line.strip() and not _START_LINES.match(line)]
        if news:
            sys.stderr.write("\n".join(news) + "\n")
            sys.stderr.flush()

    def close(self) -> None:
        self.forward()
        with contextlib.suppress(OSError):
            self.path.unlink()


_jvm_log: _JvmLog | None = None


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 (what a child process inherits) at ``path`` for the block."""
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    saved = os.dup(2)
    try:
        os.dup2(fd, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)


def _launches_jvm() -> bool:
    """Whether creating a session now starts this process's driver JVM (not running yet)."""
    try:
        from pyspark import SparkContext
    except ImportError:  # pragma: no cover - checked by _import_pyspark first
        return False
    return getattr(SparkContext, "_gateway", None) is None


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
    global _jvm_log
    launch = not (master is None and remote) and _launches_jvm()
    log_path = jvm_log_path()
    try:
        with quiet_pandas_warnings(), (_stderr_to(log_path) if launch else contextlib.nullcontext()):
            session = builder.getOrCreate()
    except Exception as exc:  # JVM launch or Connect failures arrive as many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = f" (the JVM's output: {log_path})" if launch and log_path.exists() else ""
        raise InputError(f"cannot start Spark ({master or remote or 'local[*]'}): {first}{where}") from exc
    if launch:
        _jvm_log = _JvmLog(log_path)
        atexit.register(_jvm_log.close)
        _jvm_log.forward()
    with contextlib.suppress(Exception):
        session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        if existing is None and os.environ.get("KEQUN_SPARK_KEEP") != "1":
            with contextlib.suppress(Exception):
                session.stop()
        if _jvm_log is not None:
            _jvm_log.forward()
