"""Plan periods (month, quarter, year) as Polars expressions over a date and a period-kind column."""

from __future__ import annotations

import polars as pl

PERIOD_INTERVALS: dict[str, str] = {"month": "1mo", "quarter": "1q", "year": "1y"}
"""The Polars interval of each plan period kind (SPEC: month | quarter | year)."""


def _by_kind(kind: pl.Expr, values: dict[str, str]) -> pl.Expr:
    expr = pl.when(kind == "month").then(pl.lit(values["month"]))
    expr = expr.when(kind == "quarter").then(pl.lit(values["quarter"]))
    return expr.otherwise(pl.lit(values["year"]))


def period_start(date: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """First day of the plan period (by `kind`: month | quarter | year) that contains `date`."""
    return (
        pl.when(kind == "month")
        .then(date.dt.truncate(PERIOD_INTERVALS["month"]))
        .when(kind == "quarter")
        .then(date.dt.truncate(PERIOD_INTERVALS["quarter"]))
        .otherwise(date.dt.truncate(PERIOD_INTERVALS["year"]))
    )


def next_period_start(start: pl.Expr, kind: pl.Expr) -> pl.Expr:
    return start.dt.offset_by(_by_kind(kind, PERIOD_INTERVALS))


def period_end(start: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """Last day (inclusive) of the period that begins on `start`."""
    return next_period_start(start, kind).dt.offset_by(pl.lit("-1d"))


def period_days(start: pl.Expr, kind: pl.Expr) -> pl.Expr:
    return (next_period_start(start, kind) - start).dt.total_days()


def period_label(start: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """`2026-Q1`, `2026-03` or `2026`, as SPEC section 6 writes periods."""
    year = start.dt.year().cast(pl.String)
    return (
        pl.when(kind == "month")
        .then(start.dt.strftime("%Y-%m"))
        .when(kind == "quarter")
        .then(pl.concat_str(year, pl.lit("-Q"), start.dt.quarter().cast(pl.String)))
        .otherwise(year)
    )
