"""The CLI root: help, version, error handling and the demo's refusal of bad options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.cli.main import COMMANDS, main


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_help_lists_every_contract_command_without_heavy_imports():
    code = ("import sys; from pipelines.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('mlflow', 'xgboost', 'presidio_analyzer', 'optuna', 'sklearn') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in proc.stdout
    for name in ("synth", "scan", "pseudonymise", "features", "train", "publish", "approve", "promote",
                 "registry", "score", "monitor", "plan", "relink", "erase", "demo"):
        assert name in proc.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_with_examples(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0
    assert "Example" in proc.stdout


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and "kequn" in proc.stdout


def test_unknown_option_is_a_usage_error():
    proc = run_cli("demo", "--no-such-option")
    assert proc.returncode == 2
    assert "No such option" in proc.stderr


def test_unknown_command():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2


@pytest.mark.parametrize("n", ["0", "-5"])
def test_demo_refuses_non_positive_customers(tmp_path, n):
    proc = run_cli("demo", "--customers", n, "--out", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"kequn: error: --customers must be a positive integer. Got {n}"
    assert not (tmp_path / "d").exists()


def test_demo_refuses_a_foreign_non_empty_folder(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("precious", encoding="utf-8")
    proc = run_cli("demo", "--customers", "10", "--out", str(out))
    assert proc.returncode == 1
    assert "not empty and is not an earlier kequn output" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]


def test_demo_refuses_an_unwritable_folder():
    # /proc refuses new entries even for root, so this holds in CI containers too.
    proc = run_cli("demo", "--customers", "10", "--out", "/proc/kequn-demo")
    assert proc.returncode == 1
    assert proc.stderr.startswith("kequn: error: /proc/kequn-demo")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_kequn_error_is_one_line_and_exit_code_1(capsys):
    # A KequnError raised by a command is one line on stderr and exit code 1.
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--customers", "0"])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == "kequn: error: --customers must be a positive integer. Got 0"


def test_atomic_writes_leave_no_temp_file_and_usual_modes(tmp_path):
    import stat

    from kequn.io import atomic_dir, write_json

    target = write_json(tmp_path / "a.json", {"x": 1})
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_current_umask()
    with atomic_dir(tmp_path / "zone", marker="manifest.json") as tmp:
        (tmp / "manifest.json").write_text("{}", encoding="utf-8")
    assert stat.S_IMODE((tmp_path / "zone").stat().st_mode) == 0o777 & ~_current_umask()
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "zone", marker="manifest.json") as tmp:
            (tmp / "manifest.json").write_text('{"new": true}', encoding="utf-8")
            raise RuntimeError("boom")
    assert (tmp_path / "zone" / "manifest.json").read_text(encoding="utf-8") == "{}"  # old content kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "zone"]


def _current_umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- usage errors: one line, click's suggestion, where help is, exit 2 ---------------------------

@pytest.mark.parametrize(("args", "line"), [
    (["demo", "--custmers", "5"],
     "kequn: error: No such option '--custmers'. Did you mean '--customers'? Try 'kequn demo --help'."),
    (["train", "--task", "chrn", "--data", "features.parquet"],
     "kequn: error: Invalid value for '--task': 'chrn' is not one of 'churn', 'propensity', 'segment', "
     "'uplift'. Try 'kequn train --help'."),
    (["features", "--data", "clean", "--snapshot", "2024-13-01", "--out", "features.parquet"],
     "kequn: error: Invalid value for '--snapshot': '2024-13-01' does not match the format '%Y-%m-%d'. "
     "Try 'kequn features --help'."),
    (["pseudonymse", "raw", "--out", "clean"],
     "kequn: error: No such command 'pseudonymse'. Did you mean 'pseudonymise'? Try 'kequn --help'."),
    (["frobnicate"], "kequn: error: No such command 'frobnicate'. Try 'kequn --help'."),
    (["train", "--task", "churn"], "kequn: error: Missing option '--data'. Try 'kequn train --help'."),
    (["-q", "features", "--data"], "kequn: error: Option '--data' requires an argument. Try 'kequn features --help'."),
])
def test_usage_error_is_one_line_with_the_suggestion(args, line, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == line + "\n"
    assert captured.out == ""


def _exit_code(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:  # click >= 8.2 raises for --help, older versions return
        return exc.code
    return 0


def test_pseudonymize_is_an_alias_of_pseudonymise(capsys):
    assert _exit_code(["pseudonymize", "--help"]) == 0
    alias_help = capsys.readouterr().out
    assert _exit_code(["pseudonymise", "--help"]) == 0
    assert alias_help.startswith("Usage: kequn pseudonymize ")
    assert alias_help.replace("pseudonymize", "pseudonymise") == capsys.readouterr().out
    assert _exit_code(["--help"]) == 0
    assert "pseudonymize" not in capsys.readouterr().out  # one spelling in the list


def test_erase_help_names_the_contract_options():
    proc = run_cli("erase", "--help")
    assert proc.returncode == 0
    for option in ("--ids", "--raw", "--clean", "--features", "--key-file", "KEQUN_PSEUDONYM_KEY", "KEQUN_STEP_KEY"):
        assert option in proc.stdout, option


def test_demo_refuses_non_positive_uplift_trials(tmp_path):
    proc = run_cli("demo", "--uplift-trials", "0", "--out", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == "kequn: error: --uplift-trials must be a positive integer. Got 0"
    assert not (tmp_path / "d").exists()
