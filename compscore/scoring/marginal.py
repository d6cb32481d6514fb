"""Marginal pay per dollar by channel, by finite difference on a rep's period book (SPEC section 5).

Every hypothetical deal is priced with the payout engine's own rule expressions (`tiered_pay`,
`capped_increment`), on aggregates of the rep's book: credited dollars so far `credited`, each
component's raw pay so far before its cap `paid_so_far`, and won renewal / lost dollars for the retention
bonus. The added deal is placed after the rep's existing deals of the period, so it is priced at the
rep's period-end attainment (see docs/methodology.md, "Where the deal falls in the period").
"""

from __future__ import annotations

import polars as pl

from compscore.engine.payout import gross_revenue_retention
from compscore.engine.plan_tables import capped_increment, tiered_pay


def _applies(deal_type: str) -> pl.Expr:
    return pl.col(f"applies_{deal_type}").fill_null(False)


def _credited(deal_type: str) -> pl.Expr:
    return pl.col(f"credits_{deal_type}")


def _commission_increment(deal_type: str, size: pl.Expr, credited_so_far: pl.Expr, max_tiers: int) -> pl.Expr:
    credited = _credited(deal_type)
    start = pl.when(credited).then(credited_so_far).otherwise(0.0)
    raw = tiered_pay(start, start + size, pl.col("quota"), credited, max_tiers)
    return (
        pl.when((pl.col("kind") == "commission") & _applies(deal_type))
        .then(capped_increment(pl.col("paid_so_far"), raw, pl.col("cap")))
        .otherwise(0.0)
    )


def _spiff_increment(deal_type: str, probability: pl.Expr) -> pl.Expr:
    full = capped_increment(pl.col("paid_so_far"), pl.col("component_amount"), pl.col("cap"))
    return pl.when((pl.col("kind") == "spiff") & _applies(deal_type)).then(full * probability).otherwise(0.0)


def _retention_bonus_increment(size: pl.Expr) -> pl.Expr:
    def bonus(won: pl.Expr) -> pl.Expr:
        grr = gross_revenue_retention(won, pl.col("lost"))
        return pl.when(grr >= pl.col("threshold")).then(pl.col("component_amount")).otherwise(0.0)

    change = bonus(pl.col("won_renewal") + size) - bonus(pl.col("won_renewal"))
    return pl.when(pl.col("kind") == "retention_bonus").then(change).otherwise(0.0)


def _referral_increment(size: pl.Expr) -> pl.Expr:
    raw = pl.coalesce(pl.col("component_amount"), pl.col("rate") * size)
    return (
        pl.when(pl.col("kind") == "referral_bonus")
        .then(capped_increment(pl.col("paid_so_far"), raw, pl.col("cap")))
        .otherwise(0.0)
    )


def component_increments(units: pl.LazyFrame, max_tiers: int) -> pl.LazyFrame:
    """Per (unit, component) row, the pay each hypothetical deal adds.

    Needs per row: `credited`, `paid_so_far`, `won_renewal`, `lost`, `delta_same_day`, `delta_retention`,
    `delta_referral`, `period_days`, the plan's `quota` and `credits_*`, and the component's rule columns
    with `applies_<deal_type>` flags. Adds `nb_increment` (expected, the close day uniform over the period),
    `nb_increment_last_day` (closed on the period's last day), `nb_increment_first_day` (closed on the
    period's first day: the spiff counts only if its window spans the whole period; the commission is the
    same wherever the deal falls for a component that pays on every credited deal type, since marginal
    tiers and a running cap then make the period's pay depend only on its totals), `renewal_increment`,
    `expansion_increment`, `referral_increment`.
    """
    d_s, d_r, d_f = pl.col("delta_same_day"), pl.col("delta_retention"), pl.col("delta_referral")
    window = pl.min_horizontal(pl.col("last_days_of_period"), pl.col("period_days"))
    uniform = (window / pl.col("period_days")).fill_null(0.0)
    first_day_in_window = (
        (pl.col("last_days_of_period") >= pl.col("period_days")).cast(pl.Float64).fill_null(0.0)
    )
    commission_nb = _commission_increment("new_business", d_s, pl.col("credited"), max_tiers)
    return units.with_columns(
        nb_commission_increment=commission_nb,
        nb_increment=commission_nb + _spiff_increment("new_business", uniform),
        nb_increment_last_day=commission_nb + _spiff_increment("new_business", pl.lit(1.0)),
        nb_increment_first_day=commission_nb + _spiff_increment("new_business", first_day_in_window),
        renewal_increment=_commission_increment("renewal", d_r, pl.col("credited"), max_tiers)
        + _spiff_increment("renewal", uniform)
        + _retention_bonus_increment(d_r),
        expansion_increment=_commission_increment("expansion", d_r, pl.col("credited"), max_tiers)
        + _spiff_increment("expansion", uniform),
        referral_increment=_referral_increment(d_f),
    )


def marginal_by_unit(increments: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """Sum component increments per unit and turn them into m_S, m_R, m_F (pay per dollar).

    New-business commission is split by its component's contingency c: (1 − c) to same-day, c to
    retention. Renewal and expansion are weighted by the population's shares of those dollars.
    """
    contingent = pl.col("contingency").fill_null(0.0) * pl.col("nb_commission_increment")
    grouped = increments.group_by(keys).agg(
        pl.sum("nb_increment").alias("nb_pay"),
        contingent.sum().alias("nb_contingent_pay"),
        pl.sum("nb_increment_last_day").alias("pay_last_day"),
        pl.sum("renewal_increment").alias("renewal_pay"),
        pl.sum("expansion_increment").alias("expansion_pay"),
        pl.sum("referral_increment").alias("referral_pay"),
        pl.first("delta_same_day"),
        pl.first("delta_retention"),
        pl.first("delta_referral"),
        pl.first("renewal_weight"),
    )
    retention_mix = pl.col("renewal_weight") * pl.col("renewal_pay") + (
        1.0 - pl.col("renewal_weight")
    ) * pl.col("expansion_pay")
    return grouped.with_columns(
        marginal_same_day=(pl.col("nb_pay") - pl.col("nb_contingent_pay")) / pl.col("delta_same_day"),
        marginal_retention=pl.col("nb_contingent_pay") / pl.col("delta_same_day")
        + retention_mix / pl.col("delta_retention"),
        marginal_referral=pl.col("referral_pay") / pl.col("delta_referral"),
    )


def same_day_index(m_s: pl.Expr, m_r: pl.Expr, m_f: pl.Expr) -> pl.Expr:
    """100 · m_S / (m_S + m_R + m_F); null when the plan pays nothing variable.

    Clipped to [0, 100]: the ratio is inside by construction, and only float rounding can step outside.
    """
    total = m_s + m_r + m_f
    return pl.when(total > 0).then((100.0 * m_s / total).clip(0.0, 100.0))


def same_day_multiple(m_s: pl.Expr, m_r: pl.Expr) -> pl.Expr:
    """m_S / m_R: closing $1 today pays this many times keeping $1; null when m_R = 0."""
    return pl.when(m_r > 0).then(m_s / m_r)
