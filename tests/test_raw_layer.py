"""The raw layer of a canonical Parquet folder: a file the loader would give unchanged is copied as its raw
table (not read and written again), with a data version of its bytes; a file of large row groups, or one
with monthly drops to merge, is read and written as before."""

import os
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest

import assets.raw
from assets.raw import _spill, raw_source
from common.resources import SourceFolder, Warehouse
from common.versions import file_version, frame_version
from compscore import warehouse
from compscore.loaders import largest_row_group, stored_as_loaded
from compscore.schema import DEALS
from pipelines.io_managers import warehouse_io_manager

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _raw_source(source: Path, wh: Path) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "source": SourceFolder(path=str(source)),
        "warehouse": Warehouse(path=str(wh)),
        "io_manager": warehouse_io_manager,
    }
    assert dg.materialize([raw_source], resources=resources, instance=instance).success
    return instance


def _materialization(instance: dg.DagsterInstance, asset: str) -> dg.AssetMaterialization:
    record = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records[0]
    assert record.asset_materialization is not None
    return record.asset_materialization


def test_a_file_the_loader_would_not_change_is_copied_as_its_raw_table(tmp_path: Path) -> None:
    source, wh = tmp_path / "source", tmp_path / "wh"
    shutil.copytree(SAMPLE, source)
    deals = source / "deals.parquet"
    assert stored_as_loaded(deals, "deals") is not None  # the sample's deals are canonical as stored
    instance = _raw_source(source, wh)

    raw = warehouse.table_file("raw_deals", wh)
    assert raw.read_bytes() == deals.read_bytes()
    assert os.stat(raw).st_ino != os.stat(deals).st_ino  # a copy, not a link
    materialization = _materialization(instance, "raw_deals")
    assert materialization.tags["dagster/data_version"] == file_version(deals).value
    assert materialization.metadata["rows_received"].value == pq.read_metadata(deals).num_rows
    assert materialization.metadata["dagster/row_count"].value == pq.read_metadata(deals).num_rows

    before = raw.read_bytes()
    with deals.open("r+b") as rewritten:  # the source rewritten in place leaves the raw table alone
        rewritten.write(b"\0" * 64)
    assert raw.read_bytes() == before


def test_a_file_of_row_groups_too_large_to_read_in_chunks_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, wh = tmp_path / "source", tmp_path / "wh"
    shutil.copytree(SAMPLE, source)
    deals = source / "deals.parquet"
    assert largest_row_group(deals) > 1_000
    monkeypatch.setattr(assets.raw, "TAKEN_AS_IS_ROW_GROUP", 1_000)
    instance = _raw_source(source, wh)

    raw = warehouse.table_file("raw_deals", wh)
    assert raw.read_bytes() != deals.read_bytes()
    assert pq.read_metadata(raw).row_group(0).column(0).compression == "LZ4"
    rows = pl.read_parquet(deals)
    assert pl.read_parquet(raw).equals(rows)
    assert _materialization(instance, "raw_deals").tags["dagster/data_version"] == frame_version(rows).value


def test_a_stored_file_with_monthly_drops_is_merged_with_them(tmp_path: Path) -> None:
    root, spill = tmp_path / "wh", tmp_path / "spill"
    spill.mkdir()
    deals_file = SAMPLE / "deals.parquet"
    stored = stored_as_loaded(deals_file, "deals")
    assert stored is not None
    base = pl.read_parquet(deals_file)
    changed = base.head(1).with_columns(amount=pl.col("amount") + 1.0)
    added = base.head(1).with_columns(deal_id=pl.lit("D-FROM-THE-DROP"))
    warehouse.write_partition(pl.concat([changed, added]), "incoming_deals", "2026-02-01", root)

    spilled = _spill(stored, DEALS, ["2026-02-01"], SAMPLE, root, spill)

    merged = pl.read_parquet(spilled.path)
    assert merged.height == base.height + 1
    first_id = base["deal_id"][0]
    assert merged.filter(pl.col("deal_id") == first_id)["amount"].to_list() == [base["amount"][0] + 1.0]
    assert merged.filter(pl.col("deal_id") == "D-FROM-THE-DROP").height == 1
    assert spilled.metadata["rows_from_drops"].value == 2
    assert spilled.metadata["rows_superseded"].value == 1
    assert spilled.metadata["rows_received"].value == base.height + 2
    assert spilled.version == frame_version(merged)


def test_largest_row_group_and_file_version(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"x": range(10)}).write_parquet(path, row_group_size=4)
    assert largest_row_group(path) == 4
    pl.DataFrame({"x": []}, schema={"x": pl.Int64}).write_parquet(path)
    assert largest_row_group(path) == 0

    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"x" * (9 * 2**20))  # more than one block
    second.write_bytes(b"x" * (9 * 2**20 - 1) + b"y")
    assert file_version(first) == file_version(Path(shutil.copyfile(first, tmp_path / "c.bin")))
    assert file_version(first) != file_version(second)
