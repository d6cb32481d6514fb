"""The Dagster side of data quality: blocking checks on the raw tables, the validated assets, the report."""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.raw import raw_source
from assets.validated import validated
from checks.asset_checks import QUALITY_CHECKS
from common.resources import SourceFolder, Warehouse
from common.ui_metadata import CHECKS_FAILED_TAG, failed_checks
from compscore import warehouse
from compscore.adapters.maven import import_maven
from compscore.canonical_io import write_canonical_dir
from compscore.loaders import load_canonical_dir
from compscore.quality.corrupt import corrupt
from compscore.schema import TABLES
from pipelines.io_managers import warehouse_io_manager

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"


def _run(source: Path, wh: Path, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_source, validated, *QUALITY_CHECKS],
        resources={
            "source": SourceFolder(path=str(source)),
            "warehouse": Warehouse(path=str(wh)),
            "io_manager": warehouse_io_manager,
        },
        instance=instance,
        raise_on_error=False,
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}


@pytest.mark.slow
def test_clean_fixture_passes_every_check_and_keeps_every_row(tmp_path: Path) -> None:
    result = _run(FIXTURE, tmp_path)
    assert result.success
    checks = _checks(result)
    assert sorted(checks) == sorted(f"raw_{t.name}" for t in TABLES)
    assert all(c.passed for c in checks.values())
    assert {t.name for t in TABLES} | {"data_quality_rejects", "data_quality_status"} <= _materialized(result)
    for spec in TABLES:
        assert warehouse.read_table(spec.name, tmp_path).equals(
            warehouse.read_table(f"raw_{spec.name}", tmp_path)
        )
    assert (tmp_path / "data_quality_report.html").is_file()
    link = checks["raw_deals"].metadata["report"]
    assert isinstance(link, dg.UrlMetadataValue) and link.value.startswith("file:///")
    report = Path(urllib.parse.unquote(urllib.parse.urlparse(link.value).path))
    assert report.is_file() and "Data quality: deals" in report.read_text()
    assert checks["raw_deals"].description == "all rules passed; no rows quarantined"


@pytest.mark.slow
def test_corrupted_copy_warns_quarantines_and_balances(tmp_path: Path) -> None:
    source = tmp_path / "source"
    bad = corrupt(load_canonical_dir(FIXTURE).data)
    write_canonical_dir(bad.data, source)
    instance = dg.DagsterInstance.ephemeral()
    result = _run(source, tmp_path / "wh", instance)
    assert result.success
    checks = _checks(result)
    deals = checks["raw_deals"]
    assert not deals.passed and deals.severity == dg.AssetCheckSeverity.WARN
    # The run succeeded, and its tags say which checks failed: the run list shows them.
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags[CHECKS_FAILED_TAG] == "true"
    assert failed_checks(tags)["raw_deals.quality"] == "WARN"
    failed = {f["rule"]: f for f in deals.metadata["failed_expectations_json"].value}
    assert (
        deals.description
        == f"{len(failed)} rule(s) failed; the failing rows quarantined (see failed_expectations)"
    )
    assert failed["range:amount"]["unexpected_count"] == 1
    assert failed["range:amount"]["gx_unexpected_count"] == 1
    assert failed["range:amount"]["sample_keys"] == ["deal_id=BAD-D1"]
    assert failed["unique_key:deal_id"]["unexpected_count"] == 2
    lines = {f["rule"] for f in checks["raw_commission_lines"].metadata["failed_expectations_json"].value}
    assert {"component_exists:component_id", "amount_sign:clawback<=0"} <= lines

    counts = warehouse.read_table("data_quality_counts", tmp_path / "wh")
    assert counts.filter(pl.col("received") != pl.col("passed") + pl.col("rejected")).height == 0
    rejects = warehouse.read_table("data_quality_rejects", tmp_path / "wh")
    by_rule = dict(rejects.filter(pl.col("source_table") == "deals").group_by("rule").len().iter_rows())
    assert by_rule["range:amount"] == 1 and by_rule["unique_key:deal_id"] == 2
    assert "D001" not in warehouse.read_table("deals", tmp_path / "wh").get_column("deal_id").to_list()


@pytest.mark.slow
def test_blocking_checks_stop_downstream_and_keep_earlier_outputs(tmp_path: Path) -> None:
    """One instance, one source folder, three drops: clean, then references broken in most rows, then a
    truncated table."""
    wh = tmp_path / "wh"
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    instance = dg.DagsterInstance.ephemeral()
    assert _run(source, wh, instance).success
    before = warehouse.read_table("deals", wh)

    clean_deals = pl.read_csv(source / "deals.csv", infer_schema=False)
    clean_deals.with_columns(account_id=pl.lit("GHOST")).write_csv(source / "deals.csv")
    result = _run(source, wh, instance)
    assert not result.success
    check = _checks(result)["raw_deals"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "deals: foreign_key:account_id->accounts: 8 of 8 rows" in check.description
    assert "deals" not in _materialized(result)
    assert warehouse.read_table("deals", wh).equals(before)

    clean_deals.head(3).write_csv(source / "deals.csv")
    result = _run(source, wh, instance)
    check = _checks(result)["raw_deals"]
    assert not result.success and check.severity == dg.AssetCheckSeverity.ERROR
    assert "deals: volume_drop: 3 rows, against 8" in check.description
    assert warehouse.read_table("deals", wh).equals(before)


@pytest.mark.slow
def test_volume_is_compared_only_with_runs_of_the_same_source(tmp_path: Path) -> None:
    """A small folder run after a big one in the same instance is another source, not a volume drop."""
    instance = dg.DagsterInstance.ephemeral()
    big = tmp_path / "big"
    shutil.copytree(FIXTURE, big)
    deals = pl.read_csv(big / "deals.csv", infer_schema=False)
    copies = [deals.with_columns(deal_id=pl.col("deal_id") + f"-{i}") for i in range(3)]
    pl.concat([deals, *copies]).write_csv(big / "deals.csv")
    assert _run(big, tmp_path / "wh", instance).success
    assert _run(FIXTURE, tmp_path / "wh", instance).success


@pytest.mark.slow
@pytest.mark.parametrize("name", ["maven_crm"])
def test_checks_run_on_real_crm_data(name: str, tmp_path: Path) -> None:
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / name
    if not shared.is_dir():
        pytest.skip(f"{shared} is not there")
    import_maven(shared, tmp_path / "canonical")
    result = _run(tmp_path / "canonical", tmp_path / "wh")
    assert result.success
    assert sorted(_checks(result)) == sorted(f"raw_{t.name}" for t in TABLES)
    counts = warehouse.read_table("data_quality_counts", tmp_path / "wh")
    assert counts.filter(pl.col("received") != pl.col("passed") + pl.col("rejected")).height == 0
    assert (tmp_path / "wh" / "data_quality_report.html").is_file()
