"""full_refresh on Dagster's Celery executor for real: two worker processes on the machine's RabbitMQ, the
instance on a fresh PostgreSQL database, a generated company; the steps must run on both workers and every
output must equal the in-process run's.

Skips when RabbitMQ (127.0.0.1:5672) or PostgreSQL (127.0.0.1:5432) does not answer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.executors import delete_queue

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_INSTANCE = REPO_ROOT / "deploy" / "postgres" / "dagster.yaml"
BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
GENERATE = [sys.executable, "-m", "compscore.cli", "generate"]
WORKER = [sys.executable, "-m", "celery", "-A", "pipelines.celery_worker", "worker", "--loglevel", "INFO"]
RUN_SPECIFIC_COLUMNS = {"run_id", "scored_at"}
"""Columns that name the run that wrote a row; two runs differ there by design."""

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("celery_cluster")]
"""One xdist worker runs both tests (scripts/test.sh passes `--dist loadgroup`), so the module's cluster and
its run are set up once, not once on each worker."""


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def services() -> None:
    if not _answers(5672):
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672 (start it with `rabbitmq-server -detached`)")
    if not _answers(5432) or shutil.which("psql") is None:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432, or psql is not installed")


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("company")
    subprocess.run(
        [*GENERATE, "--out", str(out), "--reps", "30", "--quarters", "4", "--seed", "5"],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def cluster_env(services, company: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The environment of a cluster: a fresh PostgreSQL database as the instance, a queue of its own."""
    database = f"compscore_celery_{uuid.uuid4().hex[:10]}"
    _psql(f"CREATE DATABASE {database}")
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(POSTGRES_INSTANCE, home / "dagster.yaml")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": database,
        "COMPSCORE_CELERY_BROKER": BROKER,
        "COMPSCORE_CELERY_BACKEND": "rpc://",
        "COMPSCORE_CELERY_QUEUE": f"compscore-test-{uuid.uuid4().hex[:8]}",
        "COMPSCORE_SOURCE": str(company),
        "COMPSCORE_WAREHOUSE": str(tmp_path_factory.mktemp("celery_warehouse")),
        "COMPSCORE_SCORING_SHARDS": "3",  # the in-process run keeps the default 2: same tables either way
    }
    yield env
    delete_queue(BROKER, env["COMPSCORE_CELERY_QUEUE"])
    _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture(scope="module")
def workers(cluster_env: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two Celery workers, one step at a time each, listening on the test's own queue. Their names carry the
    queue's own suffix: a worker's control queue is exclusive to its name, and one left on the broker by
    an earlier run killed mid-test (its connection not yet closed) would refuse a worker of the same name."""
    suffix = cluster_env["COMPSCORE_CELERY_QUEUE"].removeprefix("compscore-test-")
    names = [f"compscore-test-w{i}-{suffix}@{socket.gethostname()}" for i in (1, 2)]
    logs = [tmp_path_factory.mktemp("worker_logs") / f"w{i}.log" for i in (1, 2)]
    processes = []
    for name, log in zip(names, logs, strict=True):
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [*WORKER, "-n", name, "-Q", cluster_env["COMPSCORE_CELERY_QUEUE"], "--concurrency", "1"],
                    env=cluster_env,
                    start_new_session=True,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    _wait_until_ready(logs)
    yield names
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_until_ready(logs: list[Path], timeout_s: int = 120) -> None:
    """Both workers have logged that they are ready before the run starts: a worker still importing when
    the steps are queued (a busy machine) would leave every step to the other, and the test of the spread
    would fail for it."""
    deadline = time.monotonic() + timeout_s
    waiting = list(logs)
    while waiting and time.monotonic() < deadline:
        waiting = [log for log in waiting if " ready." not in log.read_text(errors="replace")]
        time.sleep(0.5)
    assert not waiting, f"Celery workers not ready after {timeout_s} s; see {waiting}"


def _execute(job: str, env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions", "-j", job]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600)


@pytest.fixture(scope="module")
def celery_run(cluster_env: dict, workers: list[str]) -> dict:
    done = _execute("full_refresh_celery", cluster_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return cluster_env


@pytest.fixture(scope="module")
def in_process_warehouse(company: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = tmp_path_factory.mktemp("local_warehouse")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DAGSTER_HOME": str(tmp_path_factory.mktemp("local_home")),
        "COMPSCORE_SOURCE": str(company),
        "COMPSCORE_WAREHOUSE": str(warehouse),
        "COMPSCORE_SCORING_SHARDS": "2",
    }
    done = _execute("full_refresh", env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return warehouse


def _workers_by_step(env: dict) -> dict[str, str]:
    """Which Celery worker ran each step of the instance's one run, read from its engine events."""
    code = (
        "import json, dagster as dg\n"
        "instance = dg.DagsterInstance.get()\n"
        "(run,) = instance.get_runs()\n"
        "assert run.status == dg.DagsterRunStatus.SUCCESS, run.status\n"
        "steps = {}\n"
        "for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):\n"
        "    data = record.dagster_event.event_specific_data\n"
        "    worker = data.metadata.get('Celery worker') if data is not None else None\n"
        "    if worker is not None:\n"
        "        steps[record.dagster_event.step_key] = worker.value\n"
        "print(json.dumps(steps))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_steps_ran_on_both_workers_with_the_instance_on_postgres(celery_run: dict, workers: list[str]):
    steps = _workers_by_step(celery_run)

    scoring = {f"plan_scoring.score_shard[{n}]" for n in range(3)}
    assert {"validated", "plan_scoring.plan_shards", *scoring, "plan_scoring.combine_shards"} <= set(steps)
    assert set(steps.values()) == set(workers)


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    kept = frame.drop([c for c in frame.columns if c in RUN_SPECIFIC_COLUMNS])
    return kept.sort(kept.columns, nulls_last=True)


def test_every_output_equals_the_in_process_run(celery_run: dict, in_process_warehouse: Path):
    """Equal row for row; floats to 1e-9 relative, because two in-process runs of the same input can
    still differ in the last bits of a float sum (see docs/scale-out.md, "Equal results")."""
    celery_warehouse = Path(celery_run["COMPSCORE_WAREHOUSE"])
    local_tables = sorted(p.name for p in in_process_warehouse.glob("*.parquet"))

    assert "plan_scores.parquet" in local_tables
    assert local_tables == sorted(p.name for p in celery_warehouse.glob("*.parquet"))
    assert list((celery_warehouse / ".shards").glob("*")) == []  # the combine step removed the run's shards
    for name in local_tables:
        local = _comparable(pl.read_parquet(in_process_warehouse / name))
        distributed = _comparable(pl.read_parquet(celery_warehouse / name))
        assert_frame_equal(local, distributed, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
