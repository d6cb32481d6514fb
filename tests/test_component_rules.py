"""plan_component_marginals by hand: each component priced alone with its own plan's typical sizes Δ,
flat amounts (which make Δ visible), two plans whose component ids would sort differently than their
plans, retention bonuses left out, rows in plan, component, attainment order.

Curves price a spiff over an average quarter of 365.25 / 4 = 91.3125 days.
"""

from __future__ import annotations

import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.scoring.components import component_marginals

QUARTER_DAYS = 365.25 / 4
ATTAINMENTS = [round(0.05 * i, 2) for i in range(41)]  # 0 to 200 % by 5 %

PLAN_A = (
    "  - {id: z, kind: commission, applies_to: [new_business],\n"
    "     tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]}\n"
    "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14}\n"
    "  - {id: ref, kind: referral_bonus, amount: 500}\n"
    "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n"
)
PLAN_B = "  - {id: c, kind: spiff, applies_to: [renewal], amount: 2000, last_days_of_period: 120}\n"


def two_plans() -> Company:
    return Company(
        plans=[plan(PLAN_A, plan_id="a", quota=100_000), plan(PLAN_B, plan_id="b")],
        reps=("R1", "R2"),
        assignments={"R1": "a", "R2": "b"},
        deals=[
            # Plan a: new business 40k (Q1) and 60k (Q2) → Δ_S = 50k over all its periods.
            Deal("D1", "R1", 40_000, D(2026, 2, 1)),
            Deal("D2", "R1", 60_000, D(2026, 5, 1)),
            # Plan b: renewals 10k and 40k → Δ_R = 25k; its new business (100k, 80k) is not plan a's (with it,
            # Δ_S would be median(40k, 60k, 80k, 100k) = 70k).
            Deal("D3", "R2", 10_000, D(2026, 2, 2), deal_type="renewal"),
            Deal("D4", "R2", 40_000, D(2026, 2, 3), deal_type="renewal"),
            Deal("D5", "R2", 100_000, D(2026, 2, 4)),
            # R1 (plan a) referred D9: plan a's Δ_F = 80k.
            Deal("D9", "R2", 80_000, D(2026, 3, 1), referral_id="F1"),
        ],
        referrals=[("F1", "R1", "D9", "A-D1")],
    )


def test_rows_are_by_plan_component_and_attainment_without_retention_bonuses():
    table = component_marginals(two_plans().data())
    order = [
        ("a", "qe", "spiff"),
        ("a", "ref", "referral_bonus"),
        ("a", "z", "commission"),
        ("b", "c", "spiff"),
    ]
    assert table.select("plan_id", "component_id", "component_kind", "attainment").rows() == [
        (*key, attainment) for key in order for attainment in ATTAINMENTS
    ]


def at(table, plan_id: str, component_id: str, attainment: float) -> tuple[float, float, float]:
    row = table.filter(plan_id=plan_id, component_id=component_id, attainment=attainment).row(0, named=True)
    return row["marginal_same_day"], row["marginal_retention"], row["marginal_referral"]


def test_each_component_is_priced_with_its_own_plans_typical_sizes():
    table = component_marginals(two_plans().data())
    # Spiff: 1,000 × 14 / 91.3125 per Δ_S = 50k deal, at any attainment.
    spiff = 1_000 * 14 / QUARTER_DAYS / 50_000
    assert at(table, "a", "qe", 0.0) == pytest.approx((spiff, 0.0, 0.0))
    assert at(table, "a", "qe", 2.0) == pytest.approx((spiff, 0.0, 0.0))
    # Flat referral bonus: 500 per Δ_F = 80k referred dollars.
    assert at(table, "a", "ref", 1.0) == pytest.approx((0.0, 0.0, 500 / 80_000))
    # Tiers on a 50k deal from attainment × 100k: 0.5 → 50k at 10 %; 0.75 → 25k at 10 % + 25k at 20 %.
    assert at(table, "a", "z", 0.5) == pytest.approx((0.1, 0.0, 0.0))
    assert at(table, "a", "z", 0.75) == pytest.approx((0.15, 0.0, 0.0))
    assert at(table, "a", "z", 1.0) == pytest.approx((0.2, 0.0, 0.0))
    # Plan b's renewal spiff: its window covers the whole quarter, 2,000 per Δ_R = 25k of plan b.
    assert at(table, "b", "c", 0.0) == pytest.approx((0.0, 2_000 / 25_000, 0.0))
