"""Code and data versions: re-running on unchanged files leaves downstream assets synced; a changed file
marks them stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl

from assets.raw import raw_source
from assets.validated import CODE_VERSION as VALIDATED_CODE_VERSION
from assets.validated import validated
from common.resources import SourceFolder, Warehouse
from common.versions import frame_version
from pipelines.io_managers import warehouse_io_manager

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"


def _materialize(assets: list, source: Path, wh: Path, instance: dg.DagsterInstance) -> None:
    resources = {
        "source": SourceFolder(path=str(source)),
        "warehouse": Warehouse(path=str(wh)),
        "io_manager": warehouse_io_manager,
    }
    assert dg.materialize(assets, resources=resources, instance=instance).success


def _tags(instance: dg.DagsterInstance, asset: str) -> dict[str, str]:
    """Tags of the asset's latest materialisation: its data version and the input versions it used."""
    return dict(
        instance.fetch_materializations(dg.AssetKey(asset), limit=1).records[0].asset_materialization.tags
    )


def _version(instance: dg.DagsterInstance, asset: str) -> str:
    return _tags(instance, asset)["dagster/data_version"]


def _synced(instance: dg.DagsterInstance, asset: str, upstream: str) -> bool:
    """Dagster's staleness rule for one edge: the upstream's current data version is the one the asset's
    latest materialisation consumed."""
    return _tags(instance, asset)[f"dagster/input_data_version/{upstream}"] == _version(instance, upstream)


def test_frame_version_follows_the_rows_not_the_object() -> None:
    frame = pl.DataFrame({"deal_id": ["D1", "D2"], "amount": [1.0, 2.0]})
    assert frame_version(frame) == frame_version(frame.clone())
    assert frame_version(frame) != frame_version(frame.with_columns(amount=pl.lit(1.0)))
    assert frame_version(frame) != frame_version(frame.reverse())  # row order is part of the table
    assert frame_version(frame.head(0)) != frame_version(frame.head(0).drop("amount"))  # schema too


def test_unchanged_files_keep_downstream_synced_and_a_changed_file_does_not(tmp_path: Path) -> None:
    source, wh = tmp_path / "source", tmp_path / "wh"
    shutil.copytree(FIXTURE, source)
    instance = dg.DagsterInstance.ephemeral()
    _materialize([raw_source, validated], source, wh, instance)
    first = _version(instance, "deals")
    assert _tags(instance, "deals")["dagster/code_version"] == VALIDATED_CODE_VERSION

    _materialize([raw_source], source, wh, instance)  # the same files again: raw re-materialised only
    assert _synced(instance, "deals", "raw_deals")
    _materialize([raw_source, validated], source, wh, instance)
    assert _version(instance, "deals") == first  # same code, same inputs: same version

    deals = pl.read_csv(source / "deals.csv", infer_schema=False)
    deals.with_columns(amount=pl.lit("1.0")).write_csv(source / "deals.csv")
    _materialize([raw_source], source, wh, instance)
    assert not _synced(instance, "deals", "raw_deals")
    assert _synced(instance, "deals", "raw_reps")  # the reps file did not change
