"""Materialise the assets on the small canonical fixture into a temporary warehouse."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.database import warehouse_database_asset
from assets.raw import raw_source
from checks.score_checks import SPECS as SCORE_CHECKS
from common.resources import SourceFolder, Warehouse
from compscore import warehouse
from compscore.commands.summary import render_summary
from compscore.schema import DEALS, TABLES
from compscore.scoring.display import plan_scores_markdown
from pipelines.definitions import build_definitions
from pipelines.io_managers import warehouse_io_manager

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"


def _data_lines(csv: Path) -> int:
    """Data rows of a CSV counted as text: non-blank lines after the header."""
    return sum(1 for line in csv.read_text().splitlines()[1:] if line.strip())


def _materialize_raw(source: Path, wh: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_source, warehouse_database_asset(list(raw_source.keys))],
        resources={
            "source": SourceFolder(path=str(source)),
            "warehouse": Warehouse(path=str(wh)),
            "io_manager": warehouse_io_manager,
        },
    )


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.ExecuteInProcessResult, Path]:
    """One materialisation of the raw layer on the fixture, shared by the tests that only read it."""
    wh = tmp_path_factory.mktemp("warehouse")
    return _materialize_raw(FIXTURE, wh), wh


def test_raw_tables_land_in_duckdb_with_the_source_row_counts(raw_run) -> None:
    result, tmp_path = raw_run

    assert result.success
    expected = {f"raw_{t.name}": _data_lines(FIXTURE / f"{t.name}.csv") for t in TABLES}
    assert expected["raw_deals"] == 8
    counts = warehouse.duckdb_row_counts(tmp_path)
    assert {k: counts[k] for k in expected} == expected
    assert counts["raw_load_rejects"] == 0
    assert sorted(warehouse.read_object("raw_plans", tmp_path)) == ["farmer-2026", "hunter-2026"]


def test_materialisation_metadata_has_row_count_and_column_schema(raw_run) -> None:
    result, _ = raw_run

    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("raw_deals")
    ]
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == 8
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == DEALS.column_names
    assert metadata["rows_received"].value == 8


def test_bad_cells_go_to_raw_load_rejects_and_the_rest_flows(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    deals = pl.read_csv(source / "deals.csv", infer_schema=False)
    broken = deals.with_columns(
        pl.when(pl.col("deal_id") == "D003").then(pl.lit("lots")).otherwise(pl.col("amount")).alias("amount")
    )
    broken.write_csv(source / "deals.csv")

    assert _materialize_raw(source, tmp_path / "wh").success

    raw_deals = warehouse.read_table("raw_deals", tmp_path / "wh")
    rejects = warehouse.read_table("raw_load_rejects", tmp_path / "wh")
    assert raw_deals.height == 7
    assert "D003" not in raw_deals["deal_id"].to_list()
    assert rejects.select("source_table", "row_key", "offending_values").rows() == [
        ("deals", "deal_id=D003", "lots")
    ]


def test_a_missing_required_table_fails_the_run_naming_it(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    (source / "reps.csv").unlink()

    with pytest.raises(Exception, match="required table reps is missing"):
        _materialize_raw(source, tmp_path / "wh")
    assert warehouse.list_tables(tmp_path / "wh") == []


def test_a_missing_column_fails_the_step_with_its_located_cause(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    pl.read_csv(source / "deals.csv", infer_schema=False).drop("amount").write_csv(source / "deals.csv")

    result = dg.materialize(
        [raw_source],
        resources={
            "source": SourceFolder(path=str(source)),
            "warehouse": Warehouse(path=str(tmp_path / "wh")),
            "io_manager": warehouse_io_manager,
        },
        raise_on_error=False,
    )

    assert not result.success
    [failure] = result.get_step_failure_events()
    # A dagster.Failure: the UI shows its description as the step's error, not a stack trace.
    user_failure = failure.step_failure_data.user_failure_data
    cause = f"{source / 'deals.csv'}:1: column 'amount': required column is missing; expected columns"
    assert user_failure.description.startswith(cause)
    assert "\n" not in user_failure.description  # one issue, one line
    assert user_failure.metadata["column_or_key"].value == "amount"
    assert user_failure.metadata["line"].value == "1"


def test_a_bad_file_read_after_others_replaces_no_raw_table(tmp_path: Path) -> None:
    """raw_source reads and spills the tables one at a time, but emits them only once every file has been
    read: a table that fails late (commission lines come after deals) leaves the earlier run's raw tables
    as they were, and no spill folder behind."""
    wh = tmp_path / "wh"
    _materialize_raw(FIXTURE, wh)
    before = {name: warehouse.read_table(name, wh) for name in warehouse.list_tables(wh)}
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    pl.read_csv(source / "deals.csv", infer_schema=False).head(3).write_csv(source / "deals.csv")
    lines = pl.read_csv(source / "commission_lines.csv", infer_schema=False)
    lines.drop("amount").write_csv(source / "commission_lines.csv")

    with pytest.raises(Exception, match="column 'amount': required column is missing"):
        _materialize_raw(source, wh)
    after = {name: warehouse.read_table(name, wh) for name in warehouse.list_tables(wh)}
    assert after.keys() == before.keys()
    for name, frame in before.items():
        assert after[name].equals(frame), name
    assert not [p.name for p in wh.iterdir() if p.name.startswith(".raw-spill-")]


def test_run_config_moves_the_warehouse(tmp_path: Path) -> None:
    defs = build_definitions(SourceFolder(path=str(FIXTURE)), Warehouse(path=str(tmp_path / "default")))
    job = defs.resolve_job_def("validation_only")
    moved = tmp_path / "moved"
    result = job.execute_in_process(
        run_config={"resources": {"warehouse": {"config": {"path": str(moved)}}}},
        asset_selection=list(raw_source.keys),
    )

    assert result.success
    assert warehouse.row_count("raw_deals", moved) == 8
    assert not (tmp_path / "default").exists()


def test_summary_lists_tables_and_rows(raw_run) -> None:
    _, tmp_path = raw_run
    text = render_summary(tmp_path)

    assert re.search(r"^raw_deals +8  ok$", text, flags=re.M)
    assert re.search(r"^raw_load_rejects +0  ok$", text, flags=re.M)
    assert "other outputs: raw_plans" in text
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        assert con.execute("select count(*) from raw.raw_reps").fetchone() == (3,)  # the layer's schema
        assert (
            con.execute("select comment from duckdb_tables() where table_name = 'raw_reps'")
            .fetchone()[0]
            .startswith("Sales reps")
        )


@pytest.mark.slow
def test_full_refresh_materialises_every_asset(tmp_path: Path) -> None:
    defs = build_definitions(SourceFolder(path=str(FIXTURE)), Warehouse(path=str(tmp_path)))
    result = defs.resolve_job_def("full_refresh").execute_in_process(instance=dg.DagsterInstance.ephemeral())

    assert result.success
    stored = set(warehouse.list_tables(tmp_path)) | set(warehouse.list_objects(tmp_path))
    job_assets = defs.resolve_job_def("full_refresh").asset_layer.executable_asset_keys
    expected = {k.to_user_string() for k in job_assets}
    assert {"raw_deals", "raw_plans", "raw_load_rejects"} <= expected
    assert expected - stored == {"plan_review_report", "warehouse_database"}  # a file, and DuckDB itself
    [report] = (tmp_path / "reports").glob("*/plan_review.html")
    assert report.with_name("plan_review.xlsx").is_file()
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        latest = con.execute("select distinct run_id from scores.latest_plan_scores").fetchall()
        shared = con.execute(f"select * from {warehouse.SHARED_FILES} order by view_name").fetchall()
    layers = warehouse.duckdb_schemas(tmp_path)
    expected_layers = {"raw_deals": "raw", "deals": "validated", "data_quality_rejects": "quality"}
    expected_layers |= {"pay_attribution": "marts", "plan_scores": "scores"}
    assert {t: layers[t] for t in expected_layers} == expected_layers
    # validation rejected no row of the fixture: each validated table is the raw file, stored once
    assert shared == [
        ("validated", t.name, "raw", f"raw_{t.name}") for t in sorted(TABLES, key=lambda t: t.name)
    ]
    [database] = result.asset_materializations_for_node("warehouse_database")
    assert database.metadata["views_of_the_same_file"].value == len(TABLES)
    assert "`validated.deals`: 8 rows (a view of `raw.raw_deals`" in database.metadata["loaded"].value
    assert latest == [(result.run_id,)]
    # The UI's preview of plan_scores has the CLI table's columns and rounding (compscore.scoring.display).
    shown = result.asset_materializations_for_node("plan_scoring")
    preview = next(m.metadata["scores"].value for m in shown if m.asset_key.to_user_string() == "plan_scores")
    assert preview == plan_scores_markdown(warehouse.read_table("plan_scores", tmp_path))
    assert preview.startswith("| plan_id") and "same_day_index_low" in preview
    # The checks of plan_scores run in the step that writes it (no step of their own), before DuckDB loads.
    score_checks = {
        e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key.path == ["plan_scores"]
    }
    assert set(score_checks) == {spec.name for spec in SCORE_CHECKS}
    assert all(e.passed for e in score_checks.values())
    steps = {
        event.step_key
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and event.asset_check_evaluation_data.asset_key.path == ["plan_scores"]
    }
    assert steps == {"plan_scoring.combine_shards"}


def test_summary_prints_plan_scores_as_a_table(tmp_path: Path) -> None:
    scores = pl.DataFrame(
        {
            "plan_id": ["legacy", "hunter"],
            "period": ["2026-Q1", "2026-Q1"],
            "same_day_index": [42.2468, 100.0],
            "pull_forward_premium": [-0.0001, 0.4],
            "note": ["not shown", None],
        }
    )
    warehouse.write_table(scores, "plan_scores", tmp_path)

    lines = render_summary(tmp_path).splitlines()

    header = next(i for i, line in enumerate(lines) if line.startswith("| plan_id"))
    assert [c.strip() for c in lines[header].strip("|").split("|")] == [
        "plan_id",
        "period",
        "same_day_index",
        "pull_forward_premium",
    ]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[header + 2 :]]
    assert rows == [["hunter", "2026-Q1", "100.0", "0.4"], ["legacy", "2026-Q1", "42.25", "0.0"]]


@pytest.mark.slow
def test_the_launcher_runs_in_the_code_location_and_exits_non_zero_when_the_run_fails(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    (source / "reps.csv").unlink()
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "in_process.yaml").write_text("execution: {config: {in_process: true}}\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "COMPSCORE_SOURCE": str(source),
        "COMPSCORE_WAREHOUSE": str(tmp_path / "wh"),
    }
    command = [
        sys.executable,
        "-m",
        "pipelines.launch",
        "validation_only",
        "-c",
        str(tmp_path / "in_process.yaml"),
    ]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)

    assert done.returncode == 1, done.stdout + done.stderr
    printed = done.stdout.splitlines()  # the code server's own log lines are mixed in
    cause = f"step raw_source failed: {source}: required table reps is missing"
    assert any(line.startswith(cause) for line in printed), done.stdout
    assert any(line.startswith("run ") and line.endswith(": FAILURE") for line in printed), done.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
    assert run.remote_job_origin.repository_origin.code_location_origin.location_name == "compscore"
    assert run.status == dg.DagsterRunStatus.FAILURE
