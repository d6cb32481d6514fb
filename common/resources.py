"""Dagster resources: where the canonical source folder and the warehouse are.

Both come from configuration: the environment (`COMPSCORE_SOURCE`, `COMPSCORE_WAREHOUSE`, see
.env.example) when set, else `data/sample` and `data/warehouse`; relative paths are taken from the
repository root. A run can override either in its run config:

    resources:
      source: {config: {path: /data/acme/2026-06}}
      warehouse: {config: {path: /tmp/acme-warehouse}}
"""

import os
from pathlib import Path

import dagster as dg
import polars as pl

from compscore import warehouse

SOURCE_ENV_VAR = "COMPSCORE_SOURCE"
DEFAULT_SOURCE = "data/sample"


class SourceFolder(dg.ConfigurableResource):
    """A canonical folder: `<table>.csv|parquet` per table and `plans/*.yaml` (SPEC "On disk")."""

    path: str = DEFAULT_SOURCE

    @property
    def directory(self) -> Path:
        chosen = Path(self.path).expanduser()
        return chosen if chosen.is_absolute() else warehouse.REPO_ROOT / chosen


class Warehouse(dg.ConfigurableResource):
    """The warehouse folder: Parquet files plus `compscore.duckdb` (see `compscore.warehouse`)."""

    path: str = warehouse.DEFAULT_DIR

    @property
    def directory(self) -> Path:
        return warehouse.resolve_dir(self.path)

    def read_table(self, name: str) -> pl.DataFrame:
        return warehouse.read_table(name, self.directory)

    def scan_table(self, name: str) -> pl.LazyFrame:
        return warehouse.scan_table(name, self.directory)

    def write_table(self, df: pl.DataFrame | pl.LazyFrame, name: str) -> warehouse.WrittenTable:
        return warehouse.write_table(df, name, self.directory)

    def has_table(self, name: str) -> bool:
        return warehouse.has_table(name, self.directory)


def _from_env(var: str, default: str) -> str | dg.EnvVar:
    """`EnvVar(var)` when the variable is set (the UI then shows where the value came from)."""
    return dg.EnvVar(var) if os.environ.get(var) else default


def source_from_env() -> SourceFolder:
    return SourceFolder(path=_from_env(SOURCE_ENV_VAR, DEFAULT_SOURCE))


def warehouse_from_env() -> Warehouse:
    return Warehouse(path=_from_env(warehouse.ENV_VAR, warehouse.DEFAULT_DIR))
