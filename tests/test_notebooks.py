"""The three user notebooks run top to bottom, are stored without outputs and print no raw PII.

Each notebook is executed with nbclient in a fresh kernel whose working directory and TMPDIR are
the test's temporary folder (the notebooks create their own ``tempfile.mkdtemp`` folder, so it
lands there and is inspected afterwards). The kernel is ipykernel's own kernelspec, written into
a temporary ``JUPYTER_PATH`` and pointing at this interpreter, so the test does not depend on a
kernel registered on the machine. Each notebook's last cell asserts what the notebook claims and
prints a marker that the test checks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.leakscan import find_leaks, raw_pii_values

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: notebook -> text its final cell prints when every assertion in it held
MARKERS = {
    "01_ml_engineer_quickstart.ipynb": "QUICKSTART OK",
    "02_compliance_privacy_review.ipynb": "PRIVACY REVIEW OK",
    "03_model_owner_promotion.ipynb": "GOVERNANCE OK",
}
CELL_TIMEOUT = 600


def _output_text(nb) -> str:
    """Every text a notebook's cells output (streams, results, errors), joined."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"])
            for mime in ("text/plain", "text/html", "text/markdown"):
                if mime in out.get("data", {}):
                    parts.append(out["data"][mime])
            if out.get("output_type") == "error":
                parts.append("\n".join(out.get("traceback", [])))
    return "\n".join(parts)


@pytest.fixture
def kernel_env(tmp_path, monkeypatch) -> Path:
    """A python3 kernelspec for this interpreter in a private JUPYTER_PATH; cwd/TMPDIR in tmp."""
    from ipykernel.kernelspec import write_kernel_spec

    jupyter = tmp_path / "jupyter"
    write_kernel_spec(path=str(jupyter / "kernels" / "python3"))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(work))
    monkeypatch.delenv("KEQUN_USER", raising=False)
    monkeypatch.delenv("KEQUN_AUDIT_LOG", raising=False)
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize("name", sorted(MARKERS))
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), name
    for cell in code:
        ast.parse(cell.source)  # a SyntaxError here names the cell's line
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= len(code) // 2, "each step is explained"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MARKERS))
def test_notebook_runs_top_to_bottom(name, kernel_env):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(kernel_env)}})
    client.execute()  # raises CellExecutionError (with the cell and its traceback) on any error

    last = _output_text(nbformat.v4.new_notebook(cells=[nb.cells[-1]]))
    assert MARKERS[name] in last, last[-2000:]

    # No raw personal value from the raw input appears in anything the notebook showed.
    workdirs = [p for p in kernel_env.iterdir() if p.is_dir() and (p / "raw" / "customers.csv").exists()]
    assert len(workdirs) == 1, workdirs
    shown = kernel_env / "shown"
    shown.mkdir()
    (shown / "outputs.txt").write_text(_output_text(nb), encoding="utf-8")
    assert find_leaks(shown, raw_pii_values(workdirs[0] / "raw")) == []
