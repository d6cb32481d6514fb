"""Executors come from the environment: step concurrency, and the Celery job's broker, backend and queue."""

import dagster as dg
import pytest

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
