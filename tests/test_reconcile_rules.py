"""`pay_reconciliation` edges that tests/test_reconcile.py leaves open: which side's amount is missing on
a one-sided key, and the order of `pay_reconciliation_totals`. Statement lines written by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
from scoring_builders import D, plan

from compscore.engine.reconcile import reconcile, reconciliation_totals
from compscore.schema import conform

NB = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.1}]}\n"
PLANS = {"p": plan(NB, plan_id="p"), "q": plan(NB, plan_id="q")}


def statement(*rows: tuple[str, str, str | None, float, dt.date]) -> pl.DataFrame:
    """Lines from (line_id, plan_id, deal_id, amount, earned_date): rep R1, component nb, earnings."""
    return conform(
        pl.DataFrame(
            {
                "line_id": [r[0] for r in rows],
                "rep_id": ["R1"] * len(rows),
                "plan_id": [r[1] for r in rows],
                "component_id": ["nb"] * len(rows),
                "line_type": ["earning"] * len(rows),
                "deal_id": [r[2] for r in rows],
                "referral_id": [None] * len(rows),
                "amount": [float(r[3]) for r in rows],
                "earned_date": [r[4] for r in rows],
            },
            schema_overrides={"deal_id": pl.String, "referral_id": pl.String, "earned_date": pl.Date},
        ),
        "commission_lines",
    ).collect()


def test_a_one_sided_key_has_no_amount_on_its_missing_side():
    given = statement(("G1", "p", "D1", 100, D(2026, 2, 10)))
    computed = statement(("C2", "p", "D2", 40, D(2026, 2, 11)))
    found = reconcile(given, computed, PLANS).sort("deal_id")
    assert found.select("deal_id", "status", "given_amount", "computed_amount", "difference").rows() == [
        ("D1", "unexplained", 100.0, None, 100.0),  # no computed line: computed amount unknown, not 0
        ("D2", "not_in_statements", None, 40.0, -40.0),  # 0 − 40
    ]


def test_totals_are_ordered_by_plan_then_period():
    given = statement(
        ("G1", "q", "D1", 10, D(2026, 5, 1)),  # q, 2026-Q2
        ("G2", "p", "D2", 20, D(2026, 11, 2)),  # p, 2026-Q4
        ("G3", "q", "D3", 30, D(2026, 2, 1)),  # q, 2026-Q1
        ("G4", "p", "D4", 40, D(2026, 2, 2)),  # p, 2026-Q1
        ("G5", "p", "D5", 50, D(2025, 12, 31)),  # p, 2025-Q4
        ("G6", "p", "D6", 60, D(2026, 8, 3)),  # p, 2026-Q3
        ("G7", "p", "D7", 70, D(2026, 5, 4)),  # p, 2026-Q2
    )
    totals = reconciliation_totals(reconcile(given, given.head(0), PLANS))
    assert totals.select("plan_id", "period", "unexplained_total").rows() == [
        ("p", "2025-Q4", 50.0),
        ("p", "2026-Q1", 40.0),
        ("p", "2026-Q2", 70.0),
        ("p", "2026-Q3", 60.0),
        ("p", "2026-Q4", 20.0),
        ("q", "2026-Q1", 30.0),
        ("q", "2026-Q2", 10.0),
    ]


def test_mismatches_come_by_date_then_the_rest_of_the_key():
    """`reconcile`'s own order (callers that do not re-sort rely on it): earned date first, then rep,
    component, plan and deal; two keys on one day differ by plan, then by deal."""
    given = statement(
        ("G1", "q", "D9", 10, D(2026, 2, 11)),
        ("G2", "q", "D2", 20, D(2026, 2, 10)),
        ("G3", "p", "D5", 30, D(2026, 2, 10)),
        ("G4", "p", "D1", 40, D(2026, 2, 10)),
        ("G5", "p", "D3", 50, D(2026, 1, 5)),
    )
    found = reconcile(given, given.head(0), PLANS)
    assert found.select("earned_date", "plan_id", "deal_id").rows() == [
        (D(2026, 1, 5), "p", "D3"),
        (D(2026, 2, 10), "p", "D1"),
        (D(2026, 2, 10), "p", "D5"),
        (D(2026, 2, 10), "q", "D2"),
        (D(2026, 2, 11), "q", "D9"),
    ]
