"""Row-level data-quality rules (`compscore.quality.rules`) at their boundaries, on rows written by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
from scoring_builders import D, plan

from compscore.quality.rules import ROW_INDEX, References, failing_mask, flag_column, table_rules, with_flags
from compscore.schema import conform, table

PLANS = {
    "p": plan("  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.1}]}\n")
}


def failures(name: str, rows: dict, refs: dict[str, pl.DataFrame] | None = None) -> dict[str, list[int]]:
    """Rule name -> positions of the rows that fail it (rules nobody fails are left out)."""
    df = conform(pl.DataFrame(rows), name).collect().with_row_index(ROW_INDEX)
    rules = table_rules(table(name), References.from_tables(refs or {}, PLANS))
    flagged = with_flags(df, rules)
    out = {}
    for rule in rules:
        failed = flagged.filter(~rule.passes)[ROW_INDEX].to_list()
        if failed:
            out[rule.name] = failed
    return out


def deals(**columns) -> dict:
    n = len(next(iter(columns.values())))
    base = {
        "deal_id": [f"D{i}" for i in range(n)],
        "account_id": ["A1"] * n,
        "owner_rep_id": ["R1"] * n,
        "deal_type": ["new_business"] * n,
        "stage": ["won"] * n,
        "amount": [1.0] * n,
        "created_date": [D(2026, 1, 1)] * n,
        "close_date": [D(2026, 2, 1)] * n,
    }
    return {**base, **columns}


def test_amount_and_discount_ranges_include_their_bounds():
    found = failures(
        "deals",
        deals(amount=[0.0, -0.01, 5.0, 5.0, 5.0], discount_pct=[None, None, 0.0, 1.0, 1.01]),
    )
    assert found == {"range:amount": [1], "range:discount_pct": [4]}


def test_close_date_on_the_created_date_is_in_order_and_a_day_before_is_not():
    found = failures(
        "deals",
        deals(created_date=[D(2026, 2, 1), D(2026, 2, 2)], close_date=[D(2026, 2, 1), D(2026, 2, 1)]),
    )
    assert found == {"date_order:created_date<=close_date": [1]}


def test_close_date_is_required_unless_the_deal_is_open():
    found = failures(
        "deals",
        deals(stage=["open", "won", "lost"], close_date=[None, None, D(2026, 2, 1)]),
    )
    assert found == {"required_unless_open:close_date": [1]}


def test_deal_type_and_stage_allowed_values():
    found = failures("deals", deals(deal_type=["renewal", "upsell"], stage=["won", "closed"]))
    assert found == {"allowed_values:deal_type": [1], "allowed_values:stage": [1]}


def test_every_copy_of_a_duplicated_key_is_rejected_and_a_missing_key_is_not_a_duplicate():
    rows = deals(amount=[1.0, 2.0, 3.0, 4.0])
    rows["deal_id"] = ["D1", "D2", "D1", None]
    found = failures("deals", rows)
    assert found == {"unique_key:deal_id": [0, 2], "not_null:deal_id": [3]}


def assignments(starts: list[dt.date], ends: list[dt.date | None], reps: list[str] | None = None) -> dict:
    return {
        "rep_id": reps or ["R1"] * len(starts),
        "plan_id": ["p"] * len(starts),
        "start_date": starts,
        "end_date": ends,
    }


def test_assignments_that_touch_overlap_and_back_to_back_ones_do_not():
    back_to_back = assignments([D(2026, 1, 1), D(2026, 4, 1)], [D(2026, 3, 31), None])
    assert failures("rep_plan_assignments", back_to_back) == {}
    touching = assignments([D(2026, 1, 1), D(2026, 3, 31)], [D(2026, 3, 31), None])
    assert failures("rep_plan_assignments", touching) == {"no_overlap:rep_id": [0, 1]}


def test_an_open_assignment_overlaps_every_later_one_of_its_rep_only():
    rows = assignments(
        [D(2026, 1, 1), D(2027, 1, 1), D(2027, 1, 1)], [None, D(2027, 6, 30), None], reps=["R1", "R1", "R2"]
    )
    assert failures("rep_plan_assignments", rows) == {"no_overlap:rep_id": [0, 1]}


def test_assignment_to_an_unknown_plan_fails_its_foreign_key():
    rows = assignments([D(2026, 1, 1), D(2026, 1, 1)], [None, None], reps=["R1", "R2"])
    rows["plan_id"] = ["p", "nope"]
    assert failures("rep_plan_assignments", rows) == {"foreign_key:plan_id->plans": [1]}


def lines(line_types: list[str], amounts: list[float], components: list[str] | None = None) -> dict:
    n = len(line_types)
    return {
        "line_id": [f"L{i}" for i in range(n)],
        "rep_id": ["R1"] * n,
        "plan_id": ["p"] * n,
        "component_id": components or ["nb"] * n,
        "line_type": line_types,
        "amount": amounts,
        "earned_date": [D(2026, 2, 1)] * n,
    }


def test_amount_signs_by_line_type_at_zero():
    found = failures(
        "commission_lines",
        lines(
            ["earning", "earning", "deferral_release", "clawback", "clawback", "adjustment", "adjustment"],
            [0.0, -0.01, -0.01, 0.0, 0.01, -250.0, 250.0],
            ["nb", "nb", "nb", "nb", "nb", "adjustment", "adjustment"],
        ),
    )
    assert found == {
        "amount_sign:earning_deferral_release>=0": [1, 2],
        "amount_sign:clawback<=0": [4],
    }


def test_statement_line_components_exist_in_their_plan_or_are_adjustments():
    rows = lines(
        ["earning", "earning", "adjustment", "earning"], [1.0, 1.0, 1.0, 1.0], ["nb", "x", "adjustment", "nb"]
    )
    rows["plan_id"] = ["p", "p", "p", "unknown"]
    found = failures("commission_lines", rows)
    # Row 3's unknown plan is reported by the foreign key only, not judged by component_exists.
    assert found == {"component_exists:component_id": [1], "foreign_key:plan_id->plans": [3]}


def test_foreign_keys_into_a_given_table():
    refs = {"reps": pl.DataFrame({"rep_id": ["R1"]})}
    rows = assignments([D(2026, 1, 1), D(2026, 1, 1)], [None, None], reps=["R1", "R9"])
    assert failures("rep_plan_assignments", rows, refs) == {"foreign_key:rep_id->reps": [1]}


def test_failing_mask_and_flag_column_names():
    assert failing_mask(4, pl.Series([1, 3], dtype=pl.UInt32)).to_list() == [True, False, True, False]
    assert failing_mask(2, pl.Series([], dtype=pl.UInt32)).to_list() == [True, True]
    assert flag_column("foreign_key:deal_id->deals") == "_ok_foreign_key_deal_id_deals"
