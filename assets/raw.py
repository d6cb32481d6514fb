"""The `raw` layer: the source's canonical tables and plans, read once and stored as they came.

A source system (resource kind `salesforce`, `hubspot`, `maven`, `postgres`) is pulled through the
adapters (`assets/source_pull.py`): its rejects become `raw_load_rejects` rows with their source file and
line, its findings `raw_source_findings`. A canonical folder (kind `canonical`) is read as follows.

One step reads the whole folder with the loader (`compscore.loaders`), so every raw table of a run comes
from the same drop. Cells that cannot be parsed (wrong type, empty required value) are left out of the raw
tables and listed, one row per problem, in `raw_load_rejects`, which the data-quality layer folds into
`data_quality_rejects`. A Parquet file the loader would give unchanged (`stored_as_loaded`: canonical
columns and dtypes, no cell it rejects or fills) and that has no monthly drops to merge is copied as the
raw table, not read and written again (at 10M statement lines, for the 18.3M deals, 2.8 s of wall and
about 5 s of CPU instead of 10.5-14 s and 18-25 s; docs/performance.md), and its data version is a hash of
the file's bytes (`file_version`); a copy, not a link, so that a source rewritten in place cannot change
a raw table. One with row groups larger than `TAKEN_AS_IS_ROW_GROUP` is read and written as before.
File-level problems (a missing required table, an unreadable file, a plan file that does not parse) fail
the step with a message naming the file, so nothing downstream runs.

Monthly drops: when the source has drop folders (`<source>/incoming/YYYY-MM/`), each event table is the
top-level file's rows (the file is then optional) plus the rows of the table's stored `incoming`
partitions of those months (`assets/incoming.py`), merged by `merge_drops`: for each key, the rows of the
latest source that has it win (top-level file < earliest month < ... < latest month). The drops' load
rejects join `raw_load_rejects`. A drop folder whose month has not been loaded yet is reported and left
out: load it with `incoming_monthly` first (the `incoming_drops` sensor does).
"""

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext

from assets.source_pull import WATERMARK_ASSET, PullConfig, pull, watermark_metadata
from common.metadata import DATA_ENGINEERING, KINDS, table_schema
from common.names import INCOMING_LOAD_REJECTS as INCOMING_REJECTS
from common.names import RAW as GROUP
from common.names import RAW_LOAD_REJECTS as LOAD_REJECTS
from common.names import RAW_PLANS as PLANS
from common.names import RAW_SOURCE_FINDINGS as FINDINGS
from common.names import incoming_asset_name, raw_asset_name
from common.partitions import partition_of
from common.resources import SourceFolder, Warehouse
from common.ui_metadata import SOURCE_METADATA, SOURCE_TAG, add_run_tags, failure_on_load_error
from common.versions import code_version, file_version, frame_version, object_version
from compscore import warehouse as wh
from compscore.adapters.pull import safe_location
from compscore.canonical_io import FORMATS, table_path
from compscore.loaders import (
    REJECTS_SCHEMA,
    StoredTable,
    TableLoad,
    largest_row_group,
    open_canonical_dir,
    stored_or_loaded_tables,
)
from compscore.plans import Plan
from compscore.quality.by_table import SPILL_COMPRESSION
from compscore.schema import (
    DATA_QUALITY_REJECTS,
    EVENT_TABLES,
    INCOMING_DIR,
    TABLES,
    Table,
    empty_frame,
)
from compscore.schema import (
    table as table_spec,
)

CODE_VERSION = code_version(__file__)
_SPILL_PREFIX = ".raw-spill-"
TAKEN_AS_IS_ROW_GROUP = 1_048_576
"""A source Parquet file is copied as its raw table only when no row group holds more rows than this
(pyarrow's default largest row group; Polars writes smaller ones). The readers after it (the rules by
projection, the GX suites in chunks of rows, the cut into batches) decode a row group at a time: a file
written as one row group would make each of them hold the whole table."""


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
        code_version=CODE_VERSION,
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
        code_version=CODE_VERSION,
    ),
    dg.AssetSpec(
        FINDINGS,
        description=(
            "Source rows kept with a data-quality finding worth knowing (a misspelt value corrected, a "
            "product missing from the price list), as the adapters report them: file, line, row key, rule "
            "and value. Empty for a canonical folder."
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
        code_version=CODE_VERSION,
    ),
]


def _source_file(directory: Path, table: str) -> str | None:
    present = [table_path(directory, table, fmt) for fmt in FORMATS]
    return next((str(p) for p in present if p.is_file()), None)


_SOURCE_RANK = "__source_rank"


def merge_drops(base: pl.DataFrame, drops: list[pl.DataFrame], table: Table) -> pl.DataFrame:
    """`base` and the monthly `drops` (oldest first) as one table: for each key of `table`, only the rows
    of the latest source that has that key are kept (a later drop replaces a deal's earlier state).

    Rows sharing a key within one source are all kept, so validation still rejects every copy of a
    duplicate in a file. Rows come out in source order, then in their order within the source.
    """
    if not drops:
        return base
    ranked = pl.concat(
        [
            frame.with_columns(pl.lit(rank, pl.Int32).alias(_SOURCE_RANK))
            for rank, frame in enumerate([base, *drops])
        ]
    )
    latest = pl.col(_SOURCE_RANK).max().over(list(table.key))
    return ranked.filter(pl.col(_SOURCE_RANK) == latest).drop(_SOURCE_RANK)


def drop_partitions(source: Path) -> list[str]:
    """Partition keys (`YYYY-MM-01`) of the month folders in `<source>/incoming/`, oldest first."""
    incoming = source / INCOMING_DIR
    if not incoming.is_dir():
        return []
    keys = (partition_of(p.name) for p in incoming.iterdir() if p.is_dir())
    return sorted(k for k in keys if k is not None)


def stored_drops(name: str, partitions: list[str], root: Path) -> dict[str, pl.DataFrame]:
    """Partition key -> rows, for the given partitions of incoming table `name` stored in the warehouse,
    oldest first."""
    stored = set(wh.list_partitions(name, root))
    return {k: wh.scan_partitions(name, [k], root).collect() for k in partitions if k in stored}


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
    deps=[*(incoming_asset_name(t.name) for t in EVENT_TABLES), INCOMING_REJECTS],
    can_subset=False,
)
def raw_source(
    context: AssetExecutionContext, config: PullConfig, source: SourceFolder, warehouse: Warehouse
):
    """Read the source once (a canonical folder with its stored monthly drops, or a source system through
    the adapters) and emit every raw table, the load rejects, the source findings and the plans."""
    if source.kind == "canonical":
        yield from _canonical_outputs(context, source, warehouse)
    else:
        yield from _pulled_outputs(context, source, warehouse, config.full_reload)


def _pulled_outputs(context: AssetExecutionContext, source: SourceFolder, warehouse: Warehouse, full: bool):
    """A source system mapped by the adapters: its rejects (rows left out, with file and line) join the
    load rejects, so received = passed + rejected holds from the source system on."""
    pulled = pull(context, source, warehouse.directory, full)
    settings = source.settings()
    origin = dg.MetadataValue.text(f"{settings.kind}:{safe_location(settings)}")
    rejected = dict(pulled.rejects.group_by("source_table").len().iter_rows())
    for table in TABLES:
        extra = watermark_metadata(pulled, settings) if raw_asset_name(table.name) == WATERMARK_ASSET else {}
        yield dg.Output(
            pulled.data.tables[table.name],
            output_name=raw_asset_name(table.name),
            metadata={
                "source_file": origin,
                "rows_received": dg.MetadataValue.int(pulled.received[table.name]),
                "cell_problems_rejected": dg.MetadataValue.int(rejected.get(table.name, 0)),
                **extra,
            },
        )
    run_id = pl.lit(context.run.run_id).alias("run_id")
    yield dg.Output(
        pulled.rejects.with_columns(run_id),
        output_name=LOAD_REJECTS,
        metadata={"rejects_by_table": dg.MetadataValue.json(rejected)},
    )
    yield dg.Output(pulled.findings.with_columns(run_id), output_name=FINDINGS)
    yield dg.Output(pulled.data.plans, output_name=PLANS, metadata=_plans_metadata(pulled.data.plans))


@dataclass(frozen=True)
class _Spilled:
    """One raw table read, merged with its stored drops and written to the step's spill folder."""

    path: Path
    version: dg.DataVersion
    metadata: dict[str, dg.MetadataValue]
    rejects: pl.DataFrame


def _spill(
    load: TableLoad | StoredTable | None,
    table: Table,
    months: list[str],
    directory: Path,
    root: Path,
    spill: Path,
) -> _Spilled:
    """`load` (None: the source has no file of `table`) merged with the table's stored monthly drops,
    written to `spill/<table>.parquet`, with its metadata; the frame is released on return. A stored
    file (`StoredTable`) without drops to merge is copied there as it is (`_taken_as_is`)."""
    event_table = table.name in {t.name for t in EVENT_TABLES}
    by_month = stored_drops(incoming_asset_name(table.name), months, root) if event_table else {}
    from_drops = sum(f.height for f in by_month.values())
    path = spill / f"{table.name}.parquet"
    if isinstance(load, StoredTable) and _taken_as_is(load, by_month):
        shutil.copyfile(load.file, path)
        version, superseded = file_version(path), 0
    else:
        base = _rows_of(load, table)
        frame = merge_drops(base, list(by_month.values()), table)
        # Compressed as validation's spill files are: `validated` takes these files as its spill files
        # (linked), and they are read by the rules, the GX suites and, as the validated layer, by
        # `plan_shards`.
        frame.write_parquet(path, compression=SPILL_COMPRESSION)
        version, superseded = frame_version(frame), base.height + from_drops - frame.height
        del base, frame
    file = _source_file(directory, table.name)
    origin = file or (str(directory / INCOMING_DIR) if by_month else None)
    warnings = load.warnings if load is not None else []
    metadata = {
        "source_file": dg.MetadataValue.path(origin) if origin else dg.MetadataValue.text("(absent)"),
        "rows_received": dg.MetadataValue.int(_rows_received(load) + from_drops),
        "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings) or "none"),
        **(
            {
                "drop_months": dg.MetadataValue.text(", ".join(k[:7] for k in by_month)),
                "rows_from_drops": dg.MetadataValue.int(from_drops),
                "rows_superseded": dg.MetadataValue.int(superseded),
            }
            if by_month
            else {}
        ),
    }
    rejects = load.rejects if isinstance(load, TableLoad) else pl.DataFrame(schema=REJECTS_SCHEMA)
    return _Spilled(path, version, metadata, rejects)


def _rows_of(load: TableLoad | StoredTable | None, table: Table) -> pl.DataFrame:
    """The rows of `load` in memory: a stored file read whole, none the table's empty frame."""
    if load is None:
        return empty_frame(table.name)
    if isinstance(load, StoredTable):
        return pl.read_parquet(load.file)
    return load.data


def _rows_received(load: TableLoad | StoredTable | None) -> int:
    """Data rows the source file held: the loader's count (good and rejected), a stored file's rows."""
    if load is None:
        return 0
    return load.height if isinstance(load, StoredTable) else load.received


def _taken_as_is(stored: StoredTable, by_month: dict[str, pl.DataFrame]) -> bool:
    """Whether a stored source file becomes its raw table as it is: no drops to merge into it, and row
    groups no larger than `TAKEN_AS_IS_ROW_GROUP`."""
    return not by_month and largest_row_group(stored.file) <= TAKEN_AS_IS_ROW_GROUP


def _canonical_outputs(context: AssetExecutionContext, source: SourceFolder, warehouse: Warehouse):
    """The canonical folder's tables, each read, merged with its stored drops and spilled to a private
    folder in the warehouse one at a time (memory holds one table, not the company); only when every file
    has been read are the tables emitted, as the spill files themselves, which the IO manager moves into the
    raw layer, so a file that cannot be read fails the step before any raw table is replaced."""
    directory, root = source.directory, warehouse.directory
    months = drop_partitions(directory)
    context.log.info(
        f"reading canonical folder {directory}"
        + (f" with the drops of {len(months)} month(s) {months[0]} .. {months[-1]}" if months else "")
    )
    with failure_on_load_error():
        folder = open_canonical_dir(directory, may_be_absent=[t.name for t in EVENT_TABLES] if months else ())
    stored = {k for t in EVENT_TABLES for k in wh.list_partitions(incoming_asset_name(t.name), root)}
    not_loaded = sorted(set(months) - stored)
    if not_loaded:
        context.log.warning(
            f"drop folders {', '.join(k[:7] for k in not_loaded)} are not loaded yet and are left out; "
            "run incoming_monthly for those partitions first"
        )
    spill = Path(tempfile.mkdtemp(prefix=_SPILL_PREFIX, dir=root))
    try:
        with failure_on_load_error():
            spilled = {
                load.table: _spill(load, table_spec(load.table), months, directory, root, spill)
                for load in stored_or_loaded_tables(folder)
            }
        for warning in folder.warnings:
            context.log.warning(warning)
        for spec in TABLES:
            if spec.name not in spilled:
                spilled[spec.name] = _spill(None, spec, months, directory, root, spill)
        drop_rejects = stored_drops(INCOMING_REJECTS, months, root).values()
        rejects = pl.concat([*(spilled[t.name].rejects for t in TABLES), *drop_rejects])
        rejected = dict(rejects.group_by("source_table").len().iter_rows())
        for spec in TABLES:
            found = spilled[spec.name]
            yield dg.Output(
                wh.ParquetFile(found.path),
                output_name=raw_asset_name(spec.name),
                data_version=found.version,
                metadata={
                    **found.metadata,
                    "cell_problems_rejected": dg.MetadataValue.int(rejected.get(spec.name, 0)),
                },
            )
        yield dg.Output(
            rejects.with_columns(pl.lit(context.run.run_id).alias("run_id")),
            output_name=LOAD_REJECTS,
            data_version=frame_version(rejects),
            metadata={"rejects_by_table": dg.MetadataValue.json(rejected)},
        )
        yield dg.Output(pl.DataFrame(schema=DATA_QUALITY_REJECTS.polars_schema), output_name=FINDINGS)
        add_run_tags(context, {SOURCE_TAG: str(directory)})
        yield dg.Output(
            folder.plans,
            output_name=PLANS,
            data_version=object_version(sorted(folder.plans.items())),
            metadata={
                **_plans_metadata(folder.plans),
                SOURCE_METADATA: dg.MetadataValue.path(str(directory)),
            },
        )
    finally:
        shutil.rmtree(spill, ignore_errors=True)
