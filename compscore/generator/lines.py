"""Statement lines of a generated chunk: the payout engine's lines, payroll dates, a few manual adjustments.

Commission rules live in `compscore.engine.payout` only; this module never computes pay from a plan. What
it adds is what a payroll system adds: a `paid_date` (the last day of the month after the line was
earned, when that is on or before the data's end) and manual `adjustment` lines (component and line type
`adjustment`, positive and negative, line ids starting `adjustment:`) that no plan rule explains.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.payout import compute_statement_lines
from compscore.schema import ADJUSTMENT_COMPONENT, COMMISSION_LINES, conform

ADJUSTMENT_LINE_PREFIX = "adjustment:"
ADJUSTMENT_PROB_PER_ASSIGNMENT = 0.15
"""Chance that a plan assignment gets one manual adjustment."""
ADJUSTMENT_POSITIVE_SHARE = 0.7
ADJUSTMENT_MEDIAN, ADJUSTMENT_SIGMA = 400.0, 0.8


def _paid_date(earned: pl.Expr, as_of: dt.date) -> pl.Expr:
    paid = earned.dt.offset_by("1mo").dt.month_end()
    return pl.when(paid <= as_of).then(paid)


def adjustment_lines(
    assignments: pl.DataFrame, rng: np.random.Generator, chunk: int, as_of: dt.date
) -> pl.DataFrame:
    """Manual adjustments on a random few of the chunk's plan assignments, dated inside the assignment."""
    picked = assignments.filter(pl.Series(rng.random(assignments.height) < ADJUSTMENT_PROB_PER_ASSIGNMENT))
    n = picked.height
    span = (
        picked.select((pl.col("end_date").fill_null(as_of) - pl.col("start_date")).dt.total_days())
        .to_series()
        .to_numpy()
    )
    offset = (rng.random(n) * (span + 1)).astype(np.int64)
    sign = np.where(rng.random(n) < ADJUSTMENT_POSITIVE_SHARE, 1.0, -1.0)
    amount = np.round(sign * rng.lognormal(np.log(ADJUSTMENT_MEDIAN), ADJUSTMENT_SIGMA, n), 2)
    frame = picked.select(
        line_id=pl.concat_str(
            pl.lit(f"{ADJUSTMENT_LINE_PREFIX}{chunk:05d}-"), pl.int_range(n).cast(pl.String).str.zfill(5)
        ),
        rep_id="rep_id",
        plan_id="plan_id",
        component_id=pl.lit(ADJUSTMENT_COMPONENT),
        line_type=pl.lit("adjustment"),
        amount=pl.Series(amount),
        earned_date=pl.col("start_date") + pl.duration(days=pl.Series(offset)),
    )
    return conform(frame, "commission_lines").collect()


def statement_lines(
    data: CanonicalData, rng: np.random.Generator, chunk: int, as_of: dt.date
) -> pl.DataFrame:
    """Engine lines plus adjustments, in the canonical shape, sorted by earned date and line id."""
    engine = compute_statement_lines(data, as_of).select(COMMISSION_LINES.column_names)
    adjustments = adjustment_lines(data.rep_plan_assignments, rng, chunk, as_of)
    lines = pl.concat([engine, adjustments], how="vertical")
    return lines.with_columns(paid_date=_paid_date(pl.col("earned_date"), as_of)).sort(
        "earned_date", "line_id"
    )
