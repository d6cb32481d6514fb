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

import polars as pl

from compscore.dataset import CanonicalData
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


def period_label(date: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """`2026-03`, `2026-Q1` or `2026` for a plan period kind of month, quarter or year."""
    year = date.dt.year().cast(pl.String)
    return (
        pl.when(kind == "month")
        .then(date.dt.strftime("%Y-%m"))
        .when(kind == "quarter")
        .then(pl.concat_str([year, pl.lit("-Q"), date.dt.quarter().cast(pl.String)]))
        .otherwise(year)
    )


def _with_rejected(df: pl.DataFrame, rejected: pl.Series) -> pl.DataFrame:
    return df.with_row_index(ROW_INDEX).with_columns(_rejected=pl.col(ROW_INDEX).is_in(rejected.implode()))


def data_quality_status(
    raw: CanonicalData, result: ValidationResult, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> pl.DataFrame:
    """One row per plan × period with any input: input_rows, rejected_rows, share and ok/warn/fail."""
    if not raw.plans:
        return pl.DataFrame(schema=STATUS_SCHEMA)
    rejected = result.rejected_rows
    periods = pl.DataFrame(
        {"plan_id": list(raw.plans), "_kind": [p.period for p in raw.plans.values()]},
        schema={"plan_id": pl.String, "_kind": pl.String},
    )
    assignments = (
        _with_rejected(raw.rep_plan_assignments, rejected["rep_plan_assignments"])
        .select(
            "rep_id",
            "plan_id",
            "start_date",
            pl.col("end_date").fill_null(dt.date.max),
            pl.col("_rejected").alias("_asg_rejected"),
        )
        .drop_nulls(["rep_id", "plan_id", "start_date"])
    )
    events = pl.concat(
        [
            _with_rejected(raw.deals, rejected["deals"]).select(
                rep_id="owner_rep_id",
                date=pl.coalesce("close_date", "created_date"),
                _rejected="_rejected",
            ),
            _with_rejected(raw.referrals, rejected["referrals"]).select(
                rep_id="referring_rep_id", date="referral_date", _rejected="_rejected"
            ),
        ]
    ).drop_nulls(["rep_id", "date"])
    placed = (
        events.join(assignments, on="rep_id")
        .filter(pl.col("date").is_between("start_date", "end_date"))
        .select("plan_id", "date", _rejected=pl.col("_rejected") | pl.col("_asg_rejected"))
    )
    lines = _with_rejected(raw.commission_lines, rejected["commission_lines"]).select(
        "plan_id", date="earned_date", _rejected="_rejected"
    )
    rows = pl.concat([placed, lines]).drop_nulls(["plan_id", "date"]).join(periods, on="plan_id")
    share = pl.col("rejected_rows") / pl.col("input_rows")
    return (
        rows.group_by("plan_id", period=period_label(pl.col("date"), pl.col("_kind")))
        .agg(input_rows=pl.len().cast(pl.Int64), rejected_rows=pl.col("_rejected").sum().cast(pl.Int64))
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
