"""File helpers shared by every step: table discovery and reading, atomic writes.

Outputs are written atomically: to a temporary sibling first, then renamed into place, so a
crash or an error never leaves a half-written file or folder behind.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from kequn.errors import InputError

TABLE_SUFFIXES = (".csv", ".parquet")
#: Encodings tried, in order, when a CSV's encoding is not given. ``utf-8-sig`` also reads plain
#: UTF-8; GB18030 is a superset of GBK and GB2312.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
#: how an error names a detected encoding to the user (the value to pass to --encoding)
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GBK"}


def find_tables(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Path]:
    """Expand files and folders into ``{table name: path}``; a table's name is its file stem.

    Raises
    ------
    InputError
        A path does not exist, is not CSV/Parquet, two inputs share a table name, or no
        table is found at all.
    """
    tables: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
            if not found:
                raise InputError(f"{path}: the folder holds no .csv or .parquet table")
        elif path.suffix.lower() in TABLE_SUFFIXES:
            found = [path]
        else:
            raise InputError(f"{path}: not a table; expected a .csv or .parquet file. Got suffix {path.suffix!r}")
        for file in found:
            if file.stem in tables:
                raise InputError(f"{file}: table name {file.stem!r} is given twice ({tables[file.stem]})")
            tables[file.stem] = file
    if not tables:
        raise InputError("no input table given")
    return tables


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """Return the encoding of a CSV file: the given one if it decodes, else the first that does.

    When the given encoding fails but another common one decodes the file (a GBK extract read
    with ``--encoding utf-8``), the error names the one that works.
    """
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"--encoding: unknown encoding. Got {encoding!r}") from None
    candidates = (encoding,) if encoding else CSV_ENCODINGS
    for enc in candidates:
        if _decodes(data, enc):
            return enc
    if encoding:
        works = next((enc for enc in CSV_ENCODINGS if _decodes(data, enc)), None)
        if works is not None:
            name = ENCODING_NAMES[works]
            raise InputError(f"{path}: cannot decode the file as {encoding}; it reads as {name}: pass "
                             f"--encoding {name.lower()}, or leave --encoding out to detect it")
        raise InputError(f"{path}: cannot decode the file as {encoding}, nor as UTF-8 or GBK; "
                         "pass --encoding with the file's encoding")
    tried = ", ".join(candidates)
    raise InputError(f"{path}: cannot decode the file as {tried}; pass --encoding")


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def folder_hint(path: Path) -> str:
    """The message for a folder given where one table file is expected: which file to pass."""
    tables = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".parquet")
    preferred = [name for name in ("features.parquet", "customers.parquet") if name in tables]
    examples = (preferred or tables)[:2] or ["features.parquet", "customers.parquet"]
    such = " or ".join(str(path / name) for name in examples)
    return f"{path}: is a folder; pass a Parquet file such as {such}"


def read_table(path: str | os.PathLike[str], *, as_text: bool = False, encoding: str | None = None) -> pd.DataFrame:
    """Read one CSV or Parquet table.

    Parameters
    ----------
    as_text:
        Read every CSV column as text (identifiers keep leading zeros and ``X`` check digits);
        empty cells become missing values.
    encoding:
        CSV encoding; detected among UTF-8 (with or without BOM) and GB18030/GBK when ``None``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(folder_hint(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            if path.stat().st_size == 0:
                raise InputError(f"{path}: the file is empty")
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            enc = detect_encoding(path, encoding)
            frame = pd.read_csv(path, encoding=enc, dtype=str if as_text else None, keep_default_na=True,
                                low_memory=False)
        else:
            raise InputError(f"{path}: not a table; expected .csv or .parquet. Got {suffix!r}")
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: the file is empty") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read the table ({first})") from exc
    if frame.columns.size == 0:
        raise InputError(f"{path}: the table has no columns")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def ensure_writable_dir(path: Path) -> None:
    """Fail early with one line if ``path``'s parent cannot receive new files."""
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: the folder {parent} is not writable")


def make_dirs(path: Path) -> None:
    """``mkdir -p`` with a one-line error when the folder cannot be created."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create the folder ({exc.strerror})") from exc


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was. ``mode``
    (e.g. ``0o600`` for a file of personal data) is the final file's mode; the temporary file
    has mode 0600 throughout, so the content is never readable by others, not even briefly.
    """
    path = Path(path)
    ensure_writable_dir(path)
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, (0o666 & ~_umask()) if mode is None else mode)  # mkstemp makes 0600
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write a UTF-8 text file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Atomically write ``data`` as indented UTF-8 JSON (non-ASCII kept readable)."""
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, marker: str | None = None) -> Iterator[Path]:
    """Build a folder in a temporary sibling and swap it into place on success.

    If ``path`` already exists it must be empty or, when ``marker`` is given, contain that file
    (proof that it is an earlier output of the same kequn step); otherwise nothing is touched.
    The previous content is replaced only after the new one is complete.
    """
    path = Path(path)
    check_output_dir(path, marker=marker)
    ensure_writable_dir(path)
    make_dirs(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual mode
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, path)


def replace_dir(new: Path, path: Path) -> None:
    """Move the finished folder ``new`` onto ``path``, replacing an earlier one."""
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(new, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_output_dir(path: Path, *, marker: str | None) -> None:
    """Refuse a non-empty output folder that is not an earlier kequn output."""
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder")
    if not any(path.iterdir()):
        return
    if marker is not None and (path / marker).exists():
        return
    raise InputError(
        f"{path}: the folder is not empty and is not an earlier kequn output; choose another --out"
    )


def check_output_file(path: Path, *, is_earlier_output: Callable[[Path], bool], option: str = "--out") -> None:
    """Refuse to overwrite an existing file that is not an earlier output of the same kequn step.

    ``is_earlier_output`` decides from the file itself (e.g. a feature table carries kequn's
    lineage in its Parquet metadata), so a user's own file of the same name is never replaced.
    """
    if not path.exists():
        return
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    if not is_earlier_output(path):
        raise InputError(f"{option} {path}: the file exists and is not an earlier kequn output; "
                         f"choose another {option}")


def replace_all(moves: Sequence[tuple[Path, Path]]) -> None:
    """Move each finished ``(new, target)`` onto its target, all or none.

    Each existing target is first moved aside to a hidden sibling; if any move fails, the targets
    already replaced are put back and the remaining new files are removed, so the targets are as
    they were. Works for files and folders alike (``os.replace`` on one file system).
    """
    done: list[tuple[Path, Path | None]] = []
    try:
        for new, target in moves:
            aside = None
            if target.exists():
                aside = target.with_name(f".{target.name}.aside-{os.getpid()}")
                os.replace(target, aside)
            done.append((target, aside))
            os.replace(new, target)
    except BaseException:
        for target, aside in reversed(done):
            if aside is not None:
                if target.exists():
                    _remove(target)
                os.replace(aside, target)
        for new, _target in moves:
            if new.exists():
                _remove(new)
        raise
    for _target, aside in done:
        if aside is not None:
            _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
