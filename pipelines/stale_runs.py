"""Detect runs left STARTED by a run worker that died (`kill -9`, OOM, a reboot) and mark them failed.

Dagster marks a run failed when its worker reports the failure; a worker killed with SIGKILL reports
nothing, so the run stays STARTED forever, and with `max_concurrent_runs: 2` two such runs jam the queue.
The default run launcher has no worker health check (`supports_check_run_worker_health` is False), so
the instance's run monitoring cannot see it either.

Every Dagster event records the pid of the process that emitted it; the run's RUN_START event names its
run worker. A STARTED run whose worker pid is gone, or is now a process that started after the run did
(the pid was reused), is stale: `fail_stale_runs` reports it failed, with a message naming the pid, and
that failure also reaches the run-failure sensor. A step process orphaned by a killed run worker stops,
and stores nothing (`pipelines.step_guard`).
This holds where the daemon and the steps run on the machine that runs the workers (the default
launcher, as configured in .dagster_home/dagster.yaml).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_start_time(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), from /proc; None where /proc cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return boot + int(fields[19]) / _CLOCK_TICKS  # field 22 of stat: start time in clock ticks after boot


def worker_alive(pid: int, run_started_at: float) -> bool:
    """Whether `pid` still is the process that started a run at `run_started_at` (epoch seconds)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process holds the pid: cannot tell, assume alive
    started = process_start_time(pid)
    return started is None or started <= run_started_at + 1.0


def run_worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, timestamp) of the run's RUN_START event, if it has one."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    if not records:
        return None
    entry = records[0].event_log_entry
    pid = entry.dagster_event.pid if entry.dagster_event is not None else None
    return (pid, entry.timestamp) if pid is not None else None


def gone_worker(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the run's worker when that worker is gone (the run was killed), else None."""
    worker = run_worker(instance, run_id)
    return worker[0] if worker is not None and not worker_alive(*worker) else None


class RunWorkerGone(RuntimeError):
    """A step of a run whose worker is gone, or that has ended, tried to store an output."""


def stale_runs(instance: dg.DagsterInstance) -> list[tuple[dg.DagsterRun, int]]:
    """The STARTED runs whose run worker is gone, each with the worker's pid."""
    stale = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        if (pid := gone_worker(instance, run.run_id)) is not None:
            stale.append((run, pid))
    return stale


def fail_stale_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark every stale run failed; return their run ids."""
    failed = []
    for run, pid in stale_runs(instance):
        instance.report_run_failed(
            run, message=f"run worker (pid {pid}) is gone without reporting an end; marked failed as stale"
        )
        failed.append(run.run_id)
    return failed


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks failed every STARTED run whose run worker process is gone (killed, crashed).",
)
def mark_stale_runs_failed(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_stale_runs(context.instance)
    for run_id in failed:
        context.log.warning(f"marked stale run {run_id} failed")
    return dg.SkipReason(f"{len(failed)} stale run(s) marked failed at {time.strftime('%H:%M:%S')}")
