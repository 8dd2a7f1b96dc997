"""Whole-process measurement of `kequn features` on a (large) clean zone, with DuckDB spill.

Runs ``/usr/bin/time -v python -m pipelines.cli.main features ...`` in a fresh working folder
(DuckDB's default spill folder is ``.tmp`` there), samples the command's RSS and the spill
folder's size every 0.2 s, and attributes them to the stages the command prints
(``» stage ...`` / ``✓ stage: ...``). Prints one JSON line: wall, user and system CPU, peak RSS
(from ``time -v``), peak spill bytes, per-stage seconds and peak RSS, the box load before and
after, and the stage lines.

Usage::

    python bench/bench_scale.py --data /tmp/z10m --out /tmp/scale/run10m [--pythonpath /work/wt/sparkf]
        [-- --engine spark]        # extra arguments after -- go to `kequn features`

The zone comes from bench/gen_clean_zone.py (its step key must be the trusted one: run with the
same ``KEQUN_KEY_DIR`` / ``KEQUN_STEP_KEY``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _dir_bytes(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total


def _tree_rss(proc: psutil.Process) -> int:
    """RSS of the command and its children (a Spark JVM is a child of the Python process)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _parse_time_v(text: str) -> dict:
    def grab(label: str) -> str | None:
        m = re.search(rf"{re.escape(label)}: (.+)", text)
        return m.group(1).strip() if m else None

    wall = grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    seconds = None
    if wall:
        parts = [float(p) for p in wall.split(":")]
        seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return {"wall_s": seconds, "user_s": float(grab("User time (seconds)") or "nan"),
            "sys_s": float(grab("System time (seconds)") or "nan"),
            "peak_rss_gib_time_v": round(int(grab("Maximum resident set size (kbytes)") or 0) / 2**20, 2),
            "exit": int(grab("Exit status") or -1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="working folder (features + spill)")
    parser.add_argument("--snapshot", default="2024-06-30")
    parser.add_argument("--pythonpath", default=str(ROOT), help="checkout whose kequn to run")
    parser.add_argument("--kill-above-gib", type=float, default=14.0,
                        help="stop the command when its RSS passes this (a shared box: no OOM killer for others)")
    parser.add_argument("extra", nargs="*", help="arguments after -- go to `kequn features`")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    spill = args.out / ".tmp"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "pipelines.cli.main", "features", "--data",
           str(args.data.resolve()), "--snapshot", args.snapshot, "--out", str(args.out.resolve() / "features.parquet"),
           *args.extra]
    env = {**os.environ, "PYTHONPATH": args.pythonpath}
    load_before = os.getloadavg()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=args.out, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    samples: list[tuple[float, int, int]] = []
    done = threading.Event()

    cpu_marks: dict[int, float] = {}  # line number -> CPU seconds of the command (and children) so far

    def cpu_now() -> float:
        total = 0.0
        try:
            for p in ps.children(recursive=True):
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
        return total

    killed: list[float] = []
    tree_cpu = [0.0]  # CPU of the command's process tree (a Spark JVM is not reaped by time -v)

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter() - start, _tree_rss(ps), _dir_bytes(spill) if spill.exists() else 0))
            tree_cpu[0] = max(tree_cpu[0], cpu_now())
            if samples[-1][1] > args.kill_above_gib * 2**30 and not killed:
                killed.append(samples[-1][0])
                for p in ps.children(recursive=True):  # the command (and a JVM), not /usr/bin/time
                    p.kill()
            done.wait(0.2)

    threading.Thread(target=sample, daemon=True).start()
    lines: list[tuple[float, str]] = []
    for line in proc.stderr:
        lines.append((time.perf_counter() - start, line.rstrip("\n")))
        if line.startswith(("» ", "✓ ")):
            cpu_marks[len(lines) - 1] = cpu_now()
    stdout = proc.stdout.read()
    proc.wait()
    (args.out / "stderr.log").write_text("\n".join(line for _, line in lines) + "\n", encoding="utf-8")
    done.set()
    elapsed = time.perf_counter() - start
    stages, current = [], None
    for i, (t, line) in enumerate(lines):
        m = re.match(r"^» (.+?) \.\.\.$", line)
        if m:
            current = {"stage": m.group(1), "start": t, "cpu0": cpu_marks.get(i)}
            continue
        if current and line.startswith("✓ "):
            current["end"] = t
            c0, c1 = current.pop("cpu0"), cpu_marks.get(i)
            current["cpu_s"] = round(c1 - c0, 1) if c0 is not None and c1 is not None else None
            stages.append(current)
            current = None
    for st in stages:
        inside = [s for s in samples if st["start"] <= s[0] <= st["end"]] or [(0, 0, 0)]
        st["seconds"] = round(st["end"] - st["start"], 1)
        st["peak_rss_gib"] = round(max(s[1] for s in inside) / 2**30, 2)
        st["peak_spill_gib"] = round(max(s[2] for s in inside) / 2**30, 2)
        del st["start"], st["end"]
    time_v = "\n".join(line for _, line in lines)
    result = {
        "data": str(args.data), "args": args.extra, **_parse_time_v(time_v),
        "wall_s_measured": round(elapsed, 1),
        "peak_rss_gib_sampled": round(max((s[1] for s in samples), default=0) / 2**30, 2),
        "peak_spill_gib": round(max((s[2] for s in samples), default=0) / 2**30, 2),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "killed_above_gib_at_s": round(killed[0], 1) if killed else None,
        "stages": stages, "last_stage_started": current["stage"] if current else None,
        "summary": next((line for _, line in lines if line.startswith("features:")), stdout.strip()[-300:]),
    }
    result["cpu_s"] = round(result["user_s"] + result["sys_s"], 1)
    result["cpu_s_tree_sampled"] = round(tree_cpu[0], 1)
    if result["exit"] != 0:
        result["stderr_tail"] = [line for _, line in lines if "kequn" in line or "Error" in line][-5:]
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
