"""Rep-period books (SPEC section 5) by hand: who is on a plan in which period, and what each rep booked
there. Plan `p` is quarterly, plan `m` monthly; 2026 quarters start 1 Jan, 1 Apr, 1 Jul, 1 Oct.
"""

from __future__ import annotations

import dataclasses

import polars as pl
from scoring_builders import Company, D, Deal, plan

from compscore.engine.payout import compute_payout
from compscore.engine.plan_tables import plan_tables
from compscore.plans import parse_plan
from compscore.schema import conform
from compscore.scoring.books import population, referrals_credited, rep_period_books

NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
MONTHLY = parse_plan(f"plan_id: m\nname: m\nperiod: month\ncomponents:\n{NB_10}")

FIRST_DAY = D(2026, 2, 10)
AS_OF = D(2026, 9, 30)


def assigned(*rows: tuple) -> pl.DataFrame:
    """Assignments from (rep_id, plan_id, start_date, end_date)."""
    frame = pl.DataFrame(
        rows, schema=["rep_id", "plan_id", "start_date", "end_date"], orient="row"
    ).with_columns(pl.col("end_date").cast(pl.Date))
    return conform(frame, "rep_plan_assignments").collect()


def population_of(*assignments: tuple) -> pl.DataFrame:
    company = Company(plans=[plan(NB_10), MONTHLY], deals=[Deal("D1", "R1", 1_000, FIRST_DAY)])
    data = company.data()
    data = dataclasses.replace(data, tables={**data.tables, "rep_plan_assignments": assigned(*assignments)})
    return population(data, plan_tables(data.plans), FIRST_DAY, AS_OF)


def test_population_clips_assignments_to_the_activity_window_and_lists_each_period_once():
    grid = population_of(
        ("R1", "p", D(2025, 1, 1), None),  # open, started before the first activity: Q1 (from 10 Feb) to Q3
        ("R2", "p", D(2026, 5, 10), D(2026, 6, 15)),  # inside Q2 only
        ("R3", "p", D(2026, 1, 1), D(2026, 12, 31)),  # ends after as_of (30 Sep): Q1 to Q3, not Q4
        ("R4", "p", AS_OF, None),  # starts on as_of: one day, in Q3
        ("R5", "p", D(2025, 6, 1), D(2026, 2, 9)),  # ends the day before the first activity: nothing
        ("R6", "m", D(2026, 8, 15), None),  # monthly plan: August and September
        ("R7", "ghost", D(2026, 1, 1), None),  # a plan without a plan file: nothing
        ("R8", "p", D(2026, 2, 10), D(2026, 2, 20)),  # two assignments in Q1: one row
        ("R8", "p", D(2026, 3, 1), D(2026, 3, 10)),
    )
    assert grid.select("rep_id", "plan_id", "period").rows() == [
        ("R1", "p", "2026-Q1"),
        ("R1", "p", "2026-Q2"),
        ("R1", "p", "2026-Q3"),
        ("R2", "p", "2026-Q2"),
        ("R3", "p", "2026-Q1"),
        ("R3", "p", "2026-Q2"),
        ("R3", "p", "2026-Q3"),
        ("R4", "p", "2026-Q3"),
        ("R6", "m", "2026-08"),
        ("R6", "m", "2026-09"),
        ("R8", "p", "2026-Q1"),
    ]
    r6 = grid.filter(rep_id="R6").select("period_start", "period_end", "period_days").rows()
    assert r6 == [(D(2026, 8, 1), D(2026, 8, 31), 31), (D(2026, 9, 1), D(2026, 9, 30), 30)]


def test_an_empty_population_has_the_same_columns_as_any_other():
    """No assignment reaches the window: the grid is empty but still has its period columns, which the
    books and the indicators read (`period_end` was missing, and `_accounts_owned` failed on it)."""
    empty = population_of(("R1", "p", D(2026, 10, 1), None))
    full = population_of(("R1", "p", D(2026, 1, 1), None))
    assert empty.height == 0
    assert empty.schema == full.schema
    assert full.columns == [
        "rep_id", "plan_id", "period_kind", "period_start", "period_end", "period_days", "period"
    ]  # fmt: skip


def books_company() -> Company:
    return Company(
        plans=[plan(NB_10, quota=100_000)],  # quota credits new business only
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R1", 10_000, D(2026, 3, 1)),
            Deal("D3", "R1", 20_000, D(2026, 2, 15), deal_type="expansion"),
            Deal("D4", "R1", 30_000, D(2026, 2, 20), deal_type="renewal"),
            Deal("D5", "R1", 5_000, D(2026, 3, 5), deal_type="renewal", stage="lost"),
            Deal("D6", "R2", 40_000, D(2026, 1, 20), referral_id="F1"),
        ],
        churn=[("A1", D(2026, 3, 20), 7_000)],
        referrals=[("F1", "R1", "D6", "A1"), ("F2", "R1", "D1", "A1")],  # both dated 1 Jan 2026
    )


def test_rep_period_books_by_hand():
    data = books_company().data()
    pt = plan_tables(data.plans)
    payout = compute_payout(data, D(2026, 6, 30))
    grid = population(data, pt, D(2026, 1, 1), D(2026, 6, 30))
    books = rep_period_books(payout, grid, referrals_credited(data, pt)).sort("rep_id", "period_start")
    columns = [
        "rep_id", "period", "n_won_deals", "won_new_business", "won_expansion", "credited", "won_renewal",
        "lost", "referrals_credited",
    ]  # fmt: skip
    assert books.select(columns).rows() == [
        # R1 in Q1: won D1, D2, D3, D4; new business 50k + 10k, credited the same (quota credits new
        # business only); lost: renewal D5 5k + A1's churn 7k = 12k; credited with referrals F1 and F2.
        ("R1", "2026-Q1", 4, 60_000.0, 20_000.0, 60_000.0, 30_000.0, 12_000.0, 2),
        # A period on the plan without any deal: zeros, not nulls.
        ("R1", "2026-Q2", 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0),
        ("R2", "2026-Q1", 1, 40_000.0, 0.0, 40_000.0, 0.0, 0.0, 0),
        ("R2", "2026-Q2", 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0),
    ]


def test_referrals_are_credited_under_the_plan_on_the_referral_date():
    data = books_company().data()
    credited = referrals_credited(data, plan_tables(data.plans))
    assert credited.rows() == [("R1", "p", D(2026, 1, 1), 2)]
    assert credited.schema["referrals_credited"] == pl.Int64
