"""The plan-score table as text for a terminal (and Markdown): the columns a reader needs first, rounded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from compscore.engine.periods import period_end

SCORE_COLUMNS: tuple[str, ...] = (
    "plan_id",
    "period",
    "n_reps",
    "n_deals",
    "same_day_index",
    "same_day_index_low",
    "same_day_index_high",
    "same_day_multiple",
    "realized_same_day_share",
    "pull_forward_premium",
    "confidence",
    "data_quality_status",
)
"""The plan_scores columns shown, when present; the full table is in the outputs."""
MAX_ROWS = 80


def shown_plan_scores(scores: pl.DataFrame) -> pl.DataFrame:
    """The `SCORE_COLUMNS` present in `scores`, sorted by plan and period, numbers rounded to 2 decimals."""
    shown = scores.select([c for c in SCORE_COLUMNS if c in scores.columns])
    sort_by = [c for c in ("plan_id", "period") if c in shown.columns]
    if sort_by:
        shown = shown.sort(sort_by)
    floats = [c for c, t in shown.schema.items() if t.is_float()]
    rounded = pl.col(floats).round(2)
    return shown.with_columns(pl.when(rounded == 0).then(0.0).otherwise(rounded).name.keep())  # no "-0.0"


def plan_scores_markdown(scores: pl.DataFrame) -> str:
    """The same table as compact Markdown (no padding, empty cell for null), for the Dagster UI.

    The UI shows Markdown of 1,000 characters or more behind a "[Show Markdown]" button; padding would
    push even a few rows past that.
    """
    shown = shown_plan_scores(scores)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    rows = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in shown.iter_rows()]
    return "\n".join([header, rule, *rows])


def format_plan_scores(scores: pl.DataFrame, max_rows: int = MAX_ROWS) -> str:
    """A Markdown-style table of `plan_scores` for a terminal: `shown_plan_scores`, padded."""
    shown = shown_plan_scores(scores)
    with pl.Config(
        tbl_rows=max_rows,
        tbl_cols=-1,
        tbl_width_chars=220,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        fmt_str_lengths=40,
    ):
        text = str(shown)
    if scores.height > max_rows:
        text += f"\n({scores.height} rows; showing {max_rows})"
    return text


def headline_per_plan(scores: pl.DataFrame, kinds: Mapping[str, str], as_of: dt.date) -> pl.DataFrame:
    """One row per plan: its latest period that ended by `as_of` (else its latest period, `complete`
    false), with that period's SDI and same-day multiple. `kinds` maps plan id -> month|quarter|year."""
    kind = pl.col("plan_id").replace_strict(dict(kinds), default="year", return_dtype=pl.String)
    ranked = scores.with_columns(
        complete=period_end(pl.col("period_start"), kind) <= pl.lit(as_of),
    ).sort("complete", "period_start")
    return (
        ranked.group_by("plan_id", maintain_order=True)
        .last()
        .select("plan_id", "period", "complete", "same_day_index", "same_day_multiple")
        .sort("plan_id")
    )
