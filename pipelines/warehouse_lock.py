"""One source at a time per warehouse: runs on different sources never share raw tables.

Every run writes the same warehouse tables (`raw__deals`, `validated__deals`, ...). Two runs on the same
source may overlap (a backfill of monthly drops, a rescoring while a drop loads): they write the same
data. Two runs on different sources may not: run A's checks would read run B's raw tables and fail with a
false `volume_drop`, or worse, score them. So the warehouse holds a run lock, `<warehouse>/.run_lock.json`:
the source it belongs to and the runs holding it. Each step takes it when its resources start
(`hold_warehouse`, called by the IO managers):

- no live holder, or live holders on the same source: the run joins them;
- live holders on another source: the step fails at once with a message naming the warehouse, the
  holding runs and their source, and what to do (wait, or give the run its own warehouse).

A holder is live while the instance says its run is in progress. There is nothing to release: a run that
ends stops holding. A run killed without an end (STARTED forever until the stale-run sensor marks it
failed) stops holding as soon as its worker is seen gone, where that can be seen (the worker ran on this
machine, `pipelines.step_guard`). The read-modify-write of the lock file happens under an exclusive
`fcntl` lock, so two steps starting at once cannot both take it. The file lives on the warehouse's own
storage, so Celery workers on several machines share it where that storage honours POSIX locks (NFSv4
and local disks do).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.stale_runs import gone_worker

LOCK_FILE = ".run_lock.json"
GUARD_FILE = ".run_lock.guard"
IN_PROGRESS = {
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


_held: set[tuple[Path, str]] = set()
"""(warehouse, run id) pairs this process has joined: a step starting several IO managers joins once."""


class WarehouseInUse(RuntimeError):
    """A run on one source tried to use a warehouse that runs on another source are using."""


@dataclass
class Holder:
    run_id: str
    host: str
    """The machine whose step took the lock for this run."""
    worker_here: bool
    """Whether the run's worker ran on that machine (its steps are subprocesses of it)."""


@dataclass
class RunLock:
    source: str
    holders: list[Holder] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> RunLock | None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return cls(doc["source"], [Holder(**h) for h in doc["holders"]])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: nobody provably holds it

    def write(self, path: Path) -> None:
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.replace(temporary, path)


def holds(instance: dg.DagsterInstance, holder: Holder) -> bool:
    """Whether the holder's run is still in progress (and, where this machine can tell, its worker alive)."""
    run = instance.get_run_by_id(holder.run_id)
    if run is None or run.status not in IN_PROGRESS:
        return False
    worker_checkable = holder.worker_here and holder.host == socket.gethostname()
    return not (worker_checkable and gone_worker(instance, holder.run_id) is not None)


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[None]:
    with (directory / GUARD_FILE).open("a+") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


def hold_warehouse(
    directory: Path, source: str, instance: dg.DagsterInstance, run_id: str, worker_here: bool
) -> None:
    """Join the warehouse's run lock for `run_id` on `source`, or raise `WarehouseInUse`."""
    if (directory, run_id) in _held:
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    with _exclusive(directory):
        lock = RunLock.read(path)
        live = [h for h in lock.holders if holds(instance, h)] if lock is not None else []
        if live and lock is not None and lock.source != source:
            runs = ", ".join(h.run_id for h in live)
            raise WarehouseInUse(
                f"warehouse {directory} is in use by run(s) {runs} on source {lock.source}; this run's "
                f"source is {source}. Wait for those runs to end, or give this run its own warehouse "
                "(resources.warehouse.config.path, or COMPSCORE_WAREHOUSE)"
            )
        already_held = any(h.run_id == run_id for h in live)
        if not already_held:
            live.append(Holder(run_id, socket.gethostname(), worker_here))
        if not (already_held and lock is not None and len(live) == len(lock.holders)):
            RunLock(source, live).write(path)  # unless nothing was added and nothing stale pruned
    _held.add((directory, run_id))
