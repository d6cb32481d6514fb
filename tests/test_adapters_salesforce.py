"""Salesforce exports with real-world quirks map to the expected canonical rows, value for value."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from compscore.adapters import SourceError, import_source
from compscore.adapters.transform import salesforce_id18

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
SF = EXPORTS / "salesforce"
PLANS = Path(__file__).parent / "fixtures" / "canonical_small" / "plans"
ACME, GLOBEX, INITECH = "001A0000006Vm9rIAC", "001A0000007Xk2pIAC", "001A0000008qRsTIAU"
ADA, GRACE = "005A0000001aBcDIAU", "005A0000002XyZwIAK"
D = dt.date


def test_15_character_ids_become_their_18_character_form():
    ids = pl.Series(["001A0000006Vm9r", "001A0000008qRsT", "001A0000006Vm9rIAC", "5001"])
    out = pl.DataFrame({"i": ids}).select(salesforce_id18(pl.col("i")))["i"].to_list()
    assert out == ["001A0000006Vm9rIAC", "001A0000008qRsTIAU", "001A0000006Vm9rIAC", "5001"]


def test_opportunities_map_value_for_value():
    result = import_source("salesforce", SF)
    deals = result.data.deals
    o1, o2, o3, o4, o5, o6 = (f"006A0000001{c}{c.lower()}{c}{c.lower()}IAK" for c in "ABCDEF")
    assert deals.select("deal_id", "account_id", "owner_rep_id", "deal_type", "stage", "amount").rows() == [
        (o1, ACME, ADA, "new_business", "won", 1250.0),
        (o2, ACME, GRACE, "expansion", "won", 980.5),
        (o3, ACME, ADA, "renewal", "lost", 2000.0),
        (o4, GLOBEX, GRACE, "renewal", "open", 500.0),
        (o5, INITECH, GRACE, "new_business", "won", 3000.0),
        (o6, GLOBEX, ADA, "new_business", "won", 750.0),  # blank Type: Globex's first won deal
    ]
    assert deals.select("created_date", "close_date", "lead_source", "referral_id").rows() == [
        (D(2017, 1, 5), D(2017, 3, 7), "Web", None),
        (D(2017, 1, 15), D(2017, 6, 30), "Phone Inquiry", None),
        (D(2017, 10, 1), D(2017, 12, 31), None, None),
        (D(2017, 11, 2), D(2018, 1, 15), "Web", None),
        (D(2017, 4, 1), D(2017, 5, 1), "Partner Referral", f"ref-{o5}"),
        (D(2017, 7, 1), D(2017, 8, 1), "Word of mouth", None),
    ]
    assert deals["term_months"].to_list() == [12] * 6


def test_accounts_users_and_referrals():
    data = import_source("salesforce", SF).data
    assert data.accounts.rows() == [
        (ACME, "Acme Corporation", "Technology", "United States", D(2016, 11, 2)),
        (GLOBEX, "Globex", "Manufacturing", "Germany", D(2016, 12, 1)),
        (INITECH, "Initech", None, "United Kingdom", D(2017, 3, 20)),
    ]
    assert data.reps.rows() == [
        (ADA, "Ada Lovelace", "Enterprise", "EMEA", D(2015, 6, 1), None),
        (GRACE, "Grace Hopper", "Mid-Market", "AMER", D(2016, 2, 15), None),
    ]
    # Acme referred Initech; Acme's latest won deal before the referral (2017-04-01) was Ada's.
    assert data.referrals.rows() == [
        ("ref-006A0000001EeEeIAK", ACME, ADA, INITECH, D(2017, 4, 1), "006A0000001EeEeIAK")
    ]


def test_row_without_account_is_rejected_with_its_line_and_blank_rows_are_skipped():
    result = import_source("salesforce", SF)
    rejects = result.rejects.select("source_line", "row_key", "rule").rows()
    assert rejects == [
        (8, "deal_id=006A0000001GgGgIAK", "not_null:account_id"),
        (8, "deal_id=006A0000001GgGgIAK", "not_null:amount"),
    ]
    assert any("skipped 2 blank row(s)" in w for w in result.warnings)
    assert any("1 deal(s) have a referral lead source but no referring account" in w for w in result.warnings)


def test_plans_and_assignments_come_from_cli_options():
    data = import_source(
        "salesforce",
        SF,
        plans_dir=PLANS,
        assignments_csv=EXPORTS / "assignments" / "rep_plan_assignments.csv",
    ).data
    assert sorted(data.plans) == ["farmer-2026", "hunter-2026"]
    assert data.rep_plan_assignments.rows() == [
        (ADA, "hunter-2026", D(2017, 1, 1), None),
        (GRACE, "farmer-2026", D(2017, 1, 1), None),
    ]


def test_report_export_labels_and_footer():
    result = import_source("salesforce", EXPORTS / "salesforce_report")
    assert result.data.deals.select("deal_id", "deal_type", "stage", "amount", "close_date").rows() == [
        ("006A0000001AaAaIAK", "new_business", "won", 1250.0, D(2017, 3, 7)),
        ("006A0000001BbBbIAK", "expansion", "won", 980.5, D(2017, 6, 30)),
        ("006A0000001CcCcIAK", "renewal", "lost", 2000.0, D(2017, 12, 31)),
    ]
    assert any("6-line report footer" in w for w in result.warnings)
    assert result.data.accounts["account_id"].to_list() == [ACME]


def _edited_copy(tmp_path: Path, edit) -> Path:
    target = tmp_path / "sf"
    shutil.copytree(SF, target)
    path = target / "Opportunity.csv"
    path.write_bytes(edit(path.read_bytes().decode("utf-8-sig")).encode("utf-8-sig"))
    return target


def test_every_unmapped_picklist_value_is_named_with_file_row_and_column(tmp_path):
    folder = _edited_copy(
        tmp_path,
        lambda t: t.replace(",Renewal,,", ",Renewal - Multi-year,,").replace(
            "Existing Customer - Replacement", "Add-On"
        ),
    )
    with pytest.raises(SourceError) as err:
        import_source("salesforce", folder)
    issues = [(Path(i.file).name, i.line, i.column, i.value) for i in err.value.issues]
    assert issues == [
        ("Opportunity.csv", 4, "Type", "Renewal - Multi-year"),
        ("Opportunity.csv", 5, "Type", "Add-On"),
    ]
    message = str(err.value)
    assert "Opportunity.csv: line 4: column 'Type': value 'Renewal - Multi-year'" in message
    assert "tables.deals.columns.deal_type.map" in message


def test_missing_required_column_is_named(tmp_path):
    folder = _edited_copy(tmp_path, lambda t: t.replace(",CloseDate,", ",Close_Date__c,", 1))
    with pytest.raises(SourceError) as err:
        import_source("salesforce", folder)
    [issue] = err.value.issues
    assert (Path(issue.file).name, issue.line, issue.column) == ("Opportunity.csv", 1, "CloseDate")
    assert "required column is missing" in issue.expected and "deals.close_date" in issue.expected


def test_malformed_date_is_named_with_row_and_value(tmp_path):
    folder = _edited_copy(tmp_path, lambda t: t.replace("8/1/2017,7/1/2017", "31/31/2017,7/1/2017"))
    with pytest.raises(SourceError) as err:
        import_source("salesforce", folder)
    [issue] = err.value.issues
    assert (Path(issue.file).name, issue.line, issue.column, issue.value) == (
        "Opportunity.csv",
        7,
        "CloseDate",
        "31/31/2017",
    )
    assert "%m/%d/%Y" in issue.expected


def test_bad_boolean_and_amount_are_both_reported(tmp_path):
    folder = _edited_copy(
        tmp_path, lambda t: t.replace("True,True", "Yes,Maybe").replace("USD 980.50", "n/a")
    )
    with pytest.raises(SourceError) as err:
        import_source("salesforce", folder)
    found = {(i.line, i.column, i.value) for i in err.value.issues}
    assert found == {(6, "IsWon", "Maybe"), (3, "Amount", "n/a")}
