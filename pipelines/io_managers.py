"""The warehouse IO manager: asset outputs to Parquet + DuckDB, inputs back from Parquet.

Polars frames (eager or lazy) become warehouse tables named after the asset; any other output (the parsed
plans) is pickled into the warehouse's `objects/` folder. An input annotated `pl.LazyFrame` is scanned
lazily; otherwise tables are read eagerly. A partitioned asset stores each partition separately
(`compscore.warehouse.write_partition`); an unpartitioned downstream asset reads all its partitions.

The IO manager takes its folder from the `warehouse` resource, so overriding that resource's `path` in a
run's config moves both the assets that use the resource and every stored output.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from common.metadata import frame_metadata
from compscore import warehouse


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
        name = table_name(context.asset_key)
        if isinstance(obj, pl.DataFrame | pl.LazyFrame) and context.has_asset_partitions:
            written = warehouse.write_partition(obj, name, self._single_partition(context), self.root)
            context.add_output_metadata(frame_metadata(written))
        elif isinstance(obj, pl.DataFrame | pl.LazyFrame):
            written = warehouse.write_table(obj, name, self.root)
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


@dg.io_manager(
    required_resource_keys={"warehouse"},
    description="Parquet file per asset plus one table per asset in the warehouse's compscore.duckdb.",
)
def warehouse_io_manager(init_context: dg.InitResourceContext) -> WarehouseIOManager:
    return WarehouseIOManager(init_context.resources.warehouse.directory)
