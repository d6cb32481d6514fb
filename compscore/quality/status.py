"""`data_quality_status` per plan × period: how much of the plan-period's input rows were rejected.

A plan-period's input rows are the rows that would feed its score:

* statement lines with that `plan_id`, placed by `earned_date`;
* deals placed by their `close_date` (the `created_date` while open), and referrals by `referral_date`,
  under the plan their rep (`owner_rep_id`, `referring_rep_id`) is assigned to on that date, using the
  assignments as received.

Such a row counts as rejected when it was rejected itself, or when the assignment that places it under
the plan was rejected (then the plan loses it just the same). Rows that cannot be placed (no date, no
assignment on the date, unknown plan) are in the run's counts and rejects, but in no plan-period.
Status: `ok` below `Thresholds.status_warn_share` rejected, `fail` from `status_fail_share`, else `warn`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.periods import period_label
from compscore.plans import Plan
from compscore.quality.blocking import DEFAULT_THRESHOLDS, Thresholds
from compscore.quality.rules import ROW_INDEX
from compscore.quality.validate import ValidationResult

STATUS_SCHEMA = pl.Schema(
    {
        "plan_id": pl.String(),
        "period": pl.String(),
        "input_rows": pl.Int64(),
        "rejected_rows": pl.Int64(),
        "rejected_share": pl.Float64(),
        "data_quality_status": pl.String(),
    }
)


STATUS_INPUTS: dict[str, tuple[str, ...]] = {
    "rep_plan_assignments": ("rep_id", "plan_id", "start_date", "end_date"),
    "deals": ("owner_rep_id", "close_date", "created_date"),
    "referrals": ("referring_rep_id", "referral_date"),
    "commission_lines": ("plan_id", "earned_date"),
}
"""The tables and columns the status reads; each input frame also carries `_rejected`."""
_REJECTED = "_rejected"


def _with_rejected(df: pl.DataFrame, columns: list[str], rejected: pl.Series) -> pl.LazyFrame:
    """`columns` of `df` plus `_rejected`, True at the row positions in `rejected` (no copy of `df`)."""
    mask = pl.repeat(False, df.height, dtype=pl.Boolean, eager=True)
    if rejected.len():
        mask = mask.scatter(rejected, True)
    return df.select(columns).with_columns(mask.alias(_REJECTED)).lazy()


def status_input(table: pl.LazyFrame, name: str, rejected: pl.Series) -> pl.LazyFrame:
    """The input `status_of_inputs` wants for table `name`, from the table as received with its ROW_INDEX
    column (e.g. a scan of a file: only the columns of `STATUS_INPUTS` are read) and the ROW_INDEX values
    of its rejected rows."""
    return table.select(*STATUS_INPUTS[name], pl.col(ROW_INDEX).is_in(rejected.implode()).alias(_REJECTED))


def data_quality_status(
    raw: CanonicalData, result: ValidationResult, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> pl.DataFrame:
    """One row per plan × period with any input: input_rows, rejected_rows, share and ok/warn/fail."""
    if not raw.plans:
        return pl.DataFrame(schema=STATUS_SCHEMA)
    inputs = {
        name: _with_rejected(raw.tables[name], list(columns), result.rejected_rows[name])
        for name, columns in STATUS_INPUTS.items()
    }
    return status_of_inputs(raw.plans, inputs, thresholds)


def status_of_inputs(
    plans: Mapping[str, Plan], inputs: Mapping[str, pl.LazyFrame], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> pl.DataFrame:
    """`data_quality_status` from the tables it reads: `inputs` holds, for each table of `STATUS_INPUTS`,
    its columns there and `_rejected` (see `status_input`), in the order the table was received.

    Rows are counted per (plan, date) first, so the period label and the plan's period kind are worked
    out once per plan-day rather than per row; plans travel as small integers through the join of
    deals and referrals with the assignments, which runs on the streaming engine.
    """
    if not plans:
        return pl.DataFrame(schema=STATUS_SCHEMA)
    periods = pl.DataFrame(
        {"plan_id": list(plans), "_kind": [p.period for p in plans.values()]},
        schema={"plan_id": pl.String, "_kind": pl.String},
    ).with_row_index("_plan")
    plan_index = periods.lazy().select("plan_id", "_plan")
    placed = _deals_and_referrals_by_plan(inputs, plan_index)
    lines = _lines_by_plan(inputs, plan_index)
    per_day = (
        pl.concat([placed, lines])
        .drop_nulls("date")
        .group_by("_plan", "date")
        .agg(input_rows=pl.len().cast(pl.Int64), rejected_rows=pl.col(_REJECTED).sum().cast(pl.Int64))
        .collect(engine="streaming")
    )
    share = pl.col("rejected_rows") / pl.col("input_rows")
    return (
        per_day.join(periods, on="_plan")
        .group_by("plan_id", period=period_label(pl.col("date"), pl.col("_kind")))
        .agg(pl.col("input_rows").sum(), pl.col("rejected_rows").sum())
        .with_columns(rejected_share=share)
        .with_columns(
            data_quality_status=pl.when(pl.col("rejected_share") >= thresholds.status_fail_share)
            .then(pl.lit("fail"))
            .when(pl.col("rejected_share") >= thresholds.status_warn_share)
            .then(pl.lit("warn"))
            .otherwise(pl.lit("ok"))
        )
        .sort("plan_id", "period")
        .select(STATUS_SCHEMA.names())
        .cast(dict(STATUS_SCHEMA))
    )


def _deals_and_referrals_by_plan(
    inputs: Mapping[str, pl.LazyFrame], plan_index: pl.LazyFrame
) -> pl.LazyFrame:
    """Deals (on their close or created date) and referrals, each on the plan its rep was assigned on that
    date: `_plan`, `date`, `_rejected` (the row or the assignment that places it was rejected)."""
    assignments = (
        inputs["rep_plan_assignments"]
        .select(
            "rep_id",
            "plan_id",
            "start_date",
            pl.col("end_date").fill_null(dt.date.max),
            pl.col(_REJECTED).alias("_asg_rejected"),
        )
        .drop_nulls(["rep_id", "plan_id", "start_date"])
        .join(plan_index, on="plan_id")
        .drop("plan_id")
    )
    events = pl.concat(
        [
            inputs["deals"].select(
                rep_id="owner_rep_id",
                date=pl.coalesce("close_date", "created_date"),
                _rejected=_REJECTED,
            ),
            inputs["referrals"].select(rep_id="referring_rep_id", date="referral_date", _rejected=_REJECTED),
        ]
    ).drop_nulls(["rep_id", "date"])
    return (
        events.join(assignments, on="rep_id")
        .filter(pl.col("date").is_between("start_date", "end_date"))
        .select("_plan", "date", _rejected=pl.col(_REJECTED) | pl.col("_asg_rejected"))
    )


def _lines_by_plan(inputs: Mapping[str, pl.LazyFrame], plan_index: pl.LazyFrame) -> pl.LazyFrame:
    """Given statement lines on their plan and earned date: `_plan`, `date`, `_rejected`."""
    return (
        inputs["commission_lines"]
        .select("plan_id", date="earned_date", _rejected=_REJECTED)
        .drop_nulls(["plan_id", "date"])
        .join(plan_index, on="plan_id")
        .select("_plan", "date", _REJECTED)
    )
