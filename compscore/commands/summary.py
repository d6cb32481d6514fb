"""Print what a pipeline run wrote to the warehouse: tables, row counts and the plan scores."""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from compscore import warehouse

SCORE_COLUMNS: tuple[str, ...] = (
    "plan_id",
    "period",
    "n_reps",
    "n_deals",
    "same_day_index",
    "same_day_index_low",
    "same_day_index_high",
    "same_day_multiple",
    "pull_forward_premium",
    "confidence",
    "data_quality_status",
)
"""The plan_scores columns shown, when present; the full table is in the warehouse."""
MAX_SCORE_ROWS = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        default=None,
        help="warehouse folder (default: $COMPSCORE_WAREHOUSE, else data/warehouse)",
    )


def run(args: argparse.Namespace) -> int:
    root = warehouse.resolve_dir(args.warehouse)
    tables = warehouse.list_tables(root)
    if not tables:
        print(f"No tables in {root}. Run ./scripts/run-sample.sh (or the full_refresh job) first.")
        return 1
    print(render_summary(root))
    return 0


def render_summary(root: Path) -> str:
    """The summary text: one line per table (Parquet rows, DuckDB rows), then plan_scores if present."""
    tables = warehouse.list_tables(root)
    in_duckdb = warehouse.duckdb_row_counts(root)
    width = max(len(t) for t in tables)
    lines = [f"Warehouse {root}", f"DuckDB database {warehouse.duckdb_path(root)}", ""]
    lines.append(f"{'table':<{width}}  {'rows':>10}  duckdb")
    for name in tables:
        rows = warehouse.row_count(name, root)
        db_rows = in_duckdb.get(name)
        db_note = "missing" if db_rows is None else ("ok" if db_rows == rows else f"{db_rows} rows (differs)")
        lines.append(f"{name:<{width}}  {rows:>10,}  {db_note}")
    objects = warehouse.list_objects(root)
    if objects:
        lines += ["", "other outputs: " + ", ".join(objects)]
    if "plan_scores" in tables:
        lines += ["", "plan_scores (Same-Day Index: 100 = pay rewards nothing but the close)", ""]
        lines.append(_format_scores(warehouse.read_table("plan_scores", root)))
    return "\n".join(lines)


def _format_scores(scores: pl.DataFrame) -> str:
    shown = scores.select([c for c in SCORE_COLUMNS if c in scores.columns])
    sort_by = [c for c in ("plan_id", "period") if c in shown.columns]
    if sort_by:
        shown = shown.sort(sort_by)
    floats = [c for c, t in shown.schema.items() if t.is_float()]
    rounded = pl.col(floats).round(2)
    shown = shown.with_columns(pl.when(rounded == 0).then(0.0).otherwise(rounded).name.keep())  # no "-0.0"
    with pl.Config(
        tbl_rows=MAX_SCORE_ROWS,
        tbl_cols=-1,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        fmt_str_lengths=40,
    ):
        text = str(shown)
    if scores.height > MAX_SCORE_ROWS:
        text += f"\n({scores.height} rows; showing {MAX_SCORE_ROWS})"
    return text
