"""With the Dagster daemon up, a failed run and a killed run both end in `<warehouse>/run_failures.jsonl`
(issue 16: "the run-failure sensor provably records a failed run"). Runs the real daemon on the real code
location (`workspace.yaml`) against a fresh instance; slow (a minute or two), because the sensors tick
on their own intervals: `record_run_failure` every 30 s, `mark_stale_runs_failed` every 60 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorType  # not re-exported by dagster

from pipelines.sensors import FAILURE_LOG

REPO = Path(__file__).resolve().parents[1]
IN_PROCESS = "execution: {config: {in_process: true}}\n"


def _environment(home: Path, source: Path, warehouse: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "COMPSCORE_SOURCE": str(source),
        "COMPSCORE_WAREHOUSE": str(warehouse),
    }


def _sensor_has_ticked(instance: dg.DagsterInstance, name: str) -> bool:
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.name == name and instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1):
            return True
    return False


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(1)
    raise AssertionError(f"{what} within {seconds} s")


def _records(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    return {r["run_id"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.fixture
def daemon(tmp_path):
    home, warehouse = tmp_path / "home", tmp_path / "warehouse"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # Create the instance's SQLite storage before the daemon and its code server open it: opened by
    # several processes at once, a fresh storage can be stamped twice ("alembic_version has more than one
    # head") and the code location then never loads.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)
    env = _environment(home, REPO / "data" / "sample", warehouse)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(REPO / "workspace.yaml")],
        env=env,
        cwd=REPO,
        stdout=(tmp_path / "daemon.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield home, warehouse
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def test_the_daemon_records_a_failed_run_and_a_killed_one(tmp_path, daemon):
    home, warehouse = daemon
    config = tmp_path / "in_process.yaml"
    config.write_text(IN_PROCESS)
    execute = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _wait(
            lambda: _sensor_has_ticked(instance, "record_run_failure"), 240, "the run-failure sensor ticked"
        )

        missing = tmp_path / "no-such-source"
        failed = subprocess.run(
            [*execute, "-j", "full_refresh", "-c", str(config)],
            env=_environment(home, missing, warehouse),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert failed.returncode != 0
        [failed_run] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))

        killed = subprocess.Popen(
            [*execute, "-j", "full_refresh", "-c", str(config)],
            env=_environment(home, REPO / "data" / "sample", warehouse),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
        [killed_run] = _wait(lambda: instance.get_runs(filters=started), 120, "the second run started")
        killed.send_signal(signal.SIGKILL)
        killed.wait(30)

        log = warehouse / FAILURE_LOG
        records = _wait(
            lambda: (r := _records(log)) and killed_run.run_id in r and failed_run.run_id in r and r,
            240,
            f"both runs recorded in {log}",
        )
    first = records[failed_run.run_id]
    assert first["job"] == "full_refresh"
    assert any(str(missing) in step["error"] for step in first["failed_steps"]), first
    second = records[killed_run.run_id]
    assert "is gone without reporting an end; marked failed as stale" in second["message"]
