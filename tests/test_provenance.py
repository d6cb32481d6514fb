"""Provenance on the score tables, period_complete at its boundary, and the plan-scores history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from compscore import history, warehouse
from compscore.provenance import Provenance, period_complete, with_provenance
from compscore.safe_ids import UnsafeId
from compscore.scoring.finish import without_float_noise

D = dt.date


@pytest.mark.parametrize(
    ("period", "start", "as_of", "complete"),
    [
        ("2026-Q1", D(2026, 1, 1), D(2026, 3, 30), False),  # as_of inside the quarter
        ("2026-Q1", D(2026, 1, 1), D(2026, 3, 31), False),  # as_of on its last day: still holds as_of
        ("2026-Q1", D(2026, 1, 1), D(2026, 4, 1), True),  # the day after: finished
        ("2026-Q2", D(2026, 4, 1), D(2026, 4, 1), False),  # the quarter that holds as_of
        ("2026-Q3", D(2026, 7, 1), D(2026, 4, 1), False),  # a later one
        ("2026-02", D(2026, 2, 1), D(2026, 3, 1), True),  # February ends on the 28th
        ("2026-02", D(2026, 2, 1), D(2026, 2, 28), False),
        ("2025", D(2025, 1, 1), D(2026, 1, 1), True),
        ("2026", D(2026, 1, 1), D(2026, 12, 31), False),
    ],
)
def test_period_complete_is_false_for_the_period_holding_as_of_and_later(period, start, as_of, complete):
    frame = pl.DataFrame({"period": [period], "period_start": [start]})
    assert frame.select(period_complete(pl.col("period_start"), pl.col("period"), as_of)).item() is complete


def _provenance(run_id: str, minute: int) -> Provenance:
    return Provenance(run_id, dt.datetime(2026, 4, 2, 9, minute, tzinfo=dt.UTC), D(2026, 4, 1), "/data/acme")


def _scores(sdi: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "plan_id": ["hunter", "hunter"],
            "period": ["2026-Q1", "2026-Q2"],
            "period_start": [D(2026, 1, 1), D(2026, 4, 1)],
            "same_day_index": [sdi, sdi + 1],
        }
    )


def test_provenance_columns_and_period_complete_only_where_periods_are():
    tables = with_provenance(
        {"plan_scores": _scores(80.0), "plan_incentive_curves": pl.DataFrame({"attainment": [1.0]})},
        _provenance("run-a", 0),
    )
    scores = tables["plan_scores"]
    assert scores.columns[-5:] == ["period_complete", "run_id", "scored_at", "as_of", "source"]
    assert scores["period_complete"].to_list() == [True, False]
    assert scores.row(0, named=True)["scored_at"] == dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC)
    assert tables["plan_incentive_curves"].columns == ["attainment", "run_id", "scored_at", "as_of", "source"]


def test_a_run_id_that_cannot_name_a_file_is_refused():
    with pytest.raises(UnsafeId, match=r"invalid run id '\.\./x'"):
        _provenance("../x", 0)


def test_float_residue_is_stored_as_zero():
    # 0.1 + 0.2 - 0.3 = 5.55e-17 in floating point; the premium's 1.0000000000000002 - 1 = 2.2e-16.
    df = pl.DataFrame({"pull_forward_premium": [0.1 + 0.2 - 0.3, 1.0000000000000002 - 1.0, -1e-17, 0.25]})
    cleaned = without_float_noise(df)["pull_forward_premium"].to_list()
    assert cleaned == [0.0, 0.0, 0.0, 0.25]
    assert str(cleaned[2]) == "0.0"  # not -0.0


def _history_rows(root: Path, view: str) -> list[tuple]:
    with duckdb.connect(str(root / warehouse.DUCKDB_FILE), read_only=True) as con:
        return con.execute(
            f"select run_id, period, same_day_index from scores.{view} order by 1, 2"
        ).fetchall()


def test_history_keeps_two_runs_apart_and_latest_shows_the_last(tmp_path: Path):
    first = with_provenance({"plan_scores": _scores(80.0)}, _provenance("run-b", 0))["plan_scores"]
    second = with_provenance({"plan_scores": _scores(60.0)}, _provenance("run-a", 5))["plan_scores"]
    history.record_warehouse_run(first, tmp_path)
    history.record_warehouse_run(second, tmp_path)
    history.record_warehouse_run(second, tmp_path)  # the same run again replaces, never doubles
    warehouse.publish_database(tmp_path)

    assert _history_rows(tmp_path, "plan_scores_history") == [
        ("run-a", "2026-Q1", 60.0),
        ("run-a", "2026-Q2", 61.0),
        ("run-b", "2026-Q1", 80.0),
        ("run-b", "2026-Q2", 81.0),
    ]
    # run-a sorts first by id but was scored later (09:05 against 09:00): it is the latest.
    assert _history_rows(tmp_path, "latest_plan_scores") == [
        ("run-a", "2026-Q1", 60.0),
        ("run-a", "2026-Q2", 61.0),
    ]


def test_folder_history_keeps_two_runs_apart(tmp_path: Path):
    history.record_folder_run(
        with_provenance({"plan_scores": _scores(80.0)}, _provenance("b", 0))["plan_scores"], tmp_path
    )
    history.record_folder_run(
        with_provenance({"plan_scores": _scores(60.0)}, _provenance("a", 5))["plan_scores"], tmp_path
    )
    kept = history.read_folder_history(tmp_path)
    assert sorted(kept["run_id"].unique()) == ["a", "b"] and kept.height == 4
    assert history.latest_run(kept)["same_day_index"].to_list() == [60.0, 61.0]


def test_tables_land_in_their_layer_schema_with_comments(tmp_path: Path):
    frame = pl.DataFrame({"plan_id": ["p"], "same_day_index": [50.0]})
    warehouse.write_table(frame, "plan_scores", tmp_path)  # the layout before schemas: in main
    warehouse.publish_database(tmp_path)
    comments = warehouse.Comments("The headline.", {"same_day_index": "Same-Day Index, 0-100.", "gone": "x"})
    written = warehouse.write_table(frame, "plan_scores", tmp_path, layer="scores", comments=comments)
    warehouse.publish_database(tmp_path)

    assert written.layer == "scores"
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        tables = con.execute("select schema_name, table_name, comment from duckdb_tables()").fetchall()
        columns = con.execute(
            "select column_name, comment from duckdb_columns() where table_name = 'plan_scores' order by 1"
        ).fetchall()
    assert tables == [("scores", "plan_scores", "The headline.")]  # the old main table is gone
    assert columns == [("plan_id", None), ("same_day_index", "Same-Day Index, 0-100.")]
    assert warehouse.duckdb_row_counts(tmp_path) == {"plan_scores": 1}


def test_a_later_run_with_a_new_column_joins_the_history(tmp_path: Path):
    first = with_provenance({"plan_scores": _scores(80.0)}, _provenance("run-1", 0))["plan_scores"]
    later = with_provenance(
        {"plan_scores": _scores(60.0).with_columns(cost=pl.lit(5.0))}, _provenance("run-2", 5)
    )
    history.record_warehouse_run(first, tmp_path)
    history.record_warehouse_run(later["plan_scores"], tmp_path)
    warehouse.publish_database(tmp_path)

    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        rows = con.execute("select run_id, cost from scores.plan_scores_history order by 1, 2").fetchall()
    assert rows == [("run-1", None), ("run-1", None), ("run-2", 5.0), ("run-2", 5.0)]
