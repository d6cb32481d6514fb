"""Pulling a source system (Salesforce, HubSpot, Maven exports, PostgreSQL) for the raw layer.

The raw asset calls `pull` when the source resource's kind is not `canonical`: the adapters map the source
(`compscore.adapters.pull.pull_source`), a source that cannot be mapped fails the run with a `Failure`
naming file, line and column, and for PostgreSQL the incremental-read watermarks live in Dagster: in the
metadata of the latest `raw_deals` materialisation (`source_watermarks`), tied to the source they came
from (`source_identity`), with the replica snapshots in `<warehouse>/.source_state/`. The raw asset's
run config `full_reload: true` ignores them. No password reaches metadata, logs or messages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg

from common.names import raw_asset_name
from common.resources import SourceFolder
from compscore.adapters import MappingError, SourceError
from compscore.adapters.incremental import SyncOptions, load_sync_rules
from compscore.adapters.pull import PulledSource, SourceSettings, pull_source, redact, safe_location
from compscore.plans import PlanError

WATERMARK_ASSET = raw_asset_name("deals")
WATERMARKS = "source_watermarks"
IDENTITY = "source_identity"
STATE_DIR = ".source_state"


def source_identity(settings: SourceSettings) -> str:
    """What the watermarks belong to: kind, location without password, schema and layout."""
    return f"{settings.kind}:{safe_location(settings)}:{settings.schema}:{settings.layout}"


def state_dir(warehouse_dir: Path, identity: str) -> Path:
    """Snapshot folder of one source (a digest of its identity: input never names a path)."""
    return warehouse_dir / STATE_DIR / hashlib.sha256(identity.encode()).hexdigest()[:16]


def stored_watermarks(instance: dg.DagsterInstance, identity: str) -> dict[str, str]:
    """The watermarks of the latest `raw_deals` materialisation, if it read the same source."""
    event = instance.get_latest_materialization_event(dg.AssetKey(WATERMARK_ASSET))
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return {}
    metadata = materialization.metadata
    if IDENTITY not in metadata or metadata[IDENTITY].value != identity or WATERMARKS not in metadata:
        return {}
    marks = metadata[WATERMARKS].value
    return {str(k): str(v) for k, v in marks.items()} if isinstance(marks, dict) else {}


class PullConfig(dg.Config):
    """Run config of the raw asset: `ops: {raw_source: {config: {full_reload: true}}}`."""

    full_reload: bool = False
    """PostgreSQL: ignore the stored watermarks and read every table in full."""


def _sync(
    context: dg.AssetExecutionContext, source: SourceFolder, warehouse_dir: Path, identity: str, full: bool
):
    marks = {} if full else stored_watermarks(context.instance, identity)
    rules = load_sync_rules(source.sync_config) if source.sync_config else {}
    context.log.info(
        "PostgreSQL: full reload (run config)"
        if full
        else f"PostgreSQL: watermarks from the latest {WATERMARK_ASSET} materialisation: {marks or 'none'}"
    )
    return SyncOptions(state_dir(warehouse_dir, identity), watermarks=marks, full_reload=full, rules=rules)


def pull(
    context: dg.AssetExecutionContext, source: SourceFolder, warehouse_dir: Path, full_reload: bool = False
) -> PulledSource:
    """Map the source; a source that cannot be mapped fails the run naming every file, line and column."""
    try:
        settings = source.settings()
    except ValueError as exc:
        raise dg.Failure(description=str(exc)) from None
    identity = source_identity(settings)
    secrets = [settings.password]
    context.log.info(f"pulling the {settings.kind} source {safe_location(settings)}")
    try:
        postgres = settings.kind == "postgres"
        sync = _sync(context, source, warehouse_dir, identity, full_reload) if postgres else None
        pulled = pull_source(settings, sync)
    except (SourceError, MappingError, PlanError) as exc:
        raise dg.Failure(
            description=redact(f"cannot map the {settings.kind} source:\n{exc}", secrets),
            metadata={"source": dg.MetadataValue.text(safe_location(settings))},
        ) from None
    for warning in pulled.warnings:
        context.log.warning(warning)
    for sync_done in pulled.syncs:
        context.log.info(
            f"{sync_done.table}: {sync_done.mode} read of {sync_done.rows_read} row(s), "
            f"{sync_done.rows_deleted} deleted, {sync_done.rows} kept"
        )
    return pulled


def watermark_metadata(pulled: PulledSource, settings: SourceSettings) -> dict[str, dg.MetadataValue]:
    """What `raw_deals` records for the next incremental read (PostgreSQL only)."""
    if settings.kind != "postgres":
        return {}
    reads = {
        s.table: {"mode": s.mode, "rows_read": s.rows_read, "deleted": s.rows_deleted} for s in pulled.syncs
    }
    return {
        IDENTITY: dg.MetadataValue.text(source_identity(settings)),
        WATERMARKS: dg.MetadataValue.json(pulled.watermarks),
        "source_reads": dg.MetadataValue.json(reads),
    }
