"""Per-cell run time of a notebook, executed as tests/test_notebooks.py executes it.

nbclient in a fresh ``python3`` kernel (ipykernel's kernelspec in a private ``JUPYTER_PATH``),
working directory and ``TMPDIR`` in a fresh temporary folder, ``KEQUN_USER`` and
``KEQUN_AUDIT_LOG`` unset, and a fresh privacy-step key in ``$KEQUN_STEP_KEY`` (as
tests/conftest.py sets it). The stored notebook is not modified. Prints one line per code cell
(seconds between nbclient's ``iopub.execute_input`` and ``shell.execute_reply``) and the total.

Usage (a notebook of an earlier commit: ``git show REV:notebooks/NAME > /tmp/NAME`` first)::

    .venv/bin/python bench/bench_notebook_cells.py notebooks/02_compliance_privacy_review.ipynb
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _seconds(cell) -> float | None:
    ex = cell.get("metadata", {}).get("execution") or {}
    if "iopub.execute_input" not in ex or "shell.execute_reply" not in ex:
        return None
    start, end = (dt.datetime.fromisoformat(ex[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    args = parser.parse_args()

    import nbclient
    import nbformat
    from ipykernel.kernelspec import write_kernel_spec

    from kequn.signing import STEP_KEY_ENV, generate_key_file

    nb = nbformat.read(args.notebook, as_version=4)
    tmp = Path(tempfile.mkdtemp(prefix="kequn-bench-nb-"))
    write_kernel_spec(path=str(tmp / "jupyter" / "kernels" / "python3"))
    generate_key_file(tmp / "step" / "privacy.key")
    work = tmp / "work"
    work.mkdir()
    os.environ.update({"JUPYTER_PATH": str(tmp / "jupyter"), "TMPDIR": str(work),
                       STEP_KEY_ENV: str(tmp / "step" / "privacy.key")})
    for name in ("KEQUN_USER", "KEQUN_AUDIT_LOG"):
        os.environ.pop(name, None)
    os.chdir(work)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})
    started = time.perf_counter()
    client.execute()
    total = time.perf_counter() - started
    for i, cell in enumerate(nb.cells):
        seconds = _seconds(cell) if cell.cell_type == "code" else None
        if seconds is not None:
            print(f"cell {i:2d} {seconds:7.1f} s  {cell.source.splitlines()[0][:80]}")
    print(f"total {total:.1f} s (kernel start included), {args.notebook.name}, folder {tmp}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
