"""Dagster resources: the source (a canonical folder, or a source system read through the adapters) and
the warehouse.

Both come from configuration: the environment (`COMPSCORE_SOURCE`, `COMPSCORE_SOURCE_KIND`, ...,
`COMPSCORE_WAREHOUSE`, see .env.example) when set, else the canonical folder `data/sample` and
`data/warehouse`; relative paths are taken from the repository root. The PostgreSQL password only ever
comes as `EnvVar("COMPSCORE_POSTGRES_PASSWORD")`. A run can override any other setting in its run config:

    resources:
      source: {config: {kind: salesforce, path: /data/acme/exports, plans: /data/acme/plans}}
      warehouse: {config: {path: /tmp/acme-warehouse}}
"""

import os
import re
from pathlib import Path

import dagster as dg
import polars as pl

from compscore import warehouse
from compscore.adapters.pull import SOURCE_SETTING_KINDS, SourceSettings

SOURCE_ENV_VAR = "COMPSCORE_SOURCE"
DEFAULT_SOURCE = "data/sample"
PASSWORD_ENV_VAR = "COMPSCORE_POSTGRES_PASSWORD"
SOURCE_SETTING_ENV = {
    "kind": "COMPSCORE_SOURCE_KIND",
    "mapping": "COMPSCORE_SOURCE_MAPPING",
    "plans": "COMPSCORE_SOURCE_PLANS",
    "assignments": "COMPSCORE_SOURCE_ASSIGNMENTS",
    "commissions": "COMPSCORE_SOURCE_COMMISSIONS",
    "commission_mapping": "COMPSCORE_SOURCE_COMMISSION_MAPPING",
    "db_schema": "COMPSCORE_POSTGRES_SCHEMA",
    "layout": "COMPSCORE_POSTGRES_LAYOUT",
    "sync_config": "COMPSCORE_SYNC_CONFIG",
}
"""Resource field -> environment variable that sets it (docs/operations.md, .env.example)."""


def _resolve(path: str) -> Path:
    chosen = Path(path).expanduser()
    return chosen if chosen.is_absolute() else warehouse.REPO_ROOT / chosen


class SourceFolder(dg.ConfigurableResource):
    """The source. Kind `canonical`: a canonical folder (`<table>.csv|parquet` per table and
    `plans/*.yaml`, SPEC "On disk") at `path`. Kinds `salesforce`, `hubspot`, `maven`: the export folder or
    file at `path`, mapped by `mapping` (default: the shipped one). Kind `postgres`: `path` is the
    connection string without password (`postgresql://user@host:5432/crm`); `postgres_password` is set only
    as `EnvVar`. `plans`, `assignments`, `commissions` (+ `commission_mapping`) as for `compscore import`."""

    path: str = DEFAULT_SOURCE
    kind: str = "canonical"
    mapping: str | None = None
    plans: str | None = None
    assignments: str | None = None
    commissions: str | None = None
    commission_mapping: str | None = None
    db_schema: str = "public"
    layout: str = "canonical"
    postgres_password: str | None = None
    sync_config: str | None = None

    @property
    def directory(self) -> Path:
        return _resolve(self.path)

    def identity(self) -> str:
        """What the source is, for telling two sources apart (`pipelines.warehouse_lock`): its kind, its
        location and the files beside it; a password written into a connection string is left out."""
        location = self.path if self.kind == "postgres" else str(self.directory)
        parts = [self.kind, re.sub(r"//([^:/@]+):[^@]*@", r"//\1@", location)]
        parts += [str(_resolve(f)) for f in (self.plans, self.assignments, self.commissions) if f]
        return " ".join(parts)

    def settings(self) -> SourceSettings:
        """The adapter settings, relative paths taken from the repository root."""
        if self.kind not in SOURCE_SETTING_KINDS:
            raise ValueError(f"source kind {self.kind!r}: expected one of {list(SOURCE_SETTING_KINDS)}")

        def file(value: str | None) -> str | None:
            return str(_resolve(value)) if value else None

        return SourceSettings(
            kind=self.kind,
            location=self.path if self.kind == "postgres" else str(self.directory),
            mapping=file(self.mapping),
            plans=file(self.plans),
            assignments=file(self.assignments),
            commissions=file(self.commissions),
            commission_mapping=file(self.commission_mapping),
            schema=self.db_schema,
            layout=self.layout,
            password=self.postgres_password,
        )


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
    settings = {field: dg.EnvVar(var) for field, var in SOURCE_SETTING_ENV.items() if os.environ.get(var)}
    password = dg.EnvVar(PASSWORD_ENV_VAR) if os.environ.get(PASSWORD_ENV_VAR) else None
    return SourceFolder(
        path=_from_env(SOURCE_ENV_VAR, DEFAULT_SOURCE), postgres_password=password, **settings
    )


def warehouse_from_env() -> Warehouse:
    return Warehouse(path=_from_env(warehouse.ENV_VAR, warehouse.DEFAULT_DIR))
