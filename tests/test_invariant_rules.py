"""The invariants of `plan_scores` on tables written by hand, at their boundaries: the SDI range [0, 100],
the 1e-9 float slack of interval checks, the indicators' intervals, the five sample keys, the message.
Plain Polars (no Dagster: `tests/test_score_checks.py` runs the checks themselves)."""

from __future__ import annotations

from typing import Any

import polars as pl

from compscore.scoring import invariants as inv

STATUS = pl.DataFrame(
    {
        "plan_id": ["a", "a", "b"],
        "period": ["2026-Q1", "2026-Q2", "2026-Q1"],
        "data_quality_status": ["ok", "fail", "warn"],
    }
)


def scores(**columns: list[Any]) -> pl.DataFrame:
    """Rows of plan `a`, periods 2026-Q1, 2026-Q2, … (as many as the columns' values)."""
    n = len(next(iter(columns.values())))
    keys = {"plan_id": ["a"] * n, "period": [f"2026-Q{i + 1}" for i in range(n)]}
    return pl.DataFrame({**keys, **columns}, schema_overrides=dict.fromkeys(columns, pl.Float64))


def test_a_violation_says_how_many_and_which():
    assert inv.Violations(0, ()).passed
    assert (
        inv.Violations(0, ()).describe("with an SDI outside [0, 100]")
        == "no plan-period with an SDI outside [0, 100]"
    )
    found = inv.Violations(2, ("a 2026-Q1", "b 2026-Q2"))
    assert not found.passed
    assert found.describe("unscored") == "2 plan-period(s) unscored: a 2026-Q1, b 2026-Q2"


def test_sdi_and_its_bounds_must_lie_in_0_100_inclusive():
    table = scores(
        same_day_index=[0.0, 100.0, 100.0000001, 50.0, 50.0, None, -1e-12],
        same_day_index_low=[0.0, 100.0, 90.0, -1e-9, 40.0, None, 0.0],
        same_day_index_high=[0.0, 100.0, 100.0, 60.0, 100.5, None, 0.0],
    )
    found = inv.sdi_out_of_range(table)
    # Q1, Q2 on the bounds and Q6 (null: nothing to check) pass; Q3 SDI, Q4 low, Q5 high, Q7 SDI do not.
    assert (found.count, found.keys) == (4, ("a 2026-Q3", "a 2026-Q4", "a 2026-Q5", "a 2026-Q7"))


def test_only_five_keys_are_listed_but_every_row_is_counted():
    table = scores(same_day_index=[101.0] * 7, same_day_index_low=[0.0] * 7, same_day_index_high=[100.0] * 7)
    found = inv.sdi_out_of_range(table)
    assert found.count == 7
    assert found.keys == ("a 2026-Q1", "a 2026-Q2", "a 2026-Q3", "a 2026-Q4", "a 2026-Q5")


def test_an_interval_is_inverted_only_beyond_the_float_slack():
    table = scores(
        same_day_index=[50.0, 50.0, 50.0, 50.0],
        same_day_index_low=[60.0 + 2e-9, 60.0 + 5e-10, 40.0, 40.0],
        same_day_index_high=[60.0, 60.0, 60.0, 60.0],
        grr_12m=[0.5, 0.5, 0.5, 0.5],
        grr_12m_low=[0.4, 0.4, 0.4, 0.7],  # Q4: the indicator's interval 0.7 > 0.6
        grr_12m_high=[0.6, 0.6, 0.6, 0.6],
    )
    # Q1: low above high by 2e-9 > 1e-9; Q2 by 5e-10, within the slack; Q3 ordered.
    found = inv.interval_inverted(table)
    assert (found.count, found.keys) == (2, ("a 2026-Q1", "a 2026-Q4"))


def test_an_estimate_outside_its_interval_beyond_the_float_slack():
    table = scores(
        same_day_index=[40.0 - 2e-9, 40.0 - 5e-10, 60.0 + 2e-9, 60.0 + 5e-10, 50.0, 50.0],
        same_day_index_low=[40.0] * 6,
        same_day_index_high=[60.0] * 6,
        early_churn_rate=[0.2, 0.2, 0.2, 0.2, 0.2, 0.35],  # Q6: above its indicator interval
        early_churn_rate_low=[0.1] * 6,
        early_churn_rate_high=[0.3] * 6,
    )
    found = inv.estimate_outside_interval(table)
    assert (found.count, found.keys) == (3, ("a 2026-Q1", "a 2026-Q3", "a 2026-Q6"))


def test_columns_without_both_bounds_are_not_intervals():
    # No SDI bounds at all, and an indicator with a low bound only: nothing to compare.
    table = scores(same_day_index=[50.0], grr_12m=[0.9], grr_12m_low=[0.95])
    assert inv.interval_inverted(table) == inv.Violations(0, ())
    assert inv.estimate_outside_interval(table) == inv.Violations(0, ())


def status_table_scores(**overrides: list[Any]) -> pl.DataFrame:
    columns: dict[str, list[Any]] = {
        "plan_id": ["a", "a", "b"],
        "period": ["2026-Q1", "2026-Q2", "2026-Q1"],
        "data_quality_status": ["ok", "fail", "warn"],
    }
    return pl.DataFrame({**columns, **overrides})


def test_every_plan_period_with_input_has_exactly_one_score_row():
    full = status_table_scores()
    assert inv.missing_or_duplicate_plan_periods(full, STATUS, {"a", "b"}).passed
    only_a = full.filter(pl.col("plan_id") == "a")
    found = inv.missing_or_duplicate_plan_periods(only_a, STATUS, {"a", "b"})
    assert (found.count, found.keys) == (1, ("b 2026-Q1",))
    assert inv.missing_or_duplicate_plan_periods(only_a, STATUS, {"a"}).passed  # plan b not loaded
    doubled = pl.concat([full, full.tail(1), full.head(1)])
    found = inv.missing_or_duplicate_plan_periods(doubled, STATUS, {"a", "b"})
    assert (found.count, found.keys) == (2, ("a 2026-Q1", "b 2026-Q1"))  # sorted by plan and period


def test_a_failed_period_must_say_fail_in_its_score_row():
    hidden = status_table_scores(data_quality_status=["ok", None, "warn"])  # a 2026-Q2 failed in STATUS
    found = inv.fail_not_flagged(hidden, STATUS)
    assert (found.count, found.keys) == (1, ("a 2026-Q2",))
    assert inv.fail_not_flagged(status_table_scores(), STATUS).passed
    other_status = status_table_scores(data_quality_status=["fail", "fail", "ok"])  # not this rule's job
    assert inv.fail_not_flagged(other_status, STATUS).passed


def test_the_float_slack_itself_is_allowed():
    # Exactly 1e-9 beyond the interval (the same float sums as the rule's) is still inside.
    table = scores(
        same_day_index=[40.0 - 1e-9, 60.0 + 1e-9, 50.0],
        same_day_index_low=[40.0, 40.0, 60.0 + 1e-9],
        same_day_index_high=[60.0, 60.0, 60.0],
    )
    assert inv.estimate_outside_interval(table.head(2)).passed
    assert inv.interval_inverted(table).passed


def test_a_doubled_score_row_is_caught_even_for_a_period_without_input():
    # a 2026-Q3 has no data-quality row, but two score rows: it is listed by its own key.
    doubled = pl.concat(
        [status_table_scores(), status_table_scores().head(1).with_columns(period=pl.lit("2026-Q3"))]
    )
    doubled = pl.concat([doubled, doubled.tail(1)])
    found = inv.missing_or_duplicate_plan_periods(doubled, STATUS, {"a", "b"})
    assert (found.count, found.keys) == (1, ("a 2026-Q3",))
