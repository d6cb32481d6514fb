"""`pay_reconciliation` and `pay_reconciliation_totals` on statement lines written by hand on both sides.

Plan `p` is quarterly; Q1 2026 has given lines, Q2 has none (so it is not reconciled).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from scoring_builders import D, plan

from compscore.engine.reconcile import reconcile, reconciliation_totals
from compscore.schema import conform

PLANS = {
    "p": plan("  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.1}]}\n")
}


def statement(*rows: tuple[str, str, str, str | None, float, dt.date]) -> pl.DataFrame:
    """Lines from (line_id, component_id, line_type, deal_id, amount, earned_date), all rep R1, plan p."""
    return conform(
        pl.DataFrame(
            {
                "line_id": [r[0] for r in rows],
                "rep_id": ["R1"] * len(rows),
                "plan_id": ["p"] * len(rows),
                "component_id": [r[1] for r in rows],
                "line_type": [r[2] for r in rows],
                "deal_id": [r[3] for r in rows],
                "referral_id": [None] * len(rows),
                "amount": [float(r[4]) for r in rows],
                "earned_date": [r[5] for r in rows],
            },
            schema_overrides={"deal_id": pl.String, "referral_id": pl.String, "earned_date": pl.Date},
        ),
        "commission_lines",
    ).collect()


FEB = D(2026, 2, 10)


def mismatches(given: pl.DataFrame, computed: pl.DataFrame) -> list[tuple]:
    found = reconcile(given, computed, PLANS).sort("deal_id")
    return found.select(
        "deal_id", "line_type", "status", "given_amount", "computed_amount", "difference"
    ).rows()


def test_equal_lines_match_even_when_split_differently():
    given = statement(("G1", "nb", "earning", "D1", 2_500, FEB), ("G2", "nb", "earning", "D1", 2_500, FEB))
    computed = statement(("C1", "nb", "earning", "D1", 5_000, FEB))
    assert mismatches(given, computed) == []


def test_difference_is_given_minus_computed_and_a_cent_is_listed():
    given = statement(("G1", "nb", "earning", "D1", 5_000.00, FEB), ("G2", "nb", "earning", "D2", 100, FEB))
    computed = statement(
        ("C1", "nb", "earning", "D1", 4_999.99, FEB), ("C2", "nb", "earning", "D2", 130, FEB)
    )
    assert mismatches(given, computed) == [
        ("D1", "earning", "amount_differs", 5_000.0, 4_999.99, 0.01),  # 5,000.00 − 4,999.99
        ("D2", "earning", "amount_differs", 100.0, 130.0, -30.0),  # 100 − 130
    ]


def test_less_than_half_a_cent_is_a_match():
    given = statement(("G1", "nb", "earning", "D1", 5_000.0, FEB))
    computed = statement(("C1", "nb", "earning", "D1", 5_000.004, FEB))  # rounds to a 0.00 difference
    assert mismatches(given, computed) == []


def test_unexplained_and_missing_lines_and_their_totals_by_status():
    given = statement(
        ("G1", "nb", "earning", "D1", 5_000, FEB),
        ("G2", "adjustment", "adjustment", None, -250, D(2026, 3, 1)),  # not implied by the rules
        ("G3", "nb", "earning", "D3", 700, FEB),  # computed 1,000 on D3
        ("G4", "nb", "earning", "D4", 40, FEB),  # not implied either
    )
    computed = statement(
        ("C1", "nb", "earning", "D1", 5_000, FEB),
        ("C2", "nb", "clawback", "D1", -300, D(2026, 3, 15)),  # implied, not on any statement
        ("C3", "nb", "earning", "D3", 1_000, FEB),
        ("C4", "nb", "earning", "D9", 80, D(2026, 4, 2)),  # Q2 has no given lines: not reconciled
    )
    found = reconcile(given, computed, PLANS)
    assert sorted(found.select("deal_id", "status", "difference").rows(), key=str) == sorted(
        [
            (None, "unexplained", -250.0),
            ("D4", "unexplained", 40.0),
            ("D3", "amount_differs", -300.0),  # 700 − 1,000
            ("D1", "not_in_statements", 300.0),  # 0 − (−300)
        ],
        key=str,
    )
    totals = reconciliation_totals(found)
    assert totals.to_dicts() == [
        {
            "plan_id": "p",
            "period": "2026-Q1",
            "unexplained_total": pytest.approx(-210.0),  # −250 + 40: signed, not split by sign
            "missing_total": pytest.approx(-300.0),  # the clawback the statements do not show
            "amount_differs_total": pytest.approx(-300.0),  # 700 − 1,000
            "n_lines": 4,
        }
    ]


def test_an_unexplained_negative_adjustment_is_unexplained_not_missing():
    given = statement(
        ("G1", "nb", "earning", "D1", 5_000, FEB), ("G2", "adjustment", "adjustment", None, -250, FEB)
    )
    computed = statement(("C1", "nb", "earning", "D1", 5_000, FEB))
    totals = reconciliation_totals(reconcile(given, computed, PLANS))
    assert totals.select("unexplained_total", "missing_total", "amount_differs_total", "n_lines").rows() == [
        (-250.0, 0.0, 0.0, 1)
    ]


def test_mismatches_carry_their_line_ids_rounded_differences_and_unknown_plans():
    given = statement(
        ("G1", "nb", "earning", "D1", 100.0, FEB),
        ("G2", "nb", "earning", "D2", 50.0, D(2026, 4, 2)),  # Q2 has a given line: reconciled
    )
    computed = statement(
        ("C1", "nb", "earning", "D1", 98.766, FEB), ("C2", "nb", "earning", "D2", 60.0, D(2026, 4, 2))
    )
    stray = statement(("G3", "nb", "earning", "D3", 7.0, FEB)).with_columns(plan_id=pl.lit("unknown"))
    found = reconcile(pl.concat([given, stray]), computed, PLANS).sort("deal_id")
    assert found.select("deal_id", "status", "difference", "given_line_id", "computed_line_id").rows() == [
        ("D1", "amount_differs", 1.23, "G1", "C1"),  # 100 − 98.766 = 1.234, to the cent
        ("D2", "amount_differs", -10.0, "G2", "C2"),
        ("D3", "unexplained", 7.0, "G3", None),  # a plan without a plan file is still listed
    ]
    totals = reconciliation_totals(found.filter(pl.col("plan_id") == "p"))
    assert totals.select("period", "amount_differs_total").rows() == [("2026-Q1", 1.23), ("2026-Q2", -10.0)]


def test_a_key_of_several_lines_carries_its_smallest_line_id_on_each_side_also_with_null_ids():
    # Three given lines on one key (sum 30) against one computed line of 25, and a key without a deal (an
    # adjustment-like line with null deal and referral ids) on both sides: null ids match null ids.
    given = statement(
        ("G9", "nb", "earning", "D1", 10.0, FEB),
        ("G4", "nb", "earning", "D1", 10.0, FEB),
        ("G7", "nb", "earning", "D1", 10.0, FEB),
        ("G2", "nb", "earning", None, 5.0, FEB),
        ("G1", "nb", "earning", None, 1.0, FEB),
    )
    computed = statement(
        ("C8", "nb", "earning", "D1", 25.0, FEB),
        ("C5", "nb", "earning", None, 2.0, FEB),
        ("C3", "nb", "earning", None, 2.0, FEB),
    )
    found = reconcile(given, computed, PLANS).sort("deal_id", nulls_last=True)
    assert found.select("deal_id", "status", "difference", "given_line_id", "computed_line_id").rows() == [
        ("D1", "amount_differs", 5.0, "G4", "C8"),
        (None, "amount_differs", 2.0, "G1", "C3"),  # 5 + 1 − (2 + 2)
    ]
