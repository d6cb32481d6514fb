"""Time and memory of the plain-Polars data-quality step: load → validate → data_quality_status.

For each size N (statement lines) the generated company at `CACHE/lines-N` (see benchmarks/bench_score.py,
which generates and caches it) is loaded with `compscore.loaders.load_canonical_dir`, validated with
`compscore.quality.validate` and summarised with `compscore.quality.status.data_quality_status`, in one
child process per size. The child samples its own RSS (`/proc/self/status`, every 20 ms, from a thread:
no tracemalloc, which would slow Polars' allocations down) and reports per phase the CPU time (user +
system), wall time, peak RSS during the phase, and that peak above the RSS the phase started from. The
parent kills the child when its RSS passes `--max-rss-gib`. Generated companies have no defects, so
nothing is rejected and validation keeps the input tables as its clean tables; `--corrupt` adds
`compscore.quality.corrupt`'s defects (a duplicated deal and its statement lines, ...), so the clean
tables are filtered copies, as with real data.

    python benchmarks/bench_quality_polars.py --sizes 1e6,1e7 [--corrupt]

Target at 10M lines: validate in about 15 s CPU and 3 GiB above the loaded input (the whole
`compscore score` in 60 s and 8 GB). Run the 10M size alone on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "compscore-bench"
PHASES = ("load", "validate", "status")

# Runs the three phases on argv[1] and prints one JSON line per phase.
CHILD = r"""
import gc, json, resource, sys, threading, time

def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

peak = [0]
def sample():
    while True:
        peak[0] = max(peak[0], rss_kib())
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()

from compscore.loaders import load_canonical_dir
from compscore.quality import validate
from compscore.quality.status import data_quality_status

def phase(name, fn):
    gc.collect()
    start_rss = rss_kib()
    peak[0] = start_rss
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    peak[0] = max(peak[0], rss_kib())
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(json.dumps({"phase": name, "cpu_s": cpu, "wall_s": wall, "start_kib": start_rss,
                      "peak_kib": peak[0]}), flush=True)
    return out

loaded = phase("load", lambda: load_canonical_dir(sys.argv[1]))
data = loaded.data
if sys.argv[2] == "corrupt":
    from compscore.quality.corrupt import corrupt
    data = corrupt(data).data
    del loaded.data
rows = {name: df.height for name, df in data.tables.items()}
print(json.dumps({"rows": rows}), flush=True)
result = phase("validate", lambda: validate(data, "bench", loader_rejects=loaded.rejects))
print(json.dumps({"rejects": result.rejects.height,
                  "counts": result.counts.select("table", "rejected").rows()}), flush=True)
phase("status", lambda: data_quality_status(data, result))
"""


def run_size(folder: Path, max_rss_gib: float, corrupt: bool) -> list[dict]:
    """Run the child on `folder`; return its phase records (fewer than three if it was killed)."""
    limit_kib = int(max_rss_gib * 2**20)
    mode = "corrupt" if corrupt else "as-is"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), mode], stdout=subprocess.PIPE, text=True
    )
    killed = False
    while child.poll() is None:
        time.sleep(0.2)
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
        except OSError:
            continue
        rss = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")), 0)
        if rss > limit_kib:
            killed = True
            child.kill()
    out = child.stdout.read() if child.stdout else ""
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if killed:
        print(f"  KILLED above {max_rss_gib} GiB RSS", file=sys.stderr)
    elif child.returncode:
        print(f"  child failed with status {child.returncode}", file=sys.stderr)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--sizes", default="1e6,1e7", help="comma-separated statement-line counts")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="folder of lines-N companies")
    parser.add_argument("--max-rss-gib", type=float, default=16.0, help="kill the child above this RSS")
    parser.add_argument(
        "--corrupt",
        action="store_true",
        help="add compscore.quality.corrupt's defects after loading (generated data has none), so that\n"
        "rows are rejected, the cascade runs and the clean tables are copies",
    )
    args = parser.parse_args(argv)

    print(f"{'lines':>11} {'phase':>9} {'CPU s':>7} {'wall s':>7} {'peak GiB':>9} {'+GiB':>6}")
    for size in (int(float(s)) for s in args.sizes.split(",") if s.strip()):
        folder = args.cache / f"lines-{size}"
        if not folder.is_dir():
            print(f"{size:>11,} missing: {folder} (generate it with benchmarks/bench_score.py)")
            continue
        for rec in run_size(folder, args.max_rss_gib, args.corrupt):
            if "phase" in rec:
                peak = rec["peak_kib"] / 2**20
                above = (rec["peak_kib"] - rec["start_kib"]) / 2**20
                print(
                    f"{size:>11,} {rec['phase']:>9} {rec['cpu_s']:>7.1f} {rec['wall_s']:>7.1f} "
                    f"{peak:>9.2f} {above:>6.2f}",
                    flush=True,
                )
            elif "rows" in rec:
                print(f"{'':>11} rows: {rec['rows']}")
            else:
                print(f"{'':>11} rejects: {rec['rejects']}; rejected per table: {rec['counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
