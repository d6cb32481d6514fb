"""Rep-period books: who is on each plan in each period, and what they booked there (SPEC section 5)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from compscore.dataset import CanonicalData, CompanyTables
from compscore.engine.payout import PayoutResult, attach_plan, with_period
from compscore.engine.periods import PERIOD_INTERVALS, period_start
from compscore.engine.plan_tables import PlanTables

UNIT_KEYS = ["rep_id", "plan_id", "period_start"]


def population(data: CompanyTables, pt: PlanTables, first_day: dt.date, as_of: dt.date) -> pl.DataFrame:
    """One row per rep, plan and period in which the rep was assigned to the plan for at least a day.

    Periods run from the one holding `first_day` (the first CRM activity) to the one holding `as_of`.
    """
    spans = (
        data.rep_plan_assignments.lazy()
        .join(pt.plans.lazy().select("plan_id", "period_kind"), on="plan_id", how="inner")
        .with_columns(
            span_start=pl.max_horizontal(pl.col("start_date"), pl.lit(first_day)),
            span_end=pl.min_horizontal(pl.col("end_date").fill_null(as_of), pl.lit(as_of)),
        )
        .filter(pl.col("span_start") <= pl.col("span_end"))
        .with_columns(
            first=period_start(pl.col("span_start"), pl.col("period_kind")),
            last=period_start(pl.col("span_end"), pl.col("period_kind")),
        )
        .collect()
    )
    frames = []
    for kind, interval in PERIOD_INTERVALS.items():
        of_kind = spans.filter(pl.col("period_kind") == kind)
        if of_kind.height:
            frames.append(
                of_kind.select(
                    "rep_id",
                    "plan_id",
                    "period_kind",
                    period_start=pl.date_ranges("first", "last", interval=interval),
                ).explode("period_start")
            )
    if frames:
        grid = pl.concat(frames).unique(UNIT_KEYS).sort(UNIT_KEYS)
    else:
        grid = pl.DataFrame(
            schema={
                "rep_id": pl.String,
                "plan_id": pl.String,
                "period_kind": pl.String,
                "period_start": pl.Date,
            }
        )
    return with_period(grid.lazy(), "period_start").collect()


def rep_period_books(
    payout: PayoutResult, grid: pl.DataFrame, referrals_credited: pl.DataFrame
) -> pl.DataFrame:
    """Per rep, plan and period: won dollars by type, credited dollars, renewals, losses, referrals."""
    won = payout.won_deals
    deal_sums = won.group_by(UNIT_KEYS).agg(
        n_won_deals=pl.len(),
        won_new_business=pl.col("amount").filter(pl.col("deal_type") == "new_business").sum(),
        won_expansion=pl.col("amount").filter(pl.col("deal_type") == "expansion").sum(),
        credited=pl.col("amount").filter(pl.col("credited")).sum(),
    )
    retention = payout.retention_book.select(*UNIT_KEYS, "won_renewal", "lost")
    books = (
        grid.join(deal_sums, on=UNIT_KEYS, how="left")
        .join(retention, on=UNIT_KEYS, how="left")
        .join(referrals_credited, on=UNIT_KEYS, how="left")
    )
    zero_fill = [
        "n_won_deals",
        "won_new_business",
        "won_expansion",
        "credited",
        "won_renewal",
        "lost",
        "referrals_credited",
    ]
    return books.with_columns(pl.col(zero_fill).fill_null(0))


def referrals_credited(data: CanonicalData, pt: PlanTables) -> pl.DataFrame:
    """Referrals credited to each rep, by the plan they were on at the referral date."""
    refs = data.referrals.lazy().rename({"referring_rep_id": "rep_id"})
    return (
        attach_plan(refs, "referral_date", data, pt)
        .group_by(UNIT_KEYS)
        .agg(referrals_credited=pl.len().cast(pl.Int64))
        .collect()
    )
