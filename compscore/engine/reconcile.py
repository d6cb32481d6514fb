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
ORDER = ["earned_date", "rep_id", "component_id", "plan_id", "line_type", "deal_id", "referral_id"]
"""The order of reconciliation rows: by date, rep and component, then the rest of the key (no ties)."""


def given_plan_periods(given: pl.DataFrame | pl.LazyFrame, plans: dict[str, Plan]) -> pl.DataFrame:
    """The (plan_id, period) pairs that have given statement lines (`given` in memory or scanned).

    The lines' distinct (plan, date) pairs are placed, not every line: a few thousand pairs for millions
    of lines (0.2 s CPU instead of 0.5–0.7 s at 3M lines)."""
    dates = given.lazy().select("plan_id", "earned_date").unique()
    kinds = _plan_kinds(plans, dates.collect_schema()["plan_id"])
    placed = with_period(dates.join(kinds, on="plan_id"), "earned_date")
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
    kinds = _plan_kinds(plans, given.schema["plan_id"])
    if given_periods is None:
        given_periods = given_plan_periods(given, plans)
    # One group-by over both sides, of plain sums (a filtered aggregation per side cost three times as
    # much); the line ids and the period are placed after grouping, on the mismatching keys only (the
    # minimum line id of every key cost 40 % of the reconciliation: docs/performance.md).
    sums = (
        pl.concat([_side(given, is_given=True), _side(computed, is_given=False)])
        .group_by(MATCH_KEY)
        .agg(pl.sum("given_amount", "computed_amount", "given_lines", "computed_lines"))
        .with_columns(difference=(pl.col("given_amount") - pl.col("computed_amount")).round(2))
        .filter(pl.col("difference").abs() >= TOLERANCE)
        .collect()
    )
    by_key = sums.lazy()
    for lines, name in ((given, "given_line_id"), (computed, "computed_line_id")):
        by_key = by_key.join(_first_line_ids(lines, sums, name), on=MATCH_KEY, how="left", nulls_equal=True)
    placed = with_period(by_key.join(kinds, on="plan_id", how="left"), "earned_date").with_columns(
        has_given=pl.col("given_lines") > 0, has_computed=pl.col("computed_lines") > 0
    )
    # Computed pay counts only in the plan periods that have given lines (keys with a given line are in one).
    in_given_period = placed.filter(~pl.col("has_given")).join(
        given_periods.lazy(), on=["plan_id", "period"], how="semi"
    )
    by_key = pl.concat([placed.filter(pl.col("has_given")), in_given_period])
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
            *MATCH_KEY,
            "period",
            "status",
            "given_amount",
            "computed_amount",
            "difference",
            "given_line_id",
            "computed_line_id",
        )
        .sort(ORDER)
        .collect()
    )


def _plan_kinds(plans: dict[str, Plan], plan_id_type: pl.DataType) -> pl.LazyFrame:
    """`plan_id` (as `plan_id_type`, that of the lines: `String` or `Categorical`) and `period_kind`."""
    kinds = plan_tables(plans).plans.select("plan_id", "period_kind")
    return kinds.lazy().with_columns(pl.col("plan_id").cast(plan_id_type))


def _side(lines: pl.DataFrame, *, is_given: bool) -> pl.LazyFrame:
    """One side's lines as rows of the side-by-side sums: its amount and line count in its own columns,
    zero in the other side's."""
    amount, zero = pl.col("amount"), pl.lit(0.0)
    one, none = pl.lit(1, pl.UInt32), pl.lit(0, pl.UInt32)
    return lines.lazy().select(
        *MATCH_KEY,
        given_amount=amount if is_given else zero,
        computed_amount=zero if is_given else amount,
        given_lines=one if is_given else none,
        computed_lines=none if is_given else one,
    )


def _first_line_ids(lines: pl.DataFrame, keys: pl.DataFrame, name: str) -> pl.LazyFrame:
    """The smallest `line_id` of `lines` on each match key of `keys`, as `name` (null keys equal)."""
    return (
        lines.lazy()
        .join(keys.lazy().select(MATCH_KEY), on=MATCH_KEY, how="semi", nulls_equal=True)
        .group_by(MATCH_KEY)
        .agg(pl.min("line_id").alias(name))
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
