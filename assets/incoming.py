"""The `incoming` layer: monthly drops of the event tables, one partition per month.

A drop `<source>/incoming/YYYY-MM/` may hold any of the event tables (deals, churn_events, referrals,
commission_lines) as CSV or Parquet. Materialising partition `YYYY-MM-01` reads that folder with the
canonical loader; a table absent from the drop gives an empty partition. Every row must belong to the
month by its event date (`close_date`, `churn_date`, `referral_date`, `earned_date`): rows dated in another
month are not silently moved, they are rejected (rule `partition_month:<column>`) into
`incoming_load_rejects` with the cell problems the loader found. Open deals, whose `close_date` is empty,
stay in the month they were dropped in. Re-dropping a month replaces that month's partitions.

The `raw` layer (`assets/raw.py`) reads `<source>/<table>.*` and adds the stored partitions of the months
that have a drop folder, the latest month winning per key; the `refresh_after_drops` sensor
(`pipelines/sensors.py`) reruns it and everything downstream once drops have landed.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext

from common.metadata import DATA_ENGINEERING, KINDS, table_schema
from common.names import INCOMING as GROUP
from common.names import INCOMING_LOAD_REJECTS as LOAD_REJECTS
from common.names import incoming_asset_name
from common.partitions import MONTHLY, drop_dir, month_bounds, month_of
from common.resources import SourceFolder
from common.versions import code_version
from compscore.canonical_io import FORMATS, table_path
from compscore.errors import LoadError, LoadIssue
from compscore.loaders import load_table
from compscore.schema import DATA_QUALITY_REJECTS, EVENT_TABLES, Table

REJECTS_SCHEMA = DATA_QUALITY_REJECTS.polars_schema


def _spec(table: Table) -> dg.AssetSpec:
    return dg.AssetSpec(
        incoming_asset_name(table.name),
        description=(
            f"{table.description} Monthly drops: partition YYYY-MM-01 holds "
            f"`incoming/YYYY-MM/{table.name}.csv|parquet`, typed to the canonical schema; rows whose "
            f"`{table.event_date}` is in another month, and unreadable cells, go to `{LOAD_REJECTS}`."
        ),
        group_name=GROUP,
        owners=DATA_ENGINEERING,
        kinds=KINDS,
        partitions_def=MONTHLY,
        metadata={"dagster/column_schema": table_schema(table)},
        code_version=code_version(__file__),
    )


INCOMING_SPECS: list[dg.AssetSpec] = [
    *(_spec(t) for t in EVENT_TABLES),
    dg.AssetSpec(
        LOAD_REJECTS,
        description=(
            "Rows of a month's drop left out of its partitions: cells the loader could not read and rows "
            "dated outside the drop's month, one row per problem with file, key and what was expected."
        ),
        group_name=GROUP,
        owners=DATA_ENGINEERING,
        kinds=KINDS,
        partitions_def=MONTHLY,
        metadata={"dagster/column_schema": table_schema(DATA_QUALITY_REJECTS)},
        code_version=code_version(__file__),
    ),
]


def drop_file(folder: Path, table: str) -> Path | None:
    """The drop's file for `table`, None when absent; a table given as both CSV and Parquet is an error."""
    present = [p for p in (table_path(folder, table, fmt) for fmt in FORMATS) if p.is_file()]
    if len(present) > 1:
        raise LoadError(
            LoadIssue(
                str(folder),
                f"table {table} is given twice: {' and '.join(str(p) for p in present)}",
                expected="exactly one file per table",
            )
        )
    return present[0] if present else None


def split_by_month(
    frame: pl.DataFrame, table: Table, file: Path, partition_key: str, run_id: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of the partition's month (or with no event date), and reject rows for the others."""
    start, end = month_bounds(partition_key)
    date = pl.col(table.event_date)
    inside = date.is_null() | ((date >= start) & (date < end))
    good, outside = frame.filter(inside), frame.filter(~inside)
    key = pl.concat_str(
        [pl.format(f"{k}={{}}", pl.col(k).cast(pl.String).fill_null("")) for k in table.key], separator=", "
    )
    rejects = outside.select(
        pl.lit(table.name).alias("source_table"),
        pl.lit(str(file)).alias("source_file"),
        pl.lit(None, dtype=pl.Int64).alias("source_line"),
        key.alias("row_key"),
        pl.lit(f"partition_month:{table.event_date}").alias("rule"),
        pl.lit(table.event_date).alias("columns"),
        date.cast(pl.String).alias("offending_values"),
        pl.lit(f"{table.event_date} in {month_of(partition_key)}, the month of the drop folder").alias(
            "detail"
        ),
        pl.lit(run_id, dtype=pl.String).alias("run_id"),
    )
    return good, rejects.cast(dict(REJECTS_SCHEMA))


@dg.multi_asset(
    outs={s.key.to_python_identifier(): dg.AssetOut.from_spec(s, dagster_type=Any) for s in INCOMING_SPECS},
    partitions_def=MONTHLY,
    can_subset=False,
)
def incoming_drop(context: AssetExecutionContext, source: SourceFolder):
    """Read one month's drop folder and emit each event table's partition and the month's rejects."""
    partition_key = context.partition_key
    folder = drop_dir(source.directory, partition_key)
    if not folder.is_dir():
        context.log.warning(f"no drop folder {folder}; the month's partitions are empty")
    all_rejects = [pl.DataFrame(schema=REJECTS_SCHEMA)]
    for table in EVENT_TABLES:
        file = drop_file(folder, table.name) if folder.is_dir() else None
        if file is None:
            frame, rejected, received = pl.DataFrame(schema=table.polars_schema), 0, 0
        else:
            load = load_table(file, table.name)
            for warning in load.warnings:
                context.log.warning(warning)
            frame, outside = split_by_month(load.data, table, file, partition_key, context.run.run_id)
            all_rejects += [load.rejects.with_columns(pl.lit(context.run.run_id).alias("run_id")), outside]
            rejected, received = load.rejects.height + outside.height, load.received
        yield dg.Output(
            frame,
            output_name=incoming_asset_name(table.name),
            metadata={
                "source_file": dg.MetadataValue.path(str(file))
                if file
                else dg.MetadataValue.text("(absent)"),
                "rows_received": dg.MetadataValue.int(received),
                "problems_rejected": dg.MetadataValue.int(rejected),
            },
        )
    rejects = pl.concat(all_rejects)
    yield dg.Output(
        rejects,
        output_name=LOAD_REJECTS,
        metadata={
            "rejects_by_table": dg.MetadataValue.json(dict(rejects.group_by("source_table").len().rows()))
        },
    )
