"""The pipeline benchmark's measurer counts the CPU of processes orphaned in the run (the executor's
forkserver and the steps forked from it outlive the run process): without it the benchmark would report
almost no CPU for a forked run. Its step times come from Dagster's event log of the run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.executors import local_executor

BENCH_PIPELINE = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_pipeline.py"

# Starts a child that burns about a second of CPU and exits at once, leaving the child orphaned.
ORPHANING = (
    "import subprocess, sys; "
    "subprocess.Popen([sys.executable, '-c', "
    "'import time\\nend = time.process_time() + 1.0\\nwhile time.process_time() < end: pass'])"
)


def _bench_pipeline():
    spec = importlib.util.spec_from_file_location("bench_pipeline", BENCH_PIPELINE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    sys.path.insert(0, str(BENCH_PIPELINE.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH_PIPELINE.parent))
        del sys.modules[spec.name]
    return module


def _measure_script() -> str:
    return _bench_pipeline().MEASURE


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


# --- step times from the event log ----------------------------------------------------------------------

WORK_S = 0.3


@dg.op(out=dg.Out(dg.Nothing))
def _first() -> None:
    time.sleep(WORK_S)


@dg.op(ins={"after": dg.In(dg.Nothing)})
def _second() -> None:
    time.sleep(WORK_S)


@dg.job(executor_def=local_executor())
def _two_steps() -> None:
    _second(after=_first())


def two_steps() -> dg.JobDefinition:
    """`_two_steps`, for the step processes to rebuild (they import this module from the tests folder)."""
    return _two_steps


def _first_event(instance: dg.DagsterInstance, run_id: str, kind: str) -> dict[str, float]:
    """Step key -> the time of its first event of `kind` in the run."""
    found: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.step_key and event.event_type_value == kind:
            found.setdefault(event.step_key, entry.timestamp)
    return found


def test_step_times_split_each_step_into_its_start_and_its_work(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    job = dg.build_reconstructable_job(
        Path(__file__).stem, two_steps.__name__, reconstructor_working_directory=str(Path(__file__).parent)
    )
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        assert dg.execute_job(job, instance=instance).success
        run_id = instance.get_runs(limit=1)[0].run_id
        launched = _first_event(instance, run_id, "STEP_WORKER_STARTING")
        ended = _first_event(instance, run_id, "STEP_SUCCESS")
    times = _bench_pipeline().step_times(home)
    assert [t.step for t in times] == ["_first", "_second"]
    for t in times:
        whole = ended[t.step] - launched[t.step]
        assert t.starting_s is not None and 0 < t.starting_s < whole
        assert WORK_S <= t.working_s < whole
        assert t.starting_s + t.working_s == pytest.approx(whole)
