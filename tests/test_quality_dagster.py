"""The Dagster side of data quality: the checks on the raw tables, the validated assets, the report.

The rules of every raw table and its GX suite run in one step (`raw_checks`, which reports; `validated`
is the gate): it takes the raw tables as inputs, reads each once, and does not hold `validated` back.
"""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

import checks.asset_checks
from assets.raw import raw_source
from assets.validated import validated
from checks.asset_checks import CHECK_NAME, CHECKS_STEP, GX_CHECK_NAME, raw_checks
from common.names import TABLE_SCAN_INPUT_MANAGER
from common.resources import SourceFolder, Warehouse
from common.ui_metadata import CHECKS_FAILED_TAG, failed_checks
from compscore import warehouse
from compscore.adapters.maven import import_maven
from compscore.canonical_io import write_canonical_dir
from compscore.loaders import load_canonical_dir
from compscore.quality.corrupt import corrupt
from compscore.schema import TABLES
from pipelines.io_managers import table_scan_input_manager, warehouse_io_manager

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"
RAW = sorted(f"raw_{t.name}" for t in TABLES)


def _run(source: Path, wh: Path, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_source, validated, raw_checks],
        resources={
            "source": SourceFolder(path=str(source)),
            "warehouse": Warehouse(path=str(wh)),
            "io_manager": warehouse_io_manager,
            TABLE_SCAN_INPUT_MANAGER: table_scan_input_manager,
        },
        instance=instance,
        raise_on_error=False,
    )


def _checks(result: dg.ExecuteInProcessResult, name: str = CHECK_NAME) -> dict[str, dg.AssetCheckEvaluation]:
    """Raw asset -> the evaluation of its check `name`."""
    return {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations() if e.check_name == name}


def _check_steps(result: dg.ExecuteInProcessResult) -> dict[str, set[str]]:
    """Check name -> the step keys that emitted its evaluations."""
    steps: dict[str, set[str]] = {}
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            steps.setdefault(event.event_specific_data.check_name, set()).add(event.step_key)
    return steps


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}


def _local_file(link: dg.MetadataValue) -> tuple[Path, str]:
    assert isinstance(link, dg.UrlMetadataValue) and link.value.startswith("file:///")
    url = urllib.parse.urlparse(link.value)
    return Path(urllib.parse.unquote(url.path)), url.fragment


def test_no_check_step_holds_validated_back() -> None:
    """`validated` is the gate (it fails on the same blocking failures); the checks report beside it."""
    assert [s.blocking for s in raw_checks.check_specs] == [False] * 2 * len(TABLES)
    for name in (CHECK_NAME, GX_CHECK_NAME):
        keys = [k for k in raw_checks.check_keys if k.name == name]
        assert sorted(k.asset_key.to_user_string() for k in keys) == RAW


@pytest.mark.slow
def test_clean_fixture_passes_every_check_and_keeps_every_row(tmp_path: Path, monkeypatch) -> None:
    reads: dict[str, int] = {}
    scan_table, table_file = warehouse.scan_table, warehouse.table_file

    def counted(name: str, root: Path) -> pl.LazyFrame:  # `read_table` too goes through it
        reads[name] = reads.get(name, 0) + 1
        return scan_table(name, root)

    def counted_file(name: str, root: Path) -> Path:
        reads[name] = reads.get(name, 0) + 1
        return table_file(name, root)

    monkeypatch.setattr(warehouse, "scan_table", counted)
    monkeypatch.setattr(warehouse, "table_file", counted_file)
    result = _run(FIXTURE, tmp_path)
    assert result.success
    # One step runs every table's rules and GX suite.
    assert _check_steps(result) == {CHECK_NAME: {CHECKS_STEP}, GX_CHECK_NAME: {CHECKS_STEP}}
    # Each raw table is opened once by each step that takes it (scanned by the check step, which takes one
    # table at a time for both checks; its file read in place by validated). The check step does not open
    # again the tables its foreign keys point at (it projects their key columns from the same scans).
    assert {name: reads.get(name, 0) for name in RAW} == dict.fromkeys(RAW, 2)
    checks = _checks(result)
    assert sorted(checks) == RAW
    assert all(c.passed for c in checks.values())
    gx = _checks(result, GX_CHECK_NAME)
    assert sorted(gx) == RAW and all(c.passed for c in gx.values())
    counts = gx["raw_deals"].metadata["unexpected_counts"].value
    assert len(counts) == checks["raw_deals"].metadata["rules_run"].value
    assert set(counts.values()) == {0}
    assert gx["raw_deals"].description == f"all {len(counts)} GX expectations met"
    assert {t.name for t in TABLES} | {"data_quality_rejects", "data_quality_status"} <= _materialized(result)
    for spec in TABLES:
        assert warehouse.read_table(spec.name, tmp_path).equals(
            warehouse.read_table(f"raw_{spec.name}", tmp_path)
        )
        raw_file = warehouse.parquet_path(f"raw_{spec.name}", tmp_path)
        # Nothing rejected: the validated layer's file is the raw layer's, read in place and linked, not
        # a copy; and the raw layer is written LZ4-compressed, as the spill files are (`SPILL_COMPRESSION`).
        assert warehouse.parquet_path(spec.name, tmp_path).samefile(raw_file)
        assert pq.ParquetFile(raw_file).metadata.row_group(0).column(0).compression in {"LZ4", "LZ4_RAW"}
    assert (tmp_path / "data_quality_report.html").is_file()
    report, _ = _local_file(checks["raw_deals"].metadata["report"])
    assert report.name == "deals.html"
    assert report.is_file() and "Data quality: deals" in report.read_text()
    assert checks["raw_deals"].description == "all rules passed; no rows quarantined"
    page, anchor = _local_file(gx["raw_deals"].metadata["report"])
    assert (page.name, anchor) == ("expectations.html", "deals") and page.parent == report.parent
    assert all(f"<h2 id='{t.name}'>" in page.read_text() for t in TABLES)


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
    assert failed_checks(tags)["raw_deals.expectations"] == "WARN"
    # One tag per failed result, each on its own asset (the checks of one step share their name).
    assert failed_checks(tags) == {
        f"{e.asset_key.to_user_string()}.{e.check_name}": e.severity.value
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    failed = {f["rule"]: f for f in deals.metadata["failed_expectations_json"].value}
    assert (
        deals.description
        == f"{len(failed)} rule(s) failed; the failing rows quarantined (see failed_expectations)"
    )
    assert failed["range:amount"]["unexpected_count"] == 1
    assert failed["range:amount"]["sample_keys"] == ["deal_id=BAD-D1"]
    assert not [k for k in deals.metadata if k.startswith("gx")]  # GX has its own check now
    # GX's check counts the same failing rows per expectation, and fails with WARN.
    gx = _checks(result, GX_CHECK_NAME)["raw_deals"]
    assert not gx.passed and gx.severity == dg.AssetCheckSeverity.WARN
    gx_counts = gx.metadata["unexpected_counts"].value
    assert {r: n for r, n in gx_counts.items() if n} == {r: f["unexpected_count"] for r, f in failed.items()}
    gx_failed = {f["rule"]: f for f in gx.metadata["failed_expectations_json"].value}
    assert gx_failed["range:amount"]["expectation_type"] == "ExpectColumnValuesToBeBetween"
    assert gx_failed["range:amount"]["partial_unexpected"] == ["-100.0"]
    assert gx.metadata["gx_errors"].value == {}
    assert failed["unique_key:deal_id"]["unexpected_count"] == 2
    lines = {f["rule"] for f in checks["raw_commission_lines"].metadata["failed_expectations_json"].value}
    assert {"component_exists:component_id", "amount_sign:clawback<=0"} <= lines

    counts = warehouse.read_table("data_quality_counts", tmp_path / "wh")
    assert counts.filter(pl.col("received") != pl.col("passed") + pl.col("rejected")).height == 0
    rejects = warehouse.read_table("data_quality_rejects", tmp_path / "wh")
    by_rule = dict(rejects.filter(pl.col("source_table") == "deals").group_by("rule").len().iter_rows())
    assert by_rule["range:amount"] == 1 and by_rule["unique_key:deal_id"] == 2
    assert "D001" not in warehouse.read_table("deals", tmp_path / "wh").get_column("deal_id").to_list()
    # In DuckDB, a table with rejected rows is its own table; one without is a view of its raw table.
    warehouse.publish_database(tmp_path / "wh")
    in_duckdb = warehouse.duckdb_row_counts(tmp_path / "wh")
    passed = dict(counts.select("table", "passed").iter_rows())
    assert {t.name: in_duckdb[t.name] for t in TABLES} == passed
    with duckdb.connect(str(tmp_path / "wh" / warehouse.DUCKDB_FILE), read_only=True) as con:
        views = con.execute("select view_name from duckdb_views() where schema_name = 'validated'").fetchall()
    rejected = set(counts.filter(pl.col("rejected") > 0).get_column("table"))
    assert {"deals", "commission_lines"} <= rejected
    assert {name for (name,) in views} == {t.name for t in TABLES} - rejected


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
    checks = _checks(result)
    check = checks["raw_deals"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "deals: foreign_key:account_id->accounts: 8 of 8 rows" in check.description
    # The one rules step judged every table; validated, the gate, failed on the same rule.
    assert sorted(checks) == RAW and checks["raw_accounts"].passed
    failures = result.get_step_failure_events()
    assert [e.step_key for e in failures] == ["validated"]
    assert "deals: foreign_key:account_id->accounts" in failures[0].event_specific_data.error.message
    assert not {t.name for t in TABLES} & _materialized(result)
    assert warehouse.read_table("deals", wh).equals(before)
    # GX blocks nothing: its step ran to the end and reports the same broken reference.
    gx = _checks(result, GX_CHECK_NAME)["raw_deals"]
    assert gx.severity == dg.AssetCheckSeverity.WARN
    assert gx.metadata["unexpected_counts"].value["foreign_key:account_id->accounts"] == 8

    clean_deals.head(3).write_csv(source / "deals.csv")
    result = _run(source, wh, instance)
    check = _checks(result)["raw_deals"]
    assert not result.success and check.severity == dg.AssetCheckSeverity.ERROR
    assert "deals: volume_drop: 3 rows, against 8" in check.description
    assert warehouse.read_table("deals", wh).equals(before)


@pytest.mark.slow
def test_a_gx_crash_is_reported_on_its_table_and_stops_nothing(tmp_path: Path, monkeypatch) -> None:
    real = checks.asset_checks.run_suite

    def crash_on_reps(check):
        if check.table == "reps":
            raise RuntimeError("GX broke")
        return real(check)

    monkeypatch.setattr(checks.asset_checks, "run_suite", crash_on_reps)
    result = _run(FIXTURE, tmp_path)
    assert result.success and "deals" in _materialized(result)
    gx = _checks(result, GX_CHECK_NAME)
    assert not gx["raw_reps"].passed and gx["raw_reps"].severity == dg.AssetCheckSeverity.WARN
    assert gx["raw_reps"].description == "GX suite not run: RuntimeError: GX broke"
    assert gx["raw_deals"].passed
    page, _ = _local_file(gx["raw_reps"].metadata["report"])
    assert "GX suite not run: RuntimeError: GX broke" in page.read_text()


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
    assert sorted(_checks(result)) == RAW
    assert sorted(_checks(result, GX_CHECK_NAME)) == RAW
    counts = warehouse.read_table("data_quality_counts", tmp_path / "wh")
    assert counts.filter(pl.col("received") != pl.col("passed") + pl.col("rejected")).height == 0
    assert (tmp_path / "wh" / "data_quality_report.html").is_file()
