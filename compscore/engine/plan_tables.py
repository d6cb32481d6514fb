"""Plans as small Polars frames, so rules can be joined onto deals instead of looped over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from compscore.plans import Component, Plan

HORIZON_DAYS = 365
"""Reference horizon H of SPEC section 4 for the contingency of new-business pay."""


def deferred_contingency(component: Component, horizon_days: int = HORIZON_DAYS) -> float:
    """How contingent the deferred part is: min(t/H, 1)."""
    return min(component.deferral.release_after_days / horizon_days, 1.0) if component.deferral else 0.0


def kept_contingency(component: Component, horizon_days: int = HORIZON_DAYS) -> float:
    """How contingent the part paid at close is, through the clawback: f·min(w/H, 1)."""
    if not component.clawback:
        return 0.0
    return component.clawback.fraction * min(component.clawback.window_days / horizon_days, 1.0)


def contingency(component: Component, horizon_days: int = HORIZON_DAYS) -> float:
    """c = d·min(t/H, 1) + (1 − d)·f·min(w/H, 1): the share of pay that depends on the customer staying."""
    d = component.deferral.fraction if component.deferral else 0.0
    return d * deferred_contingency(component, horizon_days) + (1.0 - d) * kept_contingency(
        component, horizon_days
    )


@dataclass(frozen=True)
class PlanTables:
    """`plans`: one row a plan. `components`: one row a component with its rules flattened and tiers wide
    (`tier_from_i`, `tier_rate_i` for i < `max_tiers`, null past a component's last tier).
    `applies`: one row per (plan, component, deal_type) the component pays on."""

    plans: pl.DataFrame
    components: pl.DataFrame
    applies: pl.DataFrame
    max_tiers: int


def plan_tables(plans: Mapping[str, Plan]) -> PlanTables:
    max_tiers = max([len(c.tiers) for p in plans.values() for c in p.components] + [1])
    plan_rows, comp_rows, apply_rows = [], [], []
    for plan in plans.values():
        plan_rows.append(
            {
                "plan_id": plan.plan_id,
                "plan_name": plan.name,
                "period_kind": plan.period,
                "quota": plan.quota,
                "credits_new_business": "new_business" in plan.quota_credit,
                "credits_expansion": "expansion" in plan.quota_credit,
                "credits_renewal": "renewal" in plan.quota_credit,
                "effective_start": plan.effective_start,
                "effective_end": plan.effective_end,
            }
        )
        for comp in plan.components:
            row = {
                "plan_id": plan.plan_id,
                "component_id": comp.id,
                "kind": comp.kind,
                "cap": comp.cap,
                "component_amount": comp.amount,
                "rate": comp.rate,
                "last_days_of_period": comp.last_days_of_period,
                "threshold": comp.threshold,
                "clawback_window_days": comp.clawback.window_days if comp.clawback else None,
                "clawback_fraction": comp.clawback.fraction if comp.clawback else 0.0,
                "deferral_fraction": comp.deferral.fraction if comp.deferral else 0.0,
                "deferral_days": comp.deferral.release_after_days if comp.deferral else None,
                "contingency": contingency(comp),
                "kept_contingency": kept_contingency(comp),
                "deferred_contingency": deferred_contingency(comp),
            }
            for i in range(max_tiers):
                tier = comp.tiers[i] if i < len(comp.tiers) else None
                row[f"tier_from_{i}"] = tier.from_attainment if tier else None
                row[f"tier_rate_{i}"] = tier.rate if tier else None
            comp_rows.append(row)
            apply_rows.extend(
                {"plan_id": plan.plan_id, "component_id": comp.id, "deal_type": t} for t in comp.applies_to
            )
    float_cols = [
        "cap",
        "component_amount",
        "rate",
        "threshold",
        "clawback_fraction",
        "deferral_fraction",
        "contingency",
        "kept_contingency",
        "deferred_contingency",
    ]
    comp_schema = {
        "plan_id": pl.String,
        "component_id": pl.String,
        "kind": pl.String,
        **{c: pl.Float64 for c in float_cols},
        "last_days_of_period": pl.Int64,
        "clawback_window_days": pl.Int64,
        "deferral_days": pl.Int64,
        **{f"tier_from_{i}": pl.Float64 for i in range(max_tiers)},
        **{f"tier_rate_{i}": pl.Float64 for i in range(max_tiers)},
    }
    plan_schema = {
        "plan_id": pl.String,
        "plan_name": pl.String,
        "period_kind": pl.String,
        "quota": pl.Float64,
        "credits_new_business": pl.Boolean,
        "credits_expansion": pl.Boolean,
        "credits_renewal": pl.Boolean,
        "effective_start": pl.Date,
        "effective_end": pl.Date,
    }
    return PlanTables(
        plans=pl.DataFrame(plan_rows, schema=plan_schema),
        components=pl.DataFrame(comp_rows, schema=comp_schema).select(comp_schema.keys()),
        applies=pl.DataFrame(
            apply_rows, schema={"plan_id": pl.String, "component_id": pl.String, "deal_type": pl.String}
        ),
        max_tiers=max_tiers,
    )


def is_credited(deal_type: pl.Expr) -> pl.Expr:
    """Whether a deal of `deal_type` counts toward quota, given the plan's `credits_*` columns."""
    return (
        pl.when(deal_type == "new_business")
        .then(pl.col("credits_new_business"))
        .when(deal_type == "expansion")
        .then(pl.col("credits_expansion"))
        .otherwise(pl.col("credits_renewal"))
    )


def tiered_pay(start: pl.Expr, end: pl.Expr, quota: pl.Expr, credited: pl.Expr, max_tiers: int) -> pl.Expr:
    """Marginal tiered commission for credited dollars from `start` to `end` (cumulative credited dollars).

    Each dollar is paid at the rate of the band its attainment falls in (tier i covers attainment
    [tier_from_i, tier_from_{i+1}) times quota). Dollars that are not credited, or a plan without quota, pay
    the first tier's rate. Needs the component's `tier_from_i` / `tier_rate_i` columns.
    """
    has_bands = credited & quota.is_not_null()
    width = end - start
    total = pl.lit(0.0)
    for i in range(max_tiers):
        lo = pl.col(f"tier_from_{i}") * quota
        hi = (pl.col(f"tier_from_{i + 1}") * quota) if i + 1 < max_tiers else pl.lit(None, pl.Float64)
        hi = hi.fill_null(float("inf"))
        overlap = (pl.min_horizontal(end, hi) - pl.max_horizontal(start, lo)).clip(lower_bound=0.0)
        total = total + (pl.col(f"tier_rate_{i}") * overlap).fill_null(0.0)
    return pl.when(has_bands).then(total).otherwise(pl.col("tier_rate_0").fill_null(0.0) * width)


def capped_increment(paid_before: pl.Expr, increment: pl.Expr, cap: pl.Expr) -> pl.Expr:
    """Pay added by `increment` after `paid_before`, when the period's pay is capped at `cap`."""
    limit = cap.fill_null(float("inf"))
    return pl.min_horizontal(paid_before + increment, limit) - pl.min_horizontal(paid_before, limit)
