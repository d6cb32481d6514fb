"""Outcome indicators (SPEC section 5), each a ratio of per-rep sums so that it can be bootstrapped over reps.

For every indicator this module yields, per rep, plan and period, a numerator and a denominator column
(`<name>_num`, `<name>_den`); the plan-period figure is sum(num) / sum(den) times the indicator's scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.payout import churn_dates, closed_won, next_churn

EARLY_CHURN_DAYS = 180
GRR_DAYS = 365
PERIOD_END_SHARE = 0.10
"""The last 10 % of a period's days is its "period end" for bunching and discounts."""


@dataclass(frozen=True)
class Indicator:
    name: str
    scale: float
    """Multiplies num/den: 100 for per-100 figures and points, 1 otherwise."""
    maturity_days: int = 0
    """Days after the period's end before the figure means anything (null, with a reason, until then)."""
    difference: bool = False
    """True for period_end_discount_gap: (num_a/den_a − num_b/den_b), not num/den."""


INDICATORS: tuple[Indicator, ...] = (
    Indicator("early_churn_rate", 1.0, maturity_days=EARLY_CHURN_DAYS),
    Indicator("grr_12m", 1.0, maturity_days=GRR_DAYS),
    Indicator("referrals_per_100_accounts", 100.0),
    Indicator("period_end_bunching", 1.0),
    Indicator("period_end_discount_gap", 100.0, difference=True),
)


def period_end_window_days(period_days: pl.Expr) -> pl.Expr:
    """Whole days in the period's last 10 % (at least 1)."""
    return (period_days * PERIOD_END_SHARE).round().cast(pl.Int64).clip(lower_bound=1)


def indicator_parts(
    data: CanonicalData,
    won_deals: pl.DataFrame,
    population: pl.DataFrame,
    keys: list[str],
    churn: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Numerators and denominators per rep, plan and period, for every indicator in `INDICATORS`.

    `churn` is `churn_dates` of the whole company (computed from `data` when not given): pass it when
    `data` holds a batch of reps, since an account's churn may be another rep's lost renewal.
    """
    churn = churn_dates(data) if churn is None else churn.lazy()
    nb = won_deals.lazy().filter(pl.col("deal_type") == "new_business")
    nb = next_churn(nb, "close_date", churn).with_columns(
        days_to_churn=(pl.col("next_churn_date") - pl.col("close_date")).dt.total_days(),
        window_days=period_end_window_days(pl.col("period_days")),
    )
    in_window = pl.col("close_date") > pl.col("period_end") - pl.duration(days=pl.col("window_days"))
    discount = pl.col("discount_pct")
    deal_parts = nb.group_by(keys).agg(
        early_churn_rate_num=(pl.col("days_to_churn") <= EARLY_CHURN_DAYS)
        .fill_null(False)
        .sum()
        .cast(pl.Float64),
        early_churn_rate_den=pl.len().cast(pl.Float64),
        grr_12m_num=pl.col("amount").filter(~(pl.col("days_to_churn") <= GRR_DAYS).fill_null(False)).sum(),
        grr_12m_den=pl.col("amount").sum(),
        period_end_bunching_num=pl.col("amount").filter(in_window).sum(),
        period_end_bunching_den=(pl.col("amount") * pl.col("window_days") / pl.col("period_days")).sum(),
        period_end_discount_gap_num_a=discount.filter(in_window & discount.is_not_null()).sum(),
        period_end_discount_gap_den_a=(in_window & discount.is_not_null()).sum().cast(pl.Float64),
        period_end_discount_gap_num_b=discount.filter(~in_window & discount.is_not_null()).sum(),
        period_end_discount_gap_den_b=(~in_window & discount.is_not_null()).sum().cast(pl.Float64),
    )
    accounts_owned = _accounts_owned(data, population, keys)
    parts = (
        population.lazy()
        .select(*keys, "referrals_credited")
        .join(deal_parts, on=keys, how="left")
        .join(accounts_owned.lazy(), on=keys, how="left")
        .with_columns(
            referrals_per_100_accounts_num=pl.col("referrals_credited").cast(pl.Float64),
            referrals_per_100_accounts_den=pl.col("accounts_owned").cast(pl.Float64),
        )
        .drop("referrals_credited", "accounts_owned")
    )
    return parts.with_columns(pl.exclude(keys).fill_null(0.0)).collect()


def _accounts_owned(data: CanonicalData, population: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Accounts in each rep's book: those of their won deals in the 365 days to the period's end."""
    won = closed_won(data.deals).select(pl.col("owner_rep_id").alias("rep_id"), "account_id", "close_date")
    return (
        population.lazy()
        .select(*keys, "period_end")
        .join(won, on="rep_id", how="inner")
        .filter(
            (pl.col("close_date") <= pl.col("period_end"))
            & (pl.col("close_date") > pl.col("period_end") - pl.duration(days=GRR_DAYS))
        )
        .group_by(keys)
        .agg(accounts_owned=pl.col("account_id").n_unique())
        .collect()
    )
