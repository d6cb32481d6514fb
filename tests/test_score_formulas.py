"""`compscore.scoring.scores` at its boundaries, by hand (SPEC section 5, docs/methodology.md): the typical
sizes Δ and their one-cent floor, the renewal weight, components that share an id across plans, the
pull-forward premium's next-period book, the notes that say why a figure is null, the outcome rows, the
rep-period books, the incentive curves, and the run's wiring (progress, attribution sink, data-quality
status, the order of the rows). Quarterly plans; Q1 2026 has 90 days. Arithmetic in the comments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.engine.plan_tables import plan_tables
from compscore.plans import parse_plan
from compscore.schema import conform
from compscore.scoring.batches import rep_batches
from compscore.scoring.scores import (
    PLAN_SCORE_COLUMNS,
    ScoreTables,
    combine_shards,
    incentive_curves,
    score_company,
)
from compscore.scoring.shards import DealSizes, score_shard, scoring_context

Q1_END = D(2026, 3, 31)
NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
RENEW_2 = (
    "  - {id: renew, kind: commission, applies_to: [renewal, expansion], tiers: [{from: 0.0, rate: 0.02}]}\n"
)
FLAT_REFERRAL = "  - {id: ref, kind: referral_bonus, amount: 500}\n"
TIERED = (
    "  - {id: nb, kind: commission, applies_to: [new_business],\n"
    "     tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]}\n"
)
SPIFF_14 = "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14}\n"
# Flat pay makes each Δ visible: m_S = 1,000 / Δ_S, m_R = 2,000 / Δ_R, m_F = 500 / Δ_F (120-day spiff
# windows cover every quarter, so a spiff counts with probability 1).
FLAT_PAY = (
    "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 120}\n"
    "  - {id: re, kind: spiff, applies_to: [renewal, expansion], amount: 2000, last_days_of_period: 120}\n"
    + FLAT_REFERRAL
)


def tables(company: Company, as_of: dt.date = Q1_END, **kwargs) -> ScoreTables:
    return score_company(company.data(), as_of=as_of, **kwargs)


def rows(company: Company, as_of: dt.date = Q1_END) -> dict[tuple[str, str], dict]:
    """plan_scores rows by (plan_id, period)."""
    return {(r["plan_id"], r["period"]): r for r in tables(company, as_of).plan_scores.to_dicts()}


def q1(company: Company, as_of: dt.date = Q1_END, plan_id: str = "p") -> dict:
    return rows(company, as_of)[(plan_id, "2026-Q1")]


def marginals(row: dict) -> tuple[float, float, float]:
    return row["marginal_same_day"], row["marginal_retention"], row["marginal_referral"]


# --- typical sizes Δ ---------------------------------------------------------------------------------


def test_delta_r_is_the_median_over_renewals_and_expansions():
    company = Company(
        plans=[plan(FLAT_PAY)],
        deals=[
            Deal("D1", "R1", 40_000, D(2026, 2, 1)),
            Deal("D2", "R1", 30_000, D(2026, 2, 2), deal_type="renewal"),
            Deal("D3", "R1", 70_000, D(2026, 2, 3), deal_type="expansion"),
        ],
    )
    # Δ_R = median(30k, 70k) = 50k, not the renewal alone (30k): m_R = 2,000 / 50,000 = 0.04.
    assert q1(company)["marginal_retention"] == pytest.approx(0.04, rel=1e-12)


def test_delta_f_of_a_plan_whose_reps_won_nothing_is_their_referred_deal():
    """R1 (plan p) won no deal at all; the deal R1 referred was won by R2 under plan q. R3 (plan z) has
    neither deals nor referrals."""
    company = Company(
        plans=[plan(FLAT_PAY, plan_id="p"), plan(NB_10, plan_id="q"), plan(FLAT_PAY, plan_id="z")],
        reps=("R1", "R2", "R3"),
        assignments={"R1": "p", "R2": "q", "R3": "z"},
        deals=[Deal("D1", "R2", 40_000, D(2026, 2, 1), referral_id="F1")],
        referrals=[("F1", "R1", "D1", "A0")],
    )
    found = rows(company)
    # Plan p never won new business: Δ_S = 10,000 and Δ_R = Δ_S; Δ_F = the referred 40,000 deal.
    # m_S = 1,000 / 10,000, m_R = 2,000 / 10,000, m_F = 500 / 40,000 = 0.0125 (not 500 / 10,000).
    assert marginals(found[("p", "2026-Q1")]) == pytest.approx((0.1, 0.2, 0.0125), rel=1e-12)
    assert marginals(found[("q", "2026-Q1")]) == pytest.approx((0.1, 0.0, 0.0), rel=1e-12)
    # Plan z: every Δ is SPEC's 10,000 (its reps are still priced, not dropped).
    assert marginals(found[("z", "2026-Q1")]) == pytest.approx((0.1, 0.2, 0.05), rel=1e-12)


@pytest.mark.parametrize(("amount", "delta"), [(0.0, 0.01), (0.5, 0.5)])
def test_every_delta_is_at_least_a_cent(amount, delta):
    company = Company(
        plans=[plan(FLAT_PAY)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", amount, D(2026, 2, 1)),
            Deal("D2", "R1", amount, D(2026, 2, 2), deal_type="renewal"),
            Deal("D3", "R2", amount, D(2026, 2, 3), referral_id="F1"),
        ],
        referrals=[("F1", "R1", "D3", "A-D1")],
    )
    # Every deal is worth `amount`, so Δ_S = Δ_R = Δ_F = max(amount, 0.01); flat pay gives every rep
    # m_S = 1,000 / Δ, m_R = 2,000 / Δ, m_F = 500 / Δ.
    expected = (1_000 / delta, 2_000 / delta, 500 / delta)
    assert marginals(q1(company)) == pytest.approx(expected, rel=1e-12)


# Renewal 2 %, expansion 6 %: m_R = w_ren · 0.02 + (1 − w_ren) · 0.06.
RENEW_AND_GROW = (
    NB_10
    + "  - {id: renew, kind: commission, applies_to: [renewal], tiers: [{from: 0.0, rate: 0.02}]}\n"
    + "  - {id: grow, kind: commission, applies_to: [expansion], tiers: [{from: 0.0, rate: 0.06}]}\n"
)


@pytest.mark.parametrize(
    ("renewal", "expansion", "m_r"),
    [
        (0.3, 0.2, 0.6 * 0.02 + 0.4 * 0.06),  # w_ren = 0.3 / 0.5 = 0.6, though under a dollar: 0.036
        (None, None, 0.02),  # neither won: all renewal, w_ren = 1
    ],
)
def test_renewal_weight_of_existing_customer_dollars(renewal, expansion, m_r):
    deals = [Deal("D1", "R1", 50_000, D(2026, 2, 1))]
    if renewal is not None:
        deals.append(Deal("D2", "R1", renewal, D(2026, 2, 2), deal_type="renewal"))
        deals.append(Deal("D3", "R1", expansion, D(2026, 2, 3), deal_type="expansion"))
    assert q1(Company(plans=[plan(RENEW_AND_GROW)], deals=deals))["marginal_retention"] == pytest.approx(
        m_r, rel=1e-12
    )


def test_components_with_the_same_id_in_two_plans_keep_their_own_deal_types():
    commission = "  - {id: c, kind: commission, applies_to: [%s], tiers: [{from: 0.0, rate: %s}]}\n"
    company = Company(
        plans=[
            plan(commission % ("new_business", 0.10), plan_id="a"),
            plan(commission % ("renewal", 0.05), plan_id="b"),
        ],
        reps=("R1", "R2"),
        assignments={"R1": "a", "R2": "b"},
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 1)),
            Deal("D2", "R2", 40_000, D(2026, 2, 2), deal_type="renewal"),
        ],
    )
    found = rows(company)
    # a's `c` pays new business only (m_R = 0, not 10 %); b's `c` renewals only (m_S = 0, not 5 %).
    assert marginals(found[("a", "2026-Q1")]) == pytest.approx((0.1, 0.0, 0.0), rel=1e-12)
    assert marginals(found[("b", "2026-Q1")]) == pytest.approx((0.0, 0.05, 0.0), rel=1e-12)


def test_a_plan_without_components_pays_nothing_at_the_margin():
    company = Company(plans=[plan("  []\n")], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))])
    result = tables(company)
    row = result.plan_scores.to_dicts()[0]
    # No component: every added deal pays 0, so m_S = m_R = m_F = 0 (not null) and SDI is null.
    assert marginals(row) == (0.0, 0.0, 0.0)
    assert row["same_day_index"] is None
    assert row["note"].startswith(
        "same_day_index: the plan pays nothing variable for an added deal, renewal or referral; "
        "same_day_multiple: nothing is paid for retention (m_R = 0); "
        "pull_forward_premium: a deal on the next period's first day pays nothing"
    )
    book = result.rep_period_books.to_dicts()[0]
    assert marginals(book) == (0.0, 0.0, 0.0)


def test_a_rep_with_nothing_paid_yet_is_priced_from_zero_under_the_cap():
    capped = (
        "  - {id: flat, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.05}],"
        " cap: 5000}\n"
    )
    company = Company(
        plans=[plan(capped)], reps=("R1", "R2"), deals=[Deal("D1", "R1", 100_000, D(2026, 2, 1))]
    )
    # Δ_S = 100k pays 5,000. R1 has paid the 5,000 cap: 0. R2 has paid nothing: min(5,000, cap) − 0 =
    # 5,000, 0.05 a dollar (not 4,999 as from 1 dollar paid). Mean over the two reps: 0.025.
    assert q1(company)["marginal_same_day"] == pytest.approx(0.025, rel=1e-12)


# --- pull-forward premium ----------------------------------------------------------------------------


def test_pull_forward_uses_the_next_periods_book_from_its_first_day_on():
    company = Company(
        plans=[plan(TIERED, quota=100_000)],
        deals=[Deal("D1", "R1", 90_000, D(2026, 2, 1)), Deal("D2", "R1", 150_000, D(2026, 4, 1))],
    )
    # as_of = 1 April, the first day of Q2: Q2's book (150k credited) is known. Δ_S = 90k.
    # 31 March: 10k at 10 % + 80k at 20 % = 17,000. 1 April, past quota: 90k at 20 % = 18,000.
    row = q1(company, as_of=D(2026, 4, 1))
    assert row["pull_forward_premium"] == pytest.approx(17_000 / 18_000 - 1, rel=1e-12)


def test_pull_forward_of_a_rep_who_left_the_plan_prices_an_empty_next_book():
    capped = (
        "  - {id: flat, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.05}],"
        " cap: 5000}\n"
    )
    company = Company(
        plans=[plan(TIERED + capped, quota=100_000)], deals=[Deal("D1", "R1", 100_000, D(2026, 2, 1))]
    )
    data = company.data()
    data.tables["rep_plan_assignments"] = data.rep_plan_assignments.with_columns(end_date=pl.lit(Q1_END))
    found = {r["period"]: r for r in score_company(data, as_of=D(2026, 6, 30)).plan_scores.to_dicts()}
    assert list(found) == ["2026-Q1"]  # R1 left on 31 March: no Q2 population
    # Δ_S = 100k. 31 March: nb at 100 % attainment 100k × 20 % = 20,000; flat has paid its 5,000 cap: 0.
    # 1 April, on an empty book (nothing credited, nothing paid): nb 100k × 10 % = 10,000, flat 5,000.
    assert found["2026-Q1"]["pull_forward_premium"] == pytest.approx(20_000 / 15_000 - 1, rel=1e-12)
    assert found["2026-Q1"]["marginal_same_day"] == pytest.approx(0.2, rel=1e-12)


def test_pull_forward_premium_when_the_first_day_pays_under_a_dollar():
    # Δ_S = 5: 0.50 on either day; 0.50 / 0.50 − 1 = 0 (a positive denominator, however small).
    row = q1(Company(plans=[plan(NB_10)], deals=[Deal("D1", "R1", 5, D(2026, 2, 10))]))
    assert row["pull_forward_premium"] == pytest.approx(0.0, abs=1e-12)


# --- notes, clawbacks and outcome rows ---------------------------------------------------------------


def test_a_spiff_only_plan_lists_every_null_figure_in_its_note():
    company = Company(plans=[plan(SPIFF_14)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))])
    result = tables(company)
    row = result.plan_scores.to_dicts()[0]
    # m_S = 1,000 × 14/90 / 50,000; nothing else pays: SDI 100.
    assert row["same_day_index"] == pytest.approx(100.0, rel=1e-12)
    # 31 March pays the 1,000 spiff; 1 April (no next period yet: this book) is outside the window: 0.
    assert row["pull_forward_premium"] is None
    # D1 closed outside the spiff window: no pay earned, nothing clawed back.
    assert (row["realized_same_day_share"], row["clawed_back"], row["clawback_rate"]) == (None, 0.0, None)
    assert row["note"] == (
        "same_day_multiple: nothing is paid for retention (m_R = 0); "
        "pull_forward_premium: a deal on the next period's first day pays nothing; "
        "realized shares: no pay earned in the period; "
        "early_churn_rate: immature until 2026-09-27; "  # 31 March + 180 days
        "grr_12m: immature until 2027-03-31; "  # 31 March + 365 days
        "period_end_discount_gap: no deals or accounts to measure"  # no deal has a discount
    )
    # plan_outcomes carries each indicator's own note.
    assert result.plan_outcomes.select("indicator", "value", "note").rows() == [
        ("early_churn_rate", None, "early_churn_rate: immature until 2026-09-27"),
        ("grr_12m", None, "grr_12m: immature until 2027-03-31"),
        ("referrals_per_100_accounts", 0.0, None),  # no referral, one account
        ("period_end_bunching", 0.0, None),  # D1 closed before the last 9 days
        ("period_end_discount_gap", None, "period_end_discount_gap: no deals or accounts to measure"),
    ]


def test_outcome_rows_of_an_empty_book_are_typed_even_when_every_value_is_null():
    company = Company(plans=[plan(NB_10)], deals=[])
    outcomes = tables(company).plan_outcomes
    # No deal, no account: every value is null (immature, or nothing to measure), yet the columns keep
    # their types for the Parquet and DuckDB tables.
    assert outcomes["value"].to_list() == [None] * 5
    assert dict(outcomes.schema) == {
        "plan_id": pl.String,
        "period": pl.String,
        "period_start": pl.Date,
        "indicator": pl.String,
        "value": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "numerator": pl.Float64,
        "denominator": pl.Float64,
        "mature_on": pl.Date,
        "note": pl.String,
    }


def mature_company(components: str) -> Company:
    """Q1 2026: D1 60k on 25 March (in the last 9 days, 20 % off), D2 40k on 10 February (10 % off)."""
    return Company(
        plans=[plan(components)],
        deals=[
            Deal("D1", "R1", 60_000, D(2026, 3, 25), discount_pct=0.20),
            Deal("D2", "R1", 40_000, D(2026, 2, 10), discount_pct=0.10),
        ],
    )


MATURE = D(2027, 3, 31)  # 31 March 2026 + 365 days: every Q1 indicator is mature


@pytest.mark.parametrize(
    ("components", "note"),
    [
        (NB_10 + RENEW_2, None),
        (NB_10, "same_day_multiple: nothing is paid for retention (m_R = 0)"),
    ],
)
def test_a_row_whose_figures_are_all_defined_has_no_note(components, note):
    assert q1(mature_company(components), MATURE)["note"] == note


def test_outcome_rows_carry_their_sums_maturity_and_no_note():
    company = Company(
        plans=[plan(NB_10 + RENEW_2)],
        deals=[  # Q1's last 9 days are 23–31 March
            Deal("D1", "R1", 60_000, D(2026, 3, 25), discount_pct=0.20),
            Deal("D2", "R1", 40_000, D(2026, 3, 30), discount_pct=0.30),
            Deal("D3", "R1", 40_000, D(2026, 2, 10), discount_pct=0.10),
            Deal("D4", "R1", 20_000, D(2026, 2, 20), discount_pct=0.04),
        ],
    )
    result = tables(company, MATURE)
    q1_rows = result.plan_outcomes.filter(pl.col("period") == "2026-Q1").drop("low", "high").to_dicts()
    common = {"plan_id": "p", "period": "2026-Q1", "period_start": D(2026, 1, 1), "note": None}
    expected = [
        # No account churned: 0 of 4 deals.
        {
            "indicator": "early_churn_rate",
            "value": 0.0,
            "numerator": 0.0,
            "denominator": 4.0,
            "mature_on": D(2026, 9, 27),
        },
        # All 160k kept.
        {
            "indicator": "grr_12m",
            "value": 1.0,
            "numerator": 160_000.0,
            "denominator": 160_000.0,
            "mature_on": MATURE,
        },
        # No referral; four accounts in the book.
        {
            "indicator": "referrals_per_100_accounts",
            "value": 0.0,
            "numerator": 0.0,
            "denominator": 4.0,
            "mature_on": Q1_END,
        },
        # 100k in the last 9 days ÷ (160k × 9/90 = 16k) = 6.25.
        {
            "indicator": "period_end_bunching",
            "value": 6.25,
            "numerator": 100_000.0,
            "denominator": 16_000.0,
            "mature_on": Q1_END,
        },
        # Window mean (0.20 + 0.30) / 2 = 0.25, the rest (0.10 + 0.04) / 2 = 0.07: 100 × 0.18 = 18 points.
        # Numerator and denominator are the window's: 0.50 over 2 deals.
        {
            "indicator": "period_end_discount_gap",
            "value": 18.0,
            "numerator": 0.5,
            "denominator": 2.0,
            "mature_on": Q1_END,
        },
    ]
    assert q1_rows == [pytest.approx({**common, **e}) for e in expected]
    # One rep: every resample is that rep, so each interval is the point estimate.
    bounds = result.plan_outcomes.filter(pl.col("period") == "2026-Q1").select("value", "low", "high").rows()
    assert all(low == pytest.approx(value) and high == pytest.approx(value) for value, low, high in bounds)
    scores = result.plan_scores.filter(pl.col("period") == "2026-Q1").to_dicts()[0]
    assert (scores["period_end_discount_gap_low"], scores["period_end_discount_gap_high"]) == pytest.approx(
        (18.0, 18.0)
    )


def test_outcome_rows_come_by_plan_and_period():
    company = Company(
        plans=[plan(NB_10, plan_id="a"), plan(NB_10, plan_id="b")],
        reps=("R1", "R2"),
        assignments={"R1": "a", "R2": "b"},
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 1)), Deal("D2", "R2", 50_000, D(2026, 2, 2))],
    )
    outcomes = tables(company, D(2026, 6, 30)).plan_outcomes
    groups = outcomes.select("plan_id", "period").unique(maintain_order=True).rows()
    assert groups == [("a", "2026-Q1"), ("a", "2026-Q2"), ("b", "2026-Q1"), ("b", "2026-Q2")]


def test_a_figure_first_defined_after_a_hundred_periods_is_kept():
    """Scores are assembled from one row per plan-period; a column that is null in the first hundred
    rows must not lose its later values."""
    monthly = parse_plan(f"plan_id: m\nname: m\nperiod: month\ncomponents:\n{NB_10}")
    company = Company(
        plans=[monthly],
        deals=[
            Deal("D1", "R1", 50_000, D(2018, 1, 31)),  # created 1 January 2018: January 2018 is scored
            Deal("D2", "R1", 60_000, D(2026, 5, 30), discount_pct=0.20),  # in May's last 3 days
            Deal("D3", "R1", 40_000, D(2026, 5, 10), discount_pct=0.10),
        ],
    )
    data = company.data()
    data.tables["rep_plan_assignments"] = data.rep_plan_assignments.with_columns(
        start_date=pl.lit(D(2018, 1, 1))
    )
    result = score_company(data, as_of=D(2026, 5, 31))
    scores = result.plan_scores
    assert scores.height == 101  # January 2018 … May 2026
    # 101 plan-periods: enough that a plain group-by returns them out of order; both tables keep time order.
    assert scores["period_start"].is_sorted()
    assert result.plan_outcomes["period_start"].is_sorted()
    assert scores["period_end_discount_gap"].null_count() == 100  # no discounted deal before May 2026
    may = scores.filter(pl.col("period") == "2026-05").to_dicts()[0]
    # 100 × (0.20 − 0.10) = 10 points; one rep: the interval is the point.
    assert (may["period_end_discount_gap"], may["period_end_discount_gap_low"]) == pytest.approx((10.0, 10.0))


# --- plan_scores: status, order ----------------------------------------------------------------------


def two_quarters() -> Company:
    return Company(
        plans=[plan(NB_10)],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 1)), Deal("D2", "R1", 50_000, D(2026, 5, 1))],
    )


def test_data_quality_status_comes_from_validation_else_ok_else_not_validated():
    status = pl.DataFrame(
        {
            "plan_id": ["p", "p", "other"],
            "period": ["2026-Q1", "2026-Q3", "2026-Q2"],
            "data_quality_status": ["warn", "fail", "fail"],
            "rejected_rows": [3, 9, 9],
        }
    )
    validated = tables(two_quarters(), D(2026, 6, 30), data_quality_status=status).plan_scores
    # Q1 is listed; Q2 is not (no rejects for it): ok. Other plans' and periods' rows do not leak in.
    assert validated.select("period", "data_quality_status").rows() == [
        ("2026-Q1", "warn"),
        ("2026-Q2", "ok"),
    ]
    plain = tables(two_quarters(), D(2026, 6, 30)).plan_scores
    assert plain["data_quality_status"].to_list() == ["not_validated", "not_validated"]


def test_plan_scores_are_sorted_by_plan_then_period():
    company = Company(
        plans=[plan(NB_10, plan_id="b"), plan(NB_10, plan_id="a")],
        reps=("R1", "R2"),
        assignments={"R1": "b", "R2": "a"},
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 1)), Deal("D2", "R2", 50_000, D(2026, 5, 2))],
    )
    scores = tables(company, D(2026, 6, 30)).plan_scores
    assert scores.select("plan_id", "plan_name", "period").rows() == [
        ("a", "a", "2026-Q1"),
        ("a", "a", "2026-Q2"),
        ("b", "b", "2026-Q1"),
        ("b", "b", "2026-Q2"),
    ]


# --- rep_period_books --------------------------------------------------------------------------------


def test_rep_period_book_row():
    company = Company(
        plans=[plan(TIERED + RENEW_2 + FLAT_REFERRAL, quota=100_000)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 1)),
            Deal("D2", "R1", 20_000, D(2026, 2, 2), deal_type="expansion"),
            Deal("D3", "R1", 30_000, D(2026, 2, 3), deal_type="renewal"),
            Deal("D4", "R1", 10_000, D(2026, 2, 4), deal_type="renewal", stage="lost"),
            Deal("D5", "R2", 10_000, D(2026, 2, 5), referral_id="F1"),
        ],
        referrals=[("F1", "R1", "D5", "A-D1")],
    )
    books = tables(company).rep_period_books
    assert books.columns == [
        "rep_id",
        "plan_id",
        "period_start",
        "period",
        "period_end",
        "n_won_deals",
        "won_new_business",
        "won_expansion",
        "won_renewal",
        "lost",
        "credited",
        "referrals_credited",
        "marginal_same_day",
        "marginal_retention",
        "marginal_referral",
        "quota",
        "attainment",
    ]
    # Δ_S = median(50k, 10k) = 30k, below R1's tier boundary (50k + 30k ≤ 100k): 10 %. Δ_F = 10k:
    # 500 / 10,000 = 0.05. Attainment = 50k credited (new business only) / 100k.
    assert books.filter(pl.col("rep_id") == "R1").to_dicts() == [
        pytest.approx(
            {
                "rep_id": "R1",
                "plan_id": "p",
                "period_start": D(2026, 1, 1),
                "period": "2026-Q1",
                "period_end": Q1_END,
                "n_won_deals": 3,
                "won_new_business": 50_000.0,
                "won_expansion": 20_000.0,
                "won_renewal": 30_000.0,
                "lost": 10_000.0,
                "credited": 50_000.0,
                "referrals_credited": 1,
                "marginal_same_day": 0.1,
                "marginal_retention": 0.02,
                "marginal_referral": 0.05,
                "quota": 100_000.0,
                "attainment": 0.5,
            }
        )
    ]


@pytest.mark.parametrize(("quota", "attainment"), [(None, None), (1.0, 50_000.0)])
def test_attainment_is_credited_over_any_positive_quota_and_null_without(quota, attainment):
    company = Company(plans=[plan(NB_10, quota=quota)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 1))])
    book = tables(company).rep_period_books.to_dicts()[0]
    assert (book["quota"], book["attainment"]) == (quota, attainment)


# --- plan_incentive_curves ---------------------------------------------------------------------------


def test_incentive_curves_over_attainment():
    grr = "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n"
    capped = (
        "  - {id: flat, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.05}],"
        " cap: 5000}\n"
    )
    company = Company(
        plans=[
            plan(TIERED + SPIFF_14 + RENEW_2 + FLAT_REFERRAL + grr, plan_id="a", quota=100_000),
            plan(capped, plan_id="b", extra="quota_credit: [new_business]\n"),
            plan(NB_10, plan_id="c"),
        ],
        reps=("R1", "R2", "R3"),
        assignments={"R1": "a", "R2": "b", "R3": "c"},
        deals=[
            Deal("D1", "R1", 40_000, D(2026, 2, 1)),
            Deal("D2", "R1", 60_000, D(2026, 5, 1)),
            Deal("D3", "R1", 30_000, D(2026, 2, 2), deal_type="renewal"),
            Deal("D4", "R2", 100_000, D(2026, 2, 3)),
        ],
    )
    curves = tables(company, D(2026, 6, 30)).plan_incentive_curves
    assert curves.columns == [
        "plan_id",
        "attainment",
        "marginal_same_day",
        "marginal_retention",
        "marginal_referral",
        "same_day_index",
    ]
    attainments = [round(0.05 * i, 2) for i in range(41)]
    assert curves.select("plan_id", "attainment").rows() == [(p, x) for p in "abc" for x in attainments]
    a = {r.pop("attainment"): r for r in curves.filter(pl.col("plan_id") == "a").drop("plan_id").to_dicts()}
    # Plan a over all its periods: Δ_S = median(40k, 60k) = 50k = Δ_F; Δ_R = 30k. The 14-day spiff over
    # an average quarter of 365.25 / 4 days: 1,000 × 14 / 91.3125 / 50,000. The retention bonus is left out
    # (with it, an added 30k renewal on an empty book would reach GRR 1 and add 5,000 / 30,000).
    spiff = 1_000 * 14 / (365.25 / 4) / 50_000
    m_r, m_f = 0.02, 500 / 50_000
    for attainment, commission in [
        (0.0, 0.10),  # 50k at 10 %
        (0.95, (5_000 * 0.10 + 45_000 * 0.20) / 50_000),  # 95k + 50k crosses 100k: 0.19
        (2.0, 0.20),
    ]:
        m_s = commission + spiff
        assert a[attainment] == pytest.approx(
            {
                "marginal_same_day": m_s,
                "marginal_retention": m_r,
                "marginal_referral": m_f,
                "same_day_index": 100 * m_s / (m_s + m_r + m_f),
            },
            rel=1e-12,
        )
    # Plan b credits new business but has no quota (so no bands) and a 5,000 cap: Δ_S = 100k pays
    # 5 % = 5,000 = the cap from nothing paid, at every attainment.
    assert curves.filter(pl.col("plan_id") == "b")["marginal_same_day"].to_list() == pytest.approx(
        [0.05] * 41, rel=1e-12
    )
    # Plan c never won a deal: priced at Δ_S = 10,000, 10 % at every attainment (not left out).
    assert curves.filter(pl.col("plan_id") == "c")["marginal_same_day"].to_list() == pytest.approx(
        [0.1] * 41, rel=1e-12
    )


def test_incentive_curves_of_many_plans_come_by_plan_then_attainment():
    """Thirty plans: enough rows that the group-by behind the curves returns them out of order."""
    plans = {f"p{i:02d}": plan(NB_10, plan_id=f"p{i:02d}") for i in range(30)}
    no_deals = DealSizes(
        won_deals=pl.DataFrame(
            schema={
                "plan_id": pl.Categorical,
                "period_start": pl.Date,
                "deal_type": pl.Categorical,
                "amount": pl.Float64,
            }
        ),
        converted_referrals=pl.DataFrame(
            schema={"plan_id": pl.Categorical, "period_start": pl.Date, "deal_amount": pl.Float64}
        ),
    )
    curves = incentive_curves(no_deals, plan_tables(plans))
    attainments = [round(0.05 * i, 2) for i in range(41)]
    assert curves.select("plan_id", "attainment").rows() == [
        (p, x) for p in sorted(plans) for x in attainments
    ]
    assert curves["marginal_same_day"].to_list() == pytest.approx(
        [0.1] * 30 * 41, rel=1e-12
    )  # 10 % of 10,000


# --- the run: progress, attribution sink, outputs, row order ----------------------------------------


def three_deals() -> Company:
    return Company(
        plans=[plan(NB_10)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 10)),
            Deal("D2", "R2", 30_000, D(2026, 2, 1)),
            Deal("D0", "R2", 20_000, D(2026, 2, 10)),
        ],
    )


def test_a_run_in_batches_reports_progress_and_streams_attribution_to_the_sink():
    messages: list[str] = []
    streamed: list[pl.DataFrame] = []
    result = tables(three_deals(), batch_reps=1, progress=messages.append, attribution_sink=streamed.append)
    assert messages == [
        "scoring batch 1/2 (1 reps)",
        "scoring batch 2/2 (1 reps)",
        "marginal pay, bootstrap intervals and plan scores",
    ]
    # One frame a batch, each sorted by earned date then line id; none kept in the result.
    assert [f["line_id"].to_list() for f in streamed] == [
        ["earning:p:nb:D1"],
        ["earning:p:nb:D2", "earning:p:nb:D0"],
    ]
    assert result.attribution_streamed is True
    assert result.pay_attribution.height == 0
    assert list(result.outputs()) == [
        "plan_scores",
        "rep_period_books",
        "plan_incentive_curves",
        "plan_outcomes",
        "pay_reconciliation",
        "pay_reconciliation_totals",
    ]
    # The realized shares still count the streamed lines: 10,000 of new-business pay, all same-day.
    assert result.plan_scores["realized_same_day_share"].to_list() == [1.0]


def test_a_run_without_a_sink_keeps_the_attribution_in_date_then_line_order():
    result = score_company(three_deals().data(), batch_reps=1)  # as_of: the data's last date, 10 Feb
    assert result.as_of == D(2026, 2, 10)
    assert result.attribution_streamed is False
    assert result.pay_attribution["line_id"].to_list() == [
        "earning:p:nb:D2",
        "earning:p:nb:D0",
        "earning:p:nb:D1",
    ]
    outputs = result.outputs()
    assert list(outputs) == [
        "plan_scores",
        "pay_attribution",
        "rep_period_books",
        "plan_incentive_curves",
        "plan_outcomes",
        "pay_reconciliation",
        "pay_reconciliation_totals",
    ]
    assert outputs["pay_attribution"] is result.pay_attribution


def test_reconciliation_rows_are_sorted_by_date_rep_and_component_across_batches():
    data = Company(
        plans=[plan(NB_10)],
        reps=("R1", "R2"),
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10)), Deal("D2", "R2", 30_000, D(2026, 2, 1))],
    ).data()
    feb_1, feb_10 = D(2026, 2, 1), D(2026, 2, 10)
    given = [  # (line_id, rep, component, line_type, deal, amount, earned_date)
        ("G1", "R1", "nb", "earning", "D1", 4_000.0, feb_10),  # computed 5,000
        ("G2", "R1", "adjustment", "adjustment", None, -250.0, feb_10),  # not implied
        ("G3", "R2", "nb", "earning", "D2", 2_000.0, feb_1),  # computed 3,000
        ("G4", "R2", "adjustment", "adjustment", None, 100.0, feb_10),  # not implied
    ]
    data.tables["commission_lines"] = conform(
        pl.DataFrame(
            {
                "line_id": [g[0] for g in given],
                "rep_id": [g[1] for g in given],
                "plan_id": ["p"] * len(given),
                "component_id": [g[2] for g in given],
                "line_type": [g[3] for g in given],
                "deal_id": [g[4] for g in given],
                "referral_id": [None] * len(given),
                "amount": [g[5] for g in given],
                "earned_date": [g[6] for g in given],
            },
            schema_overrides={"deal_id": pl.String, "referral_id": pl.String},
        ),
        "commission_lines",
    ).collect()
    data.given_commission_lines = True
    result = score_company(data, as_of=Q1_END, batch_reps=1)
    assert result.pay_reconciliation.select("earned_date", "rep_id", "component_id", "difference").rows() == [
        (feb_1, "R2", "nb", -1_000.0),  # 2,000 − 3,000
        (feb_10, "R1", "adjustment", -250.0),
        (feb_10, "R1", "nb", -1_000.0),  # 4,000 − 5,000
        (feb_10, "R2", "adjustment", 100.0),
    ]


def test_reconciliation_rows_of_large_shards_come_by_date_rep_and_component():
    """15,000 mismatches in two shards, each sorted as `reconcile` returns it: enough rows that a sort
    on date and rep alone would shuffle the components of a rep's day."""
    data = three_deals().data()
    context = scoring_context(data, Q1_END)
    first, second = (score_shard(data, batch, context) for batch in rep_batches(data, 1))
    grid = (
        pl.DataFrame({"earned_date": pl.date_range(D(2026, 1, 1), D(2026, 1, 30), eager=True)})
        .join(pl.DataFrame({"rep_id": [f"R{i:02d}" for i in range(50)]}), how="cross")
        .join(pl.DataFrame({"component_id": [f"c{i}" for i in range(10)]}), how="cross")
        .with_columns(plan_id=pl.lit("p"), line_type=pl.lit("earning"), deal_id=pl.lit("D1"))
        .with_columns(referral_id=pl.lit(None, pl.String))
        .with_row_index("n")
        .sort("earned_date", "rep_id", "component_id")
    )
    parts = [
        replace(first, reconciliation=grid.filter(pl.col("rep_id") >= "R25")),
        replace(second, reconciliation=grid.filter(pl.col("rep_id") < "R25")),
    ]
    assert combine_shards(parts, context).pay_reconciliation.rows() == grid.rows()


def test_a_company_without_any_assignment_in_the_window_scores_to_empty_tables():
    """No rep was on a plan in the data's window: no plan-period to score. The tables come back empty,
    with their columns, instead of failing (a frame built from zero score rows had no columns)."""
    data = three_deals().data()
    tables = dict(data.tables)
    tables["rep_plan_assignments"] = tables["rep_plan_assignments"].head(0)
    result = score_company(replace(data, tables=tables), as_of=Q1_END)
    assert result.plan_scores.height == 0
    assert result.plan_scores.columns == PLAN_SCORE_COLUMNS
    assert result.plan_scores.schema["early_churn_rate"] == pl.Float64
    assert result.rep_period_books.height == 0 and result.plan_outcomes.height == 0
