"""Runs recorded in a Dagster instance as a run worker leaves them, for the run-control tests."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
from dagster._core.events import DagsterEvent  # the event type a run worker reports; not re-exported


def started_run(instance: dg.DagsterInstance, pid: int) -> str:
    """A run recorded as STARTED by a worker with process id `pid`, as `dagster job execute` leaves it."""
    run = instance.add_run(dg.DagsterRun(job_name="full_refresh", run_id=os.urandom(8).hex()))
    start = DagsterEvent(
        event_type_value=dg.DagsterEventType.RUN_START.value, job_name="full_refresh", pid=pid
    )
    instance.report_dagster_event(start, run_id=run.run_id)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    return run.run_id


def dead_pid() -> int:
    """The process id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
