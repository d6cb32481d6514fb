"""The report's tables, in Polars, from the score tables: what each chart and table shows."""

from __future__ import annotations

import polars as pl

from compscore.report.files import ReportInputs
from compscore.scoring.indicators import INDICATORS

CHANNELS = {
    "marginal_same_day": "same-day",
    "marginal_retention": "retention",
    "marginal_referral": "referral",
}
"""Marginal-pay columns and the channel names the report writes for them."""
PRICED_AT_ATTAINMENT = 1.0
"""The component breakdown prices the next dollar at quota (attainment 100 %)."""
SDI = "same_day_index"


def _complete(df: pl.DataFrame) -> pl.Expr:
    return pl.col("period_complete") if "period_complete" in df.columns else pl.lit(True)


def headline_rows(plan_scores: pl.DataFrame) -> pl.DataFrame:
    """One row per plan: its latest finished period, or its latest period when none has finished."""
    return (
        plan_scores.with_columns(_finished=_complete(plan_scores))
        .sort("plan_id", "_finished", "period_start")
        .group_by("plan_id", maintain_order=True)
        .last()
        .drop("_finished")
        .sort(SDI, "plan_id", descending=[True, False], nulls_last=True)
    )


def company_table(inputs: ReportInputs) -> pl.DataFrame:
    """The headline rows with the period's cost (pay earned before clawbacks, $)."""
    return headline_rows(inputs.plan_scores).join(inputs.plan_cost, on=["plan_id", "period"], how="left")


def sdi_series(plan_scores: pl.DataFrame) -> pl.DataFrame:
    """Every plan-period's SDI and interval, with whether the period is finished, for the company chart."""
    return plan_scores.select(
        "plan_id",
        "period",
        "period_start",
        SDI,
        f"{SDI}_low",
        f"{SDI}_high",
        period_status=pl.when(_complete(plan_scores))
        .then(pl.lit("finished"))
        .otherwise(pl.lit("in progress")),
    ).sort("period_start", "plan_id")


def components_at_quota(marginals: pl.DataFrame, plan_id: str) -> pl.DataFrame:
    """One row per component and channel: the component's pay per $1 (cents) at quota."""
    at_quota = marginals.filter(
        (pl.col("plan_id") == plan_id) & ((pl.col("attainment") - PRICED_AT_ATTAINMENT).abs() < 1e-9)
    )
    return (
        at_quota.unpivot(index="component_id", on=list(CHANNELS), variable_name="channel", value_name="m")
        .with_columns(
            channel=pl.col("channel").replace_strict(CHANNELS),
            cents_per_dollar=(100 * pl.col("m")).round(2),
        )
        .filter(pl.col("cents_per_dollar") != 0)
        .select("component_id", "channel", "cents_per_dollar")
    )


def curves_long(curves: pl.DataFrame, plan_id: str) -> pl.DataFrame:
    """The plan's incentive curves: attainment (%), channel, pay per $1 (cents)."""
    return (
        curves.filter(pl.col("plan_id") == plan_id)
        .unpivot(index="attainment", on=list(CHANNELS), variable_name="channel", value_name="m")
        .select(
            attainment_pct=(100 * pl.col("attainment")).round(0),
            channel=pl.col("channel").replace_strict(CHANNELS),
            cents_per_dollar=(100 * pl.col("m")).round(3),
        )
    )


def outcomes_long(plan_scores: pl.DataFrame, outcomes: pl.DataFrame, plan_id: str) -> pl.DataFrame:
    """SDI and the outcome indicators of one plan over its periods, with intervals and period status."""
    scores = plan_scores.filter(pl.col("plan_id") == plan_id)
    status = scores.select(
        "period",
        period_status=pl.when(_complete(scores)).then(pl.lit("finished")).otherwise(pl.lit("in progress")),
    )
    sdi = scores.select(
        "period",
        "period_start",
        indicator=pl.lit(SDI),
        value=SDI,
        low=f"{SDI}_low",
        high=f"{SDI}_high",
    )
    indicators = outcomes.filter(pl.col("plan_id") == plan_id).select(
        "period", "period_start", "indicator", "value", "low", "high"
    )
    order = {name: i for i, name in enumerate([SDI, *(ind.name for ind in INDICATORS)])}
    return (
        pl.concat([sdi, indicators])
        .join(status, on="period", how="left")
        .with_columns(order=pl.col("indicator").replace_strict(order, return_dtype=pl.Int64))
        .sort("order", "period_start")
    )


SCENARIO_COLUMNS = (
    "scenario",
    "plan_id",
    "period",
    "n_reps",
    SDI,
    "same_day_multiple",
    "marginal_same_day",
    "marginal_retention",
    "marginal_referral",
    "cost",
    "cost_change",
)
BASELINE = "baseline"


def scenario_comparison(plan_scores: pl.DataFrame, scenario_scores: pl.DataFrame) -> pl.DataFrame:
    """Baseline and each scenario side by side, per baseline plan and period.

    The baseline's figures come from plan_scores; its cost is the scenarios' own baseline,
    cost ÷ (1 + cost_change), so that cost and cost_change compare like with like.
    """
    scenarios = scenario_scores.select(SCENARIO_COLUMNS)
    baseline_cost = scenarios.group_by("plan_id", "period").agg(
        cost=(pl.col("cost") / (1.0 + pl.col("cost_change"))).drop_nulls().first()
    )
    baseline = (
        plan_scores.join(scenarios.select("plan_id", "period").unique(), on=["plan_id", "period"], how="semi")
        .join(baseline_cost, on=["plan_id", "period"], how="left")
        .with_columns(scenario=pl.lit(BASELINE), cost_change=pl.lit(0.0))
        .select(SCENARIO_COLUMNS)
    )
    return (
        pl.concat([baseline, scenarios], how="vertical_relaxed")
        .with_columns(is_baseline=pl.col("scenario") == BASELINE)
        .sort("plan_id", "period", "is_baseline", "scenario", descending=[False, False, True, False])
        .drop("is_baseline")
    )
