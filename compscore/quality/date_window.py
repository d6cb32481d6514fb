"""Which dates are plausible: a fixed window for every date, and for event dates a bound near the data.

A date outside the window is a typing error (0001-01-01, 9999-12-31) or an outlier that would silently
change the results: the default as-of date is the latest event date, so one deal dated 2030 among deals
of 2024-2026 would create years of empty plan-periods, and one dated 9999 would make the scoring grid
explode. Such rows are rejected by validation (rule `date_window:<column>`) before the as-of is taken.

- Every date column: on or after `EARLIEST_DATE`; and on or before `LATEST_DATE`, except the open-ended
  columns (`end_date`, `termination_date`), where a far-future sentinel such as 9999-12-31 means "open".
- Event dates (the date columns of the event tables: deals, churn events, referrals, statement lines):
  also at most `FUTURE_SLACK_DAYS` after the bulk of their column, the bulk's end being the 99th
  percentile of the column's in-window dates, rounded down to a present value. Rounding down means the
  single latest date never sets the bound itself, so one outlier cannot move it.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from compscore.schema import Table

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
FUTURE_SLACK_DAYS = 366
BULK_QUANTILE = 0.99
OPEN_ENDED = frozenset({"end_date", "termination_date"})
_EPOCH = dt.date(1970, 1, 1)


def windowed_columns(spec: Table) -> list[tuple[str, bool, bool]]:
    """(column, has an upper bound, bounded relative to the data) for every date column of `spec`."""
    is_event_table = spec.event_date is not None
    out = []
    for col in spec.columns:
        if col.dtype != pl.Date():
            continue
        open_ended = col.name in OPEN_ENDED
        out.append((col.name, not open_ended, is_event_table and not open_ended))
    return out


def bulk_end(dates: pl.Series) -> dt.date | None:
    """The end of the bulk of `dates` (see the module notes); None when no in-window date is present."""
    inside = dates.filter(dates.is_between(EARLIEST_DATE, LATEST_DATE))
    if inside.len() == 0:
        return None
    days = inside.to_physical().quantile(BULK_QUANTILE, interpolation="lower")
    return _EPOCH + dt.timedelta(days=int(days))


def latest_allowed(dates: pl.Series, upper: bool, relative: bool) -> dt.date | None:
    """The latest date the column accepts, or None when it has no upper bound."""
    if not upper:
        return None
    if relative and (end := bulk_end(dates)) is not None:
        return min(LATEST_DATE, end + dt.timedelta(days=FUTURE_SLACK_DAYS))
    return LATEST_DATE


def window_words(column: str, upper: bool, relative: bool) -> str:
    """The rule's expectation, in words."""
    words = f"{column} is on or after {EARLIEST_DATE}"
    if relative:
        return (
            f"{words}, on or before {LATEST_DATE}, and at most {FUTURE_SLACK_DAYS} days after the bulk "
            f"of the column (its {BULK_QUANTILE:.0%} percentile)"
        )
    return f"{words} and on or before {LATEST_DATE}" if upper else words


def within_window(df: pl.DataFrame, column: str, upper: bool, relative: bool) -> pl.Series:
    """True where the row's date is missing or inside the window."""
    latest = latest_allowed(df.get_column(column), upper, relative)
    date = pl.col(column)
    ok = date >= EARLIEST_DATE
    if latest is not None:
        ok = ok & (date <= latest)
    return df.select(ok.fill_null(True).alias("ok")).to_series()
