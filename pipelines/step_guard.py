"""Keep a step from outliving its run: a step process whose run worker is killed stops, and stores nothing.

The local executor runs each step in a subprocess of the run worker. `kill -9` of the run worker (an OOM
kill, a lost terminal) leaves those subprocesses running under pid 1: they would finish on their own and
replace warehouse tables after the run is over, mixed with the next run's. Every step process that uses
the warehouse IO managers calls `watch_run_worker` when its resources start:

- When the run worker is an ancestor of this process (steps in subprocesses on this machine, as the local
  executor runs them), a daemon thread checks every second that the worker is still the process that
  started the run (`stale_runs.worker_alive`, pid reuse included). When it is gone, the step is stopped:
  SIGTERM first (Dagster turns it into an interrupted step and reports it), and if the process is still
  there `STOP_GRACE_SECONDS` later (the main thread may be inside a long Polars query, where Python cannot
  take the signal), it exits at once. Writes are atomic (`compscore.warehouse`), so a stop never leaves a
  half-written table.
- Before an output is stored, `refuse_if_run_over` refuses when the worker is gone (the window before
  the watchdog fires) or when the run has already ended in the instance: that second test holds on any
  machine, so a Celery step of a run that the stale-run sensor has marked failed does not store either.

In the run worker itself (the in-process executor) there is nothing to watch: killing the worker kills
the step. On a Celery worker the run worker is not an ancestor (often not even on the same machine), so
only the run-status test applies there.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipelines.stale_runs import RunWorkerGone, run_worker, worker_alive

CHECK_EVERY_SECONDS = 1.0
STOP_GRACE_SECONDS = 10.0
ENDED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def ancestors(pid: int) -> list[int]:
    """The parent, grandparent, ... of process `pid` up to pid 1, from /proc (Linux); where /proc cannot
    say, only this process's own parent."""
    chain: list[int] = []
    current = pid
    while current > 1 and len(chain) < 64:
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            break
        current = int(stat.rsplit(")", 1)[1].split()[1])  # field 4 of stat: the parent's pid
        chain.append(current)
    if not chain and pid == os.getpid():
        chain.append(os.getppid())
    return chain


@dataclass(frozen=True)
class RunWorker:
    """The run worker of a step that runs in one of its subprocesses."""

    run_id: str
    pid: int
    started_at: float

    def alive(self) -> bool:
        return worker_alive(self.pid, self.started_at)


_watched: dict[str, RunWorker] = {}
"""Run id -> the worker this process watches (one per run: several resources may start a guard)."""


def worker_above(instance: dg.DagsterInstance, run_id: str) -> RunWorker | None:
    """The run's worker when it is an ancestor of this process (not this process itself), else None."""
    worker = run_worker(instance, run_id)
    if worker is None:
        return None
    pid, started_at = worker
    if pid == os.getpid() or pid not in ancestors(os.getpid()):
        return None
    return RunWorker(run_id, pid, started_at)


def stop_this_process(reason: str, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM to this process; if it is still running `grace` seconds later, exit without cleanup."""
    print(f"compscore: {reason}; stopping step process {os.getpid()}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os._exit(1)


def _watch(worker: RunWorker, every: float) -> None:
    while worker.alive():
        time.sleep(every)
    stop_this_process(f"the worker of run {worker.run_id} (pid {worker.pid}) is gone")


def watch_run_worker(
    instance: dg.DagsterInstance, run_id: str, every: float = CHECK_EVERY_SECONDS
) -> RunWorker | None:
    """Start the watchdog thread for this step process (once per run); the worker watched, if any."""
    if run_id in _watched:
        return _watched[run_id]
    worker = worker_above(instance, run_id)
    if worker is not None:
        _watched[run_id] = worker
        threading.Thread(target=_watch, args=(worker, every), name="compscore-run-watch", daemon=True).start()
    return worker


def refuse_if_run_over(instance: dg.DagsterInstance, run_id: str, what: str) -> None:
    """Raise `RunWorkerGone` (naming `what`) when the run's worker is gone or the run has ended."""
    worker = _watched.get(run_id)
    if worker is not None and not worker.alive():
        raise RunWorkerGone(f"{what}: not stored: the worker of run {run_id} (pid {worker.pid}) is gone")
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status in ENDED:
        raise RunWorkerGone(f"{what}: not stored: run {run_id} has already ended ({run.status.value})")
