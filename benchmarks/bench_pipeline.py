"""Time `full_refresh` through the real Dagster CLI on generated companies: wall, CPU, peak RSS per process.

For each size N (statement lines) the company `CACHE/lines-N` is used (generated on first use, as in
`bench_score.py`), and this runs, in a fresh DAGSTER_HOME and warehouse under CACHE:

    python -m dagster job execute -m pipelines.definitions -j full_refresh

with COMPSCORE_SOURCE pointing at the company (the project's IO manager writes Parquet, the warehouse
asset DuckDB). While it runs, the process tree is sampled from /proc every 0.25 s: each process's peak
RSS and CPU seconds (user + system, at its last sample) are printed with the step it ran (from its command
line). Total CPU and the largest peak RSS of any one process also come from the kernel, once the run has
ended: a measuring process runs the command as the subreaper of its tree and reports RUSAGE_CHILDREN,
which counts every process of the tree, also those shorter than a sample and those orphaned in the run
(the executor's forkserver and the step processes forked from it).

    python benchmarks/bench_pipeline.py --sizes 1e6,1e7 --cache /work/tmp-scale

After the run, Dagster's own event log (in that DAGSTER_HOME) gives each step's start, from the run worker
launching its process to the step's first event of its own (`STEP_START`: the process has imported the
definitions, opened the instance and built its resources), and its work, from there to its end.

`--start-method SPAWN` runs the steps as Dagster's default does (a fresh interpreter each), for an A/B
against the executor's forkserver.

Targets (issue 9): 10M lines ≤ 150 s wall and ≤ 8 GiB in any process; 1M ≤ 30 s. On a shared machine CPU
seconds and peak RSS are the steadier figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_score import DEFAULT_CACHE, company, parse_sizes
from machine_floor import floor_line

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
_STEP_START = re.compile(r" - (\d+) - ([\w.\[\]-]+) - STEP_START - ")
"""A Dagster log line `... - <run id> - <pid> - <step key> - STEP_START - ...`: which process ran a step."""


@dataclass
class Seen:
    """What the samples saw of one process."""

    pid: int
    label: str
    peak_rss: int = 0
    cpu_s: float = 0.0
    first_s: float = 0.0
    last_s: float = 0.0


@dataclass
class Tree:
    root: int
    started: float
    seen: dict[int, Seen] = field(default_factory=dict)

    def sample(self) -> None:
        now = time.perf_counter() - self.started
        for pid in _descendants(self.root):
            stat = _stat(pid)
            if stat is None:
                continue
            cpu, rss = stat
            if pid not in self.seen:
                self.seen[pid] = Seen(pid, _label(pid), first_s=now)
            entry = self.seen[pid]
            entry.peak_rss, entry.cpu_s, entry.last_s = max(entry.peak_rss, rss), cpu, now


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def _descendants(root: int) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += _children(pid)
    return out


def _stat(pid: int) -> tuple[float, int] | None:
    """CPU seconds (user + system) and RSS bytes of `pid`, or None when it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE


def _label(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    text = " ".join(argv)
    if "multiprocessing.forkserver" in text:
        return "forkserver (the local executor's; step processes fork from it)"
    if "dagster" in text:
        words = [w for w in argv if w and not w.startswith("{")]
        return "dagster " + " ".join(words[3:7])
    return " ".join(argv[:3])[:60]


# Runs argv[2:] with its stdout and stderr in the file argv[1] and prints, as JSON, its exit code and the
# CPU time (user + system) and largest peak RSS of every process of its tree. The measurer is the tree's
# subreaper (prctl PR_SET_CHILD_SUBREAPER): a process orphaned in the run (the multiprocess executor's
# forkserver outlives the run process that started it) is reparented to it and reaped by it, so its usage
# and that of the step processes it forked are counted in RUSAGE_CHILDREN, which wait4 on the run process
# alone would miss.
MEASURE = """
import ctypes, json, os, resource, subprocess, sys
PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed: the CPU of orphaned processes would not be counted")
with open(sys.argv[1], "w") as log:
    code = subprocess.call(sys.argv[2:], stdout=log, stderr=log)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": code, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_gib": usage.ru_maxrss / 2**20}))
"""


def run_pipeline(
    folder: Path, work: Path, interval: float, start_method: str | None = None
) -> tuple[int, float, dict[str, float], Tree]:
    shutil.rmtree(work, ignore_errors=True)
    (work / "home").mkdir(parents=True)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(work / "home"),
        "COMPSCORE_SOURCE": str(folder),
        "COMPSCORE_WAREHOUSE": str(work / "warehouse"),
    }
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions"]
    command += ["-j", "full_refresh"]
    if start_method:
        config = work / "run_config.yaml"
        config.write_text(f"execution:\n  config:\n    start_method: {start_method}\n")
        command += ["-c", str(config)]
    started = time.perf_counter()
    measurer = subprocess.Popen(
        [sys.executable, "-c", MEASURE, str(work / "dagster.log"), *command],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    tree = Tree(measurer.pid, started)
    while measurer.poll() is None:
        tree.sample()
        time.sleep(interval)
    wall = time.perf_counter() - started
    measured = json.loads(measurer.stdout.read().strip().splitlines()[-1])
    code = measured.pop("returncode")
    return code, wall, measured, tree


def steps_by_pid(log: Path) -> dict[int, str]:
    """The steps each process started, from the Dagster log (step processes are `python -c` spawns)."""
    steps: dict[int, list[str]] = {}
    for match in _STEP_START.finditer(log.read_text(errors="replace")):
        steps.setdefault(int(match[1]), []).append(match[2])
    return {pid: "step " + ", ".join(keys) for pid, keys in steps.items()}


@dataclass(frozen=True)
class StepTimes:
    """One step of a run, from Dagster's event log."""

    step: str
    starting_s: float | None
    """From the run worker launching the step's process (`STEP_WORKER_STARTING`) to `STEP_START`; None when
    the step ran in the run's own process."""
    working_s: float | None
    """From `STEP_START` to the step's success or failure; None when it did not end."""


def step_times(home: Path) -> list[StepTimes]:
    """The steps of the latest run of the Dagster instance at `home`, in the order they started."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return []
        first: dict[tuple[str, str], float] = {}
        for entry in instance.all_logs(runs[0].run_id):
            event = entry.dagster_event
            if event is not None and event.step_key is not None:
                first.setdefault((event.step_key, event.event_type_value), entry.timestamp)

    def between(step: str, since: str, until: tuple[str, ...]) -> float | None:
        ends = [first[(step, kind)] for kind in until if (step, kind) in first]
        return min(ends) - first[(step, since)] if ends and (step, since) in first else None

    started = sorted(
        {step for step, kind in first if kind == "STEP_START"}, key=lambda k: first[(k, "STEP_START")]
    )
    return [
        StepTimes(
            step,
            between(step, "STEP_WORKER_STARTING", ("STEP_START",)),
            between(step, "STEP_START", ("STEP_SUCCESS", "STEP_FAILURE")),
        )
        for step in started
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report_steps(times: list[StepTimes]) -> None:
    """Each step's start and work (`step_times`), and their totals."""
    print("  steps, from Dagster's event log: starting = process launched -> STEP_START; working = the rest")
    print(f"  {'step':<40} {'starting s':>11} {'working s':>10}")
    for t in times:
        print(f"  {t.step:<40} {_seconds(t.starting_s):>11} {_seconds(t.working_s):>10}")
    starts = [t.starting_s for t in times if t.starting_s is not None]
    work = sum(t.working_s for t in times if t.working_s is not None)
    if starts:
        print(
            f"  {len(times)} steps: {sum(starts):.1f} s starting ({sum(starts) / len(starts):.2f} s a step), "
            f"{work:.1f} s working"
        )


def report(lines: int, code: int, wall: float, usage: dict[str, float], tree: Tree, log: Path) -> None:
    status = "ok" if code == 0 else f"FAILED (exit {code}, see {log})"
    print(
        f"\nlines={lines:,}: full_refresh {status}: wall {wall:.1f} s, CPU {usage['cpu_s']:.1f} s "
        f"(all processes), largest peak RSS of one process {usage['peak_rss_gib']:.2f} GiB"
    )
    cores = len(os.sched_getaffinity(0))
    bound = usage["cpu_s"] / cores
    print(
        f"  on {cores} core(s) no order of the steps runs this CPU in less than {bound:.1f} s of wall; "
        f"the cores were {bound / wall:.0%} busy"
    )
    print(f"  {'process':<58} {'from s':>7} {'to s':>7} {'CPU s':>7} {'peak GiB':>9}")
    for pid, step in steps_by_pid(log).items():
        if pid in tree.seen:
            tree.seen[pid].label = step
    for entry in sorted(tree.seen.values(), key=lambda e: e.first_s):
        print(
            f"  {entry.label[:58]:<58} {entry.first_s:>7.1f} {entry.last_s:>7.1f} {entry.cpu_s:>7.1f} "
            f"{entry.peak_rss / 2**30:>9.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1e6,1e7"), help="statement lines")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between samples of /proc")
    parser.add_argument(
        "--start-method",
        choices=["FORKSERVER", "SPAWN"],
        help="the local executor's start method for step processes (default: the executor's, FORKSERVER)",
    )
    args = parser.parse_args(argv)
    print(floor_line(), flush=True)
    results = []
    for lines in args.sizes:
        folder = company(args.cache, lines)
        work = args.cache / f"pipeline-{lines}"
        print(f"full_refresh on {folder} (DAGSTER_HOME and warehouse under {work}) ...", flush=True)
        code, wall, usage, tree = run_pipeline(folder, work, args.interval, args.start_method)
        report(lines, code, wall, usage, tree, work / "dagster.log")
        report_steps(step_times(work / "home"))
        results.append({"lines": lines, "returncode": code, "wall_s": round(wall, 1), **usage})
    print("\nsummary")
    for r in results:
        print(json.dumps(r))
    return 0 if all(r["returncode"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
