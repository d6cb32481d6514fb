"""The one place that assembles the Dagster `Definitions` of compscore.

Every module in the `assets` and `checks` packages is picked up automatically: adding an asset or a check
means adding a module there, nothing here. Resources come from the environment (see common.resources).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import dagster as dg

import assets
import checks
from assets.database import warehouse_database_asset
from common.names import TABLE_SCAN_INPUT_MANAGER
from common.resources import SourceFolder, Warehouse, source_from_env, warehouse_from_env
from pipelines.executors import local_executor
from pipelines.io_managers import shard_io_manager, table_scan_input_manager, warehouse_io_manager
from pipelines.jobs import JOBS
from pipelines.schedules import SCHEDULES
from pipelines.sensors import SENSORS
from pipelines.stale_runs import mark_stale_runs_failed


def package_modules(package: ModuleType) -> list[ModuleType]:
    """Every module of a package and its sub-packages, imported, sorted; names starting with `_` skipped."""
    names = sorted(
        info.name
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        if not info.name.rsplit(".", 1)[-1].startswith("_")
    )
    return [importlib.import_module(name) for name in names]


def build_definitions(
    source: SourceFolder | None = None, warehouse: Warehouse | None = None
) -> dg.Definitions:
    """The project's Definitions; tests pass their own source folder and warehouse."""
    asset_modules = package_modules(assets)
    check_modules = package_modules(checks)
    tables = dg.load_assets_from_modules(asset_modules)
    # The database loads the table assets (kind `duckdb`); the report and the parsed plans are files, so
    # the load need not wait for them (it runs beside the report).
    keys = [
        spec.key
        for table in tables
        if isinstance(table, dg.AssetsDefinition)
        for spec in table.specs
        if "duckdb" in spec.kinds
    ]
    return dg.Definitions(
        assets=[*tables, warehouse_database_asset(keys)],
        asset_checks=dg.load_asset_checks_from_modules([*asset_modules, *check_modules]),
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=[*SENSORS, mark_stale_runs_failed],
        resources={
            "source": source or source_from_env(),
            "warehouse": warehouse or warehouse_from_env(),
            "io_manager": warehouse_io_manager,
            "shard_io_manager": shard_io_manager,
            TABLE_SCAN_INPUT_MANAGER: table_scan_input_manager,
        },
        executor=local_executor(),
    )


defs = build_definitions()
