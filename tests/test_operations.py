"""Operations: monthly drop partitions, the drop sensor and its cursor, the schedule, the failure record."""

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.incoming import incoming_drop
from assets.raw import raw_source
from common.resources import SourceFolder, Warehouse
from compscore import warehouse
from pipelines.io_managers import warehouse_io_manager
from pipelines.schedules import daily_full_refresh
from pipelines.sensors import (
    FAILURE_LOG,
    incoming_drops,
    record_run_failure,
    refresh_after_drops,
    requested_backfills,
)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"


def _drop(source: Path, month: str, table: str, frame: pl.DataFrame) -> Path:
    folder = source / "incoming" / month
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    frame.write_csv(path)
    return path


def _deals() -> pl.DataFrame:
    return pl.read_csv(FIXTURE / "deals.csv", infer_schema=False)


def _evaluate(source: Path, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, resources={"source": SourceFolder(path=str(source))})
    return incoming_drops(context)


def test_sensor_requests_exactly_the_new_or_changed_months(tmp_path: Path) -> None:
    deals = _deals()
    _drop(tmp_path, "2026-02", "deals", deals.head(2))
    _drop(tmp_path, "2026-03", "deals", deals.tail(2))
    (tmp_path / "incoming" / "2026-03" / "notes.txt").write_text("not a table")

    first = _evaluate(tmp_path, None)
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-02-01", "2026-03-01"]

    again = _evaluate(tmp_path, first.cursor)
    assert again.run_requests == []
    assert "no new or changed drops" in again.skip_reason.skip_message

    changed = _drop(tmp_path, "2026-03", "deals", deals.tail(3))
    os.utime(changed, ns=(1, 2_000_000_000_000_000_000))
    _drop(tmp_path, "2026-04", "churn_events", pl.read_csv(FIXTURE / "churn_events.csv"))
    third = _evaluate(tmp_path, first.cursor)
    assert sorted(r.partition_key for r in third.run_requests) == ["2026-03-01", "2026-04-01"]
    assert {r.tags["compscore/drop"] for r in third.run_requests} == {"incoming/2026-03", "incoming/2026-04"}

    (tmp_path / "incoming" / "2026-02" / "deals.csv").unlink()
    fourth = _evaluate(tmp_path, third.cursor)
    assert [r.partition_key for r in fourth.run_requests] == ["2026-02-01"]


def test_sensor_skips_folders_that_are_not_partition_months(tmp_path: Path) -> None:
    _drop(tmp_path, "2026-13", "deals", _deals())
    _drop(tmp_path, "1999-01", "deals", _deals())
    _drop(tmp_path, "latest", "deals", _deals())

    result = _evaluate(tmp_path, None)

    assert result.run_requests == []
    assert set(json.loads(result.cursor)) == {"2026-13/deals.csv", "1999-01/deals.csv", "latest/deals.csv"}


def test_schedule_is_daily_off_by_default_and_runs_full_refresh() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 3, 2, 6, tzinfo=dt.UTC))
    [request] = daily_full_refresh.evaluate_tick(context).run_requests

    assert daily_full_refresh.cron_schedule == "0 6 * * *"
    assert daily_full_refresh.default_status == dg.DefaultScheduleStatus.STOPPED
    assert request.job_name in (None, "full_refresh")
    assert daily_full_refresh.job_name == "full_refresh"


def _materialize_month(
    source: Path, wh: Path, partition: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [incoming_drop],
        partition_key=partition,
        instance=instance,
        resources={
            "source": SourceFolder(path=str(source)),
            "warehouse": Warehouse(path=str(wh)),
            "io_manager": warehouse_io_manager,
        },
    )


def test_a_month_partition_keeps_its_rows_and_rejects_rows_of_other_months(tmp_path: Path) -> None:
    deals = _deals()
    months = deals["close_date"].str.slice(0, 7)
    assert months.to_list().count("2026-02") == 2  # D001 and D006 close in February
    _drop(tmp_path, "2026-02", "deals", deals)
    wh = tmp_path / "wh"

    assert _materialize_month(tmp_path, wh, "2026-02-01").success

    stored = warehouse.read_table("incoming_deals", wh)
    expected_inside = deals.filter((months == "2026-02") | pl.col("close_date").is_null())
    assert sorted(stored["deal_id"].to_list()) == sorted(expected_inside["deal_id"].to_list())
    rejects = warehouse.read_table("incoming_load_rejects", wh)
    assert rejects.height == deals.height - expected_inside.height
    assert set(rejects["rule"]) == {"partition_month:close_date"}
    assert warehouse.row_count("incoming_churn_events", wh) == 0
    warehouse.publish_database(wh)  # the monthly job writes Parquet only; the next job loads DuckDB
    with duckdb.connect(str(wh / warehouse.DUCKDB_FILE), read_only=True) as con:
        assert con.execute("select distinct partition_key from incoming.incoming_deals").fetchall() == [
            ("2026-02-01",)
        ]


def _refresh(instance: dg.DagsterInstance) -> dg.SensorResult:
    return refresh_after_drops(dg.build_sensor_context(instance=instance))


def test_rescoring_follows_a_loaded_drop_once_no_drop_run_is_pending(tmp_path: Path) -> None:
    source, wh = tmp_path / "source", tmp_path / "wh"
    shutil.copytree(FIXTURE, source)
    february = _deals().filter(pl.col("close_date").str.starts_with("2026-02"))
    _drop(source, "2026-02", "deals", february.with_columns(pl.lit("41000.0").alias("amount")))
    instance = dg.DagsterInstance.ephemeral()
    assert "no monthly drop" in _refresh(instance).skip_reason.skip_message

    assert _materialize_month(source, wh, "2026-02-01", instance).success
    [request] = _refresh(instance).run_requests
    assert refresh_after_drops.job_name == "full_refresh"
    assert request.run_key == _refresh(instance).run_requests[0].run_key  # the same drop: one run

    pending = dg.DagsterRun(job_name="incoming_monthly", status=dg.DagsterRunStatus.STARTED)
    instance.add_run(pending)
    assert "waiting for 1 drop run" in _refresh(instance).skip_reason.skip_message
    instance.report_run_canceled(pending)

    assert dg.materialize(
        [raw_source],
        instance=instance,
        resources={
            "source": SourceFolder(path=str(source)),
            "warehouse": Warehouse(path=str(wh)),
            "io_manager": warehouse_io_manager,
        },
    ).success
    assert "already includes the latest drop" in _refresh(instance).skip_reason.skip_message
    raw_deals = warehouse.read_table("raw_deals", wh).sort("deal_id")
    assert raw_deals.height == 8  # the drop's D001 and D006 replace the top-level rows with those keys
    assert raw_deals.filter(pl.col("deal_id").is_in(["D001", "D006"]))["amount"].to_list() == [41000.0] * 2
    assert raw_deals.filter(pl.col("deal_id") == "D002")["amount"].to_list() == [60000.0]

    assert _materialize_month(source, wh, "2026-02-01", instance).success
    [again] = _refresh(instance).run_requests
    assert again.run_key != request.run_key


def test_requested_backfills_reaches_dagsters_private_backfill_status() -> None:
    # Fails with ImportError if Dagster moves `BulkActionStatus` out of dagster._core.execution.backfill.
    assert requested_backfills(dg.DagsterInstance.ephemeral()) == []


def test_failed_runs_are_recorded_with_the_failing_step(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    (source / "reps.csv").unlink()
    wh = Warehouse(path=str(tmp_path / "wh"))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [raw_source],
        instance=instance,
        raise_on_error=False,
        resources={
            "source": SourceFolder(path=str(source)),
            "warehouse": wh,
            "io_manager": warehouse_io_manager,
        },
    )
    assert not result.success

    context = dg.build_run_status_sensor_context(
        sensor_name="record_run_failure",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"warehouse": wh},
    ).for_run_failure()
    record_run_failure(context)

    [line] = (tmp_path / "wh" / FAILURE_LOG).read_text().splitlines()
    record = json.loads(line)
    assert record["run_id"] == result.run_id
    assert record["job"] == "__ephemeral_asset_job__"
    assert [s["step"] for s in record["failed_steps"]] == ["raw_source"]
    assert "required table reps is missing" in record["failed_steps"][0]["error"]


@pytest.mark.parametrize("month", ["2024-01", "2026-11"])
def test_partition_months_cover_the_sample_and_today(month: str) -> None:
    from common.partitions import MONTHLY

    assert f"{month}-01" in MONTHLY.get_partition_keys(current_time=dt.datetime(2026, 11, 26))
