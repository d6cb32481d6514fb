"""The Dagster side of the shards: the configured shard count, and the IO manager that passes shards
between steps as Parquet under `<warehouse>/.shards/<run_id>/<step_key>/`."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.events import DagsterEvent  # the event type a run worker reports; not re-exported
from polars.testing import assert_frame_equal

from assets.scoring import SHARDS_ENV_VAR, ShardPlanConfig, remove_shards_of_ended_runs, shard_count
from compscore.engine.payout import data_as_of
from compscore.loaders import load_canonical_dir
from compscore.scoring.partitioned import ShardBatches
from compscore.scoring.shards import (
    ShardTables,
    run_shards_folder,
    score_shard,
    scoring_context,
    shard_batches,
    shard_run_ids,
)
from pipelines.io_managers import ShardIOManager

CANONICAL_SMALL = Path(__file__).resolve().parent / "fixtures" / "canonical_small"


def test_shard_count_from_config_then_environment_then_two(monkeypatch):
    monkeypatch.delenv(SHARDS_ENV_VAR, raising=False)
    assert shard_count(ShardPlanConfig()) == 2
    monkeypatch.setenv(SHARDS_ENV_VAR, "7")
    assert shard_count(ShardPlanConfig()) == 7
    assert shard_count(ShardPlanConfig(shards=3)) == 3


@pytest.mark.parametrize("bad", ["0", "two", "-1", "2.5"])
def test_a_shard_count_that_is_not_a_positive_whole_number_fails_the_step(monkeypatch, bad):
    monkeypatch.setenv(SHARDS_ENV_VAR, bad)
    with pytest.raises(dg.Failure, match=f"got '{bad}'"):
        shard_count(ShardPlanConfig())


def _output(run_id: str, step_key: str, mapping_key: str | None = None) -> dg.OutputContext:
    return dg.build_output_context(step_key=step_key, name="result", run_id=run_id, mapping_key=mapping_key)


def test_shards_and_their_batch_numbers_travel_through_the_warehouse_folder(tmp_path):
    data = load_canonical_dir(CANONICAL_SMALL).data
    shard = score_shard(data, shard_batches(data, 2)[1], scoring_context(data, data_as_of(data)))
    batch = ShardBatches((3, 4))
    manager, run_id = ShardIOManager(tmp_path), str(uuid.uuid4())
    plan = _output(run_id, "plan_scoring.plan_shards", mapping_key="1")
    scored = _output(run_id, "plan_scoring.score_shard[1]")

    manager.handle_output(plan, batch)
    manager.handle_output(scored, shard)
    batch_back = manager.load_input(dg.build_input_context(upstream_output=plan))
    shard_back = manager.load_input(dg.build_input_context(upstream_output=scored))

    assert (tmp_path / ".shards" / run_id / "plan_scoring.score_shard[1]" / "result" / "shard.json").is_file()
    assert (tmp_path / ".shards" / run_id / "plan_scoring.plan_shards" / "result" / "1").is_dir()
    assert batch_back == ShardBatches((3, 4))
    assert isinstance(shard_back, ShardTables)
    # the attribution comes back as a scan of its file: the combine step streams it to the output table
    assert isinstance(shard_back.attribution, pl.LazyFrame)
    assert_frame_equal(shard_back.attribution.collect(), shard.attribution)
    assert_frame_equal(shard_back.books, shard.books)


@pytest.mark.parametrize(("run_id", "step_key"), [("../../etc", "s"), ("0b7c1d52-run", "..")])
def test_a_run_id_or_step_key_that_could_leave_the_folder_is_refused(tmp_path, run_id, step_key):
    with pytest.raises(ValueError, match="expected letters, digits"):
        ShardIOManager(tmp_path).handle_output(_output(run_id, step_key), object())


def test_only_shards_are_stored(tmp_path):
    with pytest.raises(TypeError, match="shards only, got dict"):
        ShardIOManager(tmp_path).handle_output(_output(str(uuid.uuid4()), "plan_scoring.x"), {})


def test_shards_left_by_ended_runs_are_removed_by_the_next_plan_shards_step(tmp_path):
    with dg.instance_for_test() as instance:
        failed = instance.add_run(dg.DagsterRun(job_name="full_refresh", run_id="a" * 8))
        running = instance.add_run(dg.DagsterRun(job_name="full_refresh", run_id="b" * 8))
        start = DagsterEvent(event_type_value=dg.DagsterEventType.RUN_START.value, job_name="full_refresh")
        instance.report_dagster_event(start, run_id=running.run_id)
        instance.report_run_failed(failed)
        for run_id in (failed.run_id, running.run_id, "c" * 8):  # c: a run this instance does not know
            (run_shards_folder(tmp_path, run_id) / "score_shard[0]").mkdir(parents=True)
        assert remove_shards_of_ended_runs(instance, tmp_path, "d" * 8) == [failed.run_id]
        assert remove_shards_of_ended_runs(instance, tmp_path, "d" * 8) == []
    assert shard_run_ids(tmp_path) == ["b" * 8, "c" * 8]
