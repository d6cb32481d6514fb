"""Runs left STARTED by a killed run worker are found and marked failed (issue 16, Dagster run control)."""

from __future__ import annotations

import os
import time

import dagster as dg
from dagster_runs import dead_pid, started_run

from pipelines.definitions import defs
from pipelines.stale_runs import (
    fail_stale_runs,
    mark_stale_runs_failed,
    worker_alive,
)


def test_run_whose_worker_died_is_marked_failed_and_a_live_one_is_not(tmp_path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        dead = started_run(instance, dead_pid())
        alive = started_run(instance, os.getpid())
        assert fail_stale_runs(instance) == [dead]
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
        failure = instance.get_records_for_run(dead, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert "is gone without reporting an end" in failure[0].event_log_entry.dagster_event.message
        assert fail_stale_runs(instance) == []  # a failed run is not failed again


def test_reused_pid_does_not_keep_a_stale_run_alive():
    # this test process is alive: as the worker of a run started now it is that worker; as the "worker"
    # of a run started in 1970, before this process existed, it is a later process that reused the pid
    assert worker_alive(os.getpid(), time.time())
    assert not worker_alive(os.getpid(), 0.0)


def test_registered_sensor_marks_stale_runs_failed(tmp_path):
    sensor = defs.resolve_sensor_def("mark_stale_runs_failed")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        dead = started_run(instance, dead_pid())
        result = mark_stale_runs_failed(dg.build_sensor_context(instance=instance))
        assert result.skip_message.startswith("1 stale run(s) marked failed")
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
