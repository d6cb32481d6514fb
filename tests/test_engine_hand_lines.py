"""The payout engine against statement lines written by hand, one rule at a time, at its boundaries.

Every expected line below was computed by hand from SPEC section 3 and docs/methodology.md ("Payout
engine"); the arithmetic is in the comments. Nothing here is compared with the engine's or the
generator's own output. All plans are quarterly (Q1 2026 = 1 Jan – 31 Mar, 90 days).
"""

from __future__ import annotations

import datetime as dt

import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.engine.payout import compute_payout

AS_OF = D(2026, 3, 31)
TIERS_10_20 = "tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]"
Line = tuple[str, str | None, str, float, dt.date]
"""(component_id, deal_id, line_type, amount, earned_date)"""


def lines_of(company: Company, as_of: dt.date = AS_OF) -> list[Line]:
    lines = compute_payout(company.data(), as_of).lines
    rows = lines.select("component_id", "deal_id", "line_type", "amount", "earned_date").rows()
    return sorted(rows, key=lambda r: (r[4], r[0], r[1] or "", r[2]))  # date, component, deal, type


def nb_commission(rule: str = "tiers: [{from: 0.0, rate: 0.10}]", component_id: str = "nb") -> str:
    return f"  - {{id: {component_id}, kind: commission, applies_to: [new_business], {rule}}}\n"


# --- tiers -------------------------------------------------------------------------------------------


def test_a_deal_that_ends_exactly_at_quota_is_paid_wholly_at_the_lower_tier():
    company = Company(
        plans=[plan(nb_commission(TIERS_10_20), quota=100_000)],
        deals=[
            Deal("D1", "R1", 60_000, D(2026, 2, 1)),
            Deal("D2", "R1", 40_000, D(2026, 2, 2)),
            Deal("D3", "R1", 10_000, D(2026, 2, 3)),
        ],
    )
    assert lines_of(company) == [
        ("nb", "D1", "earning", 6_000.0, D(2026, 2, 1)),  # 0 → 60k at 10 %
        ("nb", "D2", "earning", 4_000.0, D(2026, 2, 2)),  # 60k → 100k (= quota) at 10 %
        ("nb", "D3", "earning", 2_000.0, D(2026, 2, 3)),  # 100k → 110k at 20 %
    ]


def test_a_deal_that_crosses_quota_is_split_between_tiers():
    company = Company(
        plans=[plan(nb_commission(TIERS_10_20), quota=100_000)],
        deals=[Deal("D1", "R1", 90_000, D(2026, 2, 1)), Deal("D2", "R1", 20_000, D(2026, 2, 2))],
    )
    # D2: 90k → 100k at 10 % = 1,000, 100k → 110k at 20 % = 2,000.
    assert lines_of(company) == [
        ("nb", "D1", "earning", 9_000.0, D(2026, 2, 1)),
        ("nb", "D2", "earning", 3_000.0, D(2026, 2, 2)),
    ]


def test_tier_bands_apply_only_to_dollars_that_earn_quota_credit():
    """Quota credits new business only. An expansion neither moves attainment nor gets the upper band."""
    component = f"  - {{id: all, kind: commission, applies_to: [new_business, expansion], {TIERS_10_20}}}\n"
    company = Company(
        plans=[plan(component, quota=100_000)],
        deals=[
            Deal("E1", "R1", 150_000, D(2026, 2, 1), deal_type="expansion"),
            Deal("N1", "R1", 90_000, D(2026, 2, 2)),
            Deal("N2", "R1", 20_000, D(2026, 2, 3)),
            Deal("E2", "R1", 10_000, D(2026, 2, 4), deal_type="expansion"),
        ],
    )
    assert lines_of(company) == [
        # not credited: first tier on all of it, though 150k is past quota (bands: 10k + 10k = 20,000)
        ("all", "E1", "earning", 15_000.0, D(2026, 2, 1)),
        ("all", "N1", "earning", 9_000.0, D(2026, 2, 2)),  # credited 0 → 90k (E1 does not count): 10 %
        ("all", "N2", "earning", 3_000.0, D(2026, 2, 3)),  # 90k → 110k: 10k × 10 % + 10k × 20 %
        ("all", "E2", "earning", 1_000.0, D(2026, 2, 4)),  # above quota, still first tier: 10k × 10 %
    ]


def test_a_plan_without_quota_pays_the_first_tier_rate():
    company = Company(
        plans=[plan(nb_commission(TIERS_10_20))],
        deals=[Deal("D1", "R1", 500_000, D(2026, 2, 1))],
    )
    assert lines_of(company) == [("nb", "D1", "earning", 50_000.0, D(2026, 2, 1))]


def test_attainment_restarts_each_period():
    company = Company(
        plans=[plan(nb_commission(TIERS_10_20), quota=100_000)],
        deals=[Deal("D1", "R1", 100_000, D(2026, 3, 31)), Deal("D2", "R1", 10_000, D(2026, 4, 1))],
    )
    # D2 is the first credited dollar of Q2: 10 %, not Q1's 20 %.
    assert lines_of(company, D(2026, 6, 30)) == [
        ("nb", "D1", "earning", 10_000.0, D(2026, 3, 31)),
        ("nb", "D2", "earning", 1_000.0, D(2026, 4, 1)),
    ]


# --- caps --------------------------------------------------------------------------------------------


def test_a_cap_that_binds_exactly_then_pays_nothing_more():
    company = Company(
        plans=[plan(nb_commission("tiers: [{from: 0.0, rate: 0.10}], cap: 5000"))],
        deals=[
            Deal("D1", "R1", 30_000, D(2026, 2, 1)),
            Deal("D2", "R1", 20_000, D(2026, 2, 2)),
            Deal("D3", "R1", 10_000, D(2026, 2, 3)),
        ],
    )
    # 3,000 + 2,000 = 5,000 = cap exactly; D3's 1,000 is over the cap: a 0 line, which is dropped.
    assert lines_of(company) == [
        ("nb", "D1", "earning", 3_000.0, D(2026, 2, 1)),
        ("nb", "D2", "earning", 2_000.0, D(2026, 2, 2)),
    ]


def test_a_cap_is_per_rep_and_period():
    company = Company(
        plans=[plan(nb_commission("tiers: [{from: 0.0, rate: 0.10}], cap: 5000"))],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 80_000, D(2026, 2, 1)),
            Deal("D2", "R2", 80_000, D(2026, 2, 1)),
            Deal("D3", "R1", 80_000, D(2026, 4, 1)),
        ],
    )
    rows = compute_payout(company.data(), D(2026, 6, 30)).lines.select("rep_id", "deal_id", "amount").rows()
    # Each 8,000 is capped at 5,000 in its own rep-period.
    assert sorted(rows) == [("R1", "D1", 5_000.0), ("R1", "D3", 5_000.0), ("R2", "D2", 5_000.0)]


# --- spiffs ------------------------------------------------------------------------------------------


def test_spiff_window_is_the_last_days_of_the_period_inclusive():
    spiff = "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14}\n"
    company = Company(
        plans=[plan(spiff)],
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 3, 17)),  # 15 days before the end: outside
            Deal("D2", "R1", 50_000, D(2026, 3, 18)),  # 31 − 14 + 1 = 18 March: first day of the window
            Deal("D3", "R1", 50_000, D(2026, 3, 31)),  # the period's last day
            Deal("D4", "R1", 50_000, D(2026, 3, 20), deal_type="renewal"),  # not an applies_to type
        ],
    )
    assert lines_of(company) == [
        ("qe", "D2", "earning", 1_000.0, D(2026, 3, 18)),
        ("qe", "D3", "earning", 1_000.0, D(2026, 3, 31)),
    ]


def test_spiff_cap_binds_part_way():
    spiff = (
        "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14,"
        " cap: 1500}\n"
    )
    company = Company(
        plans=[plan(spiff)],
        deals=[Deal("D1", "R1", 1, D(2026, 3, 20)), Deal("D2", "R1", 1, D(2026, 3, 21))],
    )
    # 1,000, then min(2,000, 1,500) − 1,000 = 500.
    assert lines_of(company) == [
        ("qe", "D1", "earning", 1_000.0, D(2026, 3, 20)),
        ("qe", "D2", "earning", 500.0, D(2026, 3, 21)),
    ]


# --- clawbacks ---------------------------------------------------------------------------------------

CLAWBACK_180 = "tiers: [{from: 0.0, rate: 0.10}], clawback: {window_days: 180, fraction: 1.0}"


def test_clawback_window_ends_on_day_window_inclusive():
    company = Company(
        plans=[plan(nb_commission(CLAWBACK_180))],
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R1", 40_000, D(2026, 2, 10), account_id="A2"),
            Deal("D3", "R1", 30_000, D(2026, 2, 10), account_id="A3"),
        ],
        # 10 Feb + 180 days = 9 Aug 2026 (18 + 31 + 30 + 31 + 30 + 31 + 9); + 181 = 10 Aug; + 0 = close day.
        churn=[("A1", D(2026, 8, 9), 1.0), ("A2", D(2026, 8, 10), 1.0), ("A3", D(2026, 2, 10), 1.0)],
    )
    assert lines_of(company, D(2026, 12, 31)) == [
        ("nb", "D1", "earning", 5_000.0, D(2026, 2, 10)),
        ("nb", "D2", "earning", 4_000.0, D(2026, 2, 10)),
        ("nb", "D3", "clawback", -3_000.0, D(2026, 2, 10)),  # churn on the close day: 0 days ≤ 180
        ("nb", "D3", "earning", 3_000.0, D(2026, 2, 10)),
        ("nb", "D1", "clawback", -5_000.0, D(2026, 8, 9)),  # day 180: inside; D2's day 181: outside
    ]


def test_clawback_is_dated_at_the_churn_and_waits_for_as_of():
    company = Company(
        plans=[plan(nb_commission(CLAWBACK_180))],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1")],
        churn=[("A1", D(2026, 5, 1), 1.0)],
    )
    assert lines_of(company, D(2026, 4, 30)) == [("nb", "D1", "earning", 5_000.0, D(2026, 2, 10))]
    assert lines_of(company, D(2026, 5, 1))[-1] == ("nb", "D1", "clawback", -5_000.0, D(2026, 5, 1))


def test_a_churn_before_the_close_is_not_clawed_back():
    company = Company(
        plans=[plan(nb_commission(CLAWBACK_180))],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1")],
        churn=[("A1", D(2026, 1, 15), 1.0)],
    )
    assert lines_of(company, D(2026, 12, 31)) == [("nb", "D1", "earning", 5_000.0, D(2026, 2, 10))]


def test_a_lost_renewal_is_a_churn_that_claws_back():
    company = Company(
        plans=[plan(nb_commission(CLAWBACK_180))],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R2", 20_000, D(2026, 4, 1), deal_type="renewal", account_id="A1", stage="lost"),
        ],
    )
    assert lines_of(company, D(2026, 12, 31)) == [
        ("nb", "D1", "earning", 5_000.0, D(2026, 2, 10)),
        ("nb", "D1", "clawback", -5_000.0, D(2026, 4, 1)),
    ]


def test_clawback_takes_its_fraction_of_the_pay_kept_after_deferral_not_of_gross():
    """docs/methodology.md (Clawback): the line is −f × gross × (1 − d); the held part is forfeited."""
    rule = (
        "tiers: [{from: 0.0, rate: 0.10}], clawback: {window_days: 180, fraction: 0.5},"
        " deferral: {fraction: 0.4, release_after_days: 90}"
    )
    company = Company(
        plans=[plan(nb_commission(rule))],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1")],
        churn=[("A1", D(2026, 3, 1), 1.0)],
    )
    # gross 5,000; kept at close 5,000 × 0.6 = 3,000; clawback 0.5 × 3,000 = 1,500 (not 0.5 × 5,000);
    # the held 2,000 is never released (churn before 11 May).
    assert lines_of(company, D(2026, 12, 31)) == [
        ("nb", "D1", "earning", 3_000.0, D(2026, 2, 10)),
        ("nb", "D1", "clawback", -1_500.0, D(2026, 3, 1)),
    ]


# --- deferrals ---------------------------------------------------------------------------------------

DEFER_90 = "tiers: [{from: 0.0, rate: 0.10}], deferral: {fraction: 0.5, release_after_days: 90}"


def test_deferral_is_released_on_close_plus_t_once_as_of_reaches_it():
    company = Company(
        plans=[plan(nb_commission(DEFER_90))],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))],
    )
    held = [("nb", "D1", "earning", 2_500.0, D(2026, 2, 10))]  # 5,000 × (1 − 0.5)
    # 10 Feb + 90 days = 11 May (18 + 31 + 30 + 11).
    assert lines_of(company, D(2026, 5, 10)) == held
    assert lines_of(company, D(2026, 5, 11)) == [
        *held,
        ("nb", "D1", "deferral_release", 2_500.0, D(2026, 5, 11)),
    ]


def test_a_churn_on_the_release_date_forfeits_the_deferral_and_the_day_after_does_not():
    company = Company(
        plans=[plan(nb_commission(DEFER_90))],
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R1", 30_000, D(2026, 2, 10), account_id="A2"),
        ],
        churn=[("A1", D(2026, 5, 11), 1.0), ("A2", D(2026, 5, 12), 1.0)],
    )
    assert lines_of(company, D(2026, 12, 31)) == [
        ("nb", "D1", "earning", 2_500.0, D(2026, 2, 10)),
        ("nb", "D2", "earning", 1_500.0, D(2026, 2, 10)),
        ("nb", "D2", "deferral_release", 1_500.0, D(2026, 5, 11)),  # A2 still active on 11 May
    ]


def test_deferral_and_clawback_amounts_are_rounded_to_cents():
    rule = "tiers: [{from: 0.0, rate: 0.10}], deferral: {fraction: 0.333, release_after_days: 90}"
    company = Company(plans=[plan(nb_commission(rule))], deals=[Deal("D1", "R1", 12_345.67, D(2026, 2, 10))])
    # gross 1,234.567; kept × 0.667 = 823.456189 → 823.46; held × 0.333 = 411.110811 → 411.11.
    assert lines_of(company, D(2026, 12, 31)) == [
        ("nb", "D1", "earning", 823.46, D(2026, 2, 10)),
        ("nb", "D1", "deferral_release", 411.11, D(2026, 5, 11)),
    ]


# --- referral bonuses --------------------------------------------------------------------------------


def referral_company(bonus: str, stage: str = "won") -> Company:
    return Company(
        plans=[plan(bonus)],
        reps=("R1", "R2"),
        deals=[Deal("D2", "R2", 30_000, D(2026, 3, 1), account_id="A2", referral_id="F1", stage=stage)],
        referrals=[("F1", "R1", "D2", "A1")],
    )


@pytest.mark.parametrize(
    ("bonus", "amount"),
    [("rate: 0.05", 1_500.0), ("amount: 500", 500.0)],  # 5 % × 30,000; flat 500 whatever the deal
)
def test_referral_bonus_goes_to_the_referring_rep_on_the_referred_deals_close(bonus, amount):
    company = referral_company(f"  - {{id: ref, kind: referral_bonus, {bonus}}}\n")
    lines = compute_payout(company.data(), AS_OF).lines
    assert lines.select(
        "rep_id", "component_id", "deal_id", "referral_id", "amount", "earned_date"
    ).rows() == [("R1", "ref", "D2", "F1", amount, D(2026, 3, 1))]


def test_a_referral_whose_deal_is_lost_pays_nothing():
    company = referral_company("  - {id: ref, kind: referral_bonus, amount: 500}\n", stage="lost")
    assert compute_payout(company.data(), AS_OF).lines.height == 0


# --- retention bonuses -------------------------------------------------------------------------------

GRR_BONUS = (
    "  - {id: renew, kind: commission, applies_to: [renewal], tiers: [{from: 0.0, rate: 0.0}]}\n"
    "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n"
)


def grr_company() -> Company:
    return Company(
        plans=[plan(GRR_BONUS)],
        reps=("R1", "R2", "R3"),
        deals=[
            # R1: 90,000 won ÷ (90,000 + 10,000 lost) = 0.9 exactly: reaches the threshold.
            Deal("D1", "R1", 90_000, D(2026, 2, 1), deal_type="renewal", account_id="A1"),
            Deal("D2", "R1", 10_000, D(2026, 2, 2), deal_type="renewal", account_id="A2", stage="lost"),
            # R2: 89,999 ÷ 100,000 = 0.89999: just below.
            Deal("D3", "R2", 89_999, D(2026, 2, 1), deal_type="renewal", account_id="A3"),
            Deal("D4", "R2", 10_001, D(2026, 2, 2), deal_type="renewal", account_id="A4", stage="lost"),
            # R3: 90,000 ÷ (90,000 + 10,000 churned lost_amount on an account R3 owns) = 0.9.
            Deal("D5", "R3", 90_000, D(2026, 2, 1), deal_type="renewal", account_id="A5"),
            Deal("D6", "R3", 1, D(2026, 1, 5), deal_type="new_business", account_id="A6"),
        ],
        churn=[("A6", D(2026, 2, 20), 10_000.0)],
    )


def test_retention_bonus_pays_exactly_at_the_threshold_at_period_end():
    lines = compute_payout(grr_company().data(), AS_OF).lines.filter(component_id="grr")
    assert lines.select("rep_id", "amount", "earned_date").rows() == [
        ("R1", 5_000.0, AS_OF),
        ("R3", 5_000.0, AS_OF),
    ]


def test_retention_bonus_waits_for_the_end_of_its_period():
    lines = compute_payout(grr_company().data(), D(2026, 3, 30)).lines
    assert lines.filter(component_id="grr").height == 0


def test_churned_dollars_count_against_the_threshold():
    company = grr_company()
    company.churn = [("A6", D(2026, 2, 20), 10_001.0)]  # 90,000 ÷ 100,001 < 0.9
    lines = compute_payout(company.data(), AS_OF).lines.filter(component_id="grr")
    assert lines["rep_id"].to_list() == ["R1"]


# --- who is paid -------------------------------------------------------------------------------------


def test_a_deal_closed_outside_any_assignment_earns_nothing_and_is_reported():
    company = Company(
        plans=[plan(nb_commission())],
        deals=[Deal("D1", "R1", 50_000, D(2024, 12, 31)), Deal("D2", "R1", 50_000, D(2025, 1, 1))],
    )
    # Assignments in the builder start on 1 Jan 2025.
    payout = compute_payout(company.data(), AS_OF)
    assert payout.lines.select("deal_id", "amount").rows() == [("D2", 5_000.0)]
    assert payout.unpaid_deals["deal_id"].to_list() == ["D1"]
