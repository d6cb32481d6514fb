"""Commission payout exports -> commission_lines: the generic mapping, QuotaPath's payouts API, the rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from compscore.adapters import SourceError, import_source
from compscore.adapters.commission import map_commission_lines, plans_by_assignment
from compscore.adapters.transform import parse_period
from compscore.cli import main

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
COMMISSION = EXPORTS / "commission"
PLANS = Path(__file__).parent / "fixtures" / "canonical_small" / "plans"
ASSIGNMENTS = EXPORTS / "assignments" / "rep_plan_assignments.csv"
ADA, GRACE = "005A0000001aBcDIAU", "005A0000002XyZwIAK"
ACME_FIRST, ACME_UPGRADE, INITECH = "006A0000001AaAaIAK", "006A0000001BbBbIAK", "006A0000001EeEeIAK"
COLUMNS = ["line_id", "rep_id", "plan_id", "component_id", "line_type", "deal_id", "amount", "earned_date"]


def _import(commissions: Path, mapping: Path):
    return import_source(
        "salesforce",
        EXPORTS / "salesforce",
        plans_dir=PLANS,
        assignments_csv=ASSIGNMENTS,
        commissions=commissions,
        commission_mapping=mapping,
    )


def test_generic_export_maps_payees_rules_periods_and_signs() -> None:
    result = _import(COMMISSION / "payouts.csv", COMMISSION / "mapping.yaml")
    lines = result.data.commission_lines.select(COLUMNS)
    d = dt.date
    # Payees by the map (emails) or kept (a 15-character id made 18-character); plan by name, or, empty,
    # the rep's assignment (Grace: farmer-2026 from 2017-01-01); Q1-2017 -> 2017-03-31, 2017-06 ->
    # 2017-06-30, Jan 2018 -> 2018-01-31; "(125.00)" -> -125; empty type: by sign, adjustment by component.
    assert lines.rows() == [
        ("payouts.csv:2", ADA, "hunter-2026", "nb", "earning", ACME_FIRST, 125.0, d(2017, 3, 31)),
        ("payouts.csv:3", GRACE, "farmer-2026", "renew", "earning", ACME_UPGRADE, 49.03, d(2017, 6, 30)),
        ("payouts.csv:4", ADA, "hunter-2026", "nb", "clawback", ACME_FIRST, -125.0, d(2017, 12, 31)),
        ("payouts.csv:5", ADA, "hunter-2026", "qe", "earning", None, 1000.0, d(2017, 3, 31)),
        ("payouts.csv:6", GRACE, "farmer-2026", "adjustment", "adjustment", None, -50.0, d(2018, 1, 31)),
        ("payouts.csv:7", GRACE, "farmer-2026", "nb", "earning", INITECH, 300.0, d(2017, 5, 1)),
    ]
    assert result.data.given_commission_lines
    assert result.data.commission_lines["paid_date"].to_list()[:2] == [d(2017, 4, 15), d(2017, 7, 15)]


def test_quotapath_payouts_api_page_maps_to_lines() -> None:
    """Built from QuotaPath's ExternalPayout schema (GET /v1/payout/): id, date, deal_date,
    deal_integration_id, path_name, plan_name, target_user_email, value."""
    result = _import(COMMISSION / "quotapath_payouts.json", COMMISSION / "quotapath_mapping.yaml")
    lines = result.data.commission_lines
    d = dt.date
    assert lines.select(COLUMNS[1:]).rows() == [
        (ADA, "hunter-2026", "nb", "earning", ACME_FIRST, 125.0, d(2017, 3, 7)),
        (GRACE, "farmer-2026", "renew", "earning", ACME_UPGRADE, 49.03, d(2017, 6, 30)),
        # no deal_date: the payout date; a negative value is a clawback
        (ADA, "hunter-2026", "nb", "clawback", ACME_FIRST, -125.0, d(2018, 1, 15)),
    ]
    assert lines["line_id"].to_list()[0] == "3f1c2a8e-5b7d-4c1e-9a2f-0d6b8e4c1a01"


def test_an_unmapped_rule_is_listed_by_name_count_and_first_line(tmp_path: Path) -> None:
    export = tmp_path / "payouts.csv"
    export.write_text(
        "Payee ID,Plan,Rule Name,Amount,Period\n"
        "ada@example.com,FY17 Hunter,New Logo Commission,10,2017-01\n"
        "ada@example.com,FY17 Hunter,Renewal Kicker,20,2017-01\n"
        "ada@example.com,FY17 Hunter,New Logo Commission,30,2017-02\n"
        "ada@example.com,FY17 Hunter,Renewal Kicker,40,2017-02\n"
    )
    with pytest.raises(SourceError) as caught:
        map_commission_lines(export, COMMISSION / "mapping.yaml")
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.column, issue.value) == (
        str(export),
        3,
        "Rule Name",
        "Renewal Kicker",
    )
    assert "(2 rows, first at line 3)" in issue.expected
    assert "tables.commission_lines.columns.component_id.map" in issue.expected


def test_a_bad_period_and_a_missing_amount_column_name_file_line_and_column(tmp_path: Path) -> None:
    export = tmp_path / "payouts.csv"
    export.write_text("Payee ID,Rule Name,Period\nada@example.com,New Logo Commission,Q5-2017\n")
    with pytest.raises(SourceError) as caught:
        map_commission_lines(export, COMMISSION / "mapping.yaml")
    found = {(i.line, i.column, i.value) for i in caught.value.issues}
    assert (1, "amount", None) in found
    assert (2, "Period", "Q5-2017") in found


@pytest.mark.parametrize(
    ("convention", "exported"),
    [
        ("signed", ["125", "-125"]),  # as paid: the clawback is negative
        ("unsigned", ["125", "125"]),  # all positive: the clawback line is negated
        ("negated", ["-125", "125"]),  # a company-side ledger: pay negative, money back positive
    ],
)
def test_amount_sign_conventions_give_the_same_lines(
    tmp_path: Path, convention: str, exported: list[str]
) -> None:
    mapping = tmp_path / "mapping.yaml"
    text = (COMMISSION / "mapping.yaml").read_text()
    mapping.write_text(text.replace("amount_sign: signed", f"amount_sign: {convention}"))
    export = tmp_path / "payouts.csv"
    export.write_text(
        "Payee ID,Plan,Rule Name,Type,Amount,Period\n"
        f"ada@example.com,FY17 Hunter,New Logo Commission,Commission,{exported[0]},2017-01\n"
        f"ada@example.com,FY17 Hunter,New Logo Commission,Clawback,{exported[1]},2017-02\n"
    )
    lines = map_commission_lines(export, mapping).lines
    assert lines["amount"].to_list() == [125.0, -125.0]
    assert lines["line_type"].to_list() == ["earning", "clawback"]


def test_period_labels_become_the_last_or_first_day() -> None:
    labels = ["2024-02", "Feb 2024", "February 2024", "Q1-2026", "q4 2026", "2026-Q2", "2026", "2026-03-15"]
    frame = pl.DataFrame({"label": [*labels, "2026-13", "Q5-2026", "soon"]})
    out = frame.select(
        end=parse_period(pl.col("label"), ("%Y-%m-%d",)),
        start=parse_period(pl.col("label"), ("%Y-%m-%d",), at_end=False),
    )
    d = dt.date
    assert out["end"].to_list() == [
        d(2024, 2, 29),  # leap February
        d(2024, 2, 29),
        d(2024, 2, 29),
        d(2026, 3, 31),
        d(2026, 12, 31),
        d(2026, 6, 30),
        d(2026, 12, 31),
        d(2026, 3, 15),  # a date is its own period
        None,
        None,
        None,
    ]
    assert out["start"].to_list()[:8] == [
        d(2024, 2, 1),
        d(2024, 2, 1),
        d(2024, 2, 1),
        d(2026, 1, 1),
        d(2026, 10, 1),
        d(2026, 4, 1),
        d(2026, 1, 1),
        d(2026, 3, 15),
    ]


def test_plan_by_assignment_respects_start_and_end_dates() -> None:
    d = dt.date
    assignments = pl.DataFrame(
        {
            "rep_id": ["R1", "R1"],
            "plan_id": ["old", "new"],
            "start_date": [d(2026, 1, 1), d(2026, 7, 1)],
            "end_date": [d(2026, 3, 31), None],
        }
    )
    lines = pl.DataFrame(
        {
            "rep_id": ["R1", "R1", "R1", "R2"],
            "plan_id": [None, None, "given", None],
            # 2026-03-31: last day of "old"; 2026-05-01: in the gap between them; 2026-08-01: "new"
            "earned_date": [d(2026, 3, 31), d(2026, 5, 1), d(2026, 8, 1), d(2026, 8, 1)],
        }
    )
    assert plans_by_assignment(lines, assignments)["plan_id"].to_list() == ["old", None, "given", None]


def test_a_line_no_assignment_covers_is_a_reject_with_its_line(tmp_path: Path) -> None:
    export = tmp_path / "payouts.csv"
    export.write_text(
        "Payee ID,Rule Name,Amount,Period\n"
        "grace@example.com,Expansion Commission,10,2017-01\n"
        "grace@example.com,Expansion Commission,10,2016-12\n"
    )
    result = _import(export, COMMISSION / "mapping.yaml")
    assert result.data.commission_lines["line_id"].to_list() == ["payouts.csv:2"]
    reject = result.rejects.filter(pl.col("source_table") == "commission_lines")
    assert reject.select("source_file", "source_line", "rule", "offending_values").rows() == [
        (str(export), 3, "plan_assignment:plan_id", f"{GRACE}, 2016-12-31")
    ]


def test_cli_import_writes_commission_lines_from_the_export(tmp_path: Path) -> None:
    out = tmp_path / "acme"
    code = main(
        [
            "import",
            "--from",
            "salesforce",
            "--input",
            str(EXPORTS / "salesforce"),
            "--out",
            str(out),
            "--plans",
            str(PLANS),
            "--assignments",
            str(ASSIGNMENTS),
            "--commissions",
            str(COMMISSION / "payouts.csv"),
            "--commission-mapping",
            str(COMMISSION / "mapping.yaml"),
        ]
    )
    assert code == 0
    written = pl.read_csv(out / "commission_lines.csv")
    assert written.height == 6
    assert written["amount"].sum() == pytest.approx(125 + 49.03 - 125 + 1000 - 50 + 300)


def test_cli_exits_2_naming_the_unmapped_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "payouts.csv"
    export.write_text("Payee ID,Rule Name,Amount,Period\nada@example.com,Mystery Bonus,5,2017-01\n")
    args = [
        "import",
        "--from",
        "salesforce",
        "--input",
        str(EXPORTS / "salesforce"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*args, "--commissions", str(export)]) == 2
    err = capsys.readouterr().err
    assert f"{export}: line 2: column 'Rule Name': value 'Mystery Bonus'" in err
    assert "commission_generic.yaml" in err


def test_a_json_file_that_is_not_a_list_of_records_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "payouts.json"
    broken.write_text('{"results": [\n  {"id": "a",\n  }\n]}')
    with pytest.raises(SourceError) as caught:
        map_commission_lines(broken, COMMISSION / "mapping.yaml")
    [issue] = caught.value.issues
    assert (issue.file, issue.line) == (str(broken), 3)
    assert issue.expected.startswith("not valid JSON")
    scalars = tmp_path / "scalars.json"
    scalars.write_text('{"results": [1, 2]}')
    with pytest.raises(SourceError, match="expected a list of records"):
        map_commission_lines(scalars, COMMISSION / "mapping.yaml")
