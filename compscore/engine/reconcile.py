"""Reconcile given statement lines against the lines the plan rules imply.

Lines are matched on what they pay for — rep, plan, component, line type, deal, referral and earned
date — not on `line_id`, which differs between a commission system and the engine. Amounts on the same
key are summed before matching, and a difference of less than half a cent counts as a match.
"""

from __future__ import annotations

import polars as pl

from compscore.engine.payout import with_period
from compscore.engine.plan_tables import plan_tables
from compscore.plans import Plan

MATCH_KEY = ["rep_id", "plan_id", "component_id", "line_type", "deal_id", "referral_id", "earned_date"]
TOLERANCE = 0.005


def reconcile(given: pl.DataFrame, computed: pl.DataFrame, plans: dict[str, Plan]) -> pl.DataFrame:
    """One row per match key where given and computed pay disagree, in the plan periods that have given
    lines (a period without any is filled with computed lines instead, see `scoring.attribution`).

    `status` is `unexplained` (a given line the rules do not imply), `not_in_statements` (pay the rules
    imply that no given line shows) or `amount_differs`; `difference` = given − computed.
    """
    kinds = plan_tables(plans).plans.select("plan_id", "period_kind").lazy()

    def with_plan_period(lines: pl.DataFrame) -> pl.DataFrame:
        return with_period(lines.lazy().join(kinds, on="plan_id", how="left"), "earned_date").collect()

    given = with_plan_period(given)
    computed = with_plan_period(computed).join(
        given.select("plan_id", "period").unique(), on=["plan_id", "period"], how="semi"
    )
    keys = [*MATCH_KEY, "period"]

    def by_key(lines: pl.DataFrame, name: str) -> pl.DataFrame:
        return lines.group_by(keys).agg(pl.sum("amount").alias(name), pl.col("line_id").sort().first())

    joined = by_key(given, "given_amount").join(
        by_key(computed, "computed_amount"),
        on=keys,
        how="full",
        coalesce=True,
        nulls_equal=True,
        suffix="_computed",
    )
    status = (
        pl.when(pl.col("computed_amount").is_null())
        .then(pl.lit("unexplained"))
        .when(pl.col("given_amount").is_null())
        .then(pl.lit("not_in_statements"))
        .otherwise(pl.lit("amount_differs"))
    )
    difference = pl.col("given_amount").fill_null(0.0) - pl.col("computed_amount").fill_null(0.0)
    return (
        joined.with_columns(difference=difference.round(2), status=status)
        .filter(pl.col("difference").abs() >= TOLERANCE)
        .select(
            *keys,
            "status",
            "given_amount",
            "computed_amount",
            "difference",
            pl.col("line_id").alias("given_line_id"),
            pl.col("line_id_computed").alias("computed_line_id"),
        )
        .sort("earned_date", "rep_id", "component_id")
    )


def reconciliation_totals(mismatches: pl.DataFrame) -> pl.DataFrame:
    """Per plan and period: given pay the rules do not explain, and implied pay no line shows."""
    return (
        mismatches.group_by("plan_id", "period")
        .agg(
            unexplained_total=pl.col("difference").filter(pl.col("difference") > 0).sum(),
            missing_total=-pl.col("difference").filter(pl.col("difference") < 0).sum(),
            n_lines=pl.len(),
        )
        .sort("plan_id", "period")
    )
