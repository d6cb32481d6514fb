"""The one step that writes the warehouse's DuckDB database, at the end of each job.

Table steps write Parquet files only (`compscore.warehouse`); they may run in parallel on several
machines, and DuckDB is a single-writer file. This asset depends on every table asset (kind `duckdb`),
so it runs after the tables its job selects (and beside the report, which is a file), and loads every
table written since the last load in one transaction (`compscore.warehouse.publish_database`):
finance's SQL tools see a whole run or the previous one, never a mix. A table materialised alone (from
the UI) lands in DuckDB at the next job, or when this asset is materialised. Built by
`pipelines/definitions.py`, which knows every asset key.
"""

from collections.abc import Sequence

import dagster as dg

from common.metadata import DATA_ENGINEERING
from common.names import DATABASE, WAREHOUSE_DATABASE
from common.resources import Warehouse
from compscore import warehouse as store


def warehouse_database_asset(tables: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The `warehouse_database` asset, downstream of `tables`."""

    @dg.asset(
        name=WAREHOUSE_DATABASE,
        group_name=DATABASE,
        deps=list(tables),
        kinds={"duckdb"},
        owners=DATA_ENGINEERING,
        description=(
            "compscore.duckdb: every warehouse table written since the last load, loaded from its Parquet "
            "file(s) into the schema of its layer in one transaction, with its comments and views."
        ),
    )
    def warehouse_database(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        loaded = store.publish_database(warehouse.directory)
        views = sum(t.view_of is not None for t in loaded)
        context.log.info(
            f"loaded {len(loaded) - views} table(s) and {views} view(s) of the same files into "
            f"{store.duckdb_path(warehouse.directory)}"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/uri": dg.MetadataValue.path(str(store.duckdb_path(warehouse.directory))),
                "tables_loaded": len(loaded) - views,
                "rows_loaded": sum(t.row_count for t in loaded if t.view_of is None),
                "views_of_the_same_file": views,
                "loaded": dg.MetadataValue.md(
                    "\n".join(f"- `{t.layer}.{t.name}`: {t.row_count:,} rows{_stored(t)}" for t in loaded)
                    or "nothing new"
                ),
            }
        )

    return warehouse_database


def _stored(table: store.WrittenTable) -> str:
    return "" if table.view_of is None else f" (a view of `{table.view_of}`: the same file, stored once)"
