"""Dagster pulls the sources itself: a run configured for each kind gives the validated tables that
`compscore import` + a canonical run give, with the import's rejects in the quarantine (received = passed +
rejected from the source system on); PostgreSQL watermarks kept in Dagster; the password never shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import postgres_database
import pytest

from assets.raw import raw_source
from assets.source_pull import WATERMARKS
from assets.validated import validated
from common.resources import SourceFolder, Warehouse
from compscore import warehouse
from compscore.adapters.postgres import write_tables
from compscore.cli import main
from compscore.loaders import load_canonical_dir
from compscore.schema import TABLES
from pipelines.io_managers import warehouse_io_manager

FIXTURES = Path(__file__).parent / "fixtures"
EXPORTS = FIXTURES / "exports"
CANONICAL = FIXTURES / "canonical_small"
PLANS = CANONICAL / "plans"
MAVEN = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "maven_crm"
database_url = postgres_database.database_url
KEY_COLUMNS = ["source_table", "source_file", "source_line", "row_key", "rule"]


def _run(source: SourceFolder, wh: Path, instance: dg.DagsterInstance | None = None, **kw):
    return dg.materialize(
        [raw_source, validated],
        resources={
            "source": source,
            "warehouse": Warehouse(path=str(wh)),
            "io_manager": warehouse_io_manager,
        },
        instance=instance,
        **kw,
    )


def _hubspot_assignments(tmp_path: Path) -> Path:
    path = tmp_path / "hubspot_assignments.csv"
    path.write_text("rep_id,plan_id,start_date\n301,hunter-2026,2024-01-01\n302,farmer-2026,2024-01-01\n")
    return path


def _case(kind: str, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """(resource settings, the matching `compscore import` arguments) for one kind."""
    if kind == "salesforce":
        settings = {
            "path": str(EXPORTS / "salesforce"),
            "plans": str(PLANS),
            "assignments": str(EXPORTS / "assignments" / "rep_plan_assignments.csv"),
            "commissions": str(EXPORTS / "commission" / "payouts.csv"),
            "commission_mapping": str(EXPORTS / "commission" / "mapping.yaml"),
        }
    elif kind == "hubspot":
        settings = {
            "path": str(EXPORTS / "hubspot"),
            "plans": str(PLANS),
            "assignments": str(_hubspot_assignments(tmp_path)),
        }
    else:
        if not MAVEN.is_dir():
            pytest.skip(f"the Maven CRM dataset is absent ({MAVEN})")
        settings = {"path": str(MAVEN)}
    flags = {"path": "--input", "commission_mapping": "--commission-mapping"}
    args = ["import", "--from", kind]
    for key, value in settings.items():
        args += [flags.get(key, f"--{key}"), value]
    return settings, args


def _tables(wh: Path) -> dict[str, pl.DataFrame]:
    return {t.name: warehouse.read_table(t.name, wh) for t in TABLES}


def _rejects(wh: Path) -> pl.DataFrame:
    return warehouse.read_table("data_quality_rejects", wh).drop("run_id").sort(KEY_COLUMNS)


def _assert_same_as_import_then_canonical(direct: Path, via_import: Path, imported: Path) -> None:
    """Clean tables equal; the direct run's rejects = the canonical run's + the import's rejects."""
    for name, frame in _tables(via_import).items():
        assert _tables(direct)[name].equals(frame), name
    import_rejects = pl.read_csv(imported / ".import" / "rejects.csv", schema=None, infer_schema=False)
    assert _rejects(direct).height == _rejects(via_import).height + import_rejects.height
    findings = pl.read_csv(imported / ".import" / "findings.csv", infer_schema=False)
    assert warehouse.read_table("raw_source_findings", direct).height == findings.height
    counts = warehouse.read_table("data_quality_counts", direct)
    assert (counts["received"] == counts["passed"] + counts["rejected"]).all()
    via_counts = dict(
        warehouse.read_table("data_quality_counts", via_import).select("table", "received").iter_rows()
    )
    import_rows = import_rejects.unique(["source_table", "source_file", "source_line", "row_key"])
    by_table = dict(import_rows.group_by("source_table").len().iter_rows())
    for table, received in counts.select("table", "received").iter_rows():
        # the source rows the import left out are received (and rejected) from the source system on
        assert received == via_counts[table] + by_table.get(table, 0), table


@pytest.mark.parametrize("kind", ["salesforce", "hubspot", "maven"])
def test_a_run_on_each_export_kind_equals_import_then_canonical_run(kind: str, tmp_path: Path) -> None:
    settings, args = _case(kind, tmp_path)
    imported = tmp_path / "imported"
    assert main([*args, "--out", str(imported)]) == 0

    direct = _run(SourceFolder(kind=kind, **settings), tmp_path / "direct")
    via_import = _run(SourceFolder(path=str(imported)), tmp_path / "via_import")

    assert direct.success and via_import.success
    _assert_same_as_import_then_canonical(tmp_path / "direct", tmp_path / "via_import", imported)
    if kind == "salesforce":
        _assert_salesforce_quarantine(tmp_path / "direct")
    if kind == "maven":  # 12 misspelt sectors, 1,480 pipeline rows naming GTXPro (docs/sources.md)
        findings = warehouse.read_table("raw_source_findings", tmp_path / "direct")
        assert dict(findings.group_by("rule").len().iter_rows()) == {
            "misspelt_value": 12,
            "product_not_in_price_list": 1480,
        }


def _assert_salesforce_quarantine(wh: Path) -> None:
    rejects = warehouse.read_table("data_quality_rejects", wh)
    opportunity = str(EXPORTS / "salesforce" / "Opportunity.csv")
    # line 8 of Opportunity.csv: a private opportunity without account or amount
    found = (
        rejects.filter(pl.col("source_file") == opportunity).select("source_line", "rule").sort("rule").rows()
    )
    assert found == [(8, "not_null:account_id"), (8, "not_null:amount")]
    counts = dict(warehouse.read_table("data_quality_counts", wh).select("table", "received").iter_rows())
    assert counts["deals"] == 7  # 7 data rows in the export (2 blank rows skipped), 6 mapped + 1 rejected
    assert counts["commission_lines"] == 6


def test_an_unmappable_source_fails_the_run_naming_file_line_and_column(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    shutil.copytree(EXPORTS / "salesforce", exports)
    text = (exports / "Opportunity.csv").read_text(encoding="utf-8-sig")
    (exports / "Opportunity.csv").write_text(text.replace("2017-06-30", "31/31/2017"), encoding="utf-8")

    with pytest.raises(dg.Failure) as caught:
        _run(SourceFolder(kind="salesforce", path=str(exports), plans=str(PLANS)), tmp_path / "wh")
    assert f"{exports / 'Opportunity.csv'}: line 3: column 'CloseDate': value '31/31/2017'" in str(
        caught.value.description
    )
    assert warehouse.list_tables(tmp_path / "wh") == []


def test_an_unknown_kind_fails_the_run(tmp_path: Path) -> None:
    with pytest.raises(dg.Failure, match="source kind 'sap'"):
        _run(SourceFolder(kind="sap", path=str(CANONICAL)), tmp_path / "wh")


def _postgres_source(url: str, **kw) -> SourceFolder:
    return SourceFolder(kind="postgres", path=url, plans=str(PLANS), **kw)


def test_postgres_run_equals_import_then_canonical_and_keeps_the_watermark(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tables(load_canonical_dir(CANONICAL).data, database_url)
    postgres_database.execute(
        database_url,
        "ALTER TABLE deals ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '2026-06-01T00:00:00+00'",
        "ALTER TABLE deals ADD COLUMN deleted_at timestamptz",
    )
    monkeypatch.setenv("COMPSCORE_TEST_PG", database_url)
    imported = tmp_path / "imported"
    args = ["import", "--from", "postgres", "--url-env", "COMPSCORE_TEST_PG", "--plans", str(PLANS)]
    assert main([*args, "--out", str(imported)]) == 0
    instance = dg.DagsterInstance.ephemeral()
    assert _run(_postgres_source(database_url), tmp_path / "direct", instance).success
    assert _run(SourceFolder(path=str(imported)), tmp_path / "via_import").success
    _assert_same_as_import_then_canonical(tmp_path / "direct", tmp_path / "via_import", imported)

    postgres_database.execute(
        database_url,
        "UPDATE deals SET amount = 41000, updated_at = '2026-06-03T00:00:00+00' WHERE deal_id = 'D001'",
    )
    second = _run(_postgres_source(database_url), tmp_path / "direct", instance)
    reads = _raw_deals_metadata(second)
    assert reads["source_reads"].value["deals"]["mode"] == "incremental"
    assert reads[WATERMARKS].value["deals"] == "2026-06-03T00:00:00+00:00"
    assert (
        warehouse.read_table("deals", tmp_path / "direct")
        .filter(pl.col("deal_id") == "D001")["amount"]
        .item()
        == 41000
    )

    reload = _run(
        _postgres_source(database_url),
        tmp_path / "direct",
        instance,
        run_config={"ops": {"raw_source": {"config": {"full_reload": True}}}},
    )
    assert _raw_deals_metadata(reload)["source_reads"].value["deals"]["mode"] == "full"


def _raw_deals_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("raw_deals")
    ]
    return event.materialization.metadata


SECRET = "pw-Zq81-never-shown"


def _everything_recorded(instance: dg.DagsterInstance, result) -> str:
    run = instance.get_run_by_id(result.run_id)
    logs = instance.all_logs(result.run_id)
    return "\n".join([str(run.run_config), *(str(e) for e in logs), *(e.message or "" for e in logs)])


def test_the_postgres_password_comes_only_by_envvar_and_is_never_shown(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tables(load_canonical_dir(CANONICAL).data, database_url)
    monkeypatch.setenv("COMPSCORE_TEST_PG_PASSWORD", SECRET)
    password = dg.EnvVar("COMPSCORE_TEST_PG_PASSWORD")
    instance = dg.DagsterInstance.ephemeral()
    # trust authentication: the server accepts the connection whatever the password
    ok = _run(_postgres_source(database_url, postgres_password=password), tmp_path / "wh", instance)
    assert ok.success
    assert SECRET not in _everything_recorded(instance, ok)

    # a password written into the location by mistake is not shown either
    base = database_url.rsplit("/", 1)[0].replace("postgres@", f"postgres:{SECRET}-inline@")
    failed = _run(
        _postgres_source(f"{base}/no_such_database_here", postgres_password=password),
        tmp_path / "wh2",
        instance,
        raise_on_error=False,
    )
    assert not failed.success
    recorded = _everything_recorded(instance, failed)
    assert "no_such_database_here" in recorded  # the failure is reported ...
    assert SECRET not in recorded  # ... without either password
