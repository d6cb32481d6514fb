"""Outcome-indicator numerators and denominators (SPEC section 5) per rep and period, by hand: accounts
owned in the 365 days to the period's end, churn seen across reps, deals without churn, the period-end
window. Plan `p` is quarterly: Q1 2026 ends 31 Mar (90 days, last 10 % = 9 days: 23–31 Mar), Q2 30 Jun.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.dataset import CanonicalData
from compscore.engine.payout import churn_dates, compute_payout
from compscore.engine.plan_tables import plan_tables
from compscore.scoring.books import UNIT_KEYS, population, referrals_credited, rep_period_books
from compscore.scoring.indicators import INDICATORS, indicator_parts

NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
AS_OF = D(2026, 6, 30)
Q1, Q2 = D(2026, 1, 1), D(2026, 4, 1)


def parts_of(data: CanonicalData, churn: pl.DataFrame | None = None) -> dict[tuple, dict]:
    pt = plan_tables(data.plans)
    payout = compute_payout(data, AS_OF)
    books = rep_period_books(payout, population(data, pt, Q1, AS_OF), referrals_credited(data, pt))
    parts = indicator_parts(data, payout.won_deals, books, UNIT_KEYS, churn=churn)
    return {(r["rep_id"], r["period_start"]): r for r in parts.to_dicts()}


def test_parts_have_one_numerator_and_denominator_per_indicator_and_nothing_else():
    parts = parts_of(Company(plans=[plan(NB_10)], deals=[Deal("D1", "R1", 1_000, D(2026, 2, 1))]).data())
    expected = [*UNIT_KEYS]
    for ind in INDICATORS:
        suffixes = ("num_a", "den_a", "num_b", "den_b") if ind.difference else ("num", "den")
        expected += [f"{ind.name}_{s}" for s in suffixes]
    assert sorted(parts[("R1", Q1)]) == sorted(expected)


def accounts_company() -> Company:
    return Company(
        plans=[plan(NB_10)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 1_000, D(2026, 3, 31), account_id="A7"),  # on Q1's last day
            Deal("D2", "R1", 1_000, D(2025, 4, 1), account_id="A2"),  # 364 days before 31 Mar 2026
            Deal("D3", "R1", 1_000, D(2025, 3, 31), deal_type="renewal", account_id="A3"),  # 365 days before
            Deal("D4", "R1", 1_000, D(2026, 2, 1), deal_type="expansion", account_id="A1"),
            Deal("D5", "R1", 1_000, D(2026, 5, 1), account_id="A5"),  # in Q2
            Deal("D6", "R1", 1_000, D(2026, 2, 2), account_id="A6", stage="lost"),
            Deal("D7", "R1", 1_000, D(2026, 1, 15), account_id="A1"),
        ],
        referrals=[("F1", "R1", "D5", "A1"), ("F2", "R1", "D1", "A2")],  # dated 1 Jan 2026
    )


def test_accounts_owned_are_those_won_in_the_365_days_to_the_periods_end():
    parts = parts_of(accounts_company().data())
    # Q1 (to 31 Mar 2026): A7 (D1, on the last day), A1 (D4 and D7, counted once), A2 (364 days before);
    # not A3 (365 days before), not A5 (won after the period), not A6 (lost). Two referrals in Q1.
    q1 = parts[("R1", Q1)]
    assert (q1["referrals_per_100_accounts_num"], q1["referrals_per_100_accounts_den"]) == (2.0, 3.0)
    # Q2 (1 Jul 2025 – 30 Jun 2026): A7, A1 and A5; A2 was won before the window. No referral in Q2.
    q2 = parts[("R1", Q2)]
    assert (q2["referrals_per_100_accounts_num"], q2["referrals_per_100_accounts_den"]) == (0.0, 3.0)


def test_a_rep_period_without_deals_or_accounts_has_zero_parts():
    parts = parts_of(accounts_company().data())
    for period in (Q1, Q2):
        row = parts[("R2", period)]
        assert {k: v for k, v in row.items() if k not in UNIT_KEYS} == dict.fromkeys(
            [k for k in row if k not in UNIT_KEYS], 0.0
        )


def churn_company(reps: tuple[str, ...] = ("R1", "R2")) -> Company:
    """R1 wins E1 (A1, 50k, never churns) and E2 (A2, 30k) on 10 Feb 2026; R2 loses A2's renewal on
    1 May 2026, 80 days later: A2 churned then (SPEC section 2)."""
    deals = [
        Deal("E1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
        Deal("E2", "R1", 30_000, D(2026, 2, 10), account_id="A2"),
        Deal("E3", "R2", 30_000, D(2026, 5, 1), deal_type="renewal", account_id="A2", stage="lost"),
    ]
    return Company(plans=[plan(NB_10)], reps=reps, deals=[d for d in deals if d.rep_id in reps])


def churn_parts(row: dict) -> tuple[float, float, float, float]:
    names = ("early_churn_rate_num", "early_churn_rate_den", "grr_12m_num", "grr_12m_den")
    return tuple(row[n] for n in names)


def test_churn_counts_for_deals_that_churned_and_not_for_deals_that_never_did():
    # E2 churned on day 80 (≤ 180 and ≤ 365): 1 early churn of 2 deals; kept revenue E1's 50k of 80k.
    q1 = parts_of(churn_company().data())[("R1", Q1)]
    assert churn_parts(q1) == (1.0, 2.0, 50_000.0, 80_000.0)


def test_a_batch_of_reps_sees_churn_recorded_on_another_reps_deal():
    """R1 alone in a batch: A2's churn is R2's lost renewal, outside the batch's deals. With the whole
    company's churn dates passed in, the parts are the company's; from the batch alone it is missed."""
    batch = churn_company(reps=("R1",)).data()
    company_churn = churn_dates(churn_company().data()).collect()
    assert churn_parts(parts_of(batch, company_churn)[("R1", Q1)]) == (1.0, 2.0, 50_000.0, 80_000.0)
    assert churn_parts(parts_of(batch)[("R1", Q1)]) == (0.0, 2.0, 80_000.0, 80_000.0)


def test_period_end_window_parts():
    def deal(deal_id: str, amount: float, day: dt.date, discount: float | None) -> Deal:
        return Deal(deal_id, "R1", amount, day, discount_pct=discount)

    company = Company(
        plans=[plan(NB_10)],
        deals=[
            deal("W1", 30_000, D(2026, 3, 23), 0.20),  # first day of the 9-day window
            deal("O1", 50_000, D(2026, 3, 22), 0.05),  # the day before it
            deal("O2", 10_000, D(2026, 1, 5), 0.10),
            deal("O3", 10_000, D(2026, 2, 5), None),  # no discount recorded: not in the gap
        ],
    )
    q1 = parts_of(company.data())[("R1", Q1)]
    # Bunching: 30k in the window; expected 100k · 9 / 90 = 10k.
    assert (q1["period_end_bunching_num"], q1["period_end_bunching_den"]) == pytest.approx(
        (30_000.0, 10_000.0)
    )
    # Discounts: in the window 0.20 over 1 deal; outside 0.05 + 0.10 = 0.15 over 2 deals (O3 has none).
    gap = [q1[f"period_end_discount_gap_{s}"] for s in ("num_a", "den_a", "num_b", "den_b")]
    assert gap == pytest.approx([0.20, 1.0, 0.15, 2.0])
