"""Which rule drives the SDI: marginal pay per dollar by channel, broken down by plan component.

Each component is priced on its own as if it were the plan's only one, with the same formulas and typical
sizes as `plan_incentive_curves` (`compscore.scoring.scores.incentive_curves`): Δ over all the plan's
periods, no cap bound yet, spiff probability over an average period length, retention bonuses left out.
Component increments add up (`compscore.scoring.marginal.marginal_by_unit` sums them per plan), so a
plan's components at an attainment sum to its incentive curve there.
"""

from __future__ import annotations

import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.payout import converted_referrals, referral_conversions, won_deals_under_plan
from compscore.engine.plan_tables import PlanTables, plan_tables
from compscore.scoring.scores import DealSizes, incentive_curves_of, plan_typical_sizes

_SEPARATOR = "\x1f"
"""Joins plan and component ids into the key of a one-component plan (no plan id contains it)."""
MARGINAL_COLUMNS = ("marginal_same_day", "marginal_retention", "marginal_referral")


def _deal_sizes(data: CanonicalData, pt: PlanTables) -> DealSizes:
    won = won_deals_under_plan(data, pt).select("plan_id", "period_start", "deal_type", "amount")
    referrals = converted_referrals(referral_conversions(data), data, pt).select(
        "plan_id", "period_start", "deal_amount"
    )
    # Left lazy: `incentive_curves` only takes medians per plan, so the deals are never held in memory here.
    return DealSizes(won_deals=won, converted_referrals=referrals)


def _one_plan_per_component(pt: PlanTables, plan_sizes: pl.DataFrame) -> tuple[PlanTables, pl.DataFrame]:
    """Every component as a plan of its own, keyed `<plan_id><sep><component_id>`, with its plan's typical
    sizes (the same Δ for each component of a plan: the medians are the plan's)."""
    key = pl.concat_str("plan_id", pl.lit(_SEPARATOR), "component_id")
    pairs = pt.components.select("plan_id", "component_id", split_id=key)

    def rekey(frame: pl.DataFrame, on: list[str]) -> pl.DataFrame:
        joined = frame.join(pairs.select(*on, "split_id"), on=on, how="inner")
        return joined.drop("plan_id").rename({"split_id": "plan_id"}).select(frame.columns)

    split = PlanTables(
        plans=rekey(pt.plans, ["plan_id"]),
        components=rekey(pt.components, ["plan_id", "component_id"]),
        applies=rekey(pt.applies, ["plan_id", "component_id"]),
        max_tiers=pt.max_tiers,
    )
    return split, rekey(plan_sizes, ["plan_id"])


def component_marginals(data: CanonicalData) -> pl.DataFrame:
    """Per plan, component and attainment 0–200 %: m_S, m_R, m_F of that component alone ($ per $)."""
    pt = plan_tables(data.plans)
    return component_marginals_of(pt, _deal_sizes(data, pt))


def component_marginals_of(pt: PlanTables, sizes: DealSizes) -> pl.DataFrame:
    """`component_marginals` from the deals a scoring run already placed under their plans (its
    `DealSizes`), instead of placing every deal again."""
    split, split_sizes = _one_plan_per_component(pt, plan_typical_sizes(sizes))
    curves = incentive_curves_of(split_sizes, split)
    kinds = pt.components.select("plan_id", "component_id", component_kind="kind")
    return (
        curves.with_columns(
            pl.col("plan_id").str.split_exact(_SEPARATOR, 1).struct.rename_fields(["plan", "component_id"])
        )
        .unnest("plan_id")
        .rename({"plan": "plan_id"})
        .join(kinds, on=["plan_id", "component_id"], how="left")
        .select("plan_id", "component_id", "component_kind", "attainment", *MARGINAL_COLUMNS)
        .sort("plan_id", "component_id", "attainment")
    )
