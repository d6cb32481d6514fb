"""The executors a run can use, configured from the environment, never from code.

- `local_executor`: steps in subprocesses on this machine, at most `COMPSCORE_MAX_CONCURRENT_STEPS` at a
  time (default 2: the warehouse serialises DuckDB writes, and two cores is the smallest machine we
  support), each forked from a server that has imported Dagster once. A run's config can still override
  `max_concurrent` and the start method.
- `celery_executor`: steps sent to Celery workers through a broker (RabbitMQ here), so that they spread
  over however many machines run workers. The broker URL, result backend and queue come from
  `COMPSCORE_CELERY_BROKER`, `COMPSCORE_CELERY_BACKEND` and `COMPSCORE_CELERY_QUEUE` (see .env.example
  and docs/scale-out.md); the workers are started with `scripts/start-workers.sh`.
"""

from __future__ import annotations

import enum

import dagster as dg
from dagster_celery import celery_executor as _dagster_celery_executor

MAX_CONCURRENT_ENV_VAR = "COMPSCORE_MAX_CONCURRENT_STEPS"
DEFAULT_MAX_CONCURRENT_STEPS = 2

BROKER_ENV_VAR = "COMPSCORE_CELERY_BROKER"
BACKEND_ENV_VAR = "COMPSCORE_CELERY_BACKEND"
QUEUE_ENV_VAR = "COMPSCORE_CELERY_QUEUE"
DEFAULT_QUEUE = "compscore"
WORKER_INCLUDES = ["pipelines.definitions"]
"""Modules every worker imports: the code location whose steps it runs."""


def _env_or(var: str, default: str) -> str:
    value = dg.EnvVar(var).get_value()
    return value if value else default


def required_env(var: str) -> str:
    """The value of `var`; a one-line error naming it when unset (the value itself is never printed)."""
    value = dg.EnvVar(var).get_value()
    if not value:
        raise RuntimeError(f"{var} is not set: see .env.example and docs/scale-out.md")
    return value


def max_concurrent_steps() -> int:
    """Steps run at once by the local executor: `COMPSCORE_MAX_CONCURRENT_STEPS`, a positive integer."""
    raw = _env_or(MAX_CONCURRENT_ENV_VAR, str(DEFAULT_MAX_CONCURRENT_STEPS))
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{MAX_CONCURRENT_ENV_VAR} must be a positive integer, got {raw!r}")
    return int(raw)


class StartMethod(enum.Enum):
    """How the local executor starts a step's process (Python's multiprocessing start methods)."""

    FORKSERVER = "forkserver"
    SPAWN = "spawn"


FORKSERVER_PRELOAD = [
    "dagster",
    "dagster._core.instance.factory",
    "dagster._core.secrets.env_file",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "upath.implementations.local",
]
"""What the forkserver imports before it forks step processes: Dagster, and what a step process imports
to open the run's Dagster instance (its SQLite storages, SQLAlchemy, Alembic, fsspec): about 0.7 s of
the 0.8 s a step's process took to open it, of about 1.65 s from its launch to its resources
(docs/performance.md, "Issue 9, session 14").
Dagster's own default preloads the job's module, which here imports Polars, and Polars starts threads on
import (jemalloc's background threads, its spill-cleaning thread): forking a process that has threads can
leave a lock held in the child. None of these modules starts a thread on import (`tests/test_executors.py`
checks both); each step then imports Polars and the definitions itself, after `compscore.allocator` has
set the allocator (`pipelines/__init__.py`). An instance on PostgreSQL (deploy/postgres) imports its own
storage in each step, as before."""


def start_method(method: StartMethod) -> dict:
    """The `start_method` config of Dagster's multiprocess executor for `method` (Dagster hands the local
    executor's `start_method` field over as the `StartMethod` member, not its name)."""
    if method is StartMethod.SPAWN:
        return {"spawn": {}}
    return {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}}


def local_executor() -> dg.ExecutorDefinition:
    """Steps in subprocesses, `COMPSCORE_MAX_CONCURRENT_STEPS` at a time, forked from a forkserver that
    has imported Dagster (`FORKSERVER_PRELOAD`); a run's config can ask for
    `execution: {config: {in_process: true}}` (every step in the run's own process: no process start or
    library import per step, for small folders and tests), another `max_concurrent`, or
    `start_method: SPAWN` (Dagster's default: a fresh interpreter per step)."""
    default = max_concurrent_steps()

    def choose(config: dict) -> dict:
        if config["in_process"]:
            return {"in_process": {}}
        return {
            "multiprocess": {
                "max_concurrent": config["max_concurrent"] or default,
                "start_method": start_method(config["start_method"]),
            }
        }

    return dg.multi_or_in_process_executor.configured(
        choose,
        config_schema={
            "in_process": dg.Field(bool, default_value=False),
            "max_concurrent": dg.Field(int, default_value=0, description=f"0: ${MAX_CONCURRENT_ENV_VAR}"),
            "start_method": dg.Field(
                dg.Enum.from_python_enum(StartMethod),
                default_value=StartMethod.FORKSERVER.name,
                description=(
                    "FORKSERVER: step processes forked from a server that has imported Dagster once "
                    "(a step starts in about a second less); SPAWN: each step a fresh interpreter."
                ),
            ),
        },
        name="local",
    )


def celery_queue() -> str:
    """The Celery queue this code location's steps go to (workers listen on the same name)."""
    return _env_or(QUEUE_ENV_VAR, DEFAULT_QUEUE)


def celery_executor() -> dg.ExecutorDefinition:
    """Dagster's Celery executor; broker and backend are read from the environment when a run starts
    (`{"env": ...}` config), so the URLs never sit in code, run config or the UI."""
    return _dagster_celery_executor.configured(
        {
            "broker": {"env": BROKER_ENV_VAR},
            "backend": {"env": BACKEND_ENV_VAR},
            "include": WORKER_INCLUDES,
            "config_source": {"task_default_queue": celery_queue()},
        },
        name="celery",
    )


def delete_queue(broker: str, queue: str) -> None:
    """Remove a queue no worker serves any more, and the direct exchange Celery declared under its name
    (a test's or a benchmark's own queue, when it ends)."""
    from kombu import Connection  # Celery's transport; only needed here

    with Connection(broker, connect_timeout=5) as connection:
        channel = connection.default_channel
        channel.queue_delete(queue)
        channel.exchange_delete(queue)
