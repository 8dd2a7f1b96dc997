"""Progress and summary output for the CLI.

Progress goes to stderr (one line per stage with counts and timings), summaries to stdout.
``--quiet`` silences progress. Never pass a data value to these functions: only counts, names
of tables/columns, paths and timings.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

_quiet = False
_said: set[str] = set()


def set_quiet(quiet: bool) -> None:
    """Start a command: set ``--quiet`` and forget which notes :func:`first_time` has seen."""
    global _quiet
    _quiet = bool(quiet)
    _said.clear()


def first_time(topic: str) -> bool:
    """True the first time a command asks about ``topic`` (a note explained once per command)."""
    if topic in _said:
        return False
    _said.add(topic)
    return True


def is_quiet() -> bool:
    return _quiet


def info(message: str) -> None:
    """A progress line on stderr (suppressed by ``--quiet``)."""
    if not _quiet:
        print(message, file=sys.stderr, flush=True)


def result(message: str) -> None:
    """A summary line on stdout (always printed)."""
    print(message, flush=True)


class Stage:
    """Handle yielded by :func:`stage`; ``done(text)`` sets the closing detail."""

    def __init__(self) -> None:
        self.detail = ""
        self.mark = "✓"

    def done(self, detail: str) -> None:
        self.detail = detail

    def fail(self, detail: str) -> None:
        """Close the stage as a failure (``✗``) that does not raise, e.g. a rejecting gate."""
        self.detail, self.mark = detail, "✗"


@contextlib.contextmanager
def stage(name: str) -> Iterator[Stage]:
    """Print ``name ...`` then ``name: <detail> (1.2 s)`` when the block ends."""
    info(f"» {name} ...")
    handle = Stage()
    start = time.perf_counter()
    yield handle
    elapsed = time.perf_counter() - start
    detail = f": {handle.detail}" if handle.detail else ""
    info(f"{handle.mark} {name}{detail} ({elapsed:.1f} s)")
