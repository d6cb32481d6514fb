"""Pay attribution (SPEC sections 4 and 6) on statement lines written by hand: which lines are given and
which computed, each line's channel, contingency and split, and the realized sums per plan-period.

Plan `p` is quarterly (Q1 2026 = 1 Jan – 31 Mar). Its commission `nb` pays new business and renewals with a
180-day full clawback (kept contingency f·min(w/H, 1) = 180/365) and a 73-day deferral (deferred contingency
min(t/H, 1) = 73/365 = 0.2). Arithmetic in the comments; nothing is compared with the code's own output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.dataset import CanonicalData
from compscore.engine.payout import compute_payout
from compscore.engine.plan_tables import plan_tables
from compscore.schema import conform
from compscore.scoring.attribution import (
    RealizedParts,
    pay_attribution,
    realized_from_parts,
    statement_lines,
)

Row = tuple[str, str, str, str | None, float, dt.date]
"""(line_id, component_id, line_type, deal_id, amount, earned_date), all rep R1 under plan p."""

KEPT = 180 / 365
"""Clawback 100 % within 180 days: f·min(w/H, 1) = 0.4932 of a line paid at close is retention."""
DEFERRED = 0.2
"""Deferral released after 73 days: min(73/365, 1) = 0.2 of a release is retention."""

COMPONENTS = (
    "  - {id: nb, kind: commission, applies_to: [new_business, renewal], tiers: [{from: 0.0, rate: 0.10}],\n"
    "     clawback: {window_days: 180, fraction: 1.0}, deferral: {fraction: 0.5, release_after_days: 73}}\n"
    "  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14}\n"
    "  - {id: ref, kind: referral_bonus, amount: 500}\n"
    "  - {id: grr, kind: retention_bonus, threshold: 0.9, amount: 5000}\n"
)


def statement(*rows: Row) -> pl.DataFrame:
    return conform(
        pl.DataFrame(
            {
                "line_id": [r[0] for r in rows],
                "rep_id": ["R1"] * len(rows),
                "plan_id": ["p"] * len(rows),
                "component_id": [r[1] for r in rows],
                "line_type": [r[2] for r in rows],
                "deal_id": [r[3] for r in rows],
                "referral_id": ["F1" if r[1] == "ref" else None for r in rows],
                "amount": [float(r[4]) for r in rows],
                "earned_date": [r[5] for r in rows],
            },
            schema_overrides={"deal_id": pl.String, "referral_id": pl.String, "earned_date": pl.Date},
        ),
        "commission_lines",
    ).collect()


def with_given(data: CanonicalData, given: pl.DataFrame) -> CanonicalData:
    return dataclasses.replace(
        data, tables={**data.tables, "commission_lines": given}, given_commission_lines=True
    )


# --- statement_lines: given lines, and computed ones where a plan-period has none ---------------------


def two_quarters() -> Company:
    nb_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
    return Company(
        plans=[plan(nb_10)],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10)), Deal("D2", "R1", 20_000, D(2026, 5, 5))],
    )


def lines_by_deal(lines: pl.DataFrame) -> list[tuple]:
    return sorted(lines.select("deal_id", "line_type", "amount", "earned_date", "origin").rows())


def test_a_period_with_given_lines_keeps_them_and_a_period_without_is_computed():
    data = with_given(two_quarters().data(), statement(("G1", "nb", "earning", "D1", 4_800, D(2026, 2, 10))))
    pt = plan_tables(data.plans)
    lines = statement_lines(data, compute_payout(data, D(2026, 6, 30)), pt)
    # Q1 has the given 4,800 line, so the computed 5,000 (10 % of 50k) is left out; Q2 has no given line:
    # its computed line, 10 % of 20k = 2,000.
    assert lines_by_deal(lines) == [
        ("D1", "earning", 4_800.0, D(2026, 2, 10), "given"),
        ("D2", "earning", 2_000.0, D(2026, 5, 5), "computed"),
    ]
    assert lines.filter(origin="given")["line_id"].to_list() == ["G1"]
    assert lines.columns[-1] == "origin"


def test_a_batch_uses_the_given_periods_of_the_whole_company():
    """Another rep has given lines in Q2: the period is given for every rep, so R1's computed Q2 line is
    left out, while Q1 (given lines only from R1, but not in the company's list passed in) stays computed."""
    data = with_given(two_quarters().data(), statement(("G1", "nb", "earning", "D1", 4_800, D(2026, 2, 10))))
    pt = plan_tables(data.plans)
    company_periods = pl.DataFrame({"plan_id": ["p"], "period": ["2026-Q2"]})
    lines = statement_lines(data, compute_payout(data, D(2026, 6, 30)), pt, company_periods)
    assert lines_by_deal(lines) == [
        ("D1", "earning", 4_800.0, D(2026, 2, 10), "given"),
        ("D1", "earning", 5_000.0, D(2026, 2, 10), "computed"),
    ]


def test_without_given_lines_every_line_is_computed():
    data = two_quarters().data()
    lines = statement_lines(data, compute_payout(data, D(2026, 6, 30)), plan_tables(data.plans))
    assert lines_by_deal(lines) == [
        ("D1", "earning", 5_000.0, D(2026, 2, 10), "computed"),
        ("D2", "earning", 2_000.0, D(2026, 5, 5), "computed"),
    ]


# --- pay_attribution: channel, contingency and split of every kind of line -----------------------------


def attribution_company() -> Company:
    return Company(
        plans=[plan(COMPONENTS)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 10_000, D(2026, 2, 10), account_id="A1"),
            Deal("D2", "R1", 2_000, D(2026, 2, 11), deal_type="renewal"),
            Deal("D3", "R1", 50_000, D(2026, 5, 5)),  # closed in Q2
            Deal("D4", "R1", 20_000, D(2026, 8, 3)),  # closed in Q3
            Deal("D9", "R2", 30_000, D(2026, 3, 1), referral_id="F1"),
        ],
        referrals=[("F1", "R1", "D9", "A1")],
    )


HAND_LINES = (
    # Input order is not the output order: by earned date, then line id.
    ("L04", "qe", "earning", "D1", 100, D(2026, 2, 10)),
    ("L01", "nb", "earning", "D1", 1_000, D(2026, 2, 10)),
    ("L02", "nb", "deferral_release", "D1", 500, D(2026, 4, 24)),
    ("L03", "nb", "earning", "D2", 200, D(2026, 2, 11)),
    ("L05", "ref", "earning", "D9", 500, D(2026, 3, 1)),
    ("L06", "grr", "earning", None, 5_000, D(2026, 3, 31)),
    ("L07", "nb", "deferral_release", "DX", 300, D(2026, 10, 1)),
    ("L08", "nb", "clawback", "D4", -2_000, D(2026, 9, 1)),
    ("L09", "adjustment", "adjustment", None, -250, D(2026, 3, 15)),
    ("L10", "zz", "earning", "D1", 50, D(2026, 2, 12)),
    ("L11", "qe", "earning", "DX", 100, D(2026, 2, 13)),
    ("L12", "nb", "earning", "DX", 100, D(2026, 2, 14)),
    ("L13", "grr", "earning", "D3", 5_000, D(2026, 6, 30)),
)


def attributed() -> pl.DataFrame:
    data = attribution_company().data()
    lines = statement(*HAND_LINES).with_columns(origin=pl.lit("given"))
    return pay_attribution(lines, data, plan_tables(data.plans))


Q1, Q2, Q3, Q4 = D(2026, 1, 1), D(2026, 4, 1), D(2026, 7, 1), D(2026, 10, 1)


def test_every_line_gets_its_channel_contingency_and_split():
    table = attributed()
    got = {
        r[0]: r[1:]
        for r in table.select(
            "line_id", "channel", "contingency", "same_day_amount", "retention_amount", "referral_amount"
        ).rows()
    }
    expected = {
        # New-business commission paid at close: (1 − 180/365) same-day, 180/365 retention.
        "L01": ("same_day", KEPT, 1_000 * (1 - KEPT), 1_000 * KEPT, 0.0),
        # Its release: labelled retention, split by 73/365: 400 same-day, 100 retention.
        "L02": ("retention", DEFERRED, 400.0, 100.0, 0.0),
        # The same commission on a renewal: retention, no contingency (it is not new-business pay).
        "L03": ("retention", 0.0, 0.0, 200.0, 0.0),
        # A spiff on new business: same-day, no contingency.
        "L04": ("same_day", 0.0, 100.0, 0.0, 0.0),
        "L05": ("referral", 0.0, 0.0, 0.0, 500.0),
        "L06": ("retention", 0.0, 0.0, 5_000.0, 0.0),
        # A release whose deal is unknown cannot be placed: no channel's pay.
        "L07": ("unattributed", 0.0, 0.0, 0.0, 0.0),
        # A clawback carries its component's contingency but is kept out of the channels.
        "L08": ("clawback", KEPT, 0.0, 0.0, 0.0),
        "L09": ("adjustment", 0.0, 0.0, 0.0, 0.0),
        # A component the plan does not have; a spiff and a commission without a known deal.
        "L10": ("unattributed", 0.0, 0.0, 0.0, 0.0),
        "L11": ("unattributed", 0.0, 0.0, 0.0, 0.0),
        "L12": ("unattributed", 0.0, 0.0, 0.0, 0.0),
        # A retention bonus is retention even when the statement names a new-business deal.
        "L13": ("retention", 0.0, 0.0, 5_000.0, 0.0),
    }
    assert got == {line: pytest.approx(values) for line, values in expected.items()}


def test_lines_are_sorted_by_earned_date_then_line_id_and_carry_their_plan_and_periods():
    table = attributed()
    assert table["line_id"].to_list() == [
        "L01", "L04", "L03", "L10", "L11", "L12", "L05", "L09", "L06", "L02", "L13", "L08", "L07"
    ]  # fmt: skip
    rows = {
        r[0]: r[1:]
        for r in table.select(
            "line_id", "origin", "plan_name", "period", "period_start", "deal_period_start",
            "component_kind", "deal_type",
        ).rows()
    }  # fmt: skip
    assert rows["L01"] == ("given", "p", "2026-Q1", Q1, Q1, "commission", "new_business")
    # Released in Q2 for a deal closed in Q1.
    assert rows["L02"] == ("given", "p", "2026-Q2", Q2, Q1, "commission", "new_business")
    assert rows["L03"] == ("given", "p", "2026-Q1", Q1, Q1, "commission", "renewal")
    # A clawback is reported against the quarter its deal closed in (Q3, not the year's start).
    assert rows["L08"] == ("given", "p", "2026-Q3", Q3, Q3, "commission", "new_business")
    # Without a deal (or with an unknown one), the deal's period is the line's own.
    assert rows["L06"] == ("given", "p", "2026-Q1", Q1, Q1, "retention_bonus", None)
    assert rows["L07"] == ("given", "p", "2026-Q4", Q4, Q4, "commission", None)
    assert rows["L09"] == ("given", "p", "2026-Q1", Q1, Q1, None, None)
    assert rows["L13"] == ("given", "p", "2026-Q2", Q2, Q2, "retention_bonus", "new_business")


def test_line_order_does_not_depend_on_the_order_the_lines_arrive_in():
    data = attribution_company().data()
    reversed_lines = statement(*reversed(HAND_LINES)).with_columns(origin=pl.lit("given"))
    table = pay_attribution(reversed_lines, data, plan_tables(data.plans))
    # same-day lines tie on earned_date: line_id breaks the tie (L01 before L04 before L03 ...)
    assert table["line_id"].to_list() == attributed()["line_id"].to_list()


# --- realized sums and shares ----------------------------------------------------------------------------


def test_realized_parts_sum_earned_lines_per_period_and_clawbacks_per_deal_period():
    parts = RealizedParts.of(attributed())
    earned = parts.earned.sort("period_start").rows()
    # Q1: same-day L01 1,000·(1 − 180/365) + L04 100; retention L01 1,000·180/365 + L03 200 + L06 5,000;
    # referral L05 500. Q2: L02 400 same-day, 100 + L13 5,000 retention. Unattributed lines (Q1, and L07
    # alone in Q4), the clawback (Q3) and the adjustment do not enter: no Q3 or Q4 row.
    assert earned == [
        pytest.approx(("p", Q1, 1_000 * (1 - KEPT) + 100, 1_000 * KEPT + 200 + 5_000, 500.0)),
        ("p", Q2, 400.0, 5_100.0, 0.0),
    ]
    # The 2,000 clawed back in September is D4's, closed in Q3.
    assert parts.clawed.rows() == [("p", Q3, 2_000.0)]


def test_realized_shares_and_clawback_rate_per_plan_period():
    realized = realized_from_parts(RealizedParts.of(attributed())).sort("period_start")
    columns = [
        "plan_id", "period_start", "realized_total", "realized_same_day_share", "realized_retention_share",
        "realized_referral_share", "clawed_back", "clawback_rate",
    ]  # fmt: skip
    q1_same_day = 1_000 * (1 - KEPT) + 100
    assert realized.select(columns).rows() == [
        # Q1 total 1,000 + 100 + 200 + 5,000 + 500 = 6,800; nothing clawed back: 0, rate 0.
        pytest.approx(
            (
                "p",
                Q1,
                6_800.0,
                q1_same_day / 6_800,
                (6_800 - 500 - q1_same_day) / 6_800,
                500 / 6_800,
                0.0,
                0.0,
            )
        ),
        pytest.approx(("p", Q2, 5_500.0, 400 / 5_500, 5_100 / 5_500, 0.0, 0.0, 0.0)),
        # Q3 earned nothing here but had a deal clawed back: its row keeps its keys, no shares, no rate.
        ("p", Q3, None, None, None, None, 2_000.0, None),
    ]


def parts(earned: list[tuple], clawed: list[tuple]) -> RealizedParts:
    return RealizedParts(
        earned=pl.DataFrame(
            earned,
            schema=[
                "plan_id",
                "period_start",
                "realized_same_day",
                "realized_retention",
                "realized_referral",
            ],
            orient="row",
        ),
        clawed=pl.DataFrame(clawed, schema=["plan_id", "period_start", "clawed_back"], orient="row"),
    )


def test_shares_need_pay_above_zero_and_half_a_dollar_is_enough():
    realized = realized_from_parts(
        parts([("p", Q1, 0.2, 0.3, 0.0), ("p", Q2, 0.0, 0.0, 0.0)], [("p", Q1, 0.1), ("p", Q2, 100.0)])
    ).sort("period_start")
    columns = [
        "realized_same_day_share", "realized_retention_share", "realized_referral_share", "clawed_back",
        "clawback_rate",
    ]  # fmt: skip
    # Q1: 0.2 / 0.5, 0.3 / 0.5, 0 / 0.5; 0.1 clawed back of 0.5 earned = 0.2. Q2 earned 0: no share and
    # no rate (not 0 / 0), its 100 clawed back still reported.
    assert realized.select(columns).rows() == [
        pytest.approx((0.4, 0.6, 0.0, 0.1, 0.2)),
        (None, None, None, 100.0, None),
    ]


def test_parts_of_several_batches_are_summed_per_plan_period():
    first = parts([("p", Q1, 100.0, 0.0, 0.0)], [("p", Q1, 30.0)])
    second = parts([("p", Q1, 0.0, 50.0, 25.0), ("p", Q2, 10.0, 0.0, 0.0)], [("p", Q1, 20.0)])
    summed = RealizedParts.concat([first, second])
    assert summed.earned.sort("period_start").rows() == [
        ("p", Q1, 100.0, 50.0, 25.0),
        ("p", Q2, 10.0, 0.0, 0.0),
    ]
    assert summed.clawed.rows() == [("p", Q1, 50.0)]
    assert RealizedParts.concat([first]) is first
