"""Print what a pipeline run wrote to the warehouse: tables, row counts and the plan scores."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pyarrow as pa

from compscore import warehouse
from compscore.scoring.display import format_plan_scores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        default=None,
        help="warehouse folder (default: $COMPSCORE_WAREHOUSE, else data/warehouse)",
    )


def run(args: argparse.Namespace) -> int:
    """0 when every table reads; 2 (after the summary, with the unreadable tables on stderr) otherwise."""
    root = warehouse.resolve_dir(args.warehouse)
    tables = warehouse.list_tables(root)
    if not tables:
        print(f"No tables in {root}. Run ./scripts/run-sample.sh (or the full_refresh job) first.")
        return 1
    text, unreadable = summarize(root)
    print(text)
    if unreadable:
        names = ", ".join(unreadable)
        message = f"compscore summary: {len(unreadable)} table(s) cannot be read in {root}: {names}"
        print(message, file=sys.stderr)
        return 2
    return 0


def render_summary(root: Path) -> str:
    """The summary text: one line per table (Parquet rows, DuckDB rows), then plan_scores if present."""
    return summarize(root)[0]


def duckdb_health(root: Path) -> dict[str, int | str]:
    """Rows per DuckDB table (a view of a table of the same file included), read by scanning every row (a
    row count alone comes from metadata and succeeds on a truncated file); the first line of the error for
    a table that cannot be read."""
    path = warehouse.duckdb_path(root)
    if not path.exists():
        return {}
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        return {name: f"unreadable ({_first_line(exc)})" for name in warehouse.list_tables(root)}
    health: dict[str, int | str] = {}
    try:
        for schema, name in warehouse.published_tables(con):
            quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))
            try:
                health[name] = con.execute(f"select count(hash(t)) from {quoted} as t").fetchone()[0]
            except duckdb.Error as exc:
                health[name] = f"unreadable ({_first_line(exc)})"
    finally:
        con.close()
    return health


def summarize(root: Path) -> tuple[str, list[str]]:
    """The summary text and the names of the tables whose Parquet file or DuckDB table cannot be read."""
    tables = warehouse.list_tables(root)
    in_duckdb = duckdb_health(root)
    pending = set(warehouse.pending_tables(root))
    width = max(len(t) for t in tables)
    lines = [f"Warehouse {root}", f"DuckDB database {warehouse.duckdb_path(root)}", ""]
    lines.append(f"{'table':<{width}}  {'rows':>10}  duckdb")
    unreadable = []
    for name in tables:
        try:
            rows: int | None = warehouse.row_count(name, root)
        except (OSError, pa.ArrowException):
            rows = None
        db_rows = in_duckdb.get(name)
        if name in pending and not isinstance(db_rows, str):
            db_note = "not loaded yet (the next job's warehouse_database step loads it)"
        elif isinstance(db_rows, str) or db_rows is None:
            db_note = db_rows or "missing"
        else:
            db_note = "ok" if db_rows == rows else f"{db_rows} rows (differs)"
        if rows is None or isinstance(db_rows, str):
            unreadable.append(name)
        shown = "unreadable" if rows is None else f"{rows:,}"
        lines.append(f"{name:<{width}}  {shown:>10}  {db_note}")
    objects = warehouse.list_objects(root)
    if objects:
        lines += ["", "other outputs: " + ", ".join(objects)]
    if "plan_scores" in tables and "plan_scores" not in unreadable:
        lines += ["", "plan_scores (Same-Day Index: 100 = pay rewards nothing but the close)", ""]
        lines.append(format_plan_scores(warehouse.read_table("plan_scores", root)))
    return "\n".join(lines), unreadable


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
