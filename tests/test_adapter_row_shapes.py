"""Issue 16: an export record whose number of fields differs from the header's is rejected, never loaded.

A row that lost its last field, the two halves of a row split by an unquoted line break and a row with a
field too many each become a `row_shape` reject naming file and line ("short row: 10 fields, expected
11"); the other rows are imported unchanged, and a quoted cell holding a line break is still one record.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from compscore.adapters import SourceError, import_source
from compscore.adapters.commission import map_commission_lines
from compscore.adapters.pull import rows_received
from compscore.adapters.readers import LINE, MisshapenRecord, read_export
from compscore.csv_rows import MAX_SHOWN_CHARS

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
COMMISSION_MAPPING = EXPORTS / "commission" / "mapping.yaml"
MAVEN = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "maven_crm"
HUBSPOT_HEADER = (
    "hs_object_id,dealname,dealstage,pipeline,amount,closedate,createdate,hubspot_owner_id,dealtype,"
    "hs_is_closed_won,associatedcompanyid\n"
)
REJECT_COLUMNS = ("source_table", "source_line", "row_key", "rule", "offending_values", "detail")


def _deal(deal_id: int, name: str | None = None) -> str:
    name = name if name is not None else f"Deal {deal_id}"
    return f"{deal_id},{name},closedwon,default,100,2024-02-10,2024-01-03,301,newbusiness,true,5001\n"


def _hubspot(tmp_path: Path, *rows: str) -> tuple[Path, pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """Import a HubSpot deals export of `rows`: (file, deals, rejects, rows received per table)."""
    path = tmp_path / "deals.csv"
    path.write_text(HUBSPOT_HEADER + "".join(rows), encoding="utf-8")
    result = import_source("hubspot", path)
    deals = result.data.deals.select("deal_id", "account_id", "stage", "amount")
    return path, deals, result.rejects, rows_received(result.data, result.rejects)


def _shape_rejects(rejects: pl.DataFrame) -> list[tuple]:
    return rejects.filter(pl.col("rule") == "row_shape").select(REJECT_COLUMNS).rows()


def test_hubspot_row_missing_its_last_field_is_rejected_and_the_others_import(tmp_path: Path) -> None:
    short = _deal(9002).removesuffix(",5001\n") + "\n"
    path, deals, rejects, received = _hubspot(tmp_path, _deal(9001), short, _deal(9003))
    assert deals.rows() == [("9001", "5001", "won", 100.0), ("9003", "5001", "won", 100.0)]
    assert rejects["source_file"].to_list() == [str(path)]
    assert _shape_rejects(rejects) == [
        (
            "deals",
            3,
            "<unparsed row at line 3>",
            "row_shape",
            short.strip(),
            "short row: 10 fields, expected 11",
        )
    ]
    assert received["deals"] == 3  # kept + rejected = the export's records


def test_hubspot_row_split_by_an_unquoted_line_break_rejects_both_halves(tmp_path: Path) -> None:
    split = _deal(9002, "Deal\nnine thousand two")
    path, deals, rejects, received = _hubspot(tmp_path, _deal(9001), split, _deal(9003))
    assert deals["deal_id"].to_list() == ["9001", "9003"]  # no half-row, no row keyed by the second half
    first, second = split.strip().split("\n")
    assert set(rejects["source_file"]) == {str(path)}
    assert _shape_rejects(rejects) == [
        ("deals", 3, "<unparsed row at line 3>", "row_shape", first, "short row: 2 fields, expected 11"),
        ("deals", 4, "<unparsed row at line 4>", "row_shape", second, "short row: 10 fields, expected 11"),
    ]
    assert received["deals"] == 4


def test_hubspot_over_long_row_is_rejected(tmp_path: Path) -> None:
    long = _deal(9002, "Deal, with an unquoted comma")
    _, deals, rejects, received = _hubspot(tmp_path, _deal(9001), long, _deal(9003))
    assert deals["deal_id"].to_list() == ["9001", "9003"]
    assert _shape_rejects(rejects) == [
        (
            "deals",
            3,
            "<unparsed row at line 3>",
            "row_shape",
            long.strip(),
            "long row: 12 fields, expected 11",
        )
    ]
    assert received["deals"] == 3


def test_hubspot_quoted_line_break_is_one_record_and_later_lines_stay_right(tmp_path: Path) -> None:
    quoted = _deal(9002, '"Deal\nspanning two lines"')
    short = "9004,Deal 9004\n"
    _, deals, rejects, received = _hubspot(tmp_path, _deal(9001), quoted, _deal(9003), short, _deal(9005))
    assert deals["deal_id"].to_list() == ["9001", "9002", "9003", "9005"]
    # 9002 takes lines 3-4, so 9003 is on line 5 and the short row on line 6
    assert [r[1] for r in _shape_rejects(rejects)] == [6]
    assert received["deals"] == 5


def _payouts(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "payouts.csv"
    path.write_text("Payee ID,Plan,Rule Name,Amount,Period,Note\n" + "".join(rows), encoding="utf-8")
    return path


def _payout(amount: int, note: str = "ok") -> str:
    return f"ada@example.com,FY17 Hunter,New Logo Commission,{amount},2017-01,{note}\n"


def test_commission_statement_rows_of_the_wrong_shape_are_rejects_with_file_and_line(tmp_path: Path) -> None:
    short = _payout(20).removesuffix(",ok\n") + "\n"
    split = _payout(30).replace("FY17 Hunter", "FY17\nHunter")
    long = _payout(40, "a, b")
    path = _payouts(tmp_path, _payout(10), short, split, long, _payout(50))
    imported = map_commission_lines(path, COMMISSION_MAPPING)
    # the line ids derived from the line show the good rows kept where they are
    assert imported.lines.select("line_id", "amount").rows() == [
        ("payouts.csv:2", 10.0),
        ("payouts.csv:7", 50.0),
    ]
    shape = imported.rejects.filter(pl.col("rule") == "row_shape")
    assert shape.select("source_table", "source_file", "source_line", "detail").rows() == [
        ("commission_lines", str(path), 3, "short row: 5 fields, expected 6"),
        ("commission_lines", str(path), 4, "short row: 2 fields, expected 6"),
        ("commission_lines", str(path), 5, "short row: 5 fields, expected 6"),
        ("commission_lines", str(path), 6, "long row: 7 fields, expected 6"),
    ]
    assert any("set aside 4 record(s)" in w and "3, 4, 5, 6" in w for w in imported.warnings)


def test_commission_quoted_line_break_is_accepted_and_later_line_ids_stay_right(tmp_path: Path) -> None:
    path = _payouts(tmp_path, _payout(10, '"two\nlines"'), _payout(20), _payout(30).replace(",ok", ""))
    imported = map_commission_lines(path, COMMISSION_MAPPING)
    assert imported.lines["line_id"].to_list() == ["payouts.csv:2", "payouts.csv:4"]
    assert imported.rejects.select("source_line", "rule").rows() == [(5, "row_shape")]


def test_read_export_sets_misshapen_records_aside_with_line_count_and_text(tmp_path: Path) -> None:
    long_tail = "x" * 300
    path = tmp_path / "export.csv"
    path.write_bytes(
        (
            "Id,Name,Amount\r\n"
            "1,Caf\xe9,10\r\n"  # Windows-1252: the reader falls back to it
            '2,"two\r\nlines",20\r\n'
            "3,short\r\n"
            f"4,Long,40,{long_tail}\r\n"
            "\r\n"  # an empty line and a row of separators: blank, not misshapen
            ",,\r\n"
            "   \r\n"
            "5, Five ,50\r\n"
            "6,Six\r\n"
        ).encode("cp1252")
    )
    export = read_export(path)
    assert export.frame.rows() == [
        (2, "1", "Café", "10"),
        (3, "2", "two\r\nlines", "20"),
        (10, "5", "Five", "50"),
    ]
    assert export.frame.columns == [LINE, "Id", "Name", "Amount"]
    assert export.misshapen == [
        MisshapenRecord(5, 2, 3, "3,short"),
        MisshapenRecord(6, 4, 3, f"4,Long,40,{long_tail}"[:MAX_SHOWN_CHARS]),
        MisshapenRecord(11, 2, 3, "6,Six"),
    ]
    assert export.misshapen[0].detail == "short row: 2 fields, expected 3"
    assert export.misshapen[1].detail == "long row: 4 fields, expected 3"
    assert any("Windows-1252" in w for w in export.warnings)
    assert any("skipped 3 blank row(s)" in w for w in export.warnings)
    assert any("set aside 3 record(s)" in w and "line(s) 5, 6, 11" in w for w in export.warnings)


def test_salesforce_account_row_missing_its_last_field_is_an_accounts_reject(tmp_path: Path) -> None:
    folder = tmp_path / "sf"
    shutil.copytree(EXPORTS / "salesforce", folder)
    accounts = folder / "Account.csv"
    text = accounts.read_text(encoding="utf-8-sig")
    accounts.write_text(text.replace(",2016-12-01T12:00:00.000+0000\n", "\n", 1), encoding="utf-8-sig")
    before = import_source("salesforce", EXPORTS / "salesforce")
    result = import_source("salesforce", folder)
    assert result.data.accounts["account_id"].to_list() == [
        a for a in before.data.accounts["account_id"].to_list() if a != "001A0000007Xk2pIAC"
    ]
    assert result.data.deals.equals(before.data.deals)
    shape = result.rejects.filter(pl.col("rule") == "row_shape")
    assert shape.select("source_table", "source_file", "source_line", "detail").rows() == [
        ("accounts", str(accounts), 3, "short row: 4 fields, expected 5")
    ]
    assert result.rejects.height == before.rejects.height + 1  # the fixture's own rejects stay


def test_a_misshapen_plan_assignment_fails_the_import_naming_file_and_line(tmp_path: Path) -> None:
    assignments = tmp_path / "rep_plan_assignments.csv"
    assignments.write_text("rep_id,plan_id,start_date,end_date\n301,hunter,2024-01-01,\n302,farmer\n")
    with pytest.raises(SourceError) as caught:
        import_source("hubspot", EXPORTS / "hubspot", assignments_csv=assignments)
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.value, issue.expected) == (
        str(assignments),
        3,
        "302,farmer",
        "short row: 2 fields, expected 4",
    )


@pytest.mark.skipif(not MAVEN.is_dir(), reason=f"Maven CRM dataset not found at {MAVEN}")
def test_a_misshapen_maven_price_list_row_fails_the_import_naming_file_and_line(tmp_path: Path) -> None:
    for source in MAVEN.glob("*.csv"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    products = tmp_path / "products.csv"
    products.write_text(products.read_text().replace("GTX Pro,GTX,4821", "GTX Pro,GTX"))
    with pytest.raises(SourceError) as caught:
        import_source("maven", tmp_path)
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.value, issue.expected) == (
        str(products),
        3,
        "GTX Pro,GTX",
        "short row: 2 fields, expected 3",
    )
