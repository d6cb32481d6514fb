"""Marginal pay per dollar (SPEC section 5) at the edges of its rules, by hand: a retention bonus already
earned, renewals and expansions credited toward quota, a spiff on expansions, a spiff window as long as the
next period, and the SDI's clip to [0, 100]. Quarterly plans: Q1 2026 has 90 days, Q2 91.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.plans import parse_plan
from compscore.scoring.marginal import same_day_index
from compscore.scoring.scores import score_company

NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"


def rows_by_period(company: Company, as_of: dt.date) -> dict[str, dict]:
    table = score_company(company.data(), as_of=as_of).plan_scores
    return {row["period"]: row for row in table.to_dicts()}


def q1(company: Company) -> dict:
    return rows_by_period(company, D(2026, 3, 31))["2026-Q1"]


def test_a_retention_bonus_already_earned_adds_nothing_for_another_renewal():
    company = Company(
        plans=[plan(NB_10 + "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n")],
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 1)),
            Deal("D2", "R1", 95_000, D(2026, 2, 2), deal_type="renewal", account_id="A2"),
            Deal("D3", "R1", 5_000, D(2026, 2, 3), deal_type="renewal", account_id="A3", stage="lost"),
        ],
    )
    # GRR 95 / (95 + 5) = 0.95 ≥ 0.9 already; with Δ_R = 95k more, 190 / 195 = 0.97: the bonus is paid
    # either way, so the added renewal earns 5,000 − 5,000 = 0.
    row = q1(company)
    assert row["marginal_retention"] == 0.0
    assert row["marginal_same_day"] == pytest.approx(0.1)


def test_renewals_and_expansions_credited_toward_quota_pay_at_the_reps_band():
    credited_plan = parse_plan(
        "plan_id: p\nname: p\nperiod: quarter\nquota: 100000\n"
        "quota_credit: [new_business, renewal, expansion]\ncomponents:\n"
        + NB_10
        + "  - {id: renew, kind: commission, applies_to: [renewal, expansion],\n"
        "     tiers: [{from: 0.0, rate: 0.02}, {from: 1.0, rate: 0.04}]}\n"
    )
    company = Company(
        plans=[credited_plan],
        deals=[
            Deal("D1", "R1", 150_000, D(2026, 2, 1)),
            Deal("D2", "R1", 30_000, D(2026, 2, 2), deal_type="renewal"),
            Deal("D3", "R1", 30_000, D(2026, 2, 3), deal_type="expansion"),
        ],
    )
    # Credited so far 150k + 30k + 30k = 210k (attainment 2.1): an added 30k renewal or expansion (Δ_R)
    # falls wholly in the 4 % band, not the 2 % first tier an uncredited deal would get. Renewal and
    # expansion dollars are equal: m_R = 0.5 × 0.04 + 0.5 × 0.04 = 0.04.
    assert q1(company)["marginal_retention"] == pytest.approx(0.04)


def test_a_spiff_on_expansions_pays_retention_by_its_window():
    spiff = "  - {id: ex, kind: spiff, applies_to: [expansion], amount: 1000, last_days_of_period: 45}\n"
    company = Company(
        plans=[plan(NB_10 + spiff)],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 1)), Deal("D2", "R1", 20_000, D(2026, 2, 2), "expansion")],
    )
    # All existing-customer dollars are expansion: m_R = 1,000 × 45/90 / Δ_R 20,000 = 0.025.
    assert q1(company)["marginal_retention"] == pytest.approx(0.025)


@pytest.mark.parametrize(("window", "premium"), [(91, 0.0), (90, 0.2)])
def test_a_spiff_window_as_long_as_the_next_period_counts_on_its_first_day(window, premium):
    spiff = (
        "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, "
        f"last_days_of_period: {window}}}\n"
    )
    company = Company(
        plans=[plan(NB_10 + spiff)],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10)), Deal("D2", "R1", 50_000, D(2026, 5, 5))],
    )
    # Δ_S = 50k. On 31 Mar: 5,000 + the 1,000 spiff. On 1 Apr, Q2's first day: 5,000, plus the spiff only
    # when its window spans all of Q2's 91 days: 6,000 / 6,000 − 1 = 0; a 90-day window: 6,000 / 5,000 − 1.
    row = rows_by_period(company, D(2026, 6, 30))["2026-Q1"]
    assert row["pull_forward_premium"] == pytest.approx(premium)


def sdi(m_s: float, m_r: float, m_f: float) -> float | None:
    return pl.select(same_day_index(pl.lit(m_s), pl.lit(m_r), pl.lit(m_f))).item()


def test_same_day_index_is_clipped_to_0_100():
    assert 100 * 0.007 / 0.007 > 100  # 100.00000000000001 in floats
    assert sdi(0.007, 0.0, 0.0) == 100.0
    assert sdi(-1e-18, 1.0, 0.0) == 0.0  # a rounding residue below 0 gives 0, not -1e-16
    assert sdi(0.1, 0.02, 0.005) == pytest.approx(100 * 0.1 / 0.125)  # 80
    assert sdi(0.0, 0.0, 0.0) is None  # pays nothing variable
