"""The shared CLI contract (../shared/tools/check_contract.sh) holds against the installed kequn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_contract.sh"


@pytest.mark.slow
@pytest.mark.skipif(not SCRIPT.exists(), reason="../shared (the design repo) is not checked out beside kequn")
def test_cli_contract_script_passes(tmp_path):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=1200)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, "\n".join(line for line in lines if line.startswith("FAIL"))
    assert lines[-1].startswith("0 failed")
    assert sum(line.startswith("ok ") for line in lines) >= 20
