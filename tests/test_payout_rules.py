"""The payout engine (`compscore.engine.payout`) at the edges the other hand-computed tests leave open:
which assignment pays a deal (plan changes, end dates, several reps), the order of deals in a rep-period
(same-day ties, rows given out of order), churn order, the default `as_of`, and the frames `PayoutResult`
hands to scoring. Every expected value is worked out by hand from SPEC section 3 and docs/methodology.md
("Payout engine"); the arithmetic is in the comments. All plans are quarterly (Q1 2026 = 1 Jan – 31 Mar).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.dataset import CanonicalData
from compscore.engine.payout import (
    compute_payout,
    compute_statement_lines,
    data_as_of,
    gross_revenue_retention,
    next_churn,
)
from compscore.schema import conform

AS_OF = D(2026, 3, 31)
NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
NB_20 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.20}]}\n"
TIERS_10_20 = (
    "  - {id: nb, kind: commission, applies_to: [new_business],"
    " tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}]}\n"
)


def with_assignments(
    data: CanonicalData, rows: list[tuple[str, str, dt.date, dt.date | None]]
) -> CanonicalData:
    """Replace the builder's assignments by (rep_id, plan_id, start_date, end_date) rows, in this order."""
    frame = pl.DataFrame(
        {
            "rep_id": [r[0] for r in rows],
            "plan_id": [r[1] for r in rows],
            "start_date": [r[2] for r in rows],
            "end_date": [r[3] for r in rows],
        },
        schema={"rep_id": pl.String, "plan_id": pl.String, "start_date": pl.Date, "end_date": pl.Date},
    )
    data.tables["rep_plan_assignments"] = conform(frame, "rep_plan_assignments").collect()
    return data


def pay_lines(data: CanonicalData, as_of: dt.date = AS_OF) -> list[tuple]:
    """(rep_id, plan_id, component_id, deal_id, line_type, amount, earned_date), in the engine's order."""
    lines = compute_payout(data, as_of).lines
    return lines.select(
        "rep_id", "plan_id", "component_id", "deal_id", "line_type", "amount", "earned_date"
    ).rows()


# --- which assignment pays a deal --------------------------------------------------------------------


def test_a_plan_change_mid_quarter_pays_each_deal_under_the_plan_of_its_close_date():
    """R1 is on plan a (10 %) from 1 Jan to 14 Feb inclusive, then on plan b (20 %). Rows are given
    latest first, and deals out of close order: the engine must not rely on either order."""
    company = Company(
        plans=[plan(NB_10, plan_id="a"), plan(NB_20, plan_id="b")],
        deals=[
            Deal("D3", "R1", 30_000, D(2026, 2, 15)),  # first day of b: 20 % × 30,000 = 6,000
            Deal("D1", "R1", 10_000, D(2026, 1, 1)),  # first day of a: 10 % × 10,000 = 1,000
            Deal("D2", "R1", 20_000, D(2026, 2, 14)),  # last day of a (end date inclusive): 2,000
        ],
    )
    data = with_assignments(
        company.data(), [("R1", "b", D(2026, 2, 15), None), ("R1", "a", D(2026, 1, 1), D(2026, 2, 14))]
    )
    payout = compute_payout(data, AS_OF)
    assert payout.lines.select(
        "rep_id", "plan_id", "component_id", "deal_id", "line_type", "amount", "earned_date"
    ).rows() == [
        ("R1", "a", "nb", "D1", "earning", 1_000.0, D(2026, 1, 1)),
        ("R1", "a", "nb", "D2", "earning", 2_000.0, D(2026, 2, 14)),
        ("R1", "b", "nb", "D3", "earning", 6_000.0, D(2026, 2, 15)),
    ]
    assert payout.unpaid_deals.height == 0  # every won deal found its plan


def test_a_deal_closed_after_the_assignment_ended_earns_nothing():
    company = Company(
        plans=[plan(NB_10, plan_id="a")],
        deals=[Deal("D1", "R1", 10_000, D(2026, 2, 14)), Deal("D2", "R1", 10_000, D(2026, 2, 15))],
    )
    data = with_assignments(company.data(), [("R1", "a", D(2026, 1, 1), D(2026, 2, 14))])
    payout = compute_payout(data, AS_OF)
    assert payout.lines.select("deal_id", "amount").rows() == [("D1", 1_000.0)]  # 10 % × 10,000
    assert payout.unpaid_deals["deal_id"].to_list() == ["D2"]


def test_a_deal_closed_before_the_first_assignment_earns_nothing_whatever_the_row_order():
    company = Company(
        plans=[plan(NB_10)],
        deals=[
            Deal("D2", "R1", 10_000, D(2026, 2, 10)),
            Deal("D0", "R1", 10_000, D(2024, 12, 31)),
            Deal("D3", "R1", 20_000, D(2026, 3, 10)),
            Deal("D1", "R1", 10_000, D(2024, 10, 31)),
        ],
    )  # the builder's assignment starts on 1 Jan 2025
    payout = compute_payout(company.data(), AS_OF)
    assert payout.lines.select("deal_id", "amount").rows() == [("D2", 1_000.0), ("D3", 2_000.0)]  # 10 %
    assert sorted(payout.unpaid_deals["deal_id"].to_list()) == ["D0", "D1"]


def test_each_rep_is_paid_under_their_own_assignment():
    """R2's assignment starts later than R1's: a join that ignored the rep would hand R1's February deal
    to R2's plan (the latest start before it)."""
    company = Company(
        plans=[plan(NB_10, plan_id="a"), plan(NB_20, plan_id="b")],
        reps=("R1", "R2"),
        deals=[Deal("D1", "R1", 10_000, D(2026, 2, 10)), Deal("D2", "R2", 10_000, D(2026, 2, 11))],
    )
    data = with_assignments(
        company.data(), [("R1", "a", D(2025, 1, 1), None), ("R2", "b", D(2026, 2, 1), None)]
    )
    assert pay_lines(data) == [
        ("R1", "a", "nb", "D1", "earning", 1_000.0, D(2026, 2, 10)),  # 10 % × 10,000
        ("R2", "b", "nb", "D2", "earning", 2_000.0, D(2026, 2, 11)),  # 20 % × 10,000
    ]


def test_won_deals_carry_the_plan_terms_and_period_not_the_assignment_dates():
    company = Company(plans=[plan(NB_10, quota=100_000)], deals=[Deal("D1", "R1", 10_000, D(2026, 2, 10))])
    won = compute_payout(company.data(), AS_OF).won_deals
    assert won.drop("account_id").to_dicts() == [
        {
            "deal_id": "D1",
            "rep_id": "R1",
            "deal_type": "new_business",
            "amount": 10_000.0,
            "close_date": D(2026, 2, 10),
            "discount_pct": None,
            "plan_id": "p",
            "period_kind": "quarter",
            "quota": 100_000.0,
            "credits_new_business": True,
            "credits_expansion": False,
            "credits_renewal": False,
            "period_start": D(2026, 1, 1),
            "period_end": D(2026, 3, 31),
            "period_days": 90,
            "period": "2026-Q1",
            "credited": True,
        }
    ]


# --- order within a rep-period -----------------------------------------------------------------------


def test_same_day_deals_take_attainment_in_deal_id_order_whatever_the_row_order():
    company = Company(
        plans=[plan(TIERS_10_20, quota=100_000)],
        deals=[Deal("D2", "R1", 80_000, D(2026, 2, 10)), Deal("D1", "R1", 40_000, D(2026, 2, 10))],
    )
    assert pay_lines(company.data()) == [
        ("R1", "p", "nb", "D1", "earning", 4_000.0, D(2026, 2, 10)),  # 0 → 40k at 10 %
        # 40k → 120k: 60k × 10 % + 20k × 20 % = 6,000 + 4,000
        ("R1", "p", "nb", "D2", "earning", 10_000.0, D(2026, 2, 10)),
    ]


def test_a_cap_fills_in_close_then_deal_id_order_whatever_the_row_order():
    capped = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],"
        " cap: 5000}\n"
    )
    company = Company(
        plans=[plan(capped)],
        deals=[
            Deal("D3", "R1", 30_000, D(2026, 2, 11)),  # last: min(9,000, 5,000) − 5,000 = 0 (dropped)
            Deal("D2", "R1", 20_000, D(2026, 2, 10)),  # second: min(6,000, 5,000) − 4,000 = 1,000
            Deal("D1", "R1", 40_000, D(2026, 2, 10)),  # first: 4,000
        ],
    )
    assert pay_lines(company.data()) == [
        ("R1", "p", "nb", "D1", "earning", 4_000.0, D(2026, 2, 10)),
        ("R1", "p", "nb", "D2", "earning", 1_000.0, D(2026, 2, 10)),
    ]


# --- churn -------------------------------------------------------------------------------------------


def _by_length(text: pl.Expr) -> pl.Expr:
    """A hash that collides on purpose: every account id of the same length hashes alike."""
    return text.str.len_bytes().cast(pl.UInt64)


@pytest.mark.parametrize("hash_of", [pl.Expr.hash, _by_length], ids=["hash", "colliding"])
def test_next_churn_is_the_first_churn_on_or_after_each_rows_date(hash_of):
    rows = pl.LazyFrame(
        {
            "deal_id": ["late", "early", "same_day", "after_all", "other", "first", "no_account"],
            "account_id": ["A1", "A1", "A1", "A1", "A2", "A1", None],
            "close_date": [
                D(2026, 3, 1),
                D(2026, 1, 15),
                D(2026, 2, 1),
                D(2026, 6, 1),
                D(2026, 1, 1),
                D(2025, 12, 31),
                D(2026, 1, 1),
            ],
        }
    )
    churn = pl.LazyFrame(
        {"account_id": ["A3", "A1", "A1"], "churn_date": [D(2026, 1, 2), D(2026, 2, 1), D(2026, 4, 1)]}
    )
    found = next_churn(rows, "close_date", churn, hash_of).collect()
    assert found.columns == ["deal_id", "account_id", "close_date", "next_churn_date"]
    assert found["close_date"].is_sorted()
    assert sorted(found.select("deal_id", "next_churn_date").rows()) == [
        ("after_all", None),  # no churn of A1 after 1 June
        ("early", D(2026, 2, 1)),
        ("first", D(2026, 2, 1)),  # A3's churn on 2 January comes first, but it is another account's
        ("late", D(2026, 4, 1)),
        ("no_account", None),
        ("other", None),  # A2 never churned; A3's churn is another account's
        ("same_day", D(2026, 2, 1)),  # a churn on the date itself counts
    ]


def test_clawback_uses_the_first_churn_after_close_whatever_the_row_order():
    rule = "tiers: [{from: 0.0, rate: 0.10}], clawback: {window_days: 90, fraction: 1.0}"
    company = Company(
        plans=[plan(f"  - {{id: nb, kind: commission, applies_to: [new_business], {rule}}}\n")],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1")],
        # Latest first. The first churn on or after 10 Feb is 1 Mar (19 days, inside 90): claw back 5,000.
        # 1 Sep (203 days) is outside the window; 15 Jan is before the close.
        churn=[("A1", D(2026, 9, 1), 1.0), ("A1", D(2026, 3, 1), 1.0), ("A1", D(2026, 1, 15), 1.0)],
    )
    assert pay_lines(company.data(), D(2026, 12, 31)) == [
        ("R1", "p", "nb", "D1", "earning", 5_000.0, D(2026, 2, 10)),
        ("R1", "p", "nb", "D1", "clawback", -5_000.0, D(2026, 3, 1)),
    ]


# --- as_of -------------------------------------------------------------------------------------------


def test_statement_lines_are_the_payout_lines():
    company = Company(plans=[plan(NB_10)], deals=[Deal("D1", "R1", 12_345.0, D(2026, 2, 10))])
    lines = compute_statement_lines(company.data(), AS_OF)
    assert lines.select("line_id", "rep_id", "amount", "earned_date", "paid_date", "origin").rows() == [
        ("earning:p:nb:D1", "R1", 1_234.5, D(2026, 2, 10), None, "computed")  # 10 % × 12,345
    ]


def as_of_company(latest: str) -> CanonicalData:
    """Won D1 closed 10 Feb (created 11 Jan), a churn on 20 Jan, a referral on 1 Jan, and an open deal
    created 5 Feb; the event named `latest` is moved to 1 May 2026."""
    company = Company(
        plans=[plan(NB_10)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 10_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R2", 5_000, D(2026, 3, 7)),
        ],
        churn=[("A9", D(2026, 1, 20), 0.0)],
        referrals=[("F1", "R2", "D1", "A9")],
    )
    data = company.data()
    may = D(2026, 5, 1)
    deals = data.deals.with_columns(
        stage=pl.when(pl.col("deal_id") == "D2").then(pl.lit("open")).otherwise("stage"),
        close_date=pl.when(pl.col("deal_id") == "D2").then(None).otherwise("close_date"),
    )  # D2: open, created 5 Feb (7 Mar − 30 days), no close date
    if latest == "close":
        deals = deals.with_columns(
            close_date=pl.when(pl.col("deal_id") == "D1").then(may).otherwise("close_date")
        )
    if latest == "created":
        deals = deals.with_columns(
            created_date=pl.when(pl.col("deal_id") == "D2").then(may).otherwise("created_date")
        )
    data.tables["deals"] = deals
    if latest == "churn":
        data.tables["churn_events"] = data.churn_events.with_columns(churn_date=pl.lit(may))
    if latest == "referral":
        data.tables["referrals"] = data.referrals.with_columns(referral_date=pl.lit(may))
    return data


@pytest.mark.parametrize("latest", ["close", "created", "churn", "referral"])
def test_as_of_defaults_to_the_latest_crm_date_of_any_kind(latest):
    data = as_of_company(latest)
    assert data_as_of(data) == D(2026, 5, 1)
    assert compute_payout(data).as_of == D(2026, 5, 1)


def test_as_of_defaults_to_the_latest_close_when_it_is_the_latest_date():
    # close 10 Feb > open deal created 5 Feb > churn 20 Jan > referral 1 Jan
    data = as_of_company("none")
    assert data_as_of(data) == D(2026, 2, 10)


def test_as_of_defaults_to_today_when_the_crm_has_no_dates():
    data = Company(plans=[plan(NB_10)], deals=[]).data()
    assert data_as_of(data) == dt.date.today()


def test_pay_due_after_the_default_as_of_is_left_out():
    """as_of = 10 Feb, the latest close: a deferral due on 11 May is not released yet."""
    rule = "tiers: [{from: 0.0, rate: 0.10}], deferral: {fraction: 0.5, release_after_days: 90}"
    company = Company(
        plans=[plan(f"  - {{id: nb, kind: commission, applies_to: [new_business], {rule}}}\n")],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))],
    )
    lines = compute_statement_lines(company.data())
    assert lines.select("line_type", "amount").rows() == [("earning", 2_500.0)]  # 5,000 × (1 − 0.5)
    # Given an as_of on the release date (10 Feb + 90 days = 11 May), the held half is paid.
    lines = compute_statement_lines(company.data(), D(2026, 5, 11))
    assert lines.select("line_type", "amount", "earned_date").rows() == [
        ("earning", 2_500.0, D(2026, 2, 10)),
        ("deferral_release", 2_500.0, D(2026, 5, 11)),
    ]


def test_lines_have_the_commission_lines_columns_and_types_plus_origin():
    """SPEC section 2, commission.lines: the engine's lines can be stacked onto given statement lines."""
    company = Company(plans=[plan(NB_10)], deals=[Deal("D1", "R1", 10_000, D(2026, 2, 10))])
    lines = compute_payout(company.data(), AS_OF).lines
    assert dict(lines.schema) == {
        "line_id": pl.String,
        "rep_id": pl.String,
        "plan_id": pl.String,
        "component_id": pl.String,
        "line_type": pl.String,
        "deal_id": pl.String,
        "referral_id": pl.String,
        "amount": pl.Float64,
        "earned_date": pl.Date,
        "paid_date": pl.Date,
        "origin": pl.String,
    }
    assert lines.select("line_id", "amount", "paid_date").rows() == [("earning:p:nb:D1", 1_000.0, None)]


# --- deal_pay and the lines of one rep-period --------------------------------------------------------

FULL_NB = (
    "  - {id: nb, kind: commission, applies_to: [new_business],"
    " tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.20}], cap: 12000,"
    " clawback: {window_days: 219, fraction: 0.5}, deferral: {fraction: 0.2, release_after_days: 73}}\n"
    "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14}\n"
)


def full_company() -> Company:
    return Company(
        plans=[plan(FULL_NB, quota=100_000)],
        deals=[
            Deal("D1", "R1", 90_000, D(2026, 3, 20), account_id="A1"),
            Deal("D2", "R1", 30_000, D(2026, 3, 25), account_id="A2"),
        ],
        churn=[("A2", D(2026, 5, 1), 0.0)],  # 37 days after D2's close: inside the 219-day window
    )


def test_deal_pay_has_one_row_per_deal_and_paying_component_with_raw_and_capped_pay():
    deal_pay = compute_payout(full_company().data(), D(2026, 6, 30)).deal_pay
    rows = sorted(deal_pay.to_dicts(), key=lambda r: (r["component_id"], r["deal_id"]))
    q1 = {"period_start": D(2026, 1, 1), "period_end": D(2026, 3, 31), "period": "2026-Q1"}
    nb_terms = {
        "kind": "commission",
        "deferral_fraction": 0.2,
        "deferral_days": 73,
        "clawback_fraction": 0.5,
        "clawback_window_days": 219,
        # c = 0.2 × 73/365 + 0.8 × 0.5 × 219/365 = 0.2 × 0.2 + 0.8 × 0.3 = 0.04 + 0.24
        "contingency": pytest.approx(0.28),
    }
    qe_terms = {
        "kind": "spiff",
        "deferral_fraction": 0.0,
        "deferral_days": None,
        "clawback_fraction": 0.0,
        "clawback_window_days": None,
        "contingency": 0.0,
    }
    common = {"rep_id": "R1", "plan_id": "p", "deal_type": "new_business", **q1}
    d1 = {"deal_id": "D1", "account_id": "A1", "deal_amount": 90_000.0, "close_date": D(2026, 3, 20)}
    d2 = {"deal_id": "D2", "account_id": "A2", "deal_amount": 30_000.0, "close_date": D(2026, 3, 25)}
    assert rows == [
        # 0 → 90k at 10 %: 9,000, under the 12,000 cap
        {**common, **d1, **nb_terms, "component_id": "nb", "raw_pay": 9_000.0, "gross_pay": 9_000.0},
        # 90k → 120k: 10k × 10 % + 20k × 20 % = 5,000 raw; capped: min(14,000, 12,000) − 9,000 = 3,000
        {**common, **d2, **nb_terms, "component_id": "nb", "raw_pay": 5_000.0, "gross_pay": 3_000.0},
        # both close in the last 14 days of Q1 (18–31 March)
        {**common, **d1, **qe_terms, "component_id": "qe", "raw_pay": 1_000.0, "gross_pay": 1_000.0},
        {**common, **d2, **qe_terms, "component_id": "qe", "raw_pay": 1_000.0, "gross_pay": 1_000.0},
    ]
    assert set(deal_pay.columns) == {*rows[0]}


def test_deal_lines_carry_their_line_ids():
    lines = compute_payout(full_company().data(), D(2026, 6, 30)).lines
    assert lines.select("line_id", "deal_id", "referral_id", "line_type", "amount", "earned_date").rows() == [
        ("earning:p:nb:D1", "D1", None, "earning", 7_200.0, D(2026, 3, 20)),  # 9,000 × (1 − 0.2)
        ("earning:p:qe:D1", "D1", None, "earning", 1_000.0, D(2026, 3, 20)),
        ("earning:p:nb:D2", "D2", None, "earning", 2_400.0, D(2026, 3, 25)),  # 3,000 × 0.8
        ("earning:p:qe:D2", "D2", None, "earning", 1_000.0, D(2026, 3, 25)),
        # A2 churned 1 May: −0.5 × 2,400; D2's held 600 is forfeited (release would be 6 June)
        ("clawback:p:nb:D2", "D2", None, "clawback", -1_200.0, D(2026, 5, 1)),
        # 20 March + 73 days = 1 June (11 + 30 + 31 + 1): 9,000 × 0.2
        ("deferral_release:p:nb:D1", "D1", None, "deferral_release", 1_800.0, D(2026, 6, 1)),
    ]


# --- retention book: churn lands on the account's owner at the churn date ----------------------------


def test_churned_dollars_land_on_the_owner_of_the_accounts_latest_won_deal_before_the_churn():
    company = Company(
        plans=[plan(NB_10)],
        reps=("R1", "R2", "R3"),
        deals=[  # rows out of date order on purpose
            Deal("E1", "R2", 5_000, D(2026, 2, 10), deal_type="expansion", account_id="A1"),
            Deal("N1", "R1", 10_000, D(2026, 1, 10), account_id="A1"),
            Deal("N3", "R3", 8_000, D(2026, 2, 15), account_id="A2"),
        ],
        churn=[
            ("A2", D(2026, 3, 5), 1_000.0),  # A2's only owner: R3
            ("A1", D(2026, 2, 20), 7_000.0),  # A1's latest won deal on or before 20 Feb: E1 (R2, 10 Feb)
            ("A1", D(2026, 1, 5), 400.0),  # before A1's first won deal (10 Jan): nobody's
            ("A1", D(2026, 2, 1), 3_000.0),  # on 1 Feb A1's latest won deal is N1 (R1, 10 Jan)
            ("A1", D(2026, 2, 10), 500.0),  # on E1's close date: E1 is on or before it, so R2
            ("A9", D(2026, 2, 1), 9_999.0),  # an account that never had a won deal: nobody's
        ],
    )
    book = compute_payout(company.data(), AS_OF).retention_book
    assert sorted(book.select("rep_id", "period", "won_renewal", "lost").rows()) == [
        ("R1", "2026-Q1", 0.0, 3_000.0),
        ("R2", "2026-Q1", 0.0, 7_500.0),  # 7,000 + 500
        ("R3", "2026-Q1", 0.0, 1_000.0),
    ]


GRR_BONUS = (
    "  - {id: renew, kind: commission, applies_to: [renewal], tiers: [{from: 0.0, rate: 0.0}]}\n"
    "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n"
)


def test_retention_book_sums_won_renewals_lost_renewals_and_churn_per_rep_period():
    company = Company(
        plans=[plan(GRR_BONUS)],
        reps=("R1", "R2"),
        deals=[
            Deal("W1", "R1", 60_000, D(2026, 1, 20), deal_type="renewal", account_id="A1"),
            Deal("W2", "R1", 30_000, D(2026, 2, 20), deal_type="renewal", account_id="A2"),
            Deal("L1", "R1", 4_000, D(2026, 3, 1), deal_type="renewal", account_id="A3", stage="lost"),
            Deal("X1", "R1", 50_000, D(2026, 2, 1), deal_type="expansion", account_id="A4"),  # not renewal
            Deal("N2", "R2", 1_000, D(2026, 1, 5), account_id="A5"),
        ],
        churn=[("A4", D(2026, 3, 10), 6_000.0), ("A5", D(2026, 2, 1), 0.0)],
    )
    data = company.data()
    # A5's churn has no lost_amount: it counts as 0 lost dollars.
    data.tables["churn_events"] = data.churn_events.with_columns(
        lost_amount=pl.when(pl.col("account_id") == "A5").then(None).otherwise("lost_amount")
    )
    payout = compute_payout(data, AS_OF)
    assert sorted(
        payout.retention_book.select("rep_id", "period", "period_end", "won_renewal", "lost").rows()
    ) == [
        # won 60,000 + 30,000; lost 4,000 (L1) + 6,000 (A4's churn, R1 owns A4 through X1)
        ("R1", "2026-Q1", D(2026, 3, 31), 90_000.0, 10_000.0),
        ("R2", "2026-Q1", D(2026, 3, 31), 0.0, 0.0),
    ]
    # R1: 90,000 ÷ (90,000 + 10,000) = 0.9 ≥ 0.9. R2: nothing up for renewal, nothing lost: no GRR, no bonus.
    assert payout.lines.filter(component_id="grr").to_dicts() == [
        {
            "line_id": "earning:p:grr:R1:2026-Q1",
            "rep_id": "R1",
            "plan_id": "p",
            "component_id": "grr",
            "line_type": "earning",
            "deal_id": None,
            "referral_id": None,
            "amount": 5_000.0,
            "earned_date": D(2026, 3, 31),
            "paid_date": None,
            "origin": "computed",
        }
    ]


def test_gross_revenue_retention_is_won_over_won_plus_lost_and_null_when_both_are_zero():
    frame = pl.DataFrame({"won": [90.0, 0.5, 0.0, 0.0], "lost": [10.0, 0.25, 0.0, 3.0]})
    grr = frame.select(grr=gross_revenue_retention(pl.col("won"), pl.col("lost")))["grr"].to_list()
    # 90 ÷ 100; 0.5 ÷ 0.75 (a denominator under one dollar still counts); 0 ÷ 0: none; 0 ÷ 3
    assert grr == [pytest.approx(0.9), pytest.approx(2 / 3), None, 0.0]


# --- referral bonuses --------------------------------------------------------------------------------


def test_referral_bonus_cap_fills_in_close_then_referral_id_order_and_lines_carry_their_ids():
    company = Company(
        plans=[plan("  - {id: ref, kind: referral_bonus, rate: 0.05, cap: 2000}\n")],
        reps=("R1", "R2"),
        deals=[
            Deal("D2", "R2", 30_000, D(2026, 3, 1), account_id="A2", referral_id="F2"),
            Deal("D1", "R2", 20_000, D(2026, 3, 1), account_id="A1", referral_id="F1"),
        ],
        referrals=[("F2", "R1", "D2", "A8"), ("F1", "R1", "D1", "A9")],
    )
    payout = compute_payout(company.data(), AS_OF)
    # Same close date: F1 first, 5 % × 20,000 = 1,000; then F2, 5 % × 30,000 = 1,500 raw, capped at
    # min(2,500, 2,000) − 1,000 = 1,000.
    assert sorted(payout.referral_pay.select("referral_id", "raw_pay", "gross_pay").rows()) == [
        ("F1", 1_000.0, 1_000.0),
        ("F2", 1_500.0, 1_000.0),
    ]
    common = {"rep_id": "R1", "plan_id": "p", "component_id": "ref", "line_type": "earning"}
    rest = {"earned_date": D(2026, 3, 1), "paid_date": None, "origin": "computed"}
    assert payout.lines.to_dicts() == [
        {
            "line_id": "earning:p:ref:F1",
            **common,
            "deal_id": "D1",
            "referral_id": "F1",
            "amount": 1_000.0,
            **rest,
        },
        {
            "line_id": "earning:p:ref:F2",
            **common,
            "deal_id": "D2",
            "referral_id": "F2",
            "amount": 1_000.0,
            **rest,
        },
    ]
