"""Scores computed by hand at the boundaries of SPEC sections 4 and 5: contingency and its caps, the Δ
fallbacks, confidence thresholds, the bootstrap interval, outcome-indicator windows, pull-forward premium,
realized shares. Quarterly plans; Q1 2026 has 90 days. Arithmetic in the comments.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.engine.plan_tables import HORIZON_DAYS, contingency
from compscore.plans import Clawback, Component, Deferral, Tier
from compscore.scoring import bootstrap, marginal, scores
from compscore.scoring.scores import score_company

NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
RENEW_2 = (
    "  - {id: renew, kind: commission, applies_to: [renewal, expansion], tiers: [{from: 0.0, rate: 0.02}]}\n"
)
FLAT_REFERRAL = "  - {id: ref, kind: referral_bonus, amount: 500}\n"


def rows_by_period(company: Company, as_of: dt.date) -> dict[str, dict]:
    table = score_company(company.data(), as_of=as_of).plan_scores
    return {row["period"]: row for row in table.to_dicts()}


Q1_END = D(2026, 3, 31)


def q1(company: Company, as_of: dt.date = Q1_END) -> dict:
    return rows_by_period(company, as_of)["2026-Q1"]


# --- contingency (SPEC section 4) --------------------------------------------------------------------


def nb_component(clawback: Clawback | None = None, deferral: Deferral | None = None) -> Component:
    return Component(
        id="nb",
        kind="commission",
        applies_to=("new_business",),
        tiers=(Tier(0.0, 0.1),),
        clawback=clawback,
        deferral=deferral,
    )


@pytest.mark.parametrize(
    ("clawback", "deferral", "expected"),
    [
        (None, None, 0.0),
        (Clawback(180, 1.0), None, 180 / 365),  # f · min(w/H, 1) = 0.4932
        (Clawback(180, 0.5), None, 0.5 * 180 / 365),
        (Clawback(365, 1.0), None, 1.0),  # w = H
        (Clawback(730, 0.5), None, 0.5),  # min(730/365, 1) = 1, not 2
        (None, Deferral(0.5, 365), 0.5),  # d · min(t/H, 1)
        (None, Deferral(0.5, 730), 0.5),  # capped, not 0.5 · 2
        (None, Deferral(0.5, 73), 0.5 * 0.2),
        (Clawback(180, 1.0), Deferral(0.5, 365), 0.5 + 0.5 * 180 / 365),  # methodology's 0.747
        (Clawback(730, 0.5), Deferral(0.4, 73), 0.4 * 0.2 + 0.6 * 0.5),  # both caps: 0.38
    ],
)
def test_contingency_formula(clawback, deferral, expected):
    assert HORIZON_DAYS == 365
    assert contingency(nb_component(clawback, deferral)) == pytest.approx(expected, rel=1e-12)


def test_deferral_longer_than_the_horizon_counts_as_the_horizon_in_sdi():
    deferred = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
        "     deferral: {fraction: 0.5, release_after_days: 730}}\n"
    )
    row = q1(Company(plans=[plan(deferred + RENEW_2)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))]))
    # c = 0.5 · min(730/365, 1) = 0.5: m_S = 0.1 · 0.5 = 0.05, m_R = 0.1 · 0.5 + 0.02 = 0.07.
    assert row["marginal_same_day"] == pytest.approx(0.05)
    assert row["marginal_retention"] == pytest.approx(0.07)
    assert row["same_day_index"] == pytest.approx(100 * 0.05 / 0.12)  # 41.67


def test_clawback_longer_than_the_horizon_counts_as_the_horizon_in_sdi():
    clawed = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
        "     clawback: {window_days: 730, fraction: 0.5}}\n"
    )
    row = q1(Company(plans=[plan(clawed + RENEW_2)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))]))
    # c = 0.5 · min(730/365, 1) = 0.5: m_S = 0.05, m_R = 0.05 + 0.02 = 0.07.
    assert row["marginal_same_day"] == pytest.approx(0.05)
    assert row["marginal_retention"] == pytest.approx(0.07)


# --- Δ_S, Δ_R, Δ_F and their fallbacks (SPEC section 5) ----------------------------------------------

# Flat pay makes each Δ visible: m_S = 1,000 / Δ_S, m_R = 2,000 / Δ_R, m_F = 500 / Δ_F (the spiff
# windows of 120 days cover every quarter, so a spiff counts with probability 1, not 120/90).
FLAT_PAY = (
    "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 120}\n"
    "  - {id: re, kind: spiff, applies_to: [renewal, expansion], amount: 2000, last_days_of_period: 120}\n"
    + FLAT_REFERRAL
)


def marginals(row: dict) -> tuple[float, float, float]:
    return row["marginal_same_day"], row["marginal_retention"], row["marginal_referral"]


def test_deltas_are_period_medians_then_the_plans_all_period_medians():
    company = Company(
        plans=[plan(FLAT_PAY)],
        reps=("R1", "R2"),
        deals=[
            # Q1: new business 40k, 60k and the referred 80k → Δ_S = 60k; renewal 30k → Δ_R = 30k;
            # the referral's deal 80k → Δ_F = 80k.
            Deal("D1", "R1", 40_000, D(2026, 2, 1)),
            Deal("D2", "R2", 60_000, D(2026, 2, 2)),
            Deal("D3", "R2", 80_000, D(2026, 2, 3), referral_id="F1"),
            Deal("D4", "R1", 30_000, D(2026, 2, 4), deal_type="renewal"),
            # Q2: nothing. Q3: new business 200k, renewal 70k, no referral.
            Deal("D5", "R1", 200_000, D(2026, 8, 1)),
            Deal("D6", "R2", 70_000, D(2026, 8, 2), deal_type="renewal"),
        ],
        referrals=[("F1", "R1", "D3", "A-D1")],
    )
    rows = rows_by_period(company, D(2026, 9, 30))
    assert marginals(rows["2026-Q1"]) == pytest.approx((1_000 / 60_000, 2_000 / 30_000, 500 / 80_000))
    # Q2 takes the plan's all-period medians: Δ_S = median(40, 60, 80, 200)k = 70k (not 10,000),
    # Δ_R = median(30, 70)k = 50k, Δ_F = 80k (not Δ_S).
    assert marginals(rows["2026-Q2"]) == pytest.approx((1_000 / 70_000, 2_000 / 50_000, 500 / 80_000))
    # Q3: its own Δ_S and Δ_R; no referral in Q3, so Δ_F is the all-period 80k.
    assert marginals(rows["2026-Q3"]) == pytest.approx((1_000 / 200_000, 2_000 / 70_000, 500 / 80_000))


def test_a_plan_that_never_won_new_business_prices_at_10000_and_falls_back_to_delta_s():
    company = Company(
        plans=[plan(FLAT_PAY)],
        deals=[Deal("D1", "R1", 30_000, D(2026, 2, 4), deal_type="renewal")],
    )
    # Δ_S = 10,000 (SPEC's constant); Δ_R = 30k; no referral ever: Δ_F = Δ_S = 10,000.
    assert marginals(q1(company)) == pytest.approx((1_000 / 10_000, 2_000 / 30_000, 500 / 10_000))


def test_without_renewals_or_referrals_delta_r_and_delta_f_are_delta_s():
    company = Company(plans=[plan(FLAT_PAY)], deals=[Deal("D1", "R1", 40_000, D(2026, 2, 4))])
    assert marginals(q1(company)) == pytest.approx((1_000 / 40_000, 2_000 / 40_000, 500 / 40_000))


# --- caps and the retention bonus in marginal pay ----------------------------------------------------


def test_a_rep_whose_cap_binds_exactly_earns_nothing_more():
    capped = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],"
        " cap: 5000}\n"
    )
    row = q1(Company(plans=[plan(capped + RENEW_2)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))]))
    # 50,000 × 10 % = 5,000 = cap: an added deal pays 0. m_S = 0, m_R = 0.02 → SDI 0 (not null).
    assert row["marginal_same_day"] == 0.0
    assert row["same_day_index"] == 0.0
    assert row["same_day_multiple"] == 0.0


@pytest.mark.parametrize(("lost", "bonus"), [(20_000, 5_000), (20_001, 0)])
def test_an_added_renewal_that_lifts_grr_exactly_to_the_threshold_earns_the_bonus(lost, bonus):
    company = Company(
        plans=[plan(NB_10 + "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n")],
        deals=[
            Deal("D1", "R1", 90_000, D(2026, 2, 1), deal_type="renewal", account_id="A1"),
            Deal("D2", "R1", lost, D(2026, 2, 2), deal_type="renewal", account_id="A2", stage="lost"),
        ],
    )
    row = q1(company)
    # Δ_R = 90k (the won renewal). 90 / (90 + 20) = 0.82 → (90 + 90) / (180 + 20) = 0.9 exactly: pays;
    # with 20,001 lost, 180 / 200.001 < 0.9: no bonus.
    assert row["marginal_retention"] == pytest.approx(bonus / 90_000)
    assert row["marginal_same_day"] == pytest.approx(0.1)


# --- confidence --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_reps", "n_deals", "confidence"),
    [(5, 30, "normal"), (4, 30, "low"), (5, 29, "low"), (6, 31, "normal")],
)
def test_confidence_is_low_below_5_reps_or_30_won_deals(n_reps, n_deals, confidence):
    reps = tuple(f"R{i}" for i in range(n_reps))
    deals = [Deal(f"D{i}", reps[i % n_reps], 10_000, D(2026, 2, 1) + dt.timedelta(i)) for i in range(n_deals)]
    row = q1(Company(plans=[plan(NB_10)], reps=reps, deals=deals))
    assert (row["n_reps"], row["n_deals"], row["confidence"]) == (n_reps, n_deals, confidence)


# --- the bootstrap interval --------------------------------------------------------------------------


def test_bootstrap_draws_200_resamples_of_all_reps_deterministically():
    weights = bootstrap.rep_weights(7, "plan|2026-Q1")
    assert weights.shape == (200, 7)
    assert (weights.sum(axis=1) == 7).all()
    assert np.array_equal(weights, bootstrap.rep_weights(7, "plan|2026-Q1"))
    assert not np.array_equal(weights, bootstrap.rep_weights(7, "plan|2026-Q2"))


def test_interval_is_the_5th_and_95th_percentile():
    # Resampled values 0, 1, …, 199: numpy's linear percentile at 5 % is 0.05 × 199 = 9.95, at 95 % 189.05.
    weights = np.arange(200, dtype=np.float64).reshape(200, 1)
    low, high = bootstrap.interval(weights, {"x": np.array([1.0])}, lambda s: s["x"])
    assert (low, high) == pytest.approx((9.95, 189.05))


def test_interval_ignores_undefined_resamples_and_is_none_without_any():
    weights = np.array([[1.0], [0.0], [2.0]])
    low, high = bootstrap.interval(weights, {"x": np.array([1.0])}, lambda s: 1.0 / s["x"])  # 1, inf, 0.5
    assert (low, high) == pytest.approx((0.5 + 0.05 * 0.5, 1.0 - 0.05 * 0.5))
    assert bootstrap.interval(np.zeros((200, 0)), {"x": np.array([])}, lambda s: s["x"]) == (None, None)


def two_reps_with_referrals() -> Company:
    """R1 below a 100k quota, R2 above it; a flat referral bonus makes m_F > 0.

    Δ_S = median(50k, 150k) = 100k = Δ_F. R1: 50k at 10 % + 50k at 20 % → m_S = 0.15; R2: 0.20.
    m_R = 0.02 and m_F = 500 / 100k = 0.005 for both.
    """
    tiered = (
        "  - {id: nb, kind: commission, applies_to: [new_business],\n"
        "     tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]}\n"
    )
    return Company(
        plans=[plan(tiered + RENEW_2 + FLAT_REFERRAL, quota=100_000)],
        reps=("R1", "R2"),
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10)), Deal("D2", "R2", 150_000, D(2026, 2, 11))],
    )


def test_two_rep_interval_spans_the_reps_own_sdis_around_the_point_estimate():
    row = q1(two_reps_with_referrals())
    # Point: 100 · 0.175 / (0.175 + 0.02 + 0.005) = 87.5. A resample is R1 twice (SDI 100 · 0.15 / 0.175
    # = 85.71), both (87.5) or R2 twice (100 · 0.2 / 0.225 = 88.89), each far more often than 5 % of 200.
    assert row["same_day_index"] == pytest.approx(87.5)
    assert row["same_day_index_low"] == pytest.approx(100 * 0.15 / 0.175)
    assert row["same_day_index_high"] == pytest.approx(100 * 0.2 / 0.225)


def test_one_rep_interval_is_the_point_estimate():
    row = q1(Company(plans=[plan(NB_10 + RENEW_2)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))]))
    assert row["same_day_index_low"] == row["same_day_index_high"] == pytest.approx(row["same_day_index"])


def test_point_estimate_and_interval_share_one_sdi_function(monkeypatch):
    """Change the SDI formula in one place (drop m_F) and both the point and the interval follow."""

    def without_referrals(m_s: pl.Expr, m_r: pl.Expr, m_f: pl.Expr) -> pl.Expr:
        return marginal.same_day_index(m_s, m_r, m_f * 0.0)

    monkeypatch.setattr(scores, "same_day_index", without_referrals)
    row = q1(two_reps_with_referrals())
    assert row["same_day_index"] == pytest.approx(100 * 0.175 / 0.195)
    assert row["same_day_index_low"] == pytest.approx(100 * 0.15 / 0.17)
    assert row["same_day_index_high"] == pytest.approx(100 * 0.2 / 0.22)


# --- outcome indicators ------------------------------------------------------------------------------


def churn_company() -> Company:
    """Three new-business deals closed 10 Feb 2026 (50k, 30k, 20k); their accounts churn 180, 365, 366
    days later (9 Aug 2026, 10 Feb 2027, 11 Feb 2027)."""
    return Company(
        plans=[plan(NB_10)],
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R1", 30_000, D(2026, 2, 10), account_id="A2"),
            Deal("D3", "R1", 20_000, D(2026, 2, 10), account_id="A3"),
        ],
        churn=[("A1", D(2026, 8, 9), 1.0), ("A2", D(2027, 2, 10), 1.0), ("A3", D(2027, 2, 11), 1.0)],
    )


def test_early_churn_counts_day_180_and_is_immature_until_180_days_after_period_end():
    # 31 Mar 2026 + 180 days = 27 Sep 2026.
    before = q1(churn_company(), D(2026, 9, 26))
    assert before["early_churn_rate"] is None
    assert "early_churn_rate: immature until 2026-09-27" in before["note"]
    row = q1(churn_company(), D(2026, 9, 27))
    assert row["early_churn_rate"] == pytest.approx(1 / 3)  # D1 at day 180 counts; D2, D3 later


def test_grr_12m_counts_churn_up_to_day_365_and_matures_a_year_after_period_end():
    assert q1(churn_company(), D(2027, 3, 30))["grr_12m"] is None
    row = q1(churn_company(), D(2027, 3, 31))
    # Churned within 365 days: D1 (180), D2 (365); kept: D3 (366) → 20k / 100k.
    assert row["grr_12m"] == pytest.approx(0.2)
    assert row["early_churn_rate"] == pytest.approx(1 / 3)


def test_period_end_bunching_and_discount_gap():
    company = Company(
        plans=[plan(NB_10)],
        deals=[
            # Q1's last 10 % = round(9.0) = 9 days: 23–31 March.
            Deal("D1", "R1", 30_000, D(2026, 3, 23), discount_pct=0.20),
            Deal("D2", "R1", 70_000, D(2026, 3, 22), discount_pct=0.05),
        ],
    )
    row = q1(company)
    # Share of dollars in the window 30k / 100k = 0.3, ÷ (9 / 90) = 3.0.
    assert row["period_end_bunching"] == pytest.approx(3.0)
    assert row["period_end_discount_gap"] == pytest.approx(100 * (0.20 - 0.05))


# --- pull-forward premium and realized shares ---------------------------------------------------------


def test_pull_forward_premium_against_the_next_periods_book():
    tiered = (
        "  - {id: nb, kind: commission, applies_to: [new_business],\n"
        "     tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]}\n"
    )
    company = Company(plans=[plan(tiered, quota=100_000)], deals=[Deal("D1", "R1", 90_000, D(2026, 2, 1))])
    rows = rows_by_period(company, D(2026, 6, 30))
    # Δ_S = 90k. On 31 Mar: 10k at 10 % + 80k at 20 % = 17,000. On 1 Apr, on Q2's empty book: 90k at 10 %
    # = 9,000. Premium 17,000 / 9,000 − 1.
    assert rows["2026-Q1"]["pull_forward_premium"] == pytest.approx(17_000 / 9_000 - 1)
    # Q2 has no next period by 30 June: its own (empty) book on both days → 0.
    assert rows["2026-Q2"]["pull_forward_premium"] == pytest.approx(0.0)


def test_realized_shares_split_each_line_by_its_contingency():
    clawback = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
        "     clawback: {window_days: 180, fraction: 1.0}}\n"
    )
    company = Company(
        plans=[plan(clawback + RENEW_2 + FLAT_REFERRAL)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R1", 50_000, D(2026, 2, 11), deal_type="renewal", account_id="A2"),
            Deal("D3", "R2", 10_000, D(2026, 2, 12), account_id="A3", referral_id="F1"),
        ],
        referrals=[("F1", "R1", "D3", "A1")],
    )
    row = q1(company)
    # Lines: D1 5,000 (S 5,000 · (1 − 180/365), R 5,000 · 180/365), D3 1,000 (same split),
    # renewal 1,000 (R), referral 500 (F). Total 7,500.
    reach = 180 / 365
    same_day = 6_000 * (1 - reach)
    assert row["realized_same_day_share"] == pytest.approx(same_day / 7_500)
    assert row["realized_retention_share"] == pytest.approx((6_000 * reach + 1_000) / 7_500)
    assert row["realized_referral_share"] == pytest.approx(500 / 7_500)
    assert row["clawed_back"] == 0.0


def test_once_a_cap_has_bound_an_added_deal_pays_exactly_nothing():
    """The flaky scaling property's cause: 100.1 + 103.6 + (5,000 − 203.7) sums to 4,999.999999999999 in
    floats, so pricing against the sum of capped pays left a 1e-12 increment and an SDI of 100, not null."""
    capped = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],"
        " cap: 5000}\n"
    )
    deals = [Deal("D1", "R1", 1_001, D(2026, 2, 1)), Deal("D2", "R1", 1_036, D(2026, 2, 2))]
    row = q1(Company(plans=[plan(capped)], deals=[*deals, Deal("D3", "R1", 100_000, D(2026, 2, 3))]))
    assert row["marginal_same_day"] == 0.0
    assert row["same_day_index"] is None
    assert "pays nothing variable" in row["note"]


def test_an_added_uncredited_deal_pays_the_first_tier_even_past_quota():
    component = (
        "  - {id: all, kind: commission, applies_to: [new_business, expansion],\n"
        "     tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]}\n"
    )
    company = Company(
        plans=[plan(component, quota=100_000)],
        deals=[
            Deal("D1", "R1", 150_000, D(2026, 2, 1)),
            Deal("D2", "R1", 150_000, D(2026, 2, 2), deal_type="expansion"),
        ],
    )
    row = q1(company)
    # Δ_S = Δ_R = 150k. New business from 150k credited: all at 20 % → 0.2. An expansion is not credited:
    # 10 % on all 150k → 0.1 (tier bands would give (100k × 10 % + 50k × 20 %) / 150k = 0.133).
    assert row["marginal_same_day"] == pytest.approx(0.2)
    assert row["marginal_retention"] == pytest.approx(0.1)


def test_renewal_and_expansion_pay_are_weighted_by_the_populations_dollars():
    components = (
        NB_10
        + "  - {id: renew, kind: commission, applies_to: [renewal], tiers: [{from: 0.0, rate: 0.02}]}\n"
        + "  - {id: grow, kind: commission, applies_to: [expansion], tiers: [{from: 0.0, rate: 0.06}]}\n"
    )
    company = Company(
        plans=[plan(components)],
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 1)),
            Deal("D2", "R1", 30_000, D(2026, 2, 2), deal_type="renewal"),
            Deal("D3", "R1", 10_000, D(2026, 2, 3), deal_type="expansion"),
        ],
    )
    # Renewal share of existing-customer dollars 30k / 40k = 0.75: m_R = 0.75 × 0.02 + 0.25 × 0.06 = 0.03.
    assert q1(company)["marginal_retention"] == pytest.approx(0.03)
