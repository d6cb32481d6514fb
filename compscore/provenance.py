"""Where each score came from (SPEC section 7): run id, scoring time, as-of date, source, and whether the
period was finished.

`with_provenance` is one step applied to the output tables after scoring, by the CLI run
(`compscore.run.score_folder`) and by the Dagster asset (`assets/scoring.py`) alike, so both
write the same columns:

- `run_id`, `scored_at` (UTC), `as_of` (the date the data is known to), `source` (the input folder) on
  every score table;
- `period_complete` on the tables with one row per plan period (`plan_scores`, `plan_outcomes`,
  `rep_period_books`, see `PERIOD_TABLES`): false for the period that holds `as_of` (its book is
  partial) and for any later one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from compscore.engine.periods import period_end
from compscore.safe_ids import checked_id

PROVENANCE_COLUMNS = ("run_id", "scored_at", "as_of", "source")
PERIOD_COMPLETE = "period_complete"
PERIOD_TABLES = ("plan_scores", "plan_outcomes", "rep_period_books")
"""The score tables with one row per plan period (and a `period_start`), which get `period_complete`."""
SCORED_AT_DTYPE = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Provenance:
    run_id: str
    scored_at: dt.datetime
    """When the scores were computed, UTC, to the second."""
    as_of: dt.date
    """The date the data is known to: pay due after it is not yet earned, periods holding it are partial."""
    source: str
    """Where the input came from (the canonical folder)."""

    def __post_init__(self) -> None:
        checked_run_id(self.run_id)

    @staticmethod
    def now(run_id: str, as_of: dt.date, source: str) -> Provenance:
        scored_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return Provenance(run_id=run_id, scored_at=scored_at, as_of=as_of, source=source)


def checked_run_id(run_id: str) -> str:
    """`run_id` when it is safe to name a history file or report folder; else `UnsafeId`."""
    return checked_id("run id", run_id)


def period_kind_of_label(period: pl.Expr) -> pl.Expr:
    """month / quarter / year from a period label as `compscore.engine.periods.period_label` writes it
    (`2026-03`, `2026-Q1`, `2026`)."""
    return (
        pl.when(period.str.contains("-Q"))
        .then(pl.lit("quarter"))
        .when(period.str.len_chars() == 4)
        .then(pl.lit("year"))
        .otherwise(pl.lit("month"))
    )


def period_complete(period_start: pl.Expr, period: pl.Expr, as_of: dt.date) -> pl.Expr:
    """True when the period ended before `as_of`: false for the period holding `as_of` and later ones."""
    return period_end(period_start, period_kind_of_label(period)) < pl.lit(as_of)


def _with_columns(df: pl.DataFrame, provenance: Provenance, with_period_complete: bool) -> pl.DataFrame:
    added = []
    if with_period_complete:
        added.append(
            period_complete(pl.col("period_start"), pl.col("period"), provenance.as_of).alias(PERIOD_COMPLETE)
        )
    added += [
        pl.lit(provenance.run_id, pl.String).alias("run_id"),
        pl.lit(provenance.scored_at, SCORED_AT_DTYPE).alias("scored_at"),
        pl.lit(provenance.as_of, pl.Date).alias("as_of"),
        pl.lit(provenance.source, pl.String).alias("source"),
    ]
    return df.with_columns(added)


def with_provenance(tables: Mapping[str, pl.DataFrame], provenance: Provenance) -> dict[str, pl.DataFrame]:
    """Every table with the provenance columns added at its end, and `period_complete` before them on the
    tables of `PERIOD_TABLES`."""
    return {
        name: _with_columns(df, provenance, with_period_complete=name in PERIOD_TABLES)
        for name, df in tables.items()
    }
