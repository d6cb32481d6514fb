"""Invariants of the `plan_scores` table: what must hold for its numbers to be right.

Each rule returns a `Violations` (how many rows break it and a few of their plan-period keys), so the
Dagster checks (`checks/score_checks.py`) and any other caller report the same thing. Plain Polars, no
Dagster.

- `sdi_out_of_range`: the SDI and its interval bounds lie in [0, 100] (SDI is a share times 100).
- `interval_inverted`: low <= high for the SDI and every indicator with an interval.
- `estimate_outside_interval`: the estimate lies within its interval. A percentile bootstrap interval can
  miss a skewed estimate without any error, so callers treat this as a warning.
- `missing_or_duplicate_plan_periods`: every plan-period with input (the `data_quality_status` rows of
  the plans present) has exactly one score row.
- `fail_not_flagged`: every plan-period whose data quality is `fail` says so in its score row
  (`data_quality_status` = fail), so no figure of a failed period reads as a clean one.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from compscore.scoring.indicators import INDICATORS

KEY = ("plan_id", "period")
SDI = "same_day_index"
SDI_RANGE = (0.0, 100.0)
STATUS = "data_quality_status"
FAIL = "fail"
SAMPLE = 5
_TOLERANCE = 1e-9
"""Float slack for comparing an estimate with bootstrap percentiles computed from the same sums."""


@dataclass(frozen=True)
class Violations:
    """The rows breaking one invariant: their count and up to SAMPLE plan-period keys."""

    count: int
    keys: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.count == 0

    def describe(self, what: str) -> str:
        if self.passed:
            return f"no plan-period {what}"
        return f"{self.count} plan-period(s) {what}: {', '.join(self.keys)}"


def _violations(frame: pl.DataFrame, broken: pl.Expr) -> Violations:
    bad = frame.filter(broken.fill_null(False))
    keys = bad.head(SAMPLE).select(pl.concat_str([pl.col(k) for k in KEY], separator=" ")).to_series()
    return Violations(bad.height, tuple(keys.to_list()))


def _intervals(scores: pl.DataFrame) -> list[str]:
    """Columns with `<name>_low` and `<name>_high` beside them: the SDI and the indicators."""
    names = [SDI, *(ind.name for ind in INDICATORS)]
    return [n for n in names if {n, f"{n}_low", f"{n}_high"} <= set(scores.columns)]


def sdi_out_of_range(scores: pl.DataFrame) -> Violations:
    low, high = SDI_RANGE
    outside = pl.any_horizontal(~pl.col(c).is_between(low, high) for c in (SDI, f"{SDI}_low", f"{SDI}_high"))
    return _violations(scores, outside)


def interval_inverted(scores: pl.DataFrame) -> Violations:
    columns = _intervals(scores)
    if not columns:
        return Violations(0, ())
    inverted = pl.any_horizontal(pl.col(f"{c}_low") > pl.col(f"{c}_high") + _TOLERANCE for c in columns)
    return _violations(scores, inverted)


def estimate_outside_interval(scores: pl.DataFrame) -> Violations:
    columns = _intervals(scores)
    if not columns:
        return Violations(0, ())
    outside = pl.any_horizontal(
        (pl.col(c) < pl.col(f"{c}_low") - _TOLERANCE) | (pl.col(c) > pl.col(f"{c}_high") + _TOLERANCE)
        for c in columns
    )
    return _violations(scores, outside)


def missing_or_duplicate_plan_periods(
    scores: pl.DataFrame, status: pl.DataFrame, plan_ids: set[str]
) -> Violations:
    """Plan-periods of `status` (plans in `plan_ids`) without exactly one row in `scores`."""
    expected = status.filter(pl.col("plan_id").is_in(sorted(plan_ids))).select(KEY).unique()
    counts = scores.group_by(KEY).len()
    joined = expected.join(counts, on=KEY, how="full", coalesce=True)
    return _violations(joined.sort(KEY), pl.col("len").fill_null(0) != 1)


def fail_not_flagged(scores: pl.DataFrame, status: pl.DataFrame) -> Violations:
    """Score rows of a plan-period whose data quality is `fail` that do not say `fail` themselves."""
    failed = status.filter(pl.col(STATUS) == FAIL).select(KEY).unique()
    rows = scores.join(failed, on=KEY, how="semi")
    return _violations(rows, pl.col(STATUS).fill_null("") != FAIL)
