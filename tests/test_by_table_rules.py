"""Table-by-table validation (`compscore.quality.by_table`) and its scan-based check
(`compscore.quality.evaluate.check_scan`, `references_of`) on the hand-made fixture folder and tiny frames,
with hand-derived expectations. The equality with the in-memory `validate` on the bundled sample and
generated companies is in tests/test_validate_by_table.py; these are the fast cases mutation testing runs.

The fixture (tests/conftest.py): 6 accounts, 3 reps (R01, R02 hunters, R03 farmer), 8 deals, 2 churn
events, 2 referrals (F001 by R03 converted to D008, F002 by R01) and 9 statement lines (L0002, L0003 and
L0009 on D002; L0007 and L0008 on D008).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from csv_fixtures import set_cell
from polars.testing import assert_frame_equal

from compscore.errors import LoadError
from compscore.loaders import load_canonical_dir
from compscore.quality import TableCheck
from compscore.quality.blocking import Thresholds
from compscore.quality.by_table import validate_by_table, validate_tables
from compscore.quality.evaluate import check_scan, references_of
from compscore.quality.rules import ROW_INDEX, References
from compscore.schema import TABLES, Table, empty_frame, table

RECEIVED = {
    "accounts": 6,
    "reps": 3,
    "rep_plan_assignments": 3,
    "deals": 8,
    "churn_events": 2,
    "referrals": 2,
    "commission_lines": 9,
}
CLEAN_FILES = sorted(f"{spec.name}.parquet" for spec in TABLES)
COUNT_COLUMNS = ["table", "received", "passed", "rejected", "rejected_by_loader", "rejected_by_rules"]


def counts(result) -> list[tuple]:
    """(table, received, passed, rejected, by loader, by rules, by cascade) per table."""
    return result.counts.rows()


def reject_keys(result) -> list[tuple[str, str, str]]:
    return result.rejects.select("source_table", "row_key", "rule").rows()


def clean_ids(result, name: str, column: str) -> list[str]:
    return sorted(pl.read_parquet(result.clean_files[name])[column])


# --- a clean folder ------------------------------------------------------------------------------------


def test_a_clean_folder_passes_whole_and_its_clean_files_are_the_tables(canonical_small_dir, tmp_path):
    clean = tmp_path / "clean"
    got = validate_by_table(canonical_small_dir, "run-ok", clean)
    assert got.run_id == "run-ok" and got.clean_dir == clean
    assert got.rejects.height == 0 and got.rejects.columns[0] == "source_table"
    assert counts(got) == [(name, n, n, 0, 0, 0, 0) for name, n in RECEIVED.items()]
    assert got.received == RECEIVED and list(got.received) == [spec.name for spec in TABLES]
    assert got.blocking == [] and got.warnings == [] and got.given_commission_lines is True
    assert sorted(got.plans) == ["farmer-2026", "hunter-2026"]
    assert all(r.unexpected_count == 0 for r in got.rule_results)
    assert {r.table for r in got.rule_results} == set(RECEIVED)
    assert got.status["data_quality_status"].to_list() == ["ok"] * 4
    assert got.clean_files == {spec.name: clean / f"{spec.name}.parquet" for spec in TABLES}
    assert sorted(p.name for p in clean.iterdir()) == CLEAN_FILES  # the spill folder is gone
    loaded = load_canonical_dir(canonical_small_dir).data
    read = got.read_clean()
    for spec in TABLES:
        assert_frame_equal(read[spec.name], loaded[spec.name])
    assert read.plans == got.plans and read.given_commission_lines is True


# --- rows rejected by the loader, the rules and the cascade ---------------------------------------------


@pytest.fixture
def broken_deals(canonical_small_copy: Path) -> Path:
    """D002's amount is `lots` (the loader rejects it: its lines L0002, L0003, L0009 break their foreign
    key), D008's is -1 (the range rule rejects it: F001 and the lines L0007, L0008 cascade)."""
    set_cell(canonical_small_copy / "deals.csv", "D002", "amount", "lots")
    set_cell(canonical_small_copy / "deals.csv", "D008", "amount", "-1.0")
    return canonical_small_copy


EXPECTED_REJECTS = [
    ("deals", "deal_id=D002", "type:amount"),  # the loader's first
    ("deals", "deal_id=D008", "range:amount"),  # then the rules', table by table
    ("commission_lines", "line_id=L0002", "foreign_key:deal_id->deals"),
    ("commission_lines", "line_id=L0003", "foreign_key:deal_id->deals"),
    ("commission_lines", "line_id=L0009", "foreign_key:deal_id->deals"),
    ("referrals", "referral_id=F001", "references_rejected:converted_deal_id->deals"),  # then the cascade's
    ("commission_lines", "line_id=L0007", "references_rejected:deal_id->deals"),
    ("commission_lines", "line_id=L0008", "references_rejected:deal_id->deals"),
]
EXPECTED_COUNTS = [
    ("accounts", 6, 6, 0, 0, 0, 0),
    ("reps", 3, 3, 0, 0, 0, 0),
    ("rep_plan_assignments", 3, 3, 0, 0, 0, 0),
    ("deals", 8, 6, 2, 1, 1, 0),
    ("churn_events", 2, 2, 0, 0, 0, 0),
    ("referrals", 2, 1, 1, 0, 0, 1),
    ("commission_lines", 9, 4, 5, 0, 3, 2),
]
EXPECTED_STATUS = [
    # farmer (R03) Q1: D005, D006, D007, L0004, L0005, F001 (rejected); Q2: L0008 (rejected)
    ("farmer-2026", "2026-Q1", 6, 1, "fail"),
    ("farmer-2026", "2026-Q2", 1, 1, "fail"),
    # hunter Q1: D001, D003, L0001, L0002 and L0003 (rejected); D002 never reached validation
    ("hunter-2026", "2026-Q1", 5, 2, "fail"),
    # hunter Q2: D004, D008 (rejected), F002, L0006, L0007 and L0009 (rejected)
    ("hunter-2026", "2026-Q2", 6, 3, "fail"),
]


def status_rows(result) -> list[tuple]:
    return result.status.select(
        "plan_id", "period", "input_rows", "rejected_rows", "data_quality_status"
    ).rows()


@pytest.mark.parametrize("callback", [False, True], ids=["by-scan", "with-callback"])
def test_loader_rule_and_cascade_rejects(broken_deals, tmp_path, callback):
    seen: list[tuple[Table, TableCheck]] = []
    on_checked = (lambda spec, check: seen.append((spec, check))) if callback else None
    got = validate_by_table(broken_deals, "run-x", tmp_path / "clean", on_table_checked=on_checked)
    assert reject_keys(got) == EXPECTED_REJECTS
    assert set(got.rejects["run_id"]) == {"run-x"}
    assert got.rejects["source_file"].to_list()[0] == str(broken_deals / "deals.csv")
    assert got.rejects["source_line"].to_list()[:2] == [3, None]
    assert counts(got) == EXPECTED_COUNTS
    assert status_rows(got) == EXPECTED_STATUS
    assert got.received == RECEIVED
    assert got.read_clean().warnings == got.warnings
    assert got.warnings == [
        f"{broken_deals / 'deals.csv'}: 1 of 8 row(s) rejected (1 problem(s)); see data_quality_rejects"
    ]
    failing = [
        (r.table, r.rule, r.rows, r.unexpected_count, r.sample_keys)
        for r in got.rule_results
        if r.unexpected_count
    ]
    assert failing == [
        ("deals", "range:amount", 7, 1, ("deal_id=D008",)),
        (
            "commission_lines",
            "foreign_key:deal_id->deals",
            9,
            3,
            ("line_id=L0002", "line_id=L0003", "line_id=L0009"),
        ),
    ]
    assert got.blocking == []  # 3 of 9 lines break a foreign key: below half
    assert clean_ids(got, "deals", "deal_id") == ["D001", "D003", "D004", "D005", "D006", "D007"]
    assert clean_ids(got, "referrals", "referral_id") == ["F002"]
    assert clean_ids(got, "commission_lines", "line_id") == ["L0001", "L0004", "L0005", "L0006"]
    assert_frame_equal(pl.read_parquet(got.clean_files["reps"]), load_canonical_dir(broken_deals).data.reps)
    clean_deals = pl.read_parquet(got.clean_files["deals"])
    assert clean_deals.schema == empty_frame("deals").schema
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == CLEAN_FILES
    if callback:
        assert [spec.name for spec, _ in seen] == [spec.name for spec in TABLES]
        deals = dict((spec.name, check) for spec, check in seen)["deals"]
        # every row's flag columns and the file the table was read from, not the whole table in memory
        assert deals.rows == 7 and deals.flags.height == 7 and deals.flagged.height == 1
        assert deals.flags.columns == [ROW_INDEX, *(r.flag_column for r in deals.rules if r.flag is not None)]
        assert deals.source is not None and deals.source.name == "deals.parquet"
        assert deals.failed.filter(pl.col("range:amount"))[ROW_INDEX].to_list() == [6]
        # a flag column is False exactly on the rows that fail its rule (GX counts the False values)
        broken_flags = 0
        for _spec, check in seen:
            for rule in (r for r in check.rules if r.flag is not None):
                flagged_false = check.flags.filter(~pl.col(rule.flag_column))[ROW_INDEX].to_list()
                assert flagged_false == check.failed.filter(pl.col(rule.name))[ROW_INDEX].to_list(), rule.name
                broken_flags += len(flagged_false)
        assert broken_flags == 3  # the three statement lines whose deal is missing
    else:
        assert seen == []


@pytest.mark.parametrize("callback", [False, True], ids=["by-scan", "with-callback"])
def test_thresholds_sample_size_and_previous_counts_are_used(broken_deals, tmp_path, callback):
    got = validate_by_table(
        broken_deals,
        "run-t",
        tmp_path / "clean",
        on_table_checked=(lambda spec, check: None) if callback else None,
        thresholds=Thresholds(foreign_key_blocking_share=0.3, status_warn_share=0.3, status_fail_share=0.9),
        previous_counts={"deals": 15, "reps": 3},
        sample_size=1,
    )
    assert [(f.table, f.rule) for f in got.blocking] == [
        ("deals", "volume_drop"),  # 7 rows against 15: below half
        ("commission_lines", "foreign_key:deal_id->deals"),  # 3 of 9 lines: above 30 %
    ]
    assert [s for s in status_rows(got)] == [
        ("farmer-2026", "2026-Q1", 6, 1, "ok"),  # 17 %
        ("farmer-2026", "2026-Q2", 1, 1, "fail"),
        ("hunter-2026", "2026-Q1", 5, 2, "warn"),  # 40 %
        ("hunter-2026", "2026-Q2", 6, 3, "warn"),  # 50 %
    ]
    samples = {r.rule: r.sample_keys for r in got.rule_results if r.unexpected_count}
    assert samples == {"range:amount": ("deal_id=D008",), "foreign_key:deal_id->deals": ("line_id=L0002",)}


def test_an_absent_optional_table_is_an_empty_clean_file(canonical_small_copy, tmp_path):
    (canonical_small_copy / "commission_lines.csv").unlink()
    got = validate_by_table(canonical_small_copy, "run-a", tmp_path / "clean")
    assert got.given_commission_lines is False and got.received["commission_lines"] == 0
    assert counts(got)[-1] == ("commission_lines", 0, 0, 0, 0, 0, 0)
    assert_frame_equal(pl.read_parquet(got.clean_files["commission_lines"]), empty_frame("commission_lines"))
    assert got.blocking == []  # statement lines are required only when the source gives them


def test_earlier_clean_files_are_replaced_and_a_failed_load_leaves_no_spill(canonical_small_copy, tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "deals.parquet").write_text("stale")
    (clean / "notes.txt").write_text("kept")
    got = validate_by_table(canonical_small_copy, "run-s", clean)
    assert pl.read_parquet(got.clean_files["deals"]).height == 8
    assert sorted(p.name for p in clean.iterdir()) == sorted([*CLEAN_FILES, "notes.txt"])
    deals = pl.read_csv(canonical_small_copy / "deals.csv", infer_schema=False).drop("amount")
    deals.write_csv(canonical_small_copy / "deals.csv")  # the loader refuses it while loading the tables
    with pytest.raises(LoadError, match="amount"):
        validate_by_table(canonical_small_copy, "run-s", tmp_path / "clean2")
    assert list((tmp_path / "clean2").iterdir()) == []


@pytest.mark.parametrize("callback", [False, True], ids=["by-scan", "with-callback"])
def test_empty_required_tables_block_and_samples_are_five_by_default(
    canonical_small_copy, tmp_path, callback
):
    """Every line's plan is unknown (9 failing rows, 5 samples); the statement lines are given, so an
    empty statement table would block: here the reps table is empty (always required)."""
    lines = canonical_small_copy / "commission_lines.csv"
    lines.write_text(lines.read_text().replace("hunter-2026", "ghost").replace("farmer-2026", "ghost"))
    reps = canonical_small_copy / "reps.csv"
    reps.write_text(reps.read_text().splitlines()[0] + "\n")
    on_checked = (lambda spec, check: None) if callback else None
    got = validate_by_table(canonical_small_copy, "run-e", tmp_path / "clean", on_table_checked=on_checked)
    assert ("reps", "row_count") in [(f.table, f.rule) for f in got.blocking]
    plans = next(
        r for r in got.rule_results if (r.table, r.rule) == ("commission_lines", "foreign_key:plan_id->plans")
    )
    assert plans.unexpected_count == 9
    assert plans.sample_keys == tuple(f"line_id=L000{i}" for i in range(1, 6))


@pytest.mark.parametrize("callback", [False, True], ids=["by-scan", "with-callback"])
def test_given_statement_lines_must_not_be_empty(canonical_small_copy, tmp_path, callback):
    lines = canonical_small_copy / "commission_lines.csv"
    lines.write_text(lines.read_text().splitlines()[0] + "\n")
    on_checked = (lambda spec, check: None) if callback else None
    got = validate_by_table(canonical_small_copy, "run-g", tmp_path / "clean", on_table_checked=on_checked)
    assert got.given_commission_lines is True
    assert [(f.table, f.rule) for f in got.blocking] == [("commission_lines", "row_count")]


def test_given_statement_lines_already_loaded_must_not_be_empty(canonical_small_dir, tmp_path):
    loaded = load_canonical_dir(canonical_small_dir)
    tables = {name: frame.lazy() for name, frame in loaded.data.tables.items()}
    tables["commission_lines"] = tables["commission_lines"].head(0)
    options = {"given_commission_lines": True}
    got = validate_tables(tables, loaded.data.plans, loaded.rejects, "run-g", tmp_path / "a", **options)
    assert [(f.table, f.rule) for f in got.blocking] == [("commission_lines", "row_count")]
    options = {"given_commission_lines": False}
    got = validate_tables(tables, loaded.data.plans, loaded.rejects, "run-g", tmp_path / "b", **options)
    assert got.blocking == [] and got.given_commission_lines is False


def test_tables_already_loaded_give_five_samples_by_default(canonical_small_dir, tmp_path):
    loaded = load_canonical_dir(canonical_small_dir)
    tables = {name: frame.lazy() for name, frame in loaded.data.tables.items()}
    tables["commission_lines"] = tables["commission_lines"].with_columns(plan_id=pl.lit("ghost"))
    got = validate_tables(
        tables, loaded.data.plans, loaded.rejects, "run-5", tmp_path / "clean", given_commission_lines=True
    )
    plans = next(
        r for r in got.rule_results if (r.table, r.rule) == ("commission_lines", "foreign_key:plan_id->plans")
    )
    assert plans.unexpected_count == 9 and len(plans.sample_keys) == 5


# --- tables already loaded ------------------------------------------------------------------------------


def test_tables_given_as_files_are_linked_not_read(broken_deals, tmp_path, monkeypatch):
    """Files (a Dagster run's raw layer) give what scans of the same tables give; each file becomes its
    spill file by a link (or, without links, a copy), so a table with no rejected row is the file."""
    loaded = load_canonical_dir(broken_deals)
    options = {"given_commission_lines": True, "previous_counts": {"deals": 15}, "sample_size": 1}
    scans = {name: frame.lazy() for name, frame in loaded.data.tables.items()}
    expected = validate_tables(scans, loaded.data.plans, loaded.rejects, "run-f", tmp_path / "a", **options)
    raw = tmp_path / "raw"
    raw.mkdir()
    files = {name: raw / f"{name}.parquet" for name in loaded.data.tables}
    for name, frame in loaded.data.tables.items():
        frame.write_parquet(files[name])

    got = validate_tables(files, loaded.data.plans, loaded.rejects, "run-f", tmp_path / "b", **options)

    assert reject_keys(got) == reject_keys(expected) == EXPECTED_REJECTS
    assert counts(got) == counts(expected) == EXPECTED_COUNTS
    assert got.received == expected.received == RECEIVED
    passed = {row["table"]: row["passed"] for row in got.counts.iter_rows(named=True)}
    for name, path in files.items():
        assert path.is_file()
        linked = got.clean_files[name].samefile(path)
        assert linked is (passed[name] == loaded.data.tables[name].height), name
    copied, real_copy = [], shutil.copyfile

    def no_links(source, target):
        raise OSError("this file system has no hard links")

    def counted_copy(source, target):
        copied.append(source)
        return real_copy(source, target)

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(shutil, "copyfile", counted_copy)
    got = validate_tables(files, loaded.data.plans, loaded.rejects, "run-f", tmp_path / "c", **options)
    assert counts(got) == EXPECTED_COUNTS
    assert sorted(copied) == sorted(files.values())


def test_tables_already_loaded_count_the_loaders_rejects_as_received(broken_deals, tmp_path):
    loaded = load_canonical_dir(broken_deals)
    got = validate_tables(
        {name: frame.lazy() for name, frame in loaded.data.tables.items()},
        loaded.data.plans,
        loaded.rejects,
        "run-l",
        tmp_path / "clean",
        given_commission_lines=True,
        previous_counts={"deals": 15},
        thresholds=Thresholds(status_warn_share=0.3, status_fail_share=0.9),
        sample_size=1,
    )
    assert reject_keys(got) == EXPECTED_REJECTS
    assert counts(got) == EXPECTED_COUNTS
    assert got.received == RECEIVED  # deals: 7 loaded + 1 rejected by the loader
    assert [(f.table, f.rule) for f in got.blocking] == [("deals", "volume_drop")]
    assert [s[-1] for s in status_rows(got)] == ["ok", "fail", "warn", "warn"]
    assert [r.sample_keys for r in got.rule_results if r.unexpected_count][1] == ("line_id=L0002",)
    assert got.warnings == [] and got.given_commission_lines is True and got.plans == loaded.data.plans
    assert clean_ids(got, "commission_lines", "line_id") == ["L0001", "L0004", "L0005", "L0006"]
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == CLEAN_FILES


def test_a_schema_broken_table_is_rejected_whole_and_nothing_refers_into_it(canonical_small_dir, tmp_path):
    loaded = load_canonical_dir(canonical_small_dir)
    tables = {name: frame.lazy() for name, frame in loaded.data.tables.items()}
    tables["deals"] = tables["deals"].drop("amount")
    got = validate_tables(
        tables, loaded.data.plans, loaded.rejects, "run-b", tmp_path / "clean", given_commission_lines=True
    )
    assert [(f.table, f.rule) for f in got.blocking] == [("deals", "schema")]
    assert reject_keys(got) == [("deals", f"deal_id=D00{i}", "schema") for i in range(1, 9)]
    assert counts(got)[3] == ("deals", 8, 0, 8, 0, 8, 0)
    assert counts(got)[-1] == ("commission_lines", 9, 9, 0, 0, 0, 0)  # their deal ids are not judged
    assert "foreign_key:deal_id->deals" not in {r.rule for r in got.rule_results}
    assert_frame_equal(pl.read_parquet(got.clean_files["deals"]), empty_frame("deals"))


# --- the scan-based check of one table -------------------------------------------------------------------


def deals_scan(amounts: list[float], ids: list[str], accounts: list[str]) -> pl.LazyFrame:
    n = len(ids)
    frame = pl.DataFrame(
        {
            "deal_id": ids,
            "account_id": accounts,
            "owner_rep_id": ["R1"] * n,
            "deal_type": ["new_business"] * n,
            "stage": ["open"] * n,
            "amount": amounts,
            "created_date": [dt.date(2026, 1, 1)] * n,
        },
        schema_overrides={"deal_id": pl.String, "account_id": pl.String, "amount": pl.Float64},
    )
    return pl.concat([empty_frame("deals"), frame], how="diagonal_relaxed").lazy().with_row_index(ROW_INDEX)


REFS = References(
    keys={"accounts.account_id": pl.Series(["A1"]), "reps.rep_id": pl.Series(["R1"])},
    plans={},
)


def test_check_scan_keeps_only_the_failing_rows_with_the_key_and_the_failing_rules_columns():
    # rows 0 and 2 repeat D1; row 1 has a negative amount and an unknown account; row 3 passes
    scan = deals_scan([10.0, -5.0, 20.0, 30.0], ["D1", "D2", "D1", "D3"], ["A1", "AX", "A1", "A1"])
    check = check_scan(table("deals"), scan, REFS, nonempty_required=True)
    assert check.table == "deals" and check.rows == 4 and check.schema_ok and check.blocking == []
    failing = {r.rule: (r.unexpected_count, r.sample_keys) for r in check.results if r.unexpected_count}
    assert failing == {
        "unique_key:deal_id": (2, ("deal_id=D1", "deal_id=D1")),
        "range:amount": (1, ("deal_id=D2",)),
        "foreign_key:account_id->accounts": (1, ("deal_id=D2",)),
    }
    assert all(r.rows == 4 for r in check.results)
    assert check.failed.columns == [ROW_INDEX, *(r.name for r in check.rules)]
    assert check.failed[ROW_INDEX].to_list() == [0, 1, 2]
    assert check.failed["unique_key:deal_id"].to_list() == [True, False, True]
    assert check.failed["range:amount"].to_list() == [False, True, False]
    assert check.flagged.columns == [ROW_INDEX, "deal_id", "account_id", "amount"]
    assert check.flagged.rows() == [(0, "D1", "A1", 10.0), (1, "D2", "AX", -5.0), (2, "D1", "A1", 20.0)]


def test_check_scan_of_a_table_without_a_failing_row_holds_no_row():
    scan = deals_scan([10.0, 20.0], ["D1", "D2"], ["A1", "A1"])
    check = check_scan(table("deals"), scan, REFS, nonempty_required=True)
    assert check.rows == 2 and check.failed.height == 0 and check.flagged.height == 0
    assert check.failed.columns == [ROW_INDEX, *(r.name for r in check.rules)]
    assert check.flagged.columns == [ROW_INDEX, "deal_id"]
    assert all(r.unexpected_count == 0 and r.sample_keys == () for r in check.results)


def test_check_scan_blocks_on_row_count_volume_and_a_broken_foreign_key():
    empty = deals_scan([], [], [])
    check = check_scan(table("deals"), empty, REFS, nonempty_required=True)
    assert [f.rule for f in check.blocking] == ["row_count"] and check.rows == 0
    assert check_scan(table("deals"), empty, REFS, nonempty_required=False).blocking == []
    scan = deals_scan([10.0, 20.0, 30.0], ["D1", "D2", "D3"], ["A1", "AX", "A1"])
    check = check_scan(
        table("deals"),
        scan,
        REFS,
        nonempty_required=True,
        previous_count=7,
        thresholds=Thresholds(foreign_key_blocking_share=0.3),
        sample_size=1,
    )
    assert [f.rule for f in check.blocking] == ["volume_drop", "foreign_key:account_id->accounts"]
    assert "3 rows, against 7 in the previous run" in check.blocking[0].message
    assert [r.sample_keys for r in check.results if r.unexpected_count] == [("deal_id=D2",)]
    assert check_scan(table("deals"), scan, REFS, nonempty_required=True, previous_count=6).blocking == []


def test_check_scan_of_a_schema_broken_table_rejects_every_row():
    scan = deals_scan([10.0, 20.0], ["D1", "D2"], ["A1", "A1"]).drop("amount")
    check = check_scan(table("deals"), scan, REFS, nonempty_required=True, previous_count=100)
    assert not check.schema_ok and check.rules == [] and check.results == []
    assert [f.rule for f in check.blocking] == ["schema", "volume_drop"]
    assert check.flagged.height == 2 and "owner_rep_id" in check.flagged.columns
    empty = deals_scan([], [], []).drop("amount")
    assert [f.rule for f in check_scan(table("deals"), empty, REFS, nonempty_required=True).blocking] == [
        "schema",
        "row_count",
    ]
    assert [f.rule for f in check_scan(table("deals"), empty, REFS, nonempty_required=False).blocking] == [
        "schema"
    ]
    strict = Thresholds(volume_drop_blocking_ratio=0.9)
    assert [
        f.rule
        for f in check_scan(table("deals"), scan, REFS, nonempty_required=True, previous_count=3).blocking
    ] == ["schema"]
    blocking = check_scan(
        table("deals"), scan, REFS, nonempty_required=True, previous_count=3, thresholds=strict
    ).blocking
    assert [f.rule for f in blocking] == ["schema", "volume_drop"]  # 2 rows, below 90 % of 3


def test_check_scan_gives_five_samples_by_default():
    scan = deals_scan([-1.0] * 7, [f"D{i}" for i in range(7)], ["A1"] * 7)
    check = check_scan(table("deals"), scan, REFS, nonempty_required=True)
    amount = next(r for r in check.results if r.rule == "range:amount")
    assert amount.unexpected_count == 7
    assert amount.sample_keys == ("deal_id=D0", "deal_id=D1", "deal_id=D2", "deal_id=D3", "deal_id=D4")


def test_check_scan_runs_the_no_overlap_flag_rule_on_its_own_columns():
    assignments = pl.DataFrame(
        {
            "rep_id": ["R1", "R1", "R2"],
            "plan_id": ["p", "p", "p"],
            "start_date": [dt.date(2026, 1, 1), dt.date(2026, 3, 1), dt.date(2026, 1, 1)],
            "end_date": [dt.date(2026, 6, 30), None, None],
        }
    )
    scan = pl.concat(
        [empty_frame("rep_plan_assignments"), assignments.select(pl.all())], how="diagonal_relaxed"
    )
    refs = References(keys={"reps.rep_id": pl.Series(["R1", "R2"])}, plans={})
    check = check_scan(
        table("rep_plan_assignments"), scan.lazy().with_row_index(ROW_INDEX), refs, nonempty_required=True
    )
    failing = {r.rule: r.unexpected_count for r in check.results if r.unexpected_count}
    assert set(failing) == {"foreign_key:plan_id->plans", *[n for n in failing if n.startswith("no_overlap")]}
    assert failing["foreign_key:plan_id->plans"] == 3  # no plan p
    overlap = [n for n in failing if n.startswith("no_overlap")]
    assert len(overlap) == 1 and failing[overlap[0]] == 2  # R1's two assignments overlap in March-June
    assert check.failed[ROW_INDEX].to_list() == [0, 1, 2]


# --- the references a table is judged against ----------------------------------------------------------


def test_references_of_reads_only_the_referenced_key_columns_of_tables_not_broken():
    scans = {
        "accounts": pl.LazyFrame({"account_id": ["A1", "A2"], "name": ["x", "y"]}),
        "reps": pl.LazyFrame({"rep_id": ["R1"], "team": ["t"]}),
        "deals": pl.LazyFrame({"deal_id": ["D1", None], "amount": [1.0, 2.0]}),
    }
    refs = references_of(table("referrals"), scans, set(), {})
    # referrals refer to accounts twice (referring and referred account), reps and deals
    assert sorted(refs.keys) == ["accounts.account_id", "deals.deal_id", "reps.rep_id"]
    assert refs.keys["accounts.account_id"].to_list() == ["A1", "A2"]
    assert refs.targets("deals", "deal_id").to_list() == ["D1"]
    broken = references_of(table("referrals"), scans, {"deals"}, {})
    assert sorted(broken.keys) == ["accounts.account_id", "reps.rep_id"]
    without = references_of(table("referrals"), {"reps": scans["reps"]}, set(), {})
    assert sorted(without.keys) == ["reps.rep_id"]


def test_a_blocking_foreign_key_without_samples_still_says_how_many_rows_break_it():
    """`sample_size=0` (no sample rows) once raised an index error where the blocking failure quoted
    its first sample."""
    scan = deals_scan([10.0, 20.0], ["D1", "D2"], ["AX", "AY"])
    check = check_scan(table("deals"), scan, REFS, nonempty_required=True, sample_size=0)
    assert [r.sample_keys for r in check.results if r.unexpected_count] == [()]
    assert [f.message for f in check.blocking] == [
        "2 of 2 rows (100%) break the reference: account_id exists in accounts.account_id "
        "(blocking above 50%)"
    ]


def test_a_check_by_scan_keeps_every_rows_flags_only_when_asked(broken_deals):
    """The flags of every row are for a GX suite to read later; without one they are not kept (memory)."""
    data = load_canonical_dir(broken_deals).data
    scans = {name: frame.lazy() for name, frame in data.tables.items()}
    spec = table("commission_lines")
    refs = references_of(spec, scans, set(), data.plans)
    scan = scans["commission_lines"].with_row_index(ROW_INDEX)
    default = check_scan(spec, scan, refs, nonempty_required=True)
    kept = check_scan(spec, scan, refs, nonempty_required=True, keep_flags=True)
    assert default.flags is None and default.source is None
    assert kept.flags is not None and kept.flags.height == kept.rows == 9
    assert kept.results == default.results and kept.failed.equals(default.failed)
