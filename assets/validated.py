"""The `validated` layer: each canonical table's rows that passed data quality, and the quarantine.

One step validates all raw tables together (foreign keys and the cascade need them all), one table at a
time (`compscore.quality.by_table.validate_tables`: memory holds one table and the key columns it refers
to) and emits one asset per canonical table (named after the table: `deals`, `reps`, ...), plus
`data_quality_rejects` (every row left out, the loader's and the rules'), `data_quality_counts` (received
= passed + rejected per table) and `data_quality_status` (ok / warn / fail per plan and period). It also
writes the run's HTML report next to the warehouse.

A blocking failure fails this step with the table and the rule, so nothing downstream runs and the
previous outputs stay in the warehouse: this step is the gate. The `quality` checks on the raw tables
(`checks/asset_checks.py`) run the same rules beside it and report them per table in the UI; they do not
hold this step back.
"""

import shutil
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow.parquet as pq

from common.metadata import DATA_ENGINEERING, FINANCE, KINDS, previous_from_same_source, table_schema
from common.names import QUALITY as QUALITY_GROUP
from common.names import RAW_LOAD_REJECTS as LOAD_REJECTS
from common.names import RAW_PLANS as PLANS
from common.names import VALIDATED as GROUP
from common.names import raw_asset_name
from common.resources import Warehouse
from common.versions import code_version
from compscore.quality.by_table import TableByTableValidation, validate_tables
from compscore.quality.outputs import COUNTS, REJECTS, STATUS
from compscore.quality.report import write_run_report
from compscore.schema import DATA_QUALITY_REJECTS, TABLES
from compscore.warehouse import ParquetFile

CODE_VERSION = code_version(__file__)
TABLE_FILE = dg.PythonObjectDagsterType(Path, name="TableFile")
"""An input given as its table's Parquet file in the warehouse (the IO manager's `load_input`), read in
place: never written, since the warehouse replaces a table's file by renaming a new one over it."""
_WORK_PREFIX = ".validated-"
_OUTS = {
    **{
        t.name: dg.AssetOut(
            group_name=GROUP,
            owners=DATA_ENGINEERING,
            kinds=KINDS,
            dagster_type=Any,
            description=f"{t.description} Only the rows that passed data quality (docs/data_quality.md).",
            metadata={"dagster/column_schema": table_schema(t)},
            code_version=CODE_VERSION,
        )
        for t in TABLES
    },
    REJECTS: dg.AssetOut(
        group_name=QUALITY_GROUP,
        owners=[*DATA_ENGINEERING, *FINANCE],
        kinds=KINDS,
        dagster_type=Any,
        description="Every input row left out of scoring: table, row key, rule, offending values, run.",
        metadata={"dagster/column_schema": table_schema(DATA_QUALITY_REJECTS)},
        code_version=CODE_VERSION,
    ),
    COUNTS: dg.AssetOut(
        group_name=QUALITY_GROUP,
        owners=DATA_ENGINEERING,
        kinds=KINDS,
        dagster_type=Any,
        description="Rows received, passed and rejected per table (received = passed + rejected).",
        code_version=CODE_VERSION,
    ),
    STATUS: dg.AssetOut(
        group_name=QUALITY_GROUP,
        owners=[*DATA_ENGINEERING, *FINANCE],
        kinds=KINDS,
        dagster_type=Any,
        description="Per plan and period: input rows, rows rejected, share, and ok / warn / fail.",
        code_version=CODE_VERSION,
    ),
}


def previous_received(instance: dg.DagsterInstance, run_id: str) -> dict[str, int]:
    """Rows received per table by the latest earlier run that read the same source files."""
    found = {}
    for spec in TABLES:
        previous = previous_from_same_source(instance, raw_asset_name(spec.name), run_id)
        if previous is not None and "rows_received" in previous:
            found[spec.name] = int(previous["rows_received"].value)
    return found


@dg.multi_asset(
    outs=_OUTS,
    ins={
        **{
            raw_asset_name(t.name): dg.AssetIn(raw_asset_name(t.name), dagster_type=TABLE_FILE)
            for t in TABLES
        },
        LOAD_REJECTS: dg.AssetIn(LOAD_REJECTS, dagster_type=Any),
        PLANS: dg.AssetIn(PLANS, dagster_type=Any),
    },
    can_subset=False,
    # First among the steps ready after raw_source: everything after it waits for it.
    op_tags={"dagster/priority": "1"},
)
def validated(context: dg.AssetExecutionContext, warehouse: Warehouse, **inputs: Any):
    """Quarantine the rows that fail data quality; emit the clean tables, rejects, counts and status.

    The raw tables come in as their Parquet files, read in place, and are validated one at a time
    (`validate_tables`: memory holds one table, not the company); the clean tables are written to a
    private folder in the warehouse and emitted as those files, which the IO manager moves into the
    validated layer (a table without a rejected row is the raw layer's file, linked)."""
    tables: dict[str, Path] = {t.name: inputs[raw_asset_name(t.name)] for t in TABLES}
    given = pq.read_metadata(tables["commission_lines"]).num_rows > 0
    work = Path(tempfile.mkdtemp(prefix=_WORK_PREFIX, dir=warehouse.directory))
    try:
        result = validate_tables(
            tables,
            inputs[PLANS],
            inputs[LOAD_REJECTS],
            context.run.run_id,
            work,
            given_commission_lines=given,
            previous_counts=previous_received(context.instance, context.run.run_id),
        )
        yield from _outputs(result, warehouse)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _outputs(result: TableByTableValidation, warehouse: Warehouse):
    """The step's outputs, or a failure naming the blocking rules (after the report is written)."""
    status = result.status
    report = write_run_report(warehouse.directory, result, status=status)
    if result.blocking:
        raise dg.Failure(
            description="data quality: scoring stopped by "
            + "; ".join(f"{f.table}: {f.rule}: {f.message}" for f in result.blocking),
            metadata={"report": dg.MetadataValue.path(str(report))},
        )
    link = dg.MetadataValue.path(str(report))
    for row in result.counts.iter_rows(named=True):
        yield dg.Output(
            ParquetFile(result.clean_files[row["table"]]),
            output_name=row["table"],
            metadata={
                **{k: dg.MetadataValue.int(v) for k, v in row.items() if k != "table"},
                "report": link,
            },
        )
    by_rule = result.rejects.group_by("source_table", "rule").len().sort("source_table", "rule")
    yield dg.Output(
        result.rejects,
        output_name=REJECTS,
        metadata={
            "rejects": dg.MetadataValue.int(result.rejects.height),
            "by_rule": dg.MetadataValue.json({f"{t}.{r}": n for t, r, n in by_rule.iter_rows()}),
            "report": link,
        },
    )
    yield dg.Output(result.counts, output_name=COUNTS, metadata={"report": link})
    counts = status.group_by("data_quality_status").len() if status.height else pl.DataFrame()
    yield dg.Output(
        status,
        output_name=STATUS,
        metadata={"plan_periods_by_status": dg.MetadataValue.json(dict(counts.iter_rows())), "report": link},
    )
