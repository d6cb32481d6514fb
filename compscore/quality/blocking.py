"""Failures that make scores meaningless and stop the run, and the thresholds that decide them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.plans import Plan, PlanError, read_plans
from compscore.schema import Table


@dataclass(frozen=True)
class Thresholds:
    """Every number that turns counts into a verdict; documented in docs/data_quality.md."""

    foreign_key_blocking_share: float = 0.5
    """A foreign key broken in more than this share of a table's rows blocks the run."""
    volume_drop_blocking_ratio: float = 0.5
    """A table with fewer rows than this fraction of the previous run's blocks the run."""
    status_warn_share: float = 0.01
    """data_quality_status is `warn` from this share of a plan-period's input rows rejected..."""
    status_fail_share: float = 0.10
    """...and `fail` from this share on."""


NONEMPTY_TABLES: tuple[str, ...] = ("accounts", "reps", "rep_plan_assignments", "deals")
"""Tables without which no score means anything; `commission_lines` joins them when the source gave it.
`churn_events` and `referrals` may be legitimately empty (no churn yet, no referral programme)."""


@dataclass(frozen=True)
class BlockingFailure:
    table: str
    """A canonical table, or `plans`."""
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.table}: {self.rule}: {self.message}"


class BlockingError(RuntimeError):
    """Raised when validation finds failures that make scores meaningless; lists every one of them."""

    def __init__(self, failures: list[BlockingFailure]):
        self.failures = list(failures)
        lines = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(f"data quality: {len(self.failures)} blocking failure(s), scoring stopped:\n{lines}")


def schema_failures(spec: Table, df: pl.DataFrame) -> list[BlockingFailure]:
    """A required column absent, or a canonical column of the wrong dtype (an all-null column may be cast)."""
    failures = []
    missing = [c for c in spec.required_columns if c not in df.columns]
    if missing:
        failures.append(
            BlockingFailure(
                spec.name, "schema", f"required column(s) {missing} missing; columns present: {df.columns}"
            )
        )
    for col in spec.columns:
        if col.name in df.columns:
            got = df.schema[col.name]
            if got != col.dtype and got != pl.Null():
                failures.append(
                    BlockingFailure(
                        spec.name, "schema", f"column {col.name!r} is {got}, expected {col.dtype}"
                    )
                )
    return failures


def row_count_failure(spec: Table, rows: int, required: bool) -> BlockingFailure | None:
    if rows == 0 and required:
        return BlockingFailure(spec.name, "row_count", "the table has no rows; scores need it")
    return None


def volume_failure(
    spec: Table, rows: int, previous: int | None, thresholds: Thresholds
) -> BlockingFailure | None:
    if previous and rows < thresholds.volume_drop_blocking_ratio * previous:
        return BlockingFailure(
            spec.name,
            "volume_drop",
            f"{rows} rows, against {previous} in the previous run (below "
            f"{thresholds.volume_drop_blocking_ratio:.0%} of it): a partial or truncated extract?",
        )
    return None


def plan_failures(error: PlanError) -> list[BlockingFailure]:
    """One blocking failure per located problem of plan files that do not parse."""
    return [BlockingFailure("plans", "plan_parses", str(issue)) for issue in error.issues]


def load_plans_checked(
    directory: str | Path, reader: Callable[[str | Path], dict[str, Plan]] = read_plans
) -> tuple[dict[str, Plan], list[BlockingFailure]]:
    """Read the plan folder; a parse error becomes blocking failures instead of an exception."""
    try:
        plans = reader(directory)
    except PlanError as exc:
        return {}, plan_failures(exc)
    if not plans:
        return {}, [BlockingFailure("plans", "row_count", f"no plan files (*.yaml) in {directory}")]
    return plans, []


DEFAULT_THRESHOLDS = Thresholds()
