"""Cut a company into batches of reps, so that scoring's memory follows the batch, not the company.

A batch holds its reps' assignments, owned deals, credited referrals and statement lines; the tables that
are not keyed by rep (accounts, reps, churn events) are shared, not copied. What one rep's pay or scores
need from other reps' rows is computed once over the company (`compscore.engine.payout.CrossRepFrames`,
the typical deal sizes in `compscore.scoring.scores`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import polars as pl

from compscore.dataset import CanonicalData, CompanyTables
from compscore.schema import empty_frame

DEFAULT_BATCH_REPS = 20_000
"""Reps per batch: about 1.1M statement lines on generated companies (about 55 lines a rep)."""

REP_COLUMN = {
    "rep_plan_assignments": "rep_id",
    "deals": "owner_rep_id",
    "referrals": "referring_rep_id",
    "commission_lines": "rep_id",
}
"""The tables cut by rep, and the column naming their rep."""


NOT_READ_BY_SCORING: dict[str, tuple[str, ...] | None] = {
    "accounts": None,
    "reps": None,
    "deals": ("lead_source", "term_months"),
    "churn_events": ("reason",),
    "referrals": ("referring_account_id", "referred_account_id"),
}
"""Tables (None: the whole table) and columns that validation reads and scoring never does."""


def scoring_view(data: CanonicalData) -> CanonicalData:
    """`data` without what scoring never reads (`NOT_READ_BY_SCORING`; the tables left empty): a run that
    validates first can drop them before scoring, so that their memory (about a third of the input at 10M
    lines, mostly the accounts and the deals' lead sources) is free for the batches. Scores are unchanged."""
    tables = dict(data.tables)
    for table, columns in NOT_READ_BY_SCORING.items():
        tables[table] = empty_frame(table) if columns is None else tables[table].drop(columns, strict=False)
    return CanonicalData(
        tables=tables,
        plans=data.plans,
        given_commission_lines=data.given_commission_lines,
        warnings=data.warnings,
    )


def all_rep_ids(data: CompanyTables) -> pl.Series:
    """Every rep id any rep-keyed table names, sorted (the tables in memory or scanned)."""
    ids = [data[table].lazy().select(pl.col(column).alias("rep_id")) for table, column in REP_COLUMN.items()]
    return pl.concat(ids).drop_nulls().unique().sort("rep_id").collect().to_series()


@dataclass(frozen=True)
class RepBatch:
    """A batch of reps: `rep_ids`, and whether rows without a rep id fall in it (the first batch's).

    `rows`, when set, gives for each rep-keyed table the positions of the batch's rows (ascending), found
    for all batches in one pass (`rep_batches`); `whole` marks the only batch of a company, which holds
    every row."""

    rep_ids: pl.Series
    holds_null: bool
    rows: dict[str, pl.Series] | None = None
    whole: bool = False

    def predicate(self, column: str = "rep_id") -> pl.Expr:
        """True for the rows of `column` that belong to this batch."""
        in_batch = pl.col(column).is_in(self.rep_ids.implode())
        return (in_batch | pl.col(column).is_null()) if self.holds_null else in_batch


def rep_batch_numbers(ids: pl.Series, batch_reps: int) -> pl.DataFrame:
    """`rep_id` and the number of its `batch` (UInt32, from 0), for the sorted rep ids `ids` cut into
    batches of `batch_reps` as `rep_batches` cuts them."""
    return ids.to_frame("rep_id").with_columns(
        batch=(pl.int_range(pl.len(), dtype=pl.UInt32) // batch_reps).cast(pl.UInt32)
    )


def cut_rep_ids(ids: pl.Series, batch_reps: int) -> list[RepBatch]:
    """The sorted rep ids `ids` in batches of at most `batch_reps` (the first holds the rows without a rep
    id), their rows not located: at least one batch, empty when there is no rep."""
    if batch_reps < 1:
        raise ValueError(f"batch_reps must be at least 1, got {batch_reps}")
    return [
        RepBatch(rep_ids=ids.slice(first, batch_reps), holds_null=first == 0)
        for first in range(0, max(ids.len(), 1), batch_reps)
    ]


def _rows_by_batch(data: CanonicalData, ids: pl.Series, batch_reps: int) -> dict[str, dict[int, pl.Series]]:
    """For each rep-keyed table, the positions of its rows in each batch (rows without a known rep id go
    to batch 0): one join per table instead of a filter of the whole table per batch."""
    numbers = rep_batch_numbers(ids, batch_reps)
    found: dict[str, dict[int, pl.Series]] = {}
    for table, column in REP_COLUMN.items():
        positions = (
            data[table]
            .lazy()
            .select(pl.col(column).alias("rep_id"))
            .with_row_index("row")
            .join(numbers.lazy(), on="rep_id", how="left")
            .group_by(pl.col("batch").fill_null(0))
            .agg(pl.col("row").sort())
            .collect()
        )
        found[table] = dict(zip(positions["batch"].to_list(), positions["row"], strict=True))
    return found


def rep_batches(data: CanonicalData, batch_reps: int = DEFAULT_BATCH_REPS) -> Iterator[RepBatch]:
    """Batches of at most `batch_reps` reps that together hold every rep-keyed row exactly once (a null
    rep id, which validation rejects, falls in the first batch)."""
    ids = all_rep_ids(data)
    batches = cut_rep_ids(ids, batch_reps)
    if len(batches) == 1:
        yield RepBatch(rep_ids=ids, holds_null=True, whole=True)
        return
    rows = _rows_by_batch(data, ids, batch_reps)
    for number, batch in enumerate(batches):
        in_batch = {
            table: by_batch.get(number, pl.Series(dtype=pl.UInt32)) for table, by_batch in rows.items()
        }
        yield replace(batch, rows=in_batch)


def batch_data(data: CanonicalData, batch: RepBatch) -> CanonicalData:
    """`data` with its rep-keyed tables cut to `batch`'s rows; the other tables are shared, not copied."""
    if batch.whole:
        return data
    tables = dict(data.tables)
    for table, column in REP_COLUMN.items():
        if batch.rows is not None:
            tables[table] = data[table][batch.rows[table]]
        else:
            tables[table] = data[table].filter(batch.predicate(column))
    return CanonicalData(
        tables=tables,
        plans=data.plans,
        given_commission_lines=data.given_commission_lines,
        warnings=data.warnings,
    )
