"""Print what a pipeline run wrote to the warehouse: tables, row counts and the plan scores."""

from __future__ import annotations

import argparse
from pathlib import Path

from compscore import warehouse
from compscore.scoring.display import format_plan_scores


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
        lines.append(format_plan_scores(warehouse.read_table("plan_scores", root)))
    return "\n".join(lines)
