"""Time `compscore score` on generated companies of growing size; print wall time, peak RSS and rows.

For each size N (statement lines), a company is generated once with
`compscore generate --out CACHE/lines-N --lines N --format parquet` and reused while its
`.generator.json` is there. Each `compscore score --input CACHE/lines-N --out OUT` runs in its own
measuring subprocess, so the peak RSS reported is that of the scoring process alone
(`ru_maxrss` of its only child). Rows are read from the Parquet footers of the inputs and outputs.

    python benchmarks/bench_score.py --sizes 1e6,1e7,3e7 --no-gx --cache /work/tmp-scale

Targets (issue 9): 10M lines in 60 s and 6 GiB peak with `--no-gx` (90 s with the GX suites), 1M in 8 s,
30M under 12 GiB; time growing no faster than linearly. With `--no-gx` the scoring runs are given that
flag (the GX suites and report are skipped); `--batch-reps` is passed through.
Run the 10M size alone on a 2-core machine: anything else running skews the wall time (the CPU time,
user + system, is printed beside it and is less sensitive to a busy machine).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from machine_floor import floor_line

MANIFEST = ".generator.json"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "compscore-bench"
COMPSCORE = [sys.executable, "-m", "compscore.cli"]

# Runs argv[2:] and prints, as JSON on its last line, the child's wall time, CPU time (user + system)
# and peak RSS (KiB on Linux). Kills the child when its RSS passes argv[1] KiB (0: no limit), so that a
# size too big for the machine ends with a figure instead of the kernel's OOM killer. The child's stderr
# (`compscore score`'s progress lines) is copied to ours with its RSS and peak so far in front of each
# line (`rss 5.21 peak 8.24 GiB | ...`), so the log shows where the memory goes.
MEASURE = """
import json, resource, subprocess, sys, threading, time
limit = int(sys.argv[1])
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:], stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
rss = peak = 0
def relay():
    for line in child.stderr:
        sys.stderr.write(f"rss {rss / 2**20:5.2f} peak {peak / 2**20:5.2f} GiB | {line}")
        sys.stderr.flush()
relaying = threading.Thread(target=relay)
relaying.start()
killed_at = None
while child.poll() is None:
    time.sleep(0.2)
    try:
        status = open(f"/proc/{child.pid}/status").read()
    except OSError:
        continue
    rss = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
    peak = max(peak, rss)
    if limit and rss > limit:
        killed_at = time.perf_counter() - start
        child.kill()
child.wait()
relaying.join()
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": child.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_kib": usage.ru_maxrss, "killed_at_s": killed_at}))
"""


@dataclass(frozen=True)
class Measurement:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_kib: int
    killed_at_s: float | None
    log: Path

    @property
    def peak_rss_gib(self) -> float:
        return self.peak_rss_kib / 2**20


def parse_sizes(text: str) -> list[int]:
    """`1e6,1e7` or `1000000,10000000` → [1000000, 10000000]."""
    sizes = [int(float(part)) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive sizes, got {text!r}")
    return sizes


def measured(argv: list[str], log: Path, max_rss_gib: float = 0.0) -> Measurement:
    """Run `argv` in a fresh measuring process; its output goes to `log`. `max_rss_gib` > 0: kill it there."""
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, str(int(max_rss_gib * 2**20)), *argv],
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            check=False,
        )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"measuring {' '.join(argv)} failed; see {log}")
    return Measurement(**json.loads(done.stdout.strip().splitlines()[-1]), log=log)


def company(cache: Path, lines: int) -> Path:
    """The cached company of at least `lines` statement lines, generated on first use."""
    folder = cache / f"lines-{lines}"
    if (folder / MANIFEST).exists():
        print(f"using cached {folder}")
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    print(f"generating {folder} ...", flush=True)
    gen = measured(
        [
            *COMPSCORE,
            "generate",
            "--out",
            str(folder),
            "--lines",
            str(lines),
            "--format",
            "parquet",
            "--overwrite",
        ],
        cache / f"generate-{lines}.log",
    )
    if gen.returncode != 0:
        raise RuntimeError(f"compscore generate failed ({gen.returncode}); see {gen.log}")
    print(f"generated in {gen.wall_s:.1f} s, peak RSS {gen.peak_rss_gib:.2f} GiB")
    return folder


def parquet_rows(folder: Path) -> dict[str, int]:
    return {p.stem: pq.read_metadata(p).num_rows for p in sorted(folder.glob("*.parquet"))}


def print_phases(log: Path) -> None:
    """The run's progress lines with the RSS when each began and the peak before it (from the log)."""
    print("  phases (RSS when the phase began, peak before it):")
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("rss ") and "CPU" in line:
            print(f"    {line}")


def print_rows(title: str, rows: dict[str, int]) -> None:
    print(f"  {title}:")
    for name, n in rows.items():
        print(f"    {name:<28} {n:>12,}")


def bench(
    cache: Path, lines: int, keep_output: bool, max_rss_gib: float, extra: list[str]
) -> tuple[int, Measurement] | None:
    folder = company(cache, lines)
    inputs = parquet_rows(folder)
    out = cache / f"scored-{lines}"
    shutil.rmtree(out, ignore_errors=True)
    print(f"scoring {folder} {' '.join(extra)} ...", flush=True)
    run = measured(
        [*COMPSCORE, "score", "--input", str(folder), "--out", str(out), *extra],
        cache / f"score-{lines}.log",
        max_rss_gib,
    )
    if run.killed_at_s is not None:
        print(
            f"lines={lines:,}: KILLED after {run.killed_at_s:.1f} s at {run.peak_rss_gib:.2f} GiB RSS "
            f"(limit --max-rss-gib {max_rss_gib}), CPU {run.cpu_s:.1f} s (log {run.log})"
        )
        return None
    if run.returncode != 0:
        raise RuntimeError(f"compscore score failed ({run.returncode}); see {run.log}")
    actual = inputs.get("commission_lines", lines)
    print(
        f"lines={actual:,}: wall {run.wall_s:.1f} s, CPU {run.cpu_s:.1f} s, "
        f"peak RSS {run.peak_rss_gib:.2f} GiB, {actual / run.wall_s:,.0f} lines/s (log {run.log})"
    )
    print_phases(run.log)
    print_rows("input rows", inputs)
    print_rows("output rows", parquet_rows(out))
    if not keep_output:
        shutil.rmtree(out, ignore_errors=True)
    return actual, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1e6,1e7"), help="statement lines")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    parser.add_argument(
        "--max-rss-gib", type=float, default=16.0, help="kill a scoring run past this RSS (0: no limit)"
    )
    parser.add_argument("--keep-output", action="store_true", help="keep the scored tables under --cache")
    parser.add_argument("--no-gx", action="store_true", help="score with --no-gx (no GX suites, no report)")
    parser.add_argument("--batch-reps", type=int, default=None, help="passed to compscore score")
    args = parser.parse_args(argv)
    extra = (["--no-gx"] if args.no_gx else []) + (
        ["--batch-reps", str(args.batch_reps)] if args.batch_reps else []
    )

    print(floor_line(), flush=True)
    runs = [bench(args.cache, n, args.keep_output, args.max_rss_gib, extra) for n in args.sizes]
    results = [r for r in runs if r is not None]
    print(f"\nsummary ({'--no-gx' if args.no_gx else 'with the GX suites'}; CPU = user + system of the run)")
    print(f"  {'lines':>12} {'wall s':>8} {'CPU s':>8} {'peak GiB':>9} {'µs/line':>8}")
    for lines, run in results:
        per_line = 1e6 * run.wall_s / lines
        print(
            f"  {lines:>12,} {run.wall_s:>8.1f} {run.cpu_s:>8.1f} {run.peak_rss_gib:>9.2f} {per_line:>8.2f}"
        )
    for (n0, r0), (n1, r1) in itertools.pairwise(results):
        time_ratio, size_ratio = r1.wall_s / r0.wall_s, n1 / n0
        print(
            f"  {n0:,} → {n1:,}: time {time_ratio:.2f}× for {size_ratio:.2f}× lines "
            f"({time_ratio / size_ratio:.2f} of linear)"
        )
    return 0 if len(results) == len(runs) else 1


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"\nbenchmark finished in {time.perf_counter() - started:.0f} s")
    sys.exit(code)
