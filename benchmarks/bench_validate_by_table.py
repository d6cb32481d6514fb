"""Wall, CPU and peak RSS of `validate_by_table` on one company folder, in a fresh process.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_validate_by_table.py /work/bench-cache/lines-3000000

RSS is also sampled from /proc/self/status every 50 ms in a thread, so `--trace` prints when the peak
was reached (seconds from the start, with the RSS then) to locate it.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from compscore.quality import by_table
from compscore.quality.by_table import validate_by_table

_MARKS: list[tuple[float, str]] = []
_START = time.perf_counter()


def _marked(name: str) -> None:
    """Note in `_MARKS` when each call of `by_table.<name>` starts and ends (with its first argument)."""
    inner = getattr(by_table, name)

    def wrapper(*args, **kwargs):
        what = (args[0] if isinstance(args[0], str) else getattr(args[0], "name", "")) if args else ""
        _MARKS.append((time.perf_counter() - _START, f"{name} {what} start"))
        try:
            return inner(*args, **kwargs)
        finally:
            _MARKS.append(
                (time.perf_counter() - _START, f"{name} {what} end, RSS {_rss_mib() / 1024:.2f} GiB")
            )

    setattr(by_table, name, wrapper)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Sampler(threading.Thread):
    """RSS every `interval` seconds: (seconds since start, MiB)."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.start_time = _START

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.perf_counter() - self.start_time, _rss_mib()))
            time.sleep(self.interval)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--trace", action="store_true", help="print the RSS samples (every 0.5 s)")
    args = parser.parse_args()
    for name in ("_spill", "_check_spilled", "cascade", "status_of_inputs", "_write_clean"):
        _marked(name)
    clean_dir = Path(tempfile.mkdtemp(prefix="vbt-"))
    sampler = _Sampler()
    sampler.start()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = validate_by_table(args.folder, "m", clean_dir)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        sampler.stop.set()
        shutil.rmtree(clean_dir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    t_peak, rss_peak = max(sampler.samples, key=lambda s: s[1])
    print(
        f"{args.folder}: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {peak:.2f} GiB "
        f"(sampled peak {rss_peak / 1024:.2f} GiB at {t_peak:.1f} s); rejects {result.rejects.height}"
    )
    if args.trace:
        lines = [(t, f"{mib / 1024:6.2f} GiB") for t, mib in sampler.samples[::10]]
        for t, text in sorted(lines + _MARKS):
            print(f"  {t:6.1f} s {text}")


if __name__ == "__main__":
    main()
