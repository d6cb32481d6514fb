"""A killed run's steps stop and store nothing; runs on different sources never share a warehouse
(issue 16, Dagster run control: `pipelines.step_guard`, `pipelines.warehouse_lock`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster_runs import dead_pid, started_run

from pipelines import step_guard
from pipelines.stale_runs import RunWorkerGone
from pipelines.warehouse_lock import LOCK_FILE, RunLock, WarehouseInUse, hold_warehouse

REPO = Path(__file__).resolve().parents[1]
DEFINITIONS = REPO / "tests" / "fixtures" / "run_control" / "definitions.py"


# --- the warehouse's run lock -------------------------------------------------------------------------


def test_a_run_on_another_source_is_refused_while_the_holder_runs(tmp_path):
    with dg.instance_for_test() as instance:
        first, second = started_run(instance, os.getpid()), started_run(instance, os.getpid())
        hold_warehouse(tmp_path, "canonical /data/acme", instance, first, worker_here=False)
        with pytest.raises(WarehouseInUse) as refused:
            hold_warehouse(tmp_path, "canonical /data/globex", instance, second, worker_here=False)
        message = str(refused.value)
        assert f"warehouse {tmp_path} is in use by run(s) {first} on source canonical /data/acme" in message
        assert "this run's source is canonical /data/globex" in message
        assert "resources.warehouse.config.path" in message


def test_runs_on_the_same_source_share_the_warehouse(tmp_path):
    with dg.instance_for_test() as instance:
        first, second = started_run(instance, os.getpid()), started_run(instance, os.getpid())
        hold_warehouse(tmp_path, "canonical /data/acme", instance, first, worker_here=False)
        hold_warehouse(tmp_path, "canonical /data/acme", instance, second, worker_here=False)
        hold_warehouse(tmp_path, "canonical /data/acme", instance, first, worker_here=False)  # again: no-op
        lock = RunLock.read(tmp_path / LOCK_FILE)
        assert lock is not None and [h.run_id for h in lock.holders] == [first, second]


def test_an_ended_run_no_longer_holds_the_warehouse(tmp_path):
    with dg.instance_for_test() as instance:
        ended, later = started_run(instance, os.getpid()), started_run(instance, os.getpid())
        hold_warehouse(tmp_path, "canonical /data/acme", instance, ended, worker_here=False)
        instance.report_run_failed(instance.get_run_by_id(ended))
        hold_warehouse(tmp_path, "canonical /data/globex", instance, later, worker_here=False)
        lock = RunLock.read(tmp_path / LOCK_FILE)
        assert lock is not None and lock.source == "canonical /data/globex"
        assert [h.run_id for h in lock.holders] == [later]


def test_a_killed_run_still_marked_started_no_longer_holds_the_warehouse(tmp_path):
    with dg.instance_for_test() as instance:
        killed, later = started_run(instance, dead_pid()), started_run(instance, os.getpid())
        hold_warehouse(tmp_path, "canonical /data/acme", instance, killed, worker_here=True)
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.STARTED
        hold_warehouse(tmp_path, "canonical /data/globex", instance, later, worker_here=True)
        # a holder whose worker ran elsewhere cannot be checked by pid: it holds until its run ends
        elsewhere = started_run(instance, dead_pid())
        hold_warehouse(tmp_path / "w2", "canonical /data/acme", instance, elsewhere, worker_here=False)
        with pytest.raises(WarehouseInUse):
            hold_warehouse(tmp_path / "w2", "canonical /data/globex", instance, later, worker_here=False)


def test_an_unreadable_lock_file_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text("{not json")
    with dg.instance_for_test() as instance:
        run = started_run(instance, os.getpid())
        hold_warehouse(tmp_path, "canonical /data/acme", instance, run, worker_here=False)
        assert RunLock.read(tmp_path / LOCK_FILE).source == "canonical /data/acme"


# --- a step of a run that is over stores nothing ------------------------------------------------------


def test_a_step_of_an_ended_run_does_not_store(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        ended, running = started_run(instance, os.getpid()), started_run(instance, os.getpid())
        instance.report_run_failed(instance.get_run_by_id(ended))
        with pytest.raises(RunWorkerGone, match=rf"plan_scores: not stored: run {ended} has already ended"):
            step_guard.refuse_if_run_over(instance, ended, "plan_scores")
        step_guard.refuse_if_run_over(instance, running, "plan_scores")  # a running run stores as usual


def test_a_step_whose_watched_worker_is_gone_does_not_store(tmp_path, monkeypatch):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        killed = started_run(instance, dead_pid())
        worker = step_guard.RunWorker(killed, dead_pid(), time.time())
        monkeypatch.setitem(step_guard._watched, killed, worker)
        with pytest.raises(RunWorkerGone, match=rf"plan_scores: not stored: the worker of run {killed}"):
            step_guard.refuse_if_run_over(instance, killed, "plan_scores")


def test_only_a_worker_above_this_process_is_watched(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        parent = started_run(instance, os.getppid())
        itself = started_run(instance, os.getpid())
        stranger = started_run(instance, dead_pid())  # e.g. a run worker on another machine
        assert os.getppid() in step_guard.ancestors(os.getpid())
        worker = step_guard.worker_above(instance, parent)
        assert worker is not None and worker.pid == os.getppid() and worker.alive()
        assert step_guard.worker_above(instance, itself) is None  # in-process executor: nothing to watch
        assert step_guard.worker_above(instance, stranger) is None


# --- end to end, through `dagster job execute` --------------------------------------------------------


def _execute(job: str, home: Path, source: Path, warehouse: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "COMPSCORE_SOURCE": str(source),
        "COMPSCORE_WAREHOUSE": str(warehouse),
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "dagster", "job", "execute", "-f", str(DEFINITIONS), "-j", job]
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for(path: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and (text := path.read_text()):
            return text
        time.sleep(0.2)
    raise AssertionError(f"{path} did not appear within {seconds} s")


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def dagster_home(tmp_path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def test_killing_the_run_worker_stops_its_step_and_nothing_is_stored(tmp_path, dagster_home):
    warehouse, source = tmp_path / "warehouse", tmp_path / "acme"
    warehouse.mkdir()
    run = _execute("slow_job", dagster_home, source, warehouse)
    try:
        step_pid = int(_wait_for(warehouse / "slow.pid", 90))
        assert step_pid != run.pid
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        assert _gone(step_pid, 30), f"step process {step_pid} still runs after its run worker was killed"
    finally:
        run.kill()
        (warehouse / "finish").touch()
    assert not (warehouse / "slow.parquet").exists()


def test_a_run_on_another_source_fails_with_a_message_while_a_run_holds_the_warehouse(tmp_path, dagster_home):
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    holder = _execute("slow_job", dagster_home, tmp_path / "acme", warehouse)
    try:
        _wait_for(warehouse / "slow.pid", 90)
        other = _execute("quick_job", dagster_home, tmp_path / "globex", warehouse)
        output, _ = other.communicate(timeout=120)
        assert other.returncode != 0
        assert f"warehouse {warehouse} is in use by run(s)" in output
        assert f"on source canonical {tmp_path / 'acme'}" in output
        assert not (warehouse / "quick.parquet").exists()
        same = _execute("quick_job", dagster_home, tmp_path / "acme", warehouse)
        output, _ = same.communicate(timeout=120)
        assert same.returncode == 0, output[-3000:]
        assert (warehouse / "quick.parquet").exists()
        (warehouse / "finish").touch()
        holder.communicate(timeout=120)
        assert holder.returncode == 0
    finally:
        holder.kill()
        (warehouse / "finish").touch()
