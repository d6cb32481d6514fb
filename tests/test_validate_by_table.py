"""`validate_by_table` gives exactly what `load_canonical_dir` + `validate` + `data_quality_status` give.

The oracle is the in-memory path (tested by hand-computed cases in test_quality.py and test_loaders.py):
rejects in the same order, counts, rule results, blocking failures, status, warnings, and every clean table
read back from `clean_dir` equal to `ValidationResult.clean`. Inputs: the bundled sample, the hand-made
fixture, a generated company, the corrupted copy of `compscore.quality.corrupt`, cascades both ways between
deals and referrals, bad cells the loader rejects (CSV and Parquet), blocking tables, warnings, absent and
schema-broken tables, and folders the loader refuses.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from csv_fixtures import set_cell
from polars.testing import assert_frame_equal

from compscore.canonical_io import write_canonical_dir, write_table
from compscore.dataset import CanonicalData
from compscore.errors import LoadError
from compscore.generator import GeneratorConfig, generate_company
from compscore.loaders import REJECTS_SCHEMA, LoadResult, TableLoad, load_canonical_dir
from compscore.plans import PlanError
from compscore.quality import TableCheck, ValidationResult, validate
from compscore.quality.blocking import Thresholds
from compscore.quality.by_table import TableByTableValidation, validate_by_table, validate_tables
from compscore.quality.corrupt import corrupt
from compscore.quality.report import render_run_report
from compscore.quality.rules import ROW_INDEX
from compscore.quality.status import data_quality_status
from compscore.schema import TABLES, Table

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
CLEAN_FILES = sorted(f"{spec.name}.parquet" for spec in TABLES)


def _oracle(directory: Path, run_id: str, **options) -> tuple[LoadResult, ValidationResult, pl.DataFrame]:
    loaded = load_canonical_dir(directory)
    thresholds = options.get("thresholds", Thresholds())
    result = validate(loaded.data, run_id, loader_rejects=loaded.rejects, **options)
    return loaded, result, data_quality_status(loaded.data, result, thresholds)


def _assert_same_outputs(
    got: TableByTableValidation, expected: ValidationResult, status: pl.DataFrame
) -> None:
    """Rejects, counts, status, verdicts and every clean table equal to `validate`'s."""
    assert_frame_equal(got.rejects, expected.rejects)
    assert_frame_equal(got.counts, expected.counts)
    assert_frame_equal(got.status, status)
    assert got.blocking == expected.blocking
    assert got.rule_results == expected.rule_results
    for spec in TABLES:
        assert_frame_equal(pl.read_parquet(got.clean_files[spec.name]), expected.clean.tables[spec.name])


def assert_same_as_validate(
    directory: Path, clean_dir: Path, run_id: str = "run-1", **options
) -> tuple[TableByTableValidation, ValidationResult]:
    """Run both paths on `directory` and assert every output is equal; return both results."""
    loaded, expected, status = _oracle(directory, run_id, **options)
    got = validate_by_table(directory, run_id, clean_dir, **options)
    _assert_same_outputs(got, expected, status)
    assert got.warnings == loaded.warnings
    assert got.received == loaded.received
    assert got.plans == loaded.data.plans
    assert got.given_commission_lines == loaded.data.given_commission_lines
    for spec in TABLES:
        assert got.clean_files[spec.name] == clean_dir / f"{spec.name}.parquet"
    assert sorted(p.name for p in clean_dir.iterdir()) == CLEAN_FILES  # the spill files are gone
    return got, expected


def _small_data(directory: Path) -> CanonicalData:
    return load_canonical_dir(directory).data


# --- clean inputs -------------------------------------------------------------------------------------


def test_bundled_sample_parquet(tmp_path):
    got, expected = assert_same_as_validate(SAMPLE, tmp_path / "clean")
    assert got.ok and expected.clean.deals.height > 40_000


def test_hand_made_fixture_csv(canonical_small_dir, tmp_path):
    got, _ = assert_same_as_validate(canonical_small_dir, tmp_path / "clean")
    assert got.rejects.height == 0 and got.status.height == 4


@pytest.fixture(scope="module")
def generated() -> CanonicalData:
    return generate_company(GeneratorConfig(reps=30, quarters=4, seed=5, reps_per_chunk=15))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generated_company(generated, tmp_path, fmt):
    write_canonical_dir(generated, tmp_path / "in", fmt)
    got, _ = assert_same_as_validate(tmp_path / "in", tmp_path / "clean")
    assert got.count("deals")["passed"] > 1000


# --- rows rejected by the rules and the cascade ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_corrupted_copy_duplicates_missing_references_and_cascade(canonical_small_dir, tmp_path, fmt):
    write_canonical_dir(corrupt(_small_data(canonical_small_dir)).data, tmp_path / "in", fmt)
    got, _ = assert_same_as_validate(tmp_path / "in", tmp_path / "clean", run_id="run-bad")
    rules = set(got.rejects.get_column("rule"))
    assert {
        "unique_key:deal_id",
        "foreign_key:account_id->accounts",
        "references_rejected:deal_id->deals",
    } <= rules
    assert got.count("commission_lines")["rejected_by_cascade"] == 2


def test_cascade_from_a_referral_through_its_deal(canonical_small_copy, tmp_path):
    set_cell(canonical_small_copy / "referrals.csv", "F001", "referring_rep_id", "GHOST")
    got, _ = assert_same_as_validate(canonical_small_copy, tmp_path / "clean")
    assert set(got.rejects.select("source_table", "row_key", "rule").rows()) == {
        ("referrals", "referral_id=F001", "foreign_key:referring_rep_id->reps"),
        ("deals", "deal_id=D008", "references_rejected:referral_id->referrals"),
        ("commission_lines", "line_id=L0007", "references_rejected:deal_id->deals"),
        ("commission_lines", "line_id=L0008", "references_rejected:referral_id->referrals"),
    }


def test_cascade_from_a_deal_through_its_referral(canonical_small_copy, tmp_path):
    set_cell(canonical_small_copy / "deals.csv", "D008", "amount", "-1.0")
    got, _ = assert_same_as_validate(canonical_small_copy, tmp_path / "clean")
    cascaded = got.rejects.filter(pl.col("rule").str.starts_with("references_rejected"))
    assert ("referrals", "referral_id=F001") in cascaded.select("source_table", "row_key").rows()


# --- rows rejected by the loader ---------------------------------------------------------------------


def test_bad_csv_cells_and_rows(canonical_small_copy, tmp_path):
    """Unparsable numbers and dates, an empty required cell and a short row are the loader's rejects; a
    referenced row the loader rejected is no reference (A001's deals break their foreign key)."""
    set_cell(canonical_small_copy / "accounts.csv", "A001", "created_date", "2024-02-30")
    set_cell(canonical_small_copy / "deals.csv", "D002", "amount", "lots")
    set_cell(canonical_small_copy / "deals.csv", "D003", "close_date", "31/02/2026")
    set_cell(canonical_small_copy / "commission_lines.csv", "L0003", "earned_date", "")
    with (canonical_small_copy / "churn_events.csv").open("a") as f:
        f.write("A003,2026-05-01\n\n")
    got, expected = assert_same_as_validate(canonical_small_copy, tmp_path / "clean")
    assert got.count("deals")["rejected_by_loader"] == 2
    assert got.count("churn_events")["rejected_by_loader"] == 1
    assert ("deals", "deal_id=D001", "foreign_key:account_id->accounts") in got.rejects.select(
        "source_table", "row_key", "rule"
    ).rows()
    assert expected.rejects.height == got.rejects.height


def test_bad_parquet_cells(canonical_small_dir, tmp_path):
    """A Parquet table of other dtypes (text) is cast; cells that do not convert are the loader's rejects."""
    data = _small_data(canonical_small_dir)
    write_canonical_dir(data, tmp_path / "in", "parquet")
    deals = data.deals.with_columns(
        amount=pl.when(pl.col("deal_id") == "D002").then(pl.lit("lots")).otherwise(pl.col("amount").cast(str))
    )
    deals.write_parquet(tmp_path / "in" / "deals.parquet")
    got, _ = assert_same_as_validate(tmp_path / "in", tmp_path / "clean")
    assert got.count("deals")["rejected_by_loader"] == 1
    assert got.count("commission_lines")["rejected_by_rules"] > 0  # D002's lines point at nothing


def test_mixed_csv_and_parquet_tables(canonical_small_copy, tmp_path):
    data = _small_data(canonical_small_copy)
    for name in ("deals", "referrals"):
        (canonical_small_copy / f"{name}.csv").unlink()
        write_table(data.tables[name], canonical_small_copy, name, "parquet")
    assert_same_as_validate(canonical_small_copy, tmp_path / "clean")


# --- table-level findings, warnings, absent and broken tables ----------------------------------------


def test_absent_optional_table(canonical_small_copy, tmp_path):
    (canonical_small_copy / "commission_lines.csv").unlink()
    got, _ = assert_same_as_validate(canonical_small_copy, tmp_path / "clean")
    assert not got.given_commission_lines and got.count("commission_lines")["received"] == 0


def test_blocking_failures_and_volume_drop(canonical_small_copy, tmp_path):
    reps = canonical_small_copy / "reps.csv"
    reps.write_text(reps.read_text().splitlines()[0] + "\n")
    got, _ = assert_same_as_validate(
        canonical_small_copy,
        tmp_path / "clean",
        previous_counts={"deals": 20},
        thresholds=Thresholds(status_warn_share=0.5, status_fail_share=0.9),
    )
    rules = [(f.table, f.rule) for f in got.blocking]
    assert ("reps", "row_count") in rules and ("deals", "volume_drop") in rules
    assert ("deals", "foreign_key:owner_rep_id->reps") in rules


def test_warnings_unknown_files_and_case_twins(canonical_small_copy, tmp_path):
    (canonical_small_copy / "notes.txt").write_text("hello\n")
    with (canonical_small_copy / "accounts.csv").open("a") as f:
        f.write("a001,Acme lower,manufacturing,east,2024-03-01\n")
    got, _ = assert_same_as_validate(canonical_small_copy, tmp_path / "clean")
    assert len(got.warnings) == 2


def test_schema_broken_table_from_a_loader(monkeypatch, canonical_small_dir, tmp_path):
    """The canonical loader conforms every table, so only another loader can hand validation a table with a
    missing required column; then no rule runs on it, nothing refers into it, and every row is rejected."""
    data = _small_data(canonical_small_dir)
    broken = CanonicalData({**data.tables, "deals": data.deals.drop("amount")}, dict(data.plans), True)

    def loads(folder) -> Iterator[TableLoad]:
        for name, path in folder.files.items():
            no_rejects = pl.DataFrame(schema=REJECTS_SCHEMA)
            yield TableLoad(name, path, broken.tables[name], no_rejects, [], broken.tables[name].height)

    monkeypatch.setattr("compscore.quality.by_table.stored_or_loaded_tables", loads)
    got = validate_by_table(canonical_small_dir, "run-b", tmp_path / "clean")
    expected = validate(broken, "run-b")
    _assert_same_outputs(got, expected, data_quality_status(broken, expected))
    assert got.count("deals")["passed"] == 0 and ("deals", "schema") in [
        (f.table, f.rule) for f in got.blocking
    ]


def test_missing_required_column_is_the_same_load_error_and_leaves_no_spill(canonical_small_copy, tmp_path):
    deals = pl.read_csv(canonical_small_copy / "deals.csv", infer_schema=False).drop("amount")
    deals.write_csv(canonical_small_copy / "deals.csv")
    (canonical_small_copy / "reps.csv").write_text("")
    with pytest.raises(LoadError) as expected:
        load_canonical_dir(canonical_small_copy)
    with pytest.raises(LoadError) as got:
        validate_by_table(canonical_small_copy, "run-e", tmp_path / "clean")
    assert str(got.value) == str(expected.value)
    assert len(got.value.issues) == 2
    assert list((tmp_path / "clean").iterdir()) == []


def test_folder_errors_are_the_loaders(canonical_small_copy, tmp_path):
    (canonical_small_copy / "plans" / "broken.yaml").write_text("plan_id: p\nperiod: fortnight\n")
    with pytest.raises(PlanError):
        validate_by_table(canonical_small_copy, "run-p", tmp_path / "clean")
    shutil.rmtree(canonical_small_copy / "plans")
    (canonical_small_copy / "accounts.csv").unlink()
    with pytest.raises(LoadError) as expected:
        load_canonical_dir(canonical_small_copy)
    with pytest.raises(LoadError) as got:
        validate_by_table(canonical_small_copy, "run-p", tmp_path / "clean")
    assert str(got.value) == str(expected.value)


# --- the callback, the spill files, the report -------------------------------------------------------


def test_on_table_checked_sees_each_table_once_with_its_check(canonical_small_dir, tmp_path):
    data = corrupt(_small_data(canonical_small_dir)).data
    write_canonical_dir(data, tmp_path / "in", "parquet")
    seen: list[tuple[Table, TableCheck, pl.DataFrame]] = []

    def keep(spec: Table, check: TableCheck) -> None:
        # the check's file is readable while the callback runs (validation moves or removes it after)
        seen.append((spec, check, pl.read_parquet(check.source, row_index_name=ROW_INDEX)))

    got = validate_by_table(tmp_path / "in", "run-c", tmp_path / "clean", on_table_checked=keep)
    expected = _oracle(tmp_path / "in", "run-c")[1]
    assert [spec.name for spec, _, _ in seen] == [spec.name for spec in TABLES]
    for spec, check, table in seen:
        want = expected.checks[spec.name]
        assert check.table == spec.name and check.rows == want.rows and check.schema_ok
        assert check.results == want.results and check.blocking == want.blocking
        assert [r.name for r in check.rules] == [r.name for r in want.rules]
        flag_columns = [r.flag_column for r in want.rules if r.flag is not None]
        # every row's flags, as `check_table` computes them (a null flag passes: True), and the table itself
        assert_frame_equal(
            check.flags, want.flagged.select(ROW_INDEX, *(pl.col(c).fill_null(True) for c in flag_columns))
        )
        assert_frame_equal(table, want.flagged.drop(flag_columns))
        failing = want.failed.filter(pl.any_horizontal(pl.exclude(ROW_INDEX))) if want.rules else want.failed
        assert_frame_equal(check.failed, failing)
    assert got.rule_results == [r for _, check, _ in seen for r in check.results]


def test_spill_files_are_gone_and_earlier_clean_files_replaced(canonical_small_dir, tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "deals.parquet").write_text("stale")
    got = validate_by_table(canonical_small_dir, "run-s", clean)
    assert sorted(p.name for p in clean.iterdir()) == CLEAN_FILES
    assert not list(clean.glob(".*"))
    assert pl.read_parquet(got.clean_files["deals"]).height == 8
    assert got.read_clean().deals.equals(load_canonical_dir(canonical_small_dir).data.deals)


def test_run_report_is_the_same_page(canonical_small_dir, tmp_path):
    write_canonical_dir(corrupt(_small_data(canonical_small_dir)).data, tmp_path / "in", "csv")
    _, expected, status = _oracle(tmp_path / "in", "run-r")
    got = validate_by_table(tmp_path / "in", "run-r", tmp_path / "clean")
    assert render_run_report(got, None, got.status) == render_run_report(expected, None, status)


def test_gx_suite_in_the_callback_gives_the_same_report(canonical_small_dir, tmp_path):
    """How `compscore score` can run GX table by table: each suite in `on_table_checked` (here only the
    deals', GX is slow), then the report from the outcomes."""
    from compscore.quality.report import write_run_report
    from compscore.quality.suites import run_suite

    write_canonical_dir(corrupt(_small_data(canonical_small_dir)).data, tmp_path / "in", "parquet")
    outcomes = {}

    def run_gx(spec: Table, check: TableCheck) -> None:
        if check.schema_ok and spec.name == "deals":
            outcomes[spec.name] = run_suite(check)

    got = validate_by_table(tmp_path / "in", "run-gx", tmp_path / "clean", on_table_checked=run_gx)
    _, expected, status = _oracle(tmp_path / "in", "run-gx")
    assert outcomes == {"deals": run_suite(expected.checks["deals"])}
    assert sum(o.unexpected_count for o in outcomes["deals"]) > 0
    page = write_run_report(tmp_path / "a", got, outcomes, got.status).read_text()
    assert page == write_run_report(tmp_path / "b", expected, outcomes, status).read_text()


def _validate_loaded(loaded, tables: dict, run_id: str, clean_dir: Path, **options) -> TableByTableValidation:
    """`validate_tables` of `tables` (scans or files of `loaded`'s tables), `loaded`'s plans and rejects."""
    return validate_tables(
        tables,
        loaded.data.plans,
        loaded.rejects,
        run_id,
        clean_dir,
        given_commission_lines=loaded.data.given_commission_lines,
        **options,
    )


def _as_files(loaded, folder: Path) -> dict[str, Path]:
    """`loaded`'s tables written as `folder/<table>.parquet`, as the raw layer holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.parquet" for name in loaded.data.tables}
    for name, frame in loaded.data.tables.items():
        frame.write_parquet(files[name])
    return files


def _assert_tables_path_same_as_validate(directory: Path, clean_dir: Path, **options) -> None:
    """`validate_tables` of the loaded tables (as a Dagster run's raw layer gives them: lazy tables and
    the loader's rejects) equals `validate` of the same tables."""
    loaded, expected, status = _oracle(directory, "run-t", **options)
    scans = {name: frame.lazy() for name, frame in loaded.data.tables.items()}
    got = _validate_loaded(loaded, scans, "run-t", clean_dir, **options)
    _assert_same_outputs(got, expected, status)
    assert got.received == loaded.received
    assert sorted(p.name for p in clean_dir.iterdir()) == CLEAN_FILES


def test_tables_given_as_files_are_validated_in_place(canonical_small_copy, tmp_path):
    """`validate_tables` of the raw layer's own Parquet files (as the Dagster `validated` step gives
    them) equals `validate` of the same tables, and leaves the files as they were: a table of which
    validation rejects no row becomes the source file itself (linked), one with rejects a new file."""
    set_cell(canonical_small_copy / "deals.csv", "D002", "amount", "lots")
    loaded, expected, status = _oracle(canonical_small_copy, "run-f")
    files = _as_files(loaded, tmp_path / "raw")
    before = {name: path.read_bytes() for name, path in files.items()}

    got = _validate_loaded(loaded, files, "run-f", tmp_path / "clean")

    _assert_same_outputs(got, expected, status)
    assert {name: path.read_bytes() for name, path in files.items()} == before
    kept = {
        name: pl.scan_parquet(path).select(pl.len()).collect().item()
        for name, path in got.clean_files.items()
    }
    shrunk = {name for name, frame in loaded.data.tables.items() if kept[name] < frame.height}
    assert shrunk == {"commission_lines"}  # the lines of the rejected deal, by the cascade
    for name, path in files.items():
        assert got.clean_files[name].samefile(path) is (name not in shrunk), name


def test_table_files_are_copied_where_the_file_system_has_no_links(
    canonical_small_dir, tmp_path, monkeypatch
):
    loaded, expected, status = _oracle(canonical_small_dir, "run-c")
    files = _as_files(loaded, tmp_path / "raw")

    def no_links(source, target):
        raise OSError(f"no hard links here: {source} -> {target}")

    monkeypatch.setattr(os, "link", no_links)
    got = _validate_loaded(loaded, files, "run-c", tmp_path / "clean")

    _assert_same_outputs(got, expected, status)
    for name, path in files.items():
        assert path.is_file() and not got.clean_files[name].samefile(path), name


def test_tables_already_loaded_corrupted_copy(canonical_small_dir, tmp_path):
    write_canonical_dir(corrupt(_small_data(canonical_small_dir)).data, tmp_path / "in", "csv")
    _assert_tables_path_same_as_validate(tmp_path / "in", tmp_path / "clean")


def test_tables_already_loaded_with_loader_rejects_and_a_volume_drop(canonical_small_copy, tmp_path):
    set_cell(canonical_small_copy / "deals.csv", "D002", "amount", "lots")
    set_cell(canonical_small_copy / "accounts.csv", "A001", "created_date", "2024-02-30")
    previous = {"deals": 1000}
    _assert_tables_path_same_as_validate(canonical_small_copy, tmp_path / "clean", previous_counts=previous)


def test_tables_already_loaded_generated_company(generated, tmp_path):
    write_canonical_dir(generated, tmp_path / "in", "parquet")
    _assert_tables_path_same_as_validate(tmp_path / "in", tmp_path / "clean")
