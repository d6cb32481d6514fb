"""A fixed Polars workload timed on the machine a benchmark runs on, printed beside its figures.

The project's benchmark machines differ by up to 2x in speed from one session to the next (the same
code: 10M lines `--no-gx` in 116 s on one, 237 s on another), so a figure is only comparable with the
floor measured beside it. The workload: 10M rows with 200,000 distinct text keys, written to Parquet, then
scanned and grouped (sum and count per key) by the default engine; the minimum of three runs, in a fresh
process so that the benchmark's own measurements are not disturbed.
"""

from __future__ import annotations

import json
import subprocess
import sys

ROWS = 10_000_000
KEYS = 200_000

_WORKLOAD = f"""
import json, os, tempfile, time
import polars as pl
folder = tempfile.mkdtemp(prefix="compscore-floor-")
path = os.path.join(folder, "floor.parquet")
pl.select(i=pl.int_range({ROWS})).select(
    key=(pl.col("i") * 7919 % {KEYS}).cast(pl.String), amount=(pl.col("i") % 1000).cast(pl.Float64)
).write_parquet(path)
times = []
for _ in range(3):
    start = time.perf_counter()
    pl.scan_parquet(path).group_by("key").agg(pl.sum("amount"), pl.len()).collect()
    times.append(time.perf_counter() - start)
os.remove(path)
os.rmdir(folder)
print(json.dumps(min(times)))
"""


def floor_seconds() -> float:
    """Wall seconds of the fixed workload on this machine (minimum of three runs)."""
    done = subprocess.run([sys.executable, "-c", _WORKLOAD], capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def floor_line() -> str:
    return (
        f"machine floor: {floor_seconds():.2f} s (scan and group-by of {ROWS:,} Parquet rows over "
        f"{KEYS:,} text keys; compare figures across machines only beside it)"
    )


if __name__ == "__main__":
    print(floor_line())
