"""The `raw` layer: the source folder's canonical tables and plans, read once and stored as they came.

One step reads the whole folder with `compscore.loaders.load_canonical_dir`, so every raw table of a run
comes from the same drop. Cells that cannot be parsed (wrong type, empty required value) are left out of
the raw tables and listed, one row per problem, in `raw_load_rejects`, which the data-quality layer folds
into `data_quality_rejects`. File-level problems (a missing required table, an unreadable file, a plan
file that does not parse) fail the step with a message naming the file, so nothing downstream runs.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext

from compscore.canonical_io import FORMATS, table_path
from compscore.loaders import load_canonical_dir
from compscore.plans import Plan
from compscore.schema import DATA_QUALITY_REJECTS, TABLES, Table
from pipelines.metadata import DATA_ENGINEERING, KINDS, RAW_PREFIX, table_schema
from pipelines.resources import SourceFolder

GROUP = "raw"
LOAD_REJECTS = "raw_load_rejects"
PLANS = "raw_plans"


def raw_asset_name(table: str) -> str:
    """The raw asset holding canonical table `table`: `raw_<table>`."""
    return f"{RAW_PREFIX}{table}"


def _table_spec(table: Table) -> dg.AssetSpec:
    absent = (
        " Optional: when the source has no such file this is empty, and statement lines are computed from"
        " the plan rules."
        if table.optional
        else ""
    )
    return dg.AssetSpec(
        raw_asset_name(table.name),
        description=(
            f"{table.description} As read from the source folder's `{table.name}.csv` or "
            f"`{table.name}.parquet`, typed to the canonical schema; rows with unparsable or missing "
            f"required cells are left out and listed in `{LOAD_REJECTS}`.{absent}"
        ),
        group_name=GROUP,
        owners=DATA_ENGINEERING,
        kinds=KINDS,
        metadata={"dagster/column_schema": table_schema(table)},
    )


RAW_SPECS: list[dg.AssetSpec] = [
    *(_table_spec(t) for t in TABLES),
    dg.AssetSpec(
        LOAD_REJECTS,
        description=(
            "Rows of the source files that could not be read into the canonical schema: one row per "
            "problem (a cell of the wrong type, an empty required cell) with the file, line, row key and "
            "what was expected. Validation adds its own rejects to these in `data_quality_rejects`."
        ),
        group_name=GROUP,
        owners=DATA_ENGINEERING,
        kinds=KINDS,
        metadata={"dagster/column_schema": table_schema(DATA_QUALITY_REJECTS)},
    ),
    dg.AssetSpec(
        PLANS,
        description=(
            "The comp plans, parsed from the source folder's `plans/*.yaml` (one file per plan version), "
            "keyed by plan_id. A file that does not parse stops the run with its file, line and key."
        ),
        group_name=GROUP,
        owners=DATA_ENGINEERING,
        kinds={"yaml", "python"},
    ),
]


def _source_file(directory: Path, table: str) -> str | None:
    present = [table_path(directory, table, fmt) for fmt in FORMATS]
    return next((str(p) for p in present if p.is_file()), None)


def _plans_metadata(plans: dict[str, Plan]) -> dict[str, dg.MetadataValue]:
    rows = [
        dg.TableRecord(
            {
                "plan_id": p.plan_id,
                "name": p.name,
                "period": p.period,
                "components": ", ".join(p.component_ids),
            }
        )
        for p in plans.values()
    ]
    return {
        "plans": dg.MetadataValue.int(len(plans)),
        "plan_ids": dg.MetadataValue.table(
            rows,
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn("plan_id", "string"),
                    dg.TableColumn("name", "string"),
                    dg.TableColumn("period", "string"),
                    dg.TableColumn("components", "string"),
                ]
            ),
        ),
    }


@dg.multi_asset(
    outs={
        spec.key.to_python_identifier(): dg.AssetOut.from_spec(spec, dagster_type=Any) for spec in RAW_SPECS
    },
    can_subset=False,
)
def raw_source(context: AssetExecutionContext, source: SourceFolder):
    """Read the source folder once and emit every raw table, the load rejects and the plans."""
    directory = source.directory
    context.log.info(f"reading canonical folder {directory}")
    result = load_canonical_dir(directory)
    for warning in result.warnings:
        context.log.warning(warning)

    rejects_by_table = result.rejects.group_by("source_table").len()
    rejected = dict(rejects_by_table.iter_rows())
    for table in TABLES:
        frame: pl.DataFrame = result.data.tables[table.name]
        file = _source_file(directory, table.name)
        yield dg.Output(
            frame,
            output_name=raw_asset_name(table.name),
            metadata={
                "source_file": dg.MetadataValue.path(file) if file else dg.MetadataValue.text("(absent)"),
                "rows_received": dg.MetadataValue.int(result.received[table.name]),
                "cell_problems_rejected": dg.MetadataValue.int(rejected.get(table.name, 0)),
                "warnings": dg.MetadataValue.md(
                    "\n".join(f"- {w}" for w in result.warnings if file and w.startswith(file)) or "none"
                ),
            },
        )
    yield dg.Output(
        result.rejects.with_columns(pl.lit(context.run.run_id).alias("run_id")),
        output_name=LOAD_REJECTS,
        metadata={"rejects_by_table": dg.MetadataValue.json(rejected)},
    )
    yield dg.Output(result.data.plans, output_name=PLANS, metadata=_plans_metadata(result.data.plans))
