"""SPEC section 5's worked examples, and hand-computed cases for every rule the scores depend on."""

from __future__ import annotations

import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.engine.payout import compute_payout
from compscore.scoring.scores import score_company

AS_OF = D(2026, 3, 31)
NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
RENEW_2 = (
    "  - {id: renew, kind: commission, applies_to: [renewal, expansion], tiers: [{from: 0.0, rate: 0.02}]}\n"
)
CLAWBACK_180 = (
    "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
    "     clawback: {window_days: 180, fraction: 1.0}}\n"
)
TIERED = (
    "  - {id: nb, kind: commission, applies_to: [new_business],\n"
    "     tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]%s}\n"
)


def q1_scores(company: Company, as_of=AS_OF) -> dict:
    scores = score_company(company.data(), as_of=as_of).plan_scores
    rows = scores.filter(scores["period"] == "2026-Q1").to_dicts()
    assert len(rows) == 1
    return rows[0]


def one_deal(components: str) -> Company:
    return Company(plans=[plan(components)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))])


def test_worked_example_1_new_business_only():
    row = q1_scores(one_deal(NB_10))
    assert row["same_day_index"] == pytest.approx(100.0, abs=0.1)
    assert row["same_day_multiple"] is None
    assert "m_R = 0" in row["note"]


def test_worked_example_2_with_renewals():
    row = q1_scores(one_deal(NB_10 + RENEW_2))
    assert row["same_day_index"] == pytest.approx(83.3, abs=0.1)
    assert row["same_day_multiple"] == pytest.approx(5.0, abs=0.01)


def test_worked_example_3_with_clawback():
    row = q1_scores(one_deal(CLAWBACK_180 + RENEW_2))
    assert row["marginal_same_day"] == pytest.approx(0.0507, abs=0.00005)
    assert row["marginal_retention"] == pytest.approx(0.0693, abs=0.00005)
    assert row["same_day_index"] == pytest.approx(42.2, abs=0.1)
    assert row["same_day_multiple"] == pytest.approx(0.0507 / 0.0693, abs=0.01)


def two_reps_below_and_above_quota(cap: str = "") -> Company:
    return Company(
        plans=[plan(TIERED % cap + RENEW_2, quota=100_000)],
        reps=("R1", "R2"),
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10)), Deal("D2", "R2", 150_000, D(2026, 2, 11))],
    )


def test_tiers_rep_below_and_above_quota():
    company = two_reps_below_and_above_quota()
    lines = compute_payout(company.data(), AS_OF).lines
    assert dict(zip(lines["deal_id"], lines["amount"], strict=True)) == {"D1": 5_000.0, "D2": 20_000.0}
    row = q1_scores(company)
    # Δ_S = median(50k, 150k) = 100k. R1 from 50k: 50k at 10 % + 50k at 20 % → 0.15; R2 above quota → 0.20.
    assert row["marginal_same_day"] == pytest.approx(0.175)
    assert row["marginal_retention"] == pytest.approx(0.02)
    assert row["same_day_index"] == pytest.approx(100 * 0.175 / 0.195)


def test_cap_that_binds():
    company = two_reps_below_and_above_quota(cap=", cap: 12000")
    lines = compute_payout(company.data(), AS_OF).lines
    assert dict(zip(lines["deal_id"], lines["amount"], strict=True)) == {"D1": 5_000.0, "D2": 12_000.0}
    row = q1_scores(company)
    # R1: paid 5,000, the added 15,000 is capped at 7,000 → 0.07; R2 is at the cap → 0.
    assert row["marginal_same_day"] == pytest.approx(0.035)
    assert row["same_day_index"] == pytest.approx(100 * 0.035 / 0.055)


DEFERRED = (
    "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
    "     deferral: {fraction: 0.5, release_after_days: 365}}\n"
)


def test_deferral_moves_half_to_retention_and_is_released_only_if_active():
    company = one_deal(DEFERRED + RENEW_2)
    row = q1_scores(company)
    assert row["marginal_same_day"] == pytest.approx(0.05)
    assert row["marginal_retention"] == pytest.approx(0.07)
    assert row["same_day_index"] == pytest.approx(100 * 0.05 / 0.12)

    later = compute_payout(company.data(), D(2027, 3, 1)).lines
    assert later.select("line_type", "amount", "earned_date").rows() == [
        ("earning", 2_500.0, D(2026, 2, 10)),
        ("deferral_release", 2_500.0, D(2027, 2, 10)),
    ]
    company.churn = [("A-D1", D(2026, 9, 1), 50_000)]
    churned = compute_payout(company.data(), D(2027, 3, 1)).lines
    assert churned["line_type"].to_list() == ["earning"]


def test_a_deferral_release_is_labelled_and_counted_as_retention_pay():
    """The release of a 365-day deferral: min(365/365, 1) = 1 of it is retention, so its whole 2,500
    (half of 10 % of 50,000) is retention pay, and its channel says so; the earning at close stays
    same-day (no clawback, contingency 0)."""
    attribution = score_company(one_deal(DEFERRED).data(), as_of=D(2027, 3, 1)).pay_attribution
    rows = attribution.select(
        "line_type", "channel", "contingency", "same_day_amount", "retention_amount"
    ).rows()
    assert rows == [
        ("earning", "same_day", 0.0, 2_500.0, 0.0),
        ("deferral_release", "retention", 1.0, 0.0, 2_500.0),
    ]


SHORT_DEFERRAL = (
    "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
    "     deferral: {fraction: 0.5, release_after_days: 73}}\n"
)


def test_a_short_deferral_release_is_retention_with_a_same_day_part():
    """Released after 73 days: contingency 73/365 = 0.2, so of the 2,500 released 500 is retention and
    2,000 same-day; the line is still a release, labelled retention."""
    attribution = score_company(one_deal(SHORT_DEFERRAL).data(), as_of=D(2026, 6, 30)).pay_attribution
    release = attribution.filter(line_type="deferral_release").row(0, named=True)
    assert release["channel"] == "retention"
    assert release["retention_amount"] == pytest.approx(500.0)
    assert release["same_day_amount"] == pytest.approx(2_000.0)


def referral_company(bonus: str) -> Company:
    return Company(
        plans=[plan(NB_10 + bonus)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R2", 30_000, D(2026, 3, 1), account_id="A2", referral_id="F1"),
        ],
        referrals=[("F1", "R1", "D2", "A1")],
    )


def test_referral_rate():
    company = referral_company("  - {id: ref, kind: referral_bonus, rate: 0.1}\n")
    lines = compute_payout(company.data(), AS_OF).lines.filter(component_id="ref")
    assert lines.select("rep_id", "referral_id", "amount").rows() == [("R1", "F1", 3_000.0)]
    row = q1_scores(company)
    assert row["marginal_referral"] == pytest.approx(0.1)
    assert row["same_day_index"] == pytest.approx(50.0)


def test_flat_referral_bonus():
    company = referral_company("  - {id: ref, kind: referral_bonus, amount: 500}\n")
    lines = compute_payout(company.data(), AS_OF).lines.filter(component_id="ref")
    assert lines["amount"].to_list() == [500.0]
    row = q1_scores(company)
    # Δ_F = the referred deal, 30,000: 500 / 30,000 per referred dollar.
    assert row["marginal_referral"] == pytest.approx(500 / 30_000)
    assert row["same_day_index"] == pytest.approx(100 * 0.1 / (0.1 + 500 / 30_000))


def test_spiff_window_and_pull_forward_premium():
    spiff = "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14}\n"
    company = Company(
        plans=[plan(NB_10 + RENEW_2 + spiff)],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10)), Deal("D2", "R1", 50_000, D(2026, 3, 25))],
    )
    lines = compute_payout(company.data(), AS_OF).lines.filter(component_id="qe")
    assert lines.select("deal_id", "amount").rows() == [("D2", 1_000.0)]
    row = q1_scores(company)
    # Q1 2026 has 90 days: the spiff counts with probability 14/90 for a Δ_S = 50,000 deal.
    m_s = 0.1 + 1_000 * 14 / 90 / 50_000
    assert row["marginal_same_day"] == pytest.approx(m_s)
    assert row["same_day_index"] == pytest.approx(100 * m_s / (m_s + 0.02))
    # Last day: 5,000 + 1,000 spiff; no next period in the data, so this book on its first day: 5,000.
    assert row["pull_forward_premium"] == pytest.approx(0.2)


def test_plan_without_variable_pay_has_null_sdi_with_reason():
    row = q1_scores(
        one_deal(
            "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.0}]}\n"
        )
    )
    assert row["same_day_index"] is None
    assert "pays nothing variable" in row["note"]


def test_clawback_line_at_churn_within_window():
    company = one_deal(CLAWBACK_180 + RENEW_2)
    company.churn = [("A-D1", D(2026, 5, 1), 50_000)]
    lines = compute_payout(company.data(), D(2026, 6, 30)).lines
    assert lines.select("line_type", "amount", "earned_date").rows() == [
        ("earning", 5_000.0, D(2026, 2, 10)),
        ("clawback", -5_000.0, D(2026, 5, 1)),
    ]
    scores = score_company(company.data(), as_of=D(2026, 6, 30)).plan_scores
    q1 = scores.filter(scores["period"] == "2026-Q1").to_dicts()[0]
    assert q1["clawed_back"] == pytest.approx(5_000.0)
    assert q1["clawback_rate"] == pytest.approx(1.0)


def test_retention_bonus_pays_when_threshold_reached():
    bonus = "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n"
    company = Company(
        plans=[plan(RENEW_2 + bonus)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 95_000, D(2026, 2, 1), deal_type="renewal", account_id="A1"),
            Deal("D2", "R1", 5_000, D(2026, 2, 2), deal_type="renewal", account_id="A2", stage="lost"),
            Deal("D3", "R2", 80_000, D(2026, 2, 1), deal_type="renewal", account_id="A3"),
            Deal("D4", "R2", 20_000, D(2026, 2, 2), deal_type="renewal", account_id="A4", stage="lost"),
        ],
    )
    lines = compute_payout(company.data(), AS_OF).lines.filter(component_id="grr")
    # R1 kept 95 % of renewals, R2 80 %: only R1 reaches the 90 % threshold.
    assert lines.select("rep_id", "amount", "earned_date").rows() == [("R1", 5_000.0, AS_OF)]


def test_quarter_without_new_business_prices_deals_at_the_plans_typical_size():
    """Δ_S falls back to the plan's median over all periods (50,000 here), not to SPEC's 10,000."""
    company = one_deal(NB_10 + "  - {id: ref, kind: referral_bonus, amount: 500}\n")
    scores = score_company(company.data(), as_of=D(2026, 6, 30)).plan_scores
    sdi = dict(zip(scores["period"], scores["same_day_index"], strict=True))
    assert sdi["2026-Q1"] == pytest.approx(100 * 0.1 / (0.1 + 500 / 50_000))
    assert sdi["2026-Q2"] == pytest.approx(sdi["2026-Q1"])
