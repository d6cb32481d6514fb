"""The pipeline benchmark's measurer counts the CPU of processes orphaned in the run (the executor's
forkserver and the steps forked from it outlive the run process): without it the benchmark would report
almost no CPU for a forked run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_PIPELINE = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pipeline.py"

# Starts a child that burns about a second of CPU and exits at once, leaving the child orphaned.
ORPHANING = (
    "import subprocess, sys; "
    "subprocess.Popen([sys.executable, '-c', "
    "'import time\\nend = time.process_time() + 1.0\\nwhile time.process_time() < end: pass'])"
)


def _measure_script() -> str:
    spec = importlib.util.spec_from_file_location("bench_pipeline", BENCH_PIPELINE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    sys.path.insert(0, str(BENCH_PIPELINE.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH_PIPELINE.parent))
        del sys.modules[spec.name]
    return module.MEASURE


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_CHILD_SUBREAPER) is Linux's")
def test_the_measurer_counts_the_cpu_of_an_orphaned_grandchild(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _measure_script(), str(tmp_path / "log"), sys.executable, "-c", ORPHANING],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["returncode"] == 0
    assert measured["cpu_s"] >= 0.9  # the orphan's second, which wait4 on the command alone would miss
