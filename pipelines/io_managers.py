"""The warehouse IO manager: asset outputs to Parquet + DuckDB, inputs back from Parquet.

Polars frames (eager or lazy) become warehouse tables named after the asset; any other output (the parsed
plans) is stored as JSON in the warehouse's `objects/` folder (`compscore.stored_objects`; no pickle).
An input annotated `pl.LazyFrame` is scanned lazily; otherwise tables are read eagerly. A partitioned
asset stores each partition separately (`compscore.warehouse.write_partition`); an unpartitioned
downstream asset reads all its partitions.

Each table lands in the DuckDB schema named after its asset group (its layer: `raw`, `validated`,
`quality`, `marts`, `scores`, `incoming`), with the asset's description and its columns' descriptions (the
ones the Dagster UI shows) as `COMMENT ON` text.

The IO manager takes its folder from the `warehouse` resource, so overriding that resource's `path` in a
run's config moves both the assets that use the resource and every stored output.
"""

import re
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from common.metadata import column_descriptions, frame_metadata
from compscore import warehouse
from compscore.scoring import shards
from compscore.scoring.partitioned import ShardBatches
from pipelines.step_guard import refuse_if_run_over, watch_run_worker
from pipelines.warehouse_lock import hold_warehouse


def table_name(key: dg.AssetKey) -> str:
    """The warehouse table of an asset: its key, path parts joined by `__`."""
    return "__".join(key.path)


class WarehouseIOManager(dg.IOManager):
    """Stores each asset as `<warehouse>/<asset>.parquet` and as table `<asset>` in compscore.duckdb."""

    def __init__(self, root: Path):
        self.root = root

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        _refuse_if_run_was_killed(context)
        name = table_name(context.asset_key)
        spec = context.asset_spec
        where = {
            "layer": spec.group_name,
            "comments": warehouse.Comments(spec.description, column_descriptions(name)),
        }
        if isinstance(obj, pl.DataFrame | pl.LazyFrame) and context.has_asset_partitions:
            partition = self._single_partition(context)
            written = warehouse.write_partition(obj, name, partition, self.root, **where)
            context.add_output_metadata(frame_metadata(written))
        elif isinstance(obj, pl.DataFrame | pl.LazyFrame | warehouse.ParquetFile):
            written = warehouse.write_table(obj, name, self.root, **where)
            context.add_output_metadata(frame_metadata(written))
        else:
            path = warehouse.write_object(obj, name, self.root)
            context.add_output_metadata({"dagster/uri": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        name = table_name(context.asset_key)
        if context.has_asset_partitions:
            frame = warehouse.scan_partitions(name, list(context.asset_partition_keys), self.root)
            return frame if context.dagster_type.typing_type is pl.LazyFrame else frame.collect()
        if context.dagster_type.typing_type is pl.LazyFrame:
            return warehouse.scan_table(name, self.root)
        if context.dagster_type.typing_type is Path:
            return warehouse.table_file(name, self.root)
        if warehouse.has_table(name, self.root):
            return warehouse.read_table(name, self.root)
        return warehouse.read_object(name, self.root)

    @staticmethod
    def _single_partition(context: dg.OutputContext) -> str:
        keys = list(context.asset_partition_keys)
        if len(keys) != 1:
            raise warehouse.WarehouseError(
                f"{context.asset_key.to_user_string()}: one partition per run is stored at a time, "
                f"got {len(keys)} ({keys[0]} .. {keys[-1]}); launch a backfill with one run per partition"
            )
        return keys[0]


def _refuse_if_run_was_killed(context: dg.OutputContext) -> None:
    """A step whose run is over (its worker killed, or the run marked ended) must not replace warehouse
    tables: its outputs would mix with the next run's (`pipelines.step_guard`)."""
    try:
        instance = context.step_context.instance
    except dg.DagsterInvariantViolationError:  # built outside a run (a direct IO manager call)
        return
    refuse_if_run_over(instance, context.run_id, context.asset_key.to_user_string())


def start_step(init_context: dg.InitResourceContext) -> Path:
    """What every step using the warehouse does first: watch its run's worker (`pipelines.step_guard`) and
    hold the warehouse for its source (`pipelines.warehouse_lock`). Returns the warehouse folder."""
    directory = init_context.resources.warehouse.directory
    run, instance = init_context.run, init_context.instance
    if run is not None and instance is not None:
        worker = watch_run_worker(instance, run.run_id)
        source = init_context.resources.source.identity()
        hold_warehouse(directory, source, instance, run.run_id, worker_here=worker is not None)
    return directory


@dg.io_manager(
    required_resource_keys={"warehouse", "source"},
    description="Parquet file per asset plus one table per asset in the warehouse's compscore.duckdb.",
)
def warehouse_io_manager(init_context: dg.InitResourceContext) -> WarehouseIOManager:
    return WarehouseIOManager(start_step(init_context))


_SAFE_PART = re.compile(r"[A-Za-z0-9_.\[\]-]{1,200}")


class ShardIOManager(dg.IOManager):
    """Passes scoring's shards between steps (`assets.scoring`): each output in
    `<warehouse>/.shards/<run_id>/<step_key>/<output>[/<mapping_key>]/`, a folder every worker reaches
    because the warehouse is shared storage. A `ShardTables` is written by its own `write` (Parquet +
    JSON), the run's `ScoringContext` by `write_context`, a shard's `ShardBatches` (its batch
    numbers) by its own `write` (JSON); no pickle."""

    def __init__(self, root: Path):
        self.root = root

    def _folder(self, context: dg.OutputContext) -> Path:
        parts = [context.step_key, context.name, *([context.mapping_key] if context.mapping_key else [])]
        for part in parts:
            if not _SAFE_PART.fullmatch(part) or set(part) == {"."}:
                raise ValueError(f"shard output path part {part!r}: expected letters, digits and _.[]-")
        return shards.run_shards_folder(self.root, context.run_id).joinpath(*parts)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        folder = self._folder(context)
        if isinstance(obj, shards.ShardTables):
            obj.write(folder)
        elif isinstance(obj, shards.ScoringContext):
            shards.write_context(obj, folder)
        elif isinstance(obj, ShardBatches):
            obj.write(folder)
        else:
            raise TypeError(f"{context.step_key}: shards only, got {type(obj).__name__}")
        context.add_output_metadata({"path": dg.MetadataValue.path(str(folder))})

    def load_input(self, context: dg.InputContext) -> Any:
        folder = self._folder(context.upstream_output)
        if (folder / shards.MANIFEST).is_file():
            return shards.ShardTables.read(folder, scan_attribution=True)
        if (folder / shards.CONTEXT_MANIFEST).is_file():
            return shards.read_context(folder)
        return ShardBatches.read(folder)


@dg.io_manager(
    required_resource_keys={"warehouse", "source"},
    description="Scoring's shards between steps, as Parquet under the warehouse's .shards/<run_id>/.",
)
def shard_io_manager(init_context: dg.InitResourceContext) -> ShardIOManager:
    return ShardIOManager(start_step(init_context))


class TableScanInputManager(dg.InputManager):
    """Gives an asset's warehouse table as a lazy scan (`pl.LazyFrame`), for a step that takes many tables
    and reads them one at a time (the raw checks: `checks/asset_checks.py`), where the input's type cannot
    say so (an asset check's inputs are its checked assets, which carry no Dagster type)."""

    def __init__(self, root: Path):
        self.root = root

    def load_input(self, context: dg.InputContext) -> pl.LazyFrame:
        return warehouse.scan_table(table_name(context.asset_key), self.root)


@dg.input_manager(
    required_resource_keys={"warehouse"},
    description="A warehouse table as a lazy scan of its Parquet file (read one table at a time).",
)
def table_scan_input_manager(init_context: dg.InitResourceContext) -> TableScanInputManager:
    return TableScanInputManager(init_context.resources.warehouse.directory)
