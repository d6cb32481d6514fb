"""Cut a company into batches of reps, so that scoring's memory follows the batch, not the company.

A batch holds its reps' assignments, owned deals, credited referrals and statement lines; the tables that
are not keyed by rep (accounts, reps, churn events) are shared, not copied. What one rep's pay or scores
need from other reps' rows is computed once over the company (`compscore.engine.payout.CrossRepFrames`,
the typical deal sizes in `compscore.scoring.scores`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from compscore.dataset import CanonicalData

DEFAULT_BATCH_REPS = 20_000
"""Reps per batch: about 1.1M statement lines on generated companies (about 55 lines a rep)."""

REP_COLUMN = {
    "rep_plan_assignments": "rep_id",
    "deals": "owner_rep_id",
    "referrals": "referring_rep_id",
    "commission_lines": "rep_id",
}
"""The tables cut by rep, and the column naming their rep."""


def all_rep_ids(data: CanonicalData) -> pl.Series:
    """Every rep id any rep-keyed table names, sorted."""
    ids = [data[table].select(pl.col(column).alias("rep_id")) for table, column in REP_COLUMN.items()]
    return pl.concat(ids).drop_nulls().unique().sort("rep_id").to_series()


@dataclass(frozen=True)
class RepBatch:
    """A batch of reps: `rep_ids`, and whether rows without a rep id fall in it (the first batch's)."""

    rep_ids: pl.Series
    holds_null: bool

    def predicate(self, column: str = "rep_id") -> pl.Expr:
        """True for the rows of `column` that belong to this batch."""
        in_batch = pl.col(column).is_in(self.rep_ids.implode())
        return (in_batch | pl.col(column).is_null()) if self.holds_null else in_batch


def rep_batches(data: CanonicalData, batch_reps: int = DEFAULT_BATCH_REPS) -> Iterator[RepBatch]:
    """Batches of at most `batch_reps` reps that together hold every rep-keyed row exactly once (a null
    rep id, which validation rejects, falls in the first batch)."""
    if batch_reps < 1:
        raise ValueError(f"batch_reps must be at least 1, got {batch_reps}")
    ids = all_rep_ids(data)
    for first in range(0, max(ids.len(), 1), batch_reps):
        yield RepBatch(rep_ids=ids.slice(first, batch_reps), holds_null=first == 0)


def batch_data(data: CanonicalData, batch: RepBatch) -> CanonicalData:
    """`data` with its rep-keyed tables cut to `batch`'s rows; the other tables are shared, not copied."""
    tables = dict(data.tables)
    for table, column in REP_COLUMN.items():
        tables[table] = data[table].filter(batch.predicate(column))
    return CanonicalData(
        tables=tables,
        plans=data.plans,
        given_commission_lines=data.given_commission_lines,
        warnings=data.warnings,
    )
