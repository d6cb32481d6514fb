"""Materialisation metadata shared by every asset: column schemas, row counts, owners, kinds.

Asset modules call `table_schema(compscore.schema.DEALS)` for definition-time schemas; the warehouse IO
manager attaches `frame_metadata(...)` to every materialisation, so the UI always shows the schema and the
row count actually written.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import polars as pl

from common.names import RAW_PREFIX
from compscore.schema import TABLES_BY_NAME, Table
from compscore.scoring.columns import OUTPUT_COLUMNS
from compscore.warehouse import WrittenTable

KINDS: set[str] = {"polars", "duckdb"}
"""Kinds of every table asset: computed with Polars, stored in the DuckDB warehouse (and Parquet)."""
DATA_ENGINEERING: list[str] = ["team:data-engineering"]
FINANCE: list[str] = ["team:finance"]


def table_schema(table: Table) -> dg.TableSchema:
    """The Dagster column schema of a canonical table, with its descriptions and constraints."""
    columns = []
    for c in table.columns:
        other = []
        if c.allowed:
            other.append("one of " + ", ".join(c.allowed))
        if c.min_value is not None:
            other.append(f">= {c.min_value:g}")
        if c.max_value is not None:
            other.append(f"<= {c.max_value:g}")
        if c.references is not None:
            other.append(f"references {c.references.ref_table}.{c.references.ref_column}")
        columns.append(
            dg.TableColumn(
                name=c.name,
                type=str(c.dtype),
                description=c.description or None,
                constraints=dg.TableColumnConstraints(
                    nullable=not c.required,
                    unique=table.key == (c.name,),
                    other=other,
                ),
            )
        )
    return dg.TableSchema(columns=columns)


def canonical_table_for(asset_name: str) -> Table | None:
    """The canonical table an asset holds (`raw_deals` and `deals` both hold `deals`), if any."""
    name = asset_name.removeprefix(RAW_PREFIX)
    return TABLES_BY_NAME.get(name)


def column_descriptions(asset_name: str) -> dict[str, str]:
    """Column descriptions of an asset's table: the canonical schema's, or the scoring outputs'."""
    canonical = canonical_table_for(asset_name)
    if canonical is not None:
        return {c.name: c.description for c in canonical.columns if c.description}
    return OUTPUT_COLUMNS.get(asset_name, {})


def frame_schema(schema: pl.Schema, descriptions: Mapping[str, str]) -> dg.TableSchema:
    """The Dagster column schema of a written frame, with the descriptions known for its columns."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=str(dtype), description=descriptions.get(name) or None)
            for name, dtype in schema.items()
        ]
    )


def frame_metadata(written: WrittenTable) -> dict[str, dg.MetadataValue]:
    """Metadata of one table materialisation: schema, row count, where to find it."""
    return {
        "dagster/column_schema": dg.MetadataValue.table_schema(
            frame_schema(written.schema, column_descriptions(written.name))
        ),
        "dagster/row_count": dg.MetadataValue.int(written.row_count),
        "dagster/uri": dg.MetadataValue.path(str(written.parquet_path)),
        "duckdb": dg.MetadataValue.md(f"`{written.duckdb_path}`, table `{written.name}`"),
    }


def previous_from_same_source(
    instance: dg.DagsterInstance, raw_asset: str, run_id: str, lookback: int = 20
) -> dict[str, dg.MetadataValue] | None:
    """Metadata of the latest materialisation of `raw_asset` by an earlier run that read the same source
    file as this run did, for volume comparisons; None when there is no such run.

    Comparing only runs of the same source keeps a test folder run after the sample in one Dagster
    instance from looking like a sudden drop in volume.
    """
    records = instance.fetch_materializations(dg.AssetKey(raw_asset), limit=lookback).records
    current = next((r for r in records if r.run_id == run_id and r.asset_materialization), None)
    if current is None:
        return None
    source = current.asset_materialization.metadata.get("source_file")
    for record in records:
        mat = record.asset_materialization
        if record.run_id == run_id or mat is None:
            continue
        if mat.metadata.get("source_file") == source:
            return dict(mat.metadata)
    return None
