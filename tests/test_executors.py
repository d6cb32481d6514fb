"""Executors come from the environment: step concurrency, and the Celery job's broker, backend and queue."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._config import process_config  # how Dagster validates a run's config; not re-exported

from pipelines import executors
from pipelines.definitions import build_definitions


def test_step_concurrency_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(executors.MAX_CONCURRENT_ENV_VAR, raising=False)
    assert executors.max_concurrent_steps() == 2
    monkeypatch.setenv(executors.MAX_CONCURRENT_ENV_VAR, "5")
    assert executors.max_concurrent_steps() == 5


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_step_concurrency_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(executors.MAX_CONCURRENT_ENV_VAR, value)
    with pytest.raises(ValueError, match="COMPSCORE_MAX_CONCURRENT_STEPS must be a positive integer"):
        executors.max_concurrent_steps()


def test_the_celery_job_reads_broker_and_backend_from_the_environment_only() -> None:
    job = build_definitions().resolve_job_def("full_refresh_celery")

    assert job.executor_def.name == "celery"
    assert job.executor_def.config_schema.as_field().is_required is False
    full_refresh = build_definitions().resolve_job_def("full_refresh")
    assert {n.name for n in job.nodes} == {n.name for n in full_refresh.nodes}


def test_a_worker_without_a_broker_says_which_variable_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(executors.BROKER_ENV_VAR, raising=False)
    with pytest.raises(RuntimeError, match="COMPSCORE_CELERY_BROKER is not set") as raised:
        executors.required_env(executors.BROKER_ENV_VAR)
    assert "pyamqp" not in str(raised.value)


def test_the_queue_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(executors.QUEUE_ENV_VAR, "acme-nightly")
    assert executors.celery_queue() == "acme-nightly"
    assert isinstance(executors.celery_executor(), dg.ExecutorDefinition)


# --- how step processes start --------------------------------------------------------------------------


def test_steps_are_forked_from_a_server_that_preloads_dagster_unless_a_run_asks_for_spawn() -> None:
    assert executors.FORKSERVER_PRELOAD[0] == "dagster"
    assert executors.start_method(executors.StartMethod.FORKSERVER) == {
        "forkserver": {"preload_modules": executors.FORKSERVER_PRELOAD}
    }
    assert executors.start_method(executors.StartMethod.SPAWN) == {"spawn": {}}
    schema = executors.local_executor().config_schema.config_type
    assert schema.fields["start_method"].default_value == "FORKSERVER"
    # What Dagster hands the executor for a run's config: the member, by default and when asked by name.
    by_default = process_config(schema, {}).value["start_method"]
    asked = process_config(schema, {"start_method": "SPAWN"}).value["start_method"]
    assert (by_default, asked) == (executors.StartMethod.FORKSERVER, executors.StartMethod.SPAWN)


def _threads_and_polars_after_importing(*modules: str) -> tuple[int, bool]:
    imported = ", ".join(modules)
    probe = f"import os, sys, {imported}; print(len(os.listdir('/proc/self/task')), 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    threads, polars = out.stdout.split()
    return int(threads), polars == "True"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")
def test_the_forkserver_preload_starts_no_thread_where_the_definitions_would() -> None:
    """Forking a process that has threads can leave a lock held in the child: the forkserver imports
    Dagster and its instance's storage, which start none, not the job's module (Dagster's default), which
    imports Polars."""
    assert _threads_and_polars_after_importing(*executors.FORKSERVER_PRELOAD) == (1, False)
    threads, polars = _threads_and_polars_after_importing("pipelines.definitions")
    assert polars and threads > 1


_OPEN_AN_INSTANCE = """
import sys, tempfile
before = set(sys.modules)
from dagster import DagsterInstance
DagsterInstance.local_temp(tempfile.mkdtemp())
print(" ".join(sorted({m.split(".")[0] for m in set(sys.modules) - before})))
"""


def test_the_forkserver_preload_holds_what_a_step_imports_to_open_its_instance() -> None:
    """A step process opens the run's instance before its resources: with the preload, that imports no
    SQL storage, SQLAlchemy or Alembic of its own (0.6 s a step when it did)."""
    probe = f"import {', '.join(executors.FORKSERVER_PRELOAD)}\n{_OPEN_AN_INSTANCE}"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    bare = subprocess.run(
        [sys.executable, "-c", f"import dagster\n{_OPEN_AN_INSTANCE}"],
        capture_output=True,
        text=True,
        check=True,
    )
    heavy = {"sqlalchemy", "alembic", "upath", "fsspec"}
    assert heavy <= set(bare.stdout.split())  # what opening an instance imports after Dagster alone
    assert not heavy & set(out.stdout.split())
