"""Plan periods (month, quarter, year) of `compscore.engine.periods`, against calendar dates worked out
by hand: first and last day, length in days (leap years included) and the label SPEC section 6 writes."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from compscore.engine.periods import next_period_start, period_days, period_end, period_label, period_start

D = dt.date


def periods_of(dates: list[dt.date], kinds: list[str]) -> list[tuple]:
    frame = pl.DataFrame({"date": dates, "kind": kinds}, schema={"date": pl.Date, "kind": pl.String})
    kind = pl.col("kind")
    start = period_start(pl.col("date"), kind)
    return frame.select(
        start=start,
        end=period_end(start, kind),
        next=next_period_start(start, kind),
        days=period_days(start, kind),
        label=period_label(start, kind),
    ).rows()


@pytest.mark.parametrize(
    ("date", "kind", "expected"),
    [
        # February 2026 has 28 days; the label is year-month with a leading zero.
        (D(2026, 2, 14), "month", (D(2026, 2, 1), D(2026, 2, 28), D(2026, 3, 1), 28, "2026-02")),
        # February 2024 has 29 (leap year).
        (D(2024, 2, 29), "month", (D(2024, 2, 1), D(2024, 2, 29), D(2024, 3, 1), 29, "2024-02")),
        # December: the next period starts in the next year.
        (D(2026, 12, 31), "month", (D(2026, 12, 1), D(2026, 12, 31), D(2027, 1, 1), 31, "2026-12")),
        # Q2 = April + May + June = 30 + 31 + 30 = 91 days.
        (D(2026, 5, 20), "quarter", (D(2026, 4, 1), D(2026, 6, 30), D(2026, 7, 1), 91, "2026-Q2")),
        # Q1 2026 = 31 + 28 + 31 = 90 days; its first day is in it.
        (D(2026, 1, 1), "quarter", (D(2026, 1, 1), D(2026, 3, 31), D(2026, 4, 1), 90, "2026-Q1")),
        # Q4 = 31 + 30 + 31 = 92 days.
        (D(2026, 11, 2), "quarter", (D(2026, 10, 1), D(2026, 12, 31), D(2027, 1, 1), 92, "2026-Q4")),
        # A leap year has 366 days; the label is the year alone.
        (D(2024, 7, 4), "year", (D(2024, 1, 1), D(2024, 12, 31), D(2025, 1, 1), 366, "2024")),
        (D(2026, 12, 31), "year", (D(2026, 1, 1), D(2026, 12, 31), D(2027, 1, 1), 365, "2026")),
    ],
)
def test_period_of_a_date(date, kind, expected):
    assert periods_of([date], [kind]) == [expected]


def test_each_row_uses_its_own_period_kind():
    """One frame, three plans: the kind is read row by row, not from the first row."""
    date = D(2026, 8, 15)
    assert periods_of([date, date, date], ["year", "month", "quarter"]) == [
        (D(2026, 1, 1), D(2026, 12, 31), D(2027, 1, 1), 365, "2026"),
        (D(2026, 8, 1), D(2026, 8, 31), D(2026, 9, 1), 31, "2026-08"),
        (D(2026, 7, 1), D(2026, 9, 30), D(2026, 10, 1), 92, "2026-Q3"),  # 31 + 31 + 30
    ]
