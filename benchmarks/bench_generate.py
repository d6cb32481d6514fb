"""Benchmark `compscore generate` at a target number of statement lines: wall time and peak memory.

Each size runs in its own child process (`compscore generate --lines N`), so the peak RSS reported is that
run's alone (`resource.getrusage(RUSAGE_CHILDREN)` after the child exits; sizes run smallest first). CPU
seconds (user + system) are reported beside wall time because a shared machine's load inflates wall time.
The generator's own progress lines stream through to stderr.

    python benchmarks/bench_generate.py                 # 1M and 10M lines, parquet
    python benchmarks/bench_generate.py --lines 200000 --format csv --keep
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_one(lines: int, fmt: str, quarters: int, reps_per_chunk: int, out: Path) -> dict[str, object]:
    command = [
        sys.executable, "-m", "compscore.cli", "generate", "--out", str(out), "--lines", str(lines),
        "--quarters", str(quarters), "--reps-per-chunk", str(reps_per_chunk), "--format", fmt, "--overwrite",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak_kib = after.ru_maxrss
    manifest = json.loads((out / ".generator.json").read_text())
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "target_lines": lines,
        "lines": manifest["rows"]["commission_lines"],
        "deals": manifest["rows"]["deals"],
        "positions": manifest["arguments"]["reps"],
        "chunks": manifest["chunks"],
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak_kib / 1024, 0),
        "cpu_seconds": round(cpu, 1),
        "peak_is_this_run": peak_kib > before.ru_maxrss,
        "output_mib": round(size / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--quarters", type=int, default=8)
    parser.add_argument("--reps-per-chunk", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_generate_"))
    results = []
    for lines in sorted(args.lines):
        out = workdir / f"company_{lines}"
        print(f"--- generating >= {lines:,} lines into {out}", file=sys.stderr, flush=True)
        results.append(run_one(lines, args.format, args.quarters, args.reps_per_chunk, out))
        print(json.dumps(results[-1]), flush=True)
        if not args.keep:
            shutil.rmtree(out)
    header = ("lines", "positions", "deals", "wall s", "CPU s", "peak RSS MiB", "output MiB")
    print("\n" + " ".join(f"{h:>13}" for h in header))
    for r in results:
        print(
            f"{r['lines']:>13,} {r['positions']:>13,} {r['deals']:>13,} {r['seconds']:>13} "
            f"{r['cpu_seconds']:>13} {r['peak_rss_mib']:>13} {r['output_mib']:>13}"
        )
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
