"""Incremental ingestion: monthly drops merged into the raw layer, and a backfill that gives the same
warehouse as a full run over the same rows."""

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.raw import merge_drops
from common.resources import SourceFolder, Warehouse
from compscore import warehouse
from compscore.schema import DEALS, EVENT_TABLES, TABLES_BY_NAME
from pipelines.definitions import build_definitions
from pipelines.sensors import refresh_after_drops

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"
RUN_COLUMNS = ("run_id",)
"""Columns that name the run that wrote a row, and so differ between any two runs."""


def split_source(dest: Path, drop_months: set[str]) -> Path:
    """The fixture with the event rows of `drop_months` moved into monthly drops (`incoming/YYYY-MM/`);
    open deals go to the latest drop month. Event tables left with no rows are not written at top level."""
    shutil.copytree(FIXTURE, dest, ignore=shutil.ignore_patterns(*(f"{t.name}.csv" for t in EVENT_TABLES)))
    latest = max(drop_months)
    for table in EVENT_TABLES:
        rows = pl.read_csv(FIXTURE / f"{table.name}.csv", infer_schema=False)
        month = rows[table.event_date].str.slice(0, 7).fill_null(latest)
        for drop in sorted(drop_months):
            folder = dest / "incoming" / drop
            folder.mkdir(parents=True, exist_ok=True)
            rows.filter(month == drop).write_csv(folder / f"{table.name}.csv")
        kept = rows.filter(~month.is_in(sorted(drop_months)))
        if kept.height:
            kept.write_csv(dest / f"{table.name}.csv")
    return dest


def backfill_then_refresh(source: Path, wh: Path, first: str, last: str) -> dg.DagsterInstance:
    """One `incoming_monthly` run per partition from `first` to `last` (what a backfill launches), then the
    run the `refresh_after_drops` sensor requests."""
    defs = build_definitions(SourceFolder(path=str(source)), Warehouse(path=str(wh)))
    instance = dg.DagsterInstance.ephemeral()
    monthly = defs.resolve_job_def("incoming_monthly")
    keys = monthly.partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    for key in keys:
        assert monthly.execute_in_process(partition_key=key, instance=instance).success

    [request] = refresh_after_drops(dg.build_sensor_context(instance=instance)).run_requests
    refresh = defs.resolve_job_def(refresh_after_drops.job_name)
    assert refresh.execute_in_process(instance=instance, tags=request.tags).success
    return instance


def full_run(source: Path, wh: Path) -> None:
    defs = build_definitions(SourceFolder(path=str(source)), Warehouse(path=str(wh)))
    assert (
        defs.resolve_job_def("full_refresh")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral())
        .success
    )


def comparable(name: str, wh: Path) -> pl.DataFrame:
    """A stored table without run ids, sorted by its canonical key (else by every column)."""
    frame = warehouse.read_table(name, wh)
    frame = frame.drop([c for c in RUN_COLUMNS if c in frame.columns])
    canonical = TABLES_BY_NAME.get(name.removeprefix("raw_"))
    return frame.sort(list(canonical.key) if canonical and canonical.key else frame.columns, nulls_last=True)


def assert_same_warehouse(backfilled: Path, full: Path) -> list[str]:
    common = sorted(set(warehouse.list_tables(backfilled)) & set(warehouse.list_tables(full)))
    for name in common:
        a, b = comparable(name, backfilled), comparable(name, full)
        assert a.equals(b), f"table {name} differs:\n{a}\n{b}"
    assert warehouse.read_object("raw_plans", backfilled) == warehouse.read_object("raw_plans", full)
    return common


@pytest.fixture(scope="module")
def full_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full run over the fixture, event tables at top level."""
    wh = tmp_path_factory.mktemp("full")
    full_run(FIXTURE, wh)
    return wh


@pytest.mark.slow
def test_two_month_backfill_then_refresh_equals_a_full_run(tmp_path: Path, full_warehouse: Path) -> None:
    source = split_source(tmp_path / "source", {"2026-02", "2026-03"})
    assert sorted(p.name for p in (source / "incoming").iterdir()) == ["2026-02", "2026-03"]
    wh = tmp_path / "wh"

    backfill_then_refresh(source, wh, "2026-02-01", "2026-03-01")

    assert warehouse.list_partitions("incoming_deals", wh) == ["2026-02-01", "2026-03-01"]
    assert warehouse.row_count("incoming_deals", wh) == 7  # all but D008 (May): 6 closed + open D004
    common = assert_same_warehouse(wh, full_warehouse)
    assert {"raw_deals", "deals", "data_quality_counts", "plan_scores", "pay_attribution"} <= set(common)
    assert warehouse.row_count("plan_scores", wh) > 0


@pytest.mark.slow
def test_top_level_event_files_are_optional_once_drops_exist(tmp_path: Path, full_warehouse: Path) -> None:
    # 2026-12 is not a partition yet while the clock is in 2026, so that month's churn stays at top level
    months = {"2026-02", "2026-03", "2026-04", "2026-05", "2026-06"}
    source = split_source(tmp_path / "source", months)
    assert sorted(p.name for p in source.glob("*.csv")) == [
        "accounts.csv",
        "churn_events.csv",
        "rep_plan_assignments.csv",
        "reps.csv",
    ]
    wh = tmp_path / "wh"

    backfill_then_refresh(source, wh, "2026-02-01", "2026-06-01")

    assert warehouse.list_partitions("incoming_deals", wh) == [f"{m}-01" for m in sorted(months)]
    assert_same_warehouse(wh, full_warehouse)


def _deal(deal_id: str, stage: str, close: str | None) -> dict:
    return {"deal_id": deal_id, "stage": stage, "close_date": close}


def test_the_latest_drop_wins_per_key_and_duplicates_within_a_source_stay() -> None:
    schema = {"deal_id": pl.String, "stage": pl.String, "close_date": pl.String}
    base = pl.DataFrame([_deal("D1", "open", None), _deal("D2", "won", "2026-01-09")], schema=schema)
    february = pl.DataFrame(
        [_deal("D1", "won", "2026-02-03"), _deal("D3", "open", None), _deal("D3", "lost", None)],
        schema=schema,
    )
    march = pl.DataFrame([_deal("D3", "won", "2026-03-30")], schema=schema)

    merged = merge_drops(base, [february, march], DEALS)

    assert merged.rows() == [
        ("D2", "won", "2026-01-09"),
        ("D1", "won", "2026-02-03"),
        ("D3", "won", "2026-03-30"),
    ]
    assert merge_drops(base, [february], DEALS).filter(pl.col("deal_id") == "D3").height == 2
    assert merge_drops(base, [], DEALS) is base
