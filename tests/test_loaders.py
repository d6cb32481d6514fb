"""Canonical folder loading and writing: good rows flow, bad cells become located rejects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from compscore.canonical_io import write_canonical_dir, write_table
from compscore.dataset import CanonicalData
from compscore.errors import LoadError
from compscore.loaders import REJECTS_SCHEMA, _has_case_twins, load_canonical_dir, load_table
from compscore.plans import PlanError
from compscore.schema import DATA_QUALITY_REJECTS, TABLES, table

DEALS_HEADER = (
    "deal_id,account_id,owner_rep_id,deal_type,stage,amount,term_months,discount_pct,"
    "created_date,close_date,lead_source,referral_id"
)


def _set_line(path: Path, line: int, text: str) -> None:
    """Replace the 1-based `line` of a text file."""
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def _deals_csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "deals.csv"
    path.write_text("\n".join([DEALS_HEADER, *rows]) + "\n")
    return path


GOOD_DEAL = "D001,A001,R01,new_business,won,40000.0,12,0.05,2026-01-05,2026-02-10,inbound,"


# --- the fixture folder -------------------------------------------------------------------------------


def test_fixture_folder_loads_with_schema_dtypes_and_nothing_rejected(canonical_small_dir):
    result = load_canonical_dir(canonical_small_dir)

    assert result.received == {
        "accounts": 6,
        "reps": 3,
        "rep_plan_assignments": 3,
        "deals": 8,
        "churn_events": 2,
        "referrals": 2,
        "commission_lines": 9,
    }
    assert result.rejects.height == 0
    assert result.rejects.schema == DATA_QUALITY_REJECTS.polars_schema
    assert result.warnings == []
    assert result.data.given_commission_lines is True
    assert sorted(result.data.plans) == ["farmer-2026", "hunter-2026"]
    for spec in TABLES:
        assert result.data[spec.name].schema == spec.polars_schema, spec.name


def test_fixture_values_are_parsed_not_inferred(canonical_small_dir):
    deals = load_canonical_dir(canonical_small_dir).data.deals
    d006 = deals.filter(pl.col("deal_id") == "D006").row(0, named=True)
    assert d006["term_months"] == 12  # empty cell -> schema default
    assert d006["amount"] == 15000.0
    assert d006["close_date"] == dt.date(2026, 2, 20)
    d004 = deals.filter(pl.col("deal_id") == "D004").row(0, named=True)
    assert d004["close_date"] is None
    assert d004["discount_pct"] is None


# --- round trip ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_then_load_gives_back_equal_frames_and_plans(canonical_small_dir, tmp_path, fmt):
    original = load_canonical_dir(canonical_small_dir).data

    paths = write_canonical_dir(original, tmp_path / "out", fmt)
    again = load_canonical_dir(tmp_path / "out")

    assert sorted(p.name for p in paths if p.parent == tmp_path / "out") == sorted(
        f"{spec.name}.{fmt}" for spec in TABLES
    )
    for spec in TABLES:
        assert again.data[spec.name].equals(original[spec.name]), spec.name
    assert again.data.plans == original.plans
    assert again.rejects.height == 0
    assert again.warnings == []


def test_round_trip_keeps_awkward_values(tmp_path):
    deals = pl.DataFrame(
        {
            "deal_id": ["D1", "D2"],
            "account_id": ["A, with comma", 'A "quoted"\nand a line break'],
            "owner_rep_id": ["R1", "R1"],
            "deal_type": ["new_business", "renewal"],
            "stage": ["won", "open"],
            "amount": [0.1 + 0.2, 1e-9],
            "term_months": [36, 1],
            "discount_pct": [None, 0.3333333333333333],
            "created_date": [dt.date(1999, 12, 31), dt.date(2026, 2, 28)],
            "close_date": [dt.date(2000, 1, 1), None],
        }
    )
    for fmt in ("csv", "parquet"):
        path = write_table(deals, tmp_path, "deals", fmt)
        loaded = load_table(path, "deals")
        expected = deals.with_columns(
            lead_source=pl.lit(None, pl.String), referral_id=pl.lit(None, pl.String)
        )
        assert loaded.data.equals(expected), fmt
        assert loaded.rejects.height == 0


def test_commission_lines_are_written_only_when_given(canonical_small_dir, tmp_path):
    data = load_canonical_dir(canonical_small_dir).data
    without = CanonicalData(
        tables={n: df for n, df in data.tables.items() if n != "commission_lines"},
        plans=data.plans,
        given_commission_lines=False,
    )

    write_canonical_dir(without, tmp_path)
    loaded = load_canonical_dir(tmp_path)

    assert not (tmp_path / "commission_lines.csv").exists()
    assert loaded.data.given_commission_lines is False
    assert loaded.data.commission_lines.height == 0
    assert loaded.received["commission_lines"] == 0


# --- cell-level problems: the row is rejected, the rest flows -------------------------------------------


def test_wrong_type_value_rejects_only_that_row(canonical_small_copy):
    deals = canonical_small_copy / "deals.csv"
    _set_line(deals, 4, "D003,A004,R02,new_business,lost,thirty thousand,12,,2026-01-15,2026-03-01,outbound,")

    result = load_canonical_dir(canonical_small_copy)

    assert result.rejects.to_dicts() == [
        {
            "source_table": "deals",
            "source_file": str(deals),
            "source_line": 4,
            "row_key": "deal_id=D003",
            "rule": "type:amount",
            "columns": "amount",
            "offending_values": "thirty thousand",
            "detail": "amount must be a finite number of magnitude at most 1e12",
            "run_id": None,
        }
    ]
    assert result.data.deals["deal_id"].to_list() == ["D001", "D002", "D004", "D005", "D006", "D007", "D008"]
    assert result.received["deals"] == 8
    assert any("1 of 8 row(s) rejected" in w and str(deals) in w for w in result.warnings)


def test_unparsable_date_is_rejected_with_its_line_and_key(tmp_path):
    path = _deals_csv(
        tmp_path,
        GOOD_DEAL,
        "D002,A002,R01,new_business,won,60000.0,24,0.1,2026-02-01,2026-02-30,outbound,",
        "D003,A002,R01,new_business,won,60000.0,24,0.1,01/02/2026,2026-03-01,outbound,",
    )

    load = load_table(path, "deals")

    assert load.rejects.select("source_line", "row_key", "rule", "offending_values", "detail").rows() == [
        (3, "deal_id=D002", "type:close_date", "2026-02-30", "close_date must be a date YYYY-MM-DD"),
        (4, "deal_id=D003", "type:created_date", "01/02/2026", "created_date must be a date YYYY-MM-DD"),
    ]
    assert load.data["deal_id"].to_list() == ["D001"]
    assert load.received == 3


def test_null_in_required_column_is_rejected(tmp_path):
    path = _deals_csv(
        tmp_path,
        GOOD_DEAL,
        "D002,,R01,new_business,won,60000.0,24,0.1,2026-02-01,2026-03-01,outbound,",
    )

    load = load_table(path, "deals")

    assert load.rejects.select(
        "source_line", "row_key", "rule", "columns", "offending_values", "detail"
    ).rows() == [
        (
            3,
            "deal_id=D002",
            "not_null:account_id",
            "account_id",
            None,
            "account_id is required and must not be empty",
        )
    ]
    assert load.data["deal_id"].to_list() == ["D001"]


def test_every_problem_of_a_row_is_reported_and_the_row_kept_out_once(tmp_path):
    path = _deals_csv(tmp_path, ",A002,R01,new_business,won,abc,2.5,0.1,2026-02-01,never,,", GOOD_DEAL)

    load = load_table(path, "deals")

    assert load.rejects.select("source_line", "row_key", "rule", "offending_values").rows() == [
        (2, "deal_id=<null>", "not_null:deal_id", None),
        (2, "deal_id=<null>", "type:amount", "abc"),
        (2, "deal_id=<null>", "type:term_months", "2.5"),
        (2, "deal_id=<null>", "type:close_date", "never"),
    ]
    assert load.data["deal_id"].to_list() == ["D001"]
    assert load.received == 2


def test_text_parsing_is_strict_but_tolerates_spaces_and_whole_floats(tmp_path):
    path = _deals_csv(
        tmp_path,
        "D1,A1,R1,new_business,won, 40000.5 ,12.0,  ,2026-01-05, 2026-02-10 ,,",
        "D2,A1,R1,new_business,won,nan,12,0.1,2026-01-05,2026-02-10,,",
        "D3,A1,R1,new_business,won,inf,12,0.1,2026-01-05,2026-02-10,,",
        "D4,A1,R1,new_business,won,1e3,99999999999999999999,0.1,2026-01-05,2026-02-10,,",
    )

    load = load_table(path, "deals")

    row = load.data.row(0, named=True)
    assert (row["deal_id"], row["amount"], row["term_months"], row["discount_pct"], row["close_date"]) == (
        "D1",
        40000.5,
        12,
        None,
        dt.date(2026, 2, 10),
    )
    assert load.rejects.select("row_key", "rule", "offending_values").rows() == [
        ("deal_id=D2", "type:amount", "nan"),
        ("deal_id=D3", "type:amount", "inf"),
        ("deal_id=D4", "type:term_months", "99999999999999999999"),
    ]


def test_line_numbers_count_multiline_cells_and_blank_lines(tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        DEALS_HEADER
        + "\n"
        + 'D1,A1,R1,new_business,won,1.0,12,,2026-01-05,2026-02-10,"two\nlines",\n'  # lines 2-3
        + "\n"  # line 4: blank, skipped
        + "D2,A1,R1,new_business,won,bad,12,,2026-01-05,2026-02-10,,\n"  # line 5
        + 'D3,A1,R1,new_business,won,1.0,12,,2026-01-05,2026-02-10,"a\nb\nc",\n'  # lines 6-8
        + "D4,A1,R1,new_business,won,1.0,12,,2026-01-05,oops,,\n"  # line 9
    )

    load = load_table(path, "deals")

    assert load.rejects.select("source_line", "row_key").rows() == [(5, "deal_id=D2"), (9, "deal_id=D4")]
    assert load.data["deal_id"].to_list() == ["D1", "D3"]
    assert load.data["lead_source"].to_list() == ["two\nlines", "a\nb\nc"]
    assert load.received == 4


def test_rejects_of_all_tables_are_gathered(canonical_small_copy):
    _set_line(canonical_small_copy / "reps.csv", 3, "R02,Ben Brooks,hunters,east,2024-06-15,soon")
    _set_line(canonical_small_copy / "churn_events.csv", 2, "A002,,60000.0,budget cut")

    result = load_canonical_dir(canonical_small_copy)

    assert result.rejects.select("source_table", "source_line", "row_key", "rule").sort(
        "source_table"
    ).rows() == [
        ("churn_events", 2, "account_id=A002, churn_date=<null>", "not_null:churn_date"),
        ("reps", 3, "rep_id=R02", "type:termination_date"),
    ]
    assert result.data.reps["rep_id"].to_list() == ["R01", "R03"]
    assert result.data.churn_events.height == 1
    assert result.received["reps"] == 3


# --- Parquet -------------------------------------------------------------------------------------------


def test_parquet_with_other_dtypes_is_cast_and_bad_cells_rejected_by_row_number(tmp_path):
    path = tmp_path / "deals.parquet"
    pl.DataFrame(
        {
            "deal_id": ["D1", "D2", "D3"],
            "account_id": ["A1", "A1", None],
            "owner_rep_id": ["R1", "R1", "R1"],
            "deal_type": ["new_business"] * 3,
            "stage": ["won"] * 3,
            "amount": ["10.5", "ten", "3"],
            "term_months": pl.Series([12.0, 24.0, 6.5], dtype=pl.Float32),
            "created_date": [dt.datetime(2026, 1, 5, 9, 30)] * 3,
            "close_date": ["2026-02-10", "2026-02-10", "2026-02-10"],
        }
    ).write_parquet(path)

    load = load_table(path, "deals")

    assert load.data.schema == table("deals").polars_schema
    row = load.data.row(0, named=True)
    assert (row["amount"], row["term_months"], row["created_date"], row["close_date"]) == (
        10.5,
        12,
        dt.date(2026, 1, 5),
        dt.date(2026, 2, 10),
    )
    assert load.rejects.select("source_line", "row_key", "rule", "offending_values").rows() == [
        (2, "deal_id=D2", "type:amount", "ten"),
        (3, "deal_id=D3", "not_null:account_id", None),
        (3, "deal_id=D3", "type:term_months", "6.5"),
    ]


def test_parquet_column_of_unconvertible_type_is_a_file_error(tmp_path):
    path = tmp_path / "churn_events.parquet"
    pl.DataFrame(
        {"account_id": ["A1"], "churn_date": [dt.date(2026, 1, 1)], "lost_amount": [[1.0, 2.0]]}
    ).write_parquet(path)

    with pytest.raises(LoadError) as err:
        load_table(path, "churn_events")

    assert err.value.column == "lost_amount"
    assert str(err.value) == (
        f"{path}: column 'lost_amount': column has a type that cannot be converted "
        "(found 'List(Float64)'); expected a finite number of magnitude at most 1e12"
    )


# --- file-level problems: LoadError naming file and column -----------------------------------------------


def test_missing_required_column_names_file_column_and_expected_columns(canonical_small_copy):
    deals = canonical_small_copy / "deals.csv"
    frame = pl.read_csv(deals, infer_schema=False).drop("amount")
    frame.write_csv(deals)

    with pytest.raises(LoadError) as err:
        load_canonical_dir(canonical_small_copy)

    assert (err.value.file, err.value.line, err.value.column) == (str(deals), 1, "amount")
    assert str(err.value) == (
        f"{deals}:1: column 'amount': required column is missing; expected columns deal_id, account_id, "
        "owner_rep_id, deal_type, stage, amount, term_months, discount_pct, created_date, close_date, "
        "lead_source, referral_id"
    )


def test_absent_optional_column_is_filled_with_its_default_and_warned(tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "deal_id,account_id,owner_rep_id,deal_type,stage,amount,created_date,close_date,extra\n"
        "D1,A1,R1,renewal,won,5.0,2026-01-05,2026-02-10,x\n"
    )

    load = load_table(path, "deals")

    assert load.data["term_months"].to_list() == [12]
    assert load.data["discount_pct"].to_list() == [None]
    assert load.warnings == [
        f"{path}: ignoring unknown column(s) 'extra'; table deals has columns deal_id, account_id, "
        "owner_rep_id, deal_type, stage, amount, term_months, discount_pct, created_date, close_date, "
        "lead_source, referral_id",
        f"{path}: optional column(s) absent, filled: 'term_months' (default 12), 'discount_pct' (null), "
        "'lead_source' (null), 'referral_id' (null)",
    ]


def test_empty_file_without_header_is_an_error(canonical_small_copy):
    referrals = canonical_small_copy / "referrals.csv"
    referrals.write_text("")

    with pytest.raises(LoadError) as err:
        load_canonical_dir(canonical_small_copy)

    assert (
        str(err.value)
        == f"{referrals}: empty file: no header line; expected a header line naming the columns"
    )


def test_header_only_file_is_an_empty_table_with_a_warning(canonical_small_copy):
    churn = canonical_small_copy / "churn_events.csv"
    churn.write_text("account_id,churn_date,lost_amount,reason\n")

    result = load_canonical_dir(canonical_small_copy)

    assert result.data.churn_events.height == 0
    assert result.data.churn_events.schema == table("churn_events").polars_schema
    assert result.received["churn_events"] == 0
    assert f"{churn}: table churn_events has no rows" in result.warnings


def test_repeated_column_is_an_error(tmp_path):
    path = tmp_path / "reps.csv"
    path.write_text("rep_id,rep_name,rep_id\nR1,Ana,R1\n")

    with pytest.raises(LoadError) as err:
        load_table(path, "reps")

    assert str(err.value) == f"{path}: column 'rep_id': column appears more than once in the header"


def test_long_csv_row_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "reps.csv"
    path.write_text("rep_id,rep_name\nR1,Ana,extra,fields\nR2,Bo\n")

    load = load_table(path, "reps")

    assert load.data["rep_id"].to_list() == ["R2"]
    assert load.received == 2
    assert load.rejects.select("source_line", "rule", "detail", "offending_values").rows() == [
        (2, "row_shape", "long row: 4 fields, expected 2", "R1,Ana,extra,fields")
    ]


def test_corrupt_parquet_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "reps.parquet"
    path.write_bytes(b"not parquet at all")

    with pytest.raises(LoadError) as err:
        load_table(path, "reps")

    assert str(err.value).startswith(f"{path}: cannot read Parquet file: ")


# --- folder-level problems ----------------------------------------------------------------------------


def test_unknown_files_in_the_folder_are_warned_about(canonical_small_copy):
    (canonical_small_copy / "notes.txt").write_text("hello")
    (canonical_small_copy / "deals.xlsx").write_bytes(b"")
    (canonical_small_copy / ".DS_Store").write_bytes(b"")

    result = load_canonical_dir(canonical_small_copy)

    assert result.warnings == [
        f"{canonical_small_copy / 'deals.xlsx'}: not a canonical table file; ignored "
        "(table deals is read only from deals.csv or deals.parquet)",
        f"{canonical_small_copy / 'notes.txt'}: not a canonical table file; ignored",
    ]
    assert result.data.warnings == result.warnings
    assert result.data.deals.height == 8


def test_table_given_as_csv_and_parquet_is_an_error_naming_both(canonical_small_copy):
    pl.read_csv(canonical_small_copy / "reps.csv").write_parquet(canonical_small_copy / "reps.parquet")

    with pytest.raises(LoadError) as err:
        load_canonical_dir(canonical_small_copy)

    csv, parquet = canonical_small_copy / "reps.csv", canonical_small_copy / "reps.parquet"
    assert str(err.value) == (
        f"{canonical_small_copy}: table reps is given twice: {csv} and {parquet}; "
        "expected exactly one file per table"
    )


def test_missing_required_tables_are_all_named_with_expected_files(canonical_small_copy):
    (canonical_small_copy / "reps.csv").unlink()
    (canonical_small_copy / "referrals.csv").unlink()

    with pytest.raises(LoadError) as err:
        load_canonical_dir(canonical_small_copy)

    assert str(err.value).splitlines() == [
        f"{canonical_small_copy}: required table reps is missing; expected reps.csv or reps.parquet",
        f"{canonical_small_copy}: required table referrals is missing; "
        "expected referrals.csv or referrals.parquet",
    ]


def test_folder_without_plans_is_an_error(canonical_small_copy):
    for plan in (canonical_small_copy / "plans").iterdir():
        plan.unlink()

    with pytest.raises(LoadError) as err:
        load_canonical_dir(canonical_small_copy)

    plans = canonical_small_copy / "plans"
    assert str(err.value) == f"{plans}: no plan files; expected plans/<plan_id>.yaml files"


def test_bad_plan_file_raises_plan_error(canonical_small_copy):
    plan = canonical_small_copy / "plans" / "farmer-2026.yaml"
    plan.write_text(plan.read_text().replace("period: quarter", "period: fortnight"))

    with pytest.raises(PlanError) as err:
        load_canonical_dir(canonical_small_copy)

    assert str(err.value) == (
        f"{plan}:4: period: unknown period 'fortnight'; expected one of ['month', 'quarter', 'year']"
    )


def test_not_a_folder_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="not a folder"):
        load_canonical_dir(tmp_path / "nowhere")


def test_file_errors_of_several_tables_are_reported_together(canonical_small_copy):
    (canonical_small_copy / "accounts.csv").write_text("")
    (canonical_small_copy / "reps.csv").write_text("rep_name\nAna\n")

    with pytest.raises(LoadError) as err:
        load_canonical_dir(canonical_small_copy)

    assert [(i.file, i.column) for i in err.value.issues] == [
        (str(canonical_small_copy / "accounts.csv"), None),
        (str(canonical_small_copy / "reps.csv"), "rep_id"),
    ]


def test_rejects_schema_is_the_data_quality_rejects_table():
    assert DATA_QUALITY_REJECTS.polars_schema == REJECTS_SCHEMA


def test_readme_in_a_canonical_folder_is_not_warned_about(canonical_small_copy):
    (canonical_small_copy / "README.md").write_text("what this folder is")
    assert not [w for w in load_canonical_dir(canonical_small_copy).warnings if "README" in w]


@pytest.mark.parametrize(
    ("ids", "twins"),
    [
        (["D1", "D2", "d3", None], False),
        (["D1", "D1", "D2", None, None], False),  # exact duplicates and nulls repeat, but are no twins
        (["D1", "D2", "d1"], True),
        (["x", "D1", "D1", "d1", None], True),
        (["É1", "é1"], True),  # no ASCII letter of either case: found by the non-ASCII scan
        (["É1", "é2"], False),
        (["ab", "AB"], True),
        (["ab", "cd", None], False),  # lower case only
        (["AB", "CD"], False),  # upper case only
        (["@1", "[1", "`1", "{1"], False),  # the ASCII signs next to the letters are no letters
        (["a@", "A@"], True),
        ([], False),
    ],
)
def test_case_twins_are_found_exactly(ids, twins):
    assert _has_case_twins(pl.Series(ids, dtype=pl.String)) is twins
