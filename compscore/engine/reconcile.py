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


def given_plan_periods(given: pl.DataFrame, plans: dict[str, Plan]) -> pl.DataFrame:
    """The (plan_id, period) pairs that have given statement lines."""
    kinds = plan_tables(plans).plans.select("plan_id", "period_kind").lazy()
    placed = with_period(
        given.lazy().select("plan_id", "earned_date").join(kinds, on="plan_id"), "earned_date"
    )
    return placed.select("plan_id", "period").unique().collect()


def reconcile(
    given: pl.DataFrame,
    computed: pl.DataFrame,
    plans: dict[str, Plan],
    given_periods: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per match key where given and computed pay disagree, in the plan periods that have given
    lines (a period without any is filled with computed lines instead, see `scoring.attribution`).

    `status` is `unexplained` (a given line the rules do not imply), `not_in_statements` (pay the rules
    imply that no given line shows) or `amount_differs`; `difference` = given − computed.

    `given_periods` (`given_plan_periods` of all given lines) is needed when `given` and `computed` are a
    batch of reps: a period is reconciled when any rep has given lines in it.
    """
    kinds = plan_tables(plans).plans.select("plan_id", "period_kind").lazy()
    keys = [*MATCH_KEY, "period"]

    def with_plan_period(lines: pl.DataFrame, side: str) -> pl.LazyFrame:
        placed = with_period(
            lines.lazy().select(*MATCH_KEY, "amount", "line_id").join(kinds, on="plan_id", how="left"),
            "earned_date",
        )
        return placed.select(*keys, "amount", "line_id", side=pl.lit(side))

    given_lines = with_plan_period(given, "given")
    if given_periods is None:
        given_periods = given_plan_periods(given, plans)
    computed_lines = with_plan_period(computed, "computed").join(
        given_periods.lazy(), on=["plan_id", "period"], how="semi"
    )
    # One pass over both sides: a key's given and computed amounts side by side, without a join.
    is_given = pl.col("side") == "given"
    by_key = (
        pl.concat([given_lines, computed_lines])
        .group_by(keys)
        .agg(
            given_amount=pl.col("amount").filter(is_given).sum(),
            computed_amount=pl.col("amount").filter(~is_given).sum(),
            has_given=is_given.any(),
            has_computed=(~is_given).any(),
            given_line_id=pl.col("line_id").filter(is_given).min(),
            computed_line_id=pl.col("line_id").filter(~is_given).min(),
        )
        .with_columns(difference=(pl.col("given_amount") - pl.col("computed_amount")).round(2))
        .filter(pl.col("difference").abs() >= TOLERANCE)
    )
    status = (
        pl.when(~pl.col("has_computed"))
        .then(pl.lit("unexplained"))
        .when(~pl.col("has_given"))
        .then(pl.lit("not_in_statements"))
        .otherwise(pl.lit("amount_differs"))
    )
    return (
        by_key.with_columns(
            status=status,
            given_amount=pl.when(pl.col("has_given")).then(pl.col("given_amount")),
            computed_amount=pl.when(pl.col("has_computed")).then(pl.col("computed_amount")),
        )
        .select(
            *keys,
            "status",
            "given_amount",
            "computed_amount",
            "difference",
            "given_line_id",
            "computed_line_id",
        )
        .sort("earned_date", "rep_id", "component_id")
        .collect()
    )


def reconciliation_totals(mismatches: pl.DataFrame) -> pl.DataFrame:
    """Per plan and period, the mismatches summed by `status` (signed dollars, not split by sign):

    - `unexplained_total`: given pay on keys the rules do not imply (an unexplained −250 adjustment
      counts −250);
    - `missing_total`: pay the rules imply on keys no given line shows;
    - `amount_differs_total`: given − computed on keys both sides have;
    - `n_lines`: mismatching keys.
    """
    status = pl.col("status")
    return (
        mismatches.group_by("plan_id", "period")
        .agg(
            unexplained_total=pl.col("given_amount").filter(status == "unexplained").sum(),
            missing_total=pl.col("computed_amount").filter(status == "not_in_statements").sum(),
            amount_differs_total=pl.col("difference").filter(status == "amount_differs").sum(),
            n_lines=pl.len(),
        )
        .sort("plan_id", "period")
    )
