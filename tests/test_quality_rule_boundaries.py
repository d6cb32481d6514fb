"""Data-quality rules (`compscore.quality.rules`) at the edges tests/test_quality_rules.py leaves open.

On rows written by hand: missing values (a rule other than `not_null` passes on them), keys with missing
parts, assignments given out of date order or with missing dates, a foreign key checked from a few referring
rows, a plan with two components, the date windows; the reject rows a user reads (columns, offending values,
detail); and the whole catalogue of every table (names, words, GX expectations) as docs/data_quality.md
lists it.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from scoring_builders import D, plan
from test_quality_rules import PLANS, assignments, deals, lines

from compscore.plans import Plan
from compscore.quality.evaluate import check_table, reject_rows
from compscore.quality.rules import ROW_INDEX, References, flag_column, table_rules, with_flags
from compscore.schema import conform, table

TWO_COMPONENTS = {
    "p": plan(
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.1}]}\n"
        "  - {id: ex, kind: commission, applies_to: [expansion], tiers: [{from: 0.0, rate: 0.05}]}\n"
    )
}


def failures(
    name: str, rows: dict, refs: dict[str, pl.DataFrame] | None = None, plans: dict[str, Plan] = PLANS
) -> dict[str, list[int]]:
    """Rule name -> positions of the rows that fail it (rules nobody fails are left out)."""
    df = conform(pl.DataFrame(rows), name).collect().with_row_index(ROW_INDEX)
    rules = table_rules(table(name), References.from_tables(refs or {}, plans))
    flagged = with_flags(df, rules)
    out = {}
    for rule in rules:
        failed = flagged.filter(~rule.passes)[ROW_INDEX].to_list()
        if failed:
            out[rule.name] = failed
    return out


# --- missing values: only not_null reports them -------------------------------------------------------------


def test_a_missing_or_nan_amount_fails_not_null_and_nothing_else():
    # NaN counts as missing (pandas, and so GX, sees it so); the range rule passes both.
    found = failures("deals", deals(amount=[None, math.nan, 0.0]))
    assert found == {"not_null:amount": [0, 1]}


def test_a_missing_deal_type_or_stage_is_not_judged_by_the_allowed_values():
    found = failures("deals", deals(deal_type=[None, "renewal"], stage=["won", None]))
    assert found == {"not_null:deal_type": [0], "not_null:stage": [1]}


def test_a_missing_stage_is_not_open_so_the_close_date_is_required():
    # Row 0: stage and close_date missing -> close_date required (the stage is not `open`).
    # Row 1: stage missing, close_date present -> only not_null:stage.
    found = failures("deals", deals(stage=[None, None], close_date=[None, D(2026, 2, 1)]))
    assert found == {"not_null:stage": [0, 1], "required_unless_open:close_date": [0]}


def test_a_missing_line_type_or_amount_is_not_judged_by_the_sign_rules():
    # Row 0: no line_type, -5 (would break the earning rule); row 1: no line_type, +5 (would break the
    # clawback rule); rows 2 and 3: an earning and a clawback without an amount.
    found = failures("commission_lines", lines([None, None, "earning", "clawback"], [-5.0, 5.0, None, None]))
    assert found == {"not_null:line_type": [0, 1], "not_null:amount": [2, 3]}


def test_a_line_without_a_plan_is_not_judged_by_component_exists():
    rows = lines(["earning", "earning"], [1.0, 1.0], ["nb", "zz"])
    rows["plan_id"] = [None, None]
    assert failures("commission_lines", rows) == {"not_null:plan_id": [0, 1]}


# --- keys ---------------------------------------------------------------------------------------------------


def test_two_rows_without_a_key_are_not_duplicates():
    rows = deals(amount=[1.0, 2.0, 3.0])
    rows["deal_id"] = [None, None, "D1"]
    assert failures("deals", rows) == {"not_null:deal_id": [0, 1]}


def test_a_two_column_key_rejects_every_copy_and_only_rows_equal_in_both_columns():
    # (R1, Jan 1) twice: both copies; (R1, Feb 1) shares the rep only, (R2, Jan 1) the date only.
    # The two copies also overlap each other (same dates); Feb 1 starts after their Jan 31 end.
    rows = assignments(
        [D(2026, 1, 1), D(2026, 2, 1), D(2026, 1, 1), D(2026, 1, 1)],
        [D(2026, 1, 31), None, D(2026, 1, 31), None],
        reps=["R1", "R1", "R1", "R2"],
    )
    found = failures("rep_plan_assignments", rows)
    assert found == {"unique_key:rep_id,start_date": [0, 2], "no_overlap:rep_id": [0, 2]}


def test_a_two_column_key_with_a_missing_part_is_reported_by_not_null_only():
    rows = assignments([None, None], [D(2026, 1, 31), D(2026, 1, 31)])
    assert failures("rep_plan_assignments", rows) == {"not_null:start_date": [0, 1]}


# --- assignments: overlaps --------------------------------------------------------------------------------


def test_assignments_given_out_of_date_order_are_judged_in_date_order():
    # Row 0 starts Apr 1 (open), row 1 is Jan 1 - Mar 31: back to back once sorted by start date.
    rows = assignments([D(2026, 4, 1), D(2026, 1, 1)], [None, D(2026, 3, 31)])
    assert failures("rep_plan_assignments", rows) == {}


def test_assignments_without_a_rep_or_a_start_are_left_out_of_the_overlap_rule():
    # Row 0 (R1, no start, ends Dec 31) would overlap row 1 (R1, Jan 1 onwards) if it took part;
    # rows 2 and 3 (no rep, both open) would overlap each other.
    rows = assignments(
        [None, D(2026, 1, 1), D(2026, 3, 1), D(2026, 4, 1)],
        [D(2026, 12, 31), None, None, None],
        reps=["R1", "R1", None, None],
    )
    found = failures("rep_plan_assignments", rows)
    assert found == {"not_null:start_date": [0], "not_null:rep_id": [2, 3]}


# --- foreign keys and components ---------------------------------------------------------------------------


def test_a_foreign_key_from_a_few_rows_into_a_larger_table():
    # 2 deals * 4 < 10 reps: the referenced values are looked up among the referring ones.
    # The referring column (owner_rep_id) is named unlike the referenced one (reps.rep_id).
    refs = {"reps": pl.DataFrame({"rep_id": [f"R{i}" for i in range(10)]})}
    rows = deals(owner_rep_id=["R3", "R77"])
    assert failures("deals", rows, refs) == {"foreign_key:owner_rep_id->reps": [1]}


def test_a_foreign_key_from_many_rows_into_a_smaller_table():
    # 3 deals * 4 >= 2 reps: every referenced value is probed.
    refs = {"reps": pl.DataFrame({"rep_id": ["R1", "R2"]})}
    rows = deals(owner_rep_id=["R2", "R3", None])
    found = failures("deals", rows, refs)
    assert found == {"foreign_key:owner_rep_id->reps": [1], "not_null:owner_rep_id": [2]}


def test_components_of_a_plan_with_two_components():
    rows = lines(["earning"] * 4, [1.0] * 4, ["nb", "ex", "p", "zz"])
    found = failures("commission_lines", rows, plans=TWO_COMPONENTS)
    assert found == {"component_exists:component_id": [2, 3]}


# --- date windows -------------------------------------------------------------------------------------------


def test_a_hire_date_has_fixed_bounds_and_a_termination_date_no_upper_one():
    rows = {
        "rep_id": ["R1", "R2", "R3", "R4"],
        "hire_date": [D(1900, 1, 1), D(2100, 12, 31), D(1899, 12, 31), D(2101, 1, 1)],
        "termination_date": [D(9999, 12, 31), None, None, None],
    }
    assert failures("reps", rows) == {"date_window:hire_date": [2, 3]}


def test_an_event_date_is_at_most_366_days_after_the_bulk_of_its_column():
    # Three created dates: the 99th percentile, rounded down to a present date, is the second of
    # [2026-01-01, 2026-01-01, outlier] = 2026-01-01; 2026-01-01 + 366 days = 2027-01-02.
    def created(last: dt.date) -> dict:
        return deals(
            created_date=[D(2026, 1, 1), D(2026, 1, 1), last], stage=["open"] * 3, close_date=[None] * 3
        )

    assert failures("deals", created(D(2027, 1, 2))) == {}
    assert failures("deals", created(D(2027, 1, 3))) == {"date_window:created_date": [2]}


# --- flag column names --------------------------------------------------------------------------------------


def test_flag_column_names_keep_letters_and_digits_of_either_case_and_trim_underscores():
    assert flag_column("range:MRR (USD)") == "_ok_range_MRR_USD"
    assert flag_column("range:TAX") == "_ok_range_TAX"


# --- what a user reads in data_quality_rejects --------------------------------------------------------------


def rejects(name: str, rows: dict, refs: dict[str, pl.DataFrame], plans: dict[str, Plan] = PLANS) -> list:
    """(row_key, rule, columns, offending_values, detail) of every reject row, sorted."""
    spec = table(name)
    df = conform(pl.DataFrame(rows), name).collect()
    check = check_table(spec, df, References.from_tables(refs, plans), nonempty_required=False)
    out = reject_rows(spec, check, "run-1").select("row_key", "rule", "columns", "offending_values", "detail")
    return sorted(out.iter_rows())


def test_deal_rejects_name_the_columns_values_and_what_was_expected():
    refs = {"reps": pl.DataFrame({"rep_id": ["R1"]})}
    rows = deals(
        owner_rep_id=["R1", "R9", "R1"],
        stage=["won", "won", "lost"],
        close_date=[D(2026, 2, 1), D(2026, 2, 1), None],
        discount_pct=[1.5, None, None],
    )
    assert rejects("deals", rows, refs) == [
        (
            "deal_id=D0",
            "range:discount_pct",
            "discount_pct",
            "discount_pct=1.5",
            "discount_pct >= 0.0 and <= 1.0",
        ),
        (
            "deal_id=D1",
            "foreign_key:owner_rep_id->reps",
            "owner_rep_id",
            "owner_rep_id=R9",
            "owner_rep_id exists in reps.rep_id",
        ),
        (
            "deal_id=D2",
            "required_unless_open:close_date",
            "stage, close_date",
            "stage=lost, close_date=<null>",
            "close_date is required unless stage is open",
        ),
    ]


def test_statement_line_rejects_name_the_columns_values_and_what_was_expected():
    rows = lines(["earning", "clawback", "deferral_release", "earning"], [1.0, 2.5, -1.0, 1.0], ["nb"] * 4)
    rows["plan_id"] = ["p", "p", "p", "q"]
    rows["component_id"] = ["zz", "nb", "nb", "nb"]
    assert rejects("commission_lines", rows, {}) == [
        (
            "line_id=L0",
            "component_exists:component_id",
            "plan_id, component_id",
            "plan_id=p, component_id=zz",
            "component_id is a component of the line's plan, or `adjustment` "
            "(not judged when the plan itself is unknown: foreign_key:plan_id reports that)",
        ),
        (
            "line_id=L1",
            "amount_sign:clawback<=0",
            "line_type, amount",
            "line_type=clawback, amount=2.5",
            "amount <= 0 on clawback lines",
        ),
        (
            "line_id=L2",
            "amount_sign:earning_deferral_release>=0",
            "line_type, amount",
            "line_type=deferral_release, amount=-1.0",
            "amount >= 0 on earning and deferral_release lines (negative only for clawbacks and adjustments)",
        ),
        (
            "line_id=L3",
            "foreign_key:plan_id->plans",
            "plan_id",
            "plan_id=q",
            "plan_id exists in a plan file",
        ),
    ]


# --- the catalogue: every rule of every table, as docs/data_quality.md lists it -----------------------------

NOT_NULL = "ExpectColumnValuesToNotBeNull"
IN_SET = "ExpectColumnValuesToBeInSet"
BETWEEN = "ExpectColumnValuesToBeBetween"
PAIR = "ExpectColumnPairValuesAToBeGreaterThanB"
SINCE_1900 = "is on or after 1900-01-01"
UNTIL_2100 = f"{SINCE_1900} and on or before 2100-12-31"
NEAR_BULK = (
    f"{SINCE_1900}, on or before 2100-12-31, and at most 366 days after the bulk of the column "
    "(its 99% percentile)"
)


def not_null(tbl: str, col: str) -> tuple:
    return (tbl, f"not_null:{col}", (col,), f"{col} is required", "schema", NOT_NULL, {"column": col})


def flagged(tbl: str, name: str, columns: tuple, detail: str, flag: str, source: str = "schema") -> tuple:
    """A rule computed as a flag column, which GX checks for True."""
    return (tbl, name, columns, detail, source, IN_SET, {"column": flag, "value_set": [True]})


def unique(tbl: str, *key: str, flag: str) -> tuple:
    detail = f"({', '.join(key)}) is unique; every copy of a duplicated key is rejected"
    return flagged(tbl, f"unique_key:{','.join(key)}", key, detail, flag)


def window(tbl: str, col: str, words: str, flag: str) -> tuple:
    return flagged(tbl, f"date_window:{col}", (col,), f"{col} {words}", flag, "explicit")


def reference(tbl: str, col: str, target: str, where: str, flag: str) -> tuple:
    return flagged(tbl, f"foreign_key:{col}->{target}", (col,), f"{col} exists in {where}", flag)


def date_order(tbl: str, earlier: str, later: str) -> tuple:
    kwargs = {
        "column_A": later,
        "column_B": earlier,
        "or_equal": True,
        "ignore_row_if": "either_value_is_missing",
    }
    return (
        tbl,
        f"date_order:{earlier}<={later}",
        (earlier, later),
        f"{later} is on or after {earlier}",
        "schema",
        PAIR,
        kwargs,
    )


CATALOGUE = {
    "accounts": [
        not_null("accounts", "account_id"),
        unique("accounts", "account_id", flag="_ok_unique_key_account_id"),
        window("accounts", "created_date", UNTIL_2100, "_ok_date_window_created_date"),
    ],
    "reps": [
        not_null("reps", "rep_id"),
        unique("reps", "rep_id", flag="_ok_unique_key_rep_id"),
        date_order("reps", "hire_date", "termination_date"),
        window("reps", "hire_date", UNTIL_2100, "_ok_date_window_hire_date"),
        window("reps", "termination_date", SINCE_1900, "_ok_date_window_termination_date"),
    ],
    "rep_plan_assignments": [
        not_null("rep_plan_assignments", "rep_id"),
        not_null("rep_plan_assignments", "plan_id"),
        not_null("rep_plan_assignments", "start_date"),
        unique("rep_plan_assignments", "rep_id", "start_date", flag="_ok_unique_key_rep_id_start_date"),
        date_order("rep_plan_assignments", "start_date", "end_date"),
        window("rep_plan_assignments", "start_date", UNTIL_2100, "_ok_date_window_start_date"),
        window("rep_plan_assignments", "end_date", SINCE_1900, "_ok_date_window_end_date"),
        reference("rep_plan_assignments", "rep_id", "reps", "reps.rep_id", "_ok_foreign_key_rep_id_reps"),
        reference("rep_plan_assignments", "plan_id", "plans", "a plan file", "_ok_foreign_key_plan_id_plans"),
        flagged(
            "rep_plan_assignments",
            "no_overlap:rep_id",
            ("rep_id", "start_date", "end_date"),
            "a rep's assignments do not overlap (an open end runs forever); "
            "every overlapping row is rejected",
            "_ok_no_overlap_rep_id",
            "explicit",
        ),
    ],
    "deals": [
        *(not_null("deals", c) for c in ("deal_id", "account_id", "owner_rep_id", "deal_type", "stage")),
        not_null("deals", "amount"),
        not_null("deals", "created_date"),
        unique("deals", "deal_id", flag="_ok_unique_key_deal_id"),
        (
            "deals",
            "allowed_values:deal_type",
            ("deal_type",),
            "deal_type is one of ['new_business', 'expansion', 'renewal']",
            "schema",
            IN_SET,
            {"column": "deal_type", "value_set": ["new_business", "expansion", "renewal"]},
        ),
        (
            "deals",
            "allowed_values:stage",
            ("stage",),
            "stage is one of ['open', 'won', 'lost']",
            "schema",
            IN_SET,
            {"column": "stage", "value_set": ["open", "won", "lost"]},
        ),
        (
            "deals",
            "range:amount",
            ("amount",),
            "amount >= 0.0",
            "schema",
            BETWEEN,
            {"column": "amount", "min_value": 0.0},
        ),
        (
            "deals",
            "range:term_months",
            ("term_months",),
            "term_months >= 1",
            "schema",
            BETWEEN,
            {"column": "term_months", "min_value": 1},
        ),
        (
            "deals",
            "range:discount_pct",
            ("discount_pct",),
            "discount_pct >= 0.0 and <= 1.0",
            "schema",
            BETWEEN,
            {"column": "discount_pct", "min_value": 0.0, "max_value": 1.0},
        ),
        date_order("deals", "created_date", "close_date"),
        window("deals", "created_date", NEAR_BULK, "_ok_date_window_created_date"),
        window("deals", "close_date", NEAR_BULK, "_ok_date_window_close_date"),
        reference(
            "deals", "account_id", "accounts", "accounts.account_id", "_ok_foreign_key_account_id_accounts"
        ),
        reference("deals", "owner_rep_id", "reps", "reps.rep_id", "_ok_foreign_key_owner_rep_id_reps"),
        reference(
            "deals",
            "referral_id",
            "referrals",
            "referrals.referral_id",
            "_ok_foreign_key_referral_id_referrals",
        ),
        (
            "deals",
            "required_unless_open:close_date",
            ("stage", "close_date"),
            "close_date is required unless stage is open",
            "explicit",
            NOT_NULL,
            {"column": "close_date", "row_condition": 'stage != "open"', "condition_parser": "pandas"},
        ),
    ],
    "churn_events": [
        not_null("churn_events", "account_id"),
        not_null("churn_events", "churn_date"),
        unique("churn_events", "account_id", "churn_date", flag="_ok_unique_key_account_id_churn_date"),
        (
            "churn_events",
            "range:lost_amount",
            ("lost_amount",),
            "lost_amount >= 0.0",
            "schema",
            BETWEEN,
            {"column": "lost_amount", "min_value": 0.0},
        ),
        window("churn_events", "churn_date", NEAR_BULK, "_ok_date_window_churn_date"),
        reference(
            "churn_events",
            "account_id",
            "accounts",
            "accounts.account_id",
            "_ok_foreign_key_account_id_accounts",
        ),
    ],
    "referrals": [
        *(not_null("referrals", c) for c in ("referral_id", "referring_account_id", "referring_rep_id")),
        not_null("referrals", "referral_date"),
        unique("referrals", "referral_id", flag="_ok_unique_key_referral_id"),
        window("referrals", "referral_date", NEAR_BULK, "_ok_date_window_referral_date"),
        reference(
            "referrals",
            "referring_account_id",
            "accounts",
            "accounts.account_id",
            "_ok_foreign_key_referring_account_id_accounts",
        ),
        reference(
            "referrals", "referring_rep_id", "reps", "reps.rep_id", "_ok_foreign_key_referring_rep_id_reps"
        ),
        reference(
            "referrals",
            "referred_account_id",
            "accounts",
            "accounts.account_id",
            "_ok_foreign_key_referred_account_id_accounts",
        ),
        reference(
            "referrals",
            "converted_deal_id",
            "deals",
            "deals.deal_id",
            "_ok_foreign_key_converted_deal_id_deals",
        ),
    ],
    "commission_lines": [
        *(
            not_null("commission_lines", c)
            for c in ("line_id", "rep_id", "plan_id", "component_id", "line_type")
        ),
        not_null("commission_lines", "amount"),
        not_null("commission_lines", "earned_date"),
        unique("commission_lines", "line_id", flag="_ok_unique_key_line_id"),
        (
            "commission_lines",
            "allowed_values:line_type",
            ("line_type",),
            "line_type is one of ['earning', 'clawback', 'deferral_release', 'adjustment']",
            "schema",
            IN_SET,
            {"column": "line_type", "value_set": ["earning", "clawback", "deferral_release", "adjustment"]},
        ),
        window("commission_lines", "earned_date", NEAR_BULK, "_ok_date_window_earned_date"),
        window("commission_lines", "paid_date", NEAR_BULK, "_ok_date_window_paid_date"),
        reference("commission_lines", "rep_id", "reps", "reps.rep_id", "_ok_foreign_key_rep_id_reps"),
        reference("commission_lines", "plan_id", "plans", "a plan file", "_ok_foreign_key_plan_id_plans"),
        reference("commission_lines", "deal_id", "deals", "deals.deal_id", "_ok_foreign_key_deal_id_deals"),
        reference(
            "commission_lines",
            "referral_id",
            "referrals",
            "referrals.referral_id",
            "_ok_foreign_key_referral_id_referrals",
        ),
        flagged(
            "commission_lines",
            "component_exists:component_id",
            ("plan_id", "component_id"),
            "component_id is a component of the line's plan, or `adjustment` "
            "(not judged when the plan itself is unknown: foreign_key:plan_id reports that)",
            "_ok_component_exists_component_id",
            "explicit",
        ),
        (
            "commission_lines",
            "amount_sign:earning_deferral_release>=0",
            ("line_type", "amount"),
            "amount >= 0 on earning and deferral_release lines (negative only for clawbacks and adjustments)",
            "explicit",
            BETWEEN,
            {
                "column": "amount",
                "min_value": 0.0,
                "row_condition": "line_type in ['earning', 'deferral_release']",
                "condition_parser": "pandas",
            },
        ),
        (
            "commission_lines",
            "amount_sign:clawback<=0",
            ("line_type", "amount"),
            "amount <= 0 on clawback lines",
            "explicit",
            BETWEEN,
            {
                "column": "amount",
                "max_value": 0.0,
                "row_condition": 'line_type == "clawback"',
                "condition_parser": "pandas",
            },
        ),
    ],
}

EVERY_TABLE = {
    "accounts": pl.DataFrame({"account_id": ["A1"]}),
    "reps": pl.DataFrame({"rep_id": ["R1"]}),
    "deals": pl.DataFrame({"deal_id": ["D1"]}),
    "referrals": pl.DataFrame({"referral_id": ["F1"]}),
}


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_the_rule_catalogue_of_each_table_in_order(name):
    rules = table_rules(table(name), References.from_tables(EVERY_TABLE, PLANS))
    found = [(r.table, r.name, r.columns, r.detail, r.source, r.gx_type, r.gx_kwargs) for r in rules]
    assert found == CATALOGUE[name]
    # Flag rules (and only they) read the flag column GX checks.
    assert [r.flag is not None for r in rules] == [
        e[5] == IN_SET and e[6]["value_set"] == [True] for e in CATALOGUE[name]
    ]
