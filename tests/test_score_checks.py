"""The checks on `plan_scores`: each invariant caught on a hand-made table, and a failed ERROR check fails
the run and tags it."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl
import pytest

from checks.score_checks import SPECS, evaluate, score_check_results
from common.ui_metadata import CHECKS_FAILED_TAG, failed_checks
from compscore.scoring import invariants as inv

STATUS = pl.DataFrame(
    {
        "plan_id": ["a", "a", "b"],
        "period": ["2026-Q1", "2026-Q2", "2026-Q1"],
        "data_quality_status": ["ok", "fail", "warn"],
    }
)


def _scores(**overrides: list[Any]) -> pl.DataFrame:
    """Three clean rows matching STATUS; `overrides` replace whole columns."""
    columns: dict[str, list[Any]] = {
        "plan_id": ["a", "a", "b"],
        "period": ["2026-Q1", "2026-Q2", "2026-Q1"],
        "same_day_index": [50.0, 100.0, 0.0],
        "same_day_index_low": [40.0, 100.0, 0.0],
        "same_day_index_high": [60.0, 100.0, 5.0],
        "data_quality_status": ["ok", "fail", "warn"],
    }
    return pl.DataFrame({**columns, **overrides})


def test_a_clean_table_passes_every_check() -> None:
    found = evaluate(_scores(), STATUS, {"a", "b"})
    assert {name: v.count for name, v in found.items()} == dict.fromkeys(found, 0)
    assert found["sdi_in_range"].describe("x") == "no plan-period x"


@pytest.mark.parametrize(
    ("sdi", "low", "high", "broken"),
    [
        ([100.5, 100.0, 0.0], [40.0, 100.0, 0.0], [60.0, 100.0, 5.0], 1),  # just above 100
        ([50.0, 100.0, 0.0], [-0.1, 100.0, 0.0], [60.0, 100.0, 5.0], 1),  # a low bound below 0
        ([50.0, 100.0, -1.0], [40.0, 100.0, -2.0], [60.0, 101.0, 5.0], 2),  # two rows
        ([None, 100.0, 0.0], [None, 100.0, 0.0], [None, 100.0, 5.0], 0),  # null SDI: nothing to check
    ],
)
def test_sdi_outside_0_100_is_caught_at_the_boundary(sdi, low, high, broken) -> None:
    scores = _scores(same_day_index=sdi, same_day_index_low=low, same_day_index_high=high)
    assert inv.sdi_out_of_range(scores).count == broken


def test_an_inverted_or_missed_interval_is_caught() -> None:
    inverted = _scores(same_day_index_low=[61.0, 100.0, 0.0])  # a: low 61 > high 60
    assert inv.interval_inverted(inverted).keys == ("a 2026-Q1",)
    outside = _scores(same_day_index=[70.0, 100.0, 0.0])  # a: 70 above its high of 60
    found = inv.estimate_outside_interval(outside)
    assert (found.count, found.keys) == (1, ("a 2026-Q1",))
    assert inv.estimate_outside_interval(_scores(same_day_index=[60.0, 100.0, 0.0])).passed  # on the edge


def test_a_missing_or_doubled_plan_period_is_caught_only_for_plans_present() -> None:
    missing = _scores().filter(pl.col("plan_id") == "a")
    assert inv.missing_or_duplicate_plan_periods(missing, STATUS, {"a", "b"}).keys == ("b 2026-Q1",)
    assert inv.missing_or_duplicate_plan_periods(missing, STATUS, {"a"}).passed  # plan b not loaded
    doubled = pl.concat([_scores(), _scores().head(1)])
    assert inv.missing_or_duplicate_plan_periods(doubled, STATUS, {"a", "b"}).keys == ("a 2026-Q1",)


def test_a_fail_period_scored_without_saying_so_is_caught() -> None:
    hidden = _scores(data_quality_status=["ok", "ok", "warn"])  # a 2026-Q2 is `fail` in STATUS
    assert inv.fail_not_flagged(hidden, STATUS).keys == ("a 2026-Q2",)
    unrelated = _scores(data_quality_status=["ok", "fail", "ok"])  # b's warn dropped: not this rule's job
    assert inv.fail_not_flagged(unrelated, STATUS).passed


def _run_checks(scores: pl.DataFrame, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """An asset that writes `scores` as `plan_scores` and then yields the checks' results, as the scoring
    step does (`assets.scoring.combine_shards`)."""

    @dg.multi_asset(specs=[dg.AssetSpec("plan_scores")], check_specs=SPECS)
    def plan_scores(context):
        yield dg.MaterializeResult(asset_key="plan_scores")
        yield from score_check_results(scores, STATUS, {"a", "b"}, context.instance, context.run.run_id)

    return dg.materialize([plan_scores], instance=instance, raise_on_error=False)


def test_a_failed_error_check_fails_the_run_and_tags_it() -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = _run_checks(_scores(same_day_index=[120.0, 100.0, 0.0]), instance)

    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["sdi_in_range"].passed
    assert evaluations["sdi_in_range"].severity == dg.AssetCheckSeverity.ERROR
    assert evaluations["sdi_in_range"].description == (
        "1 plan-period(s) with an SDI or bound outside [0, 100]: a 2026-Q1"
    )
    assert evaluations["every_plan_period_scored"].passed
    tags = instance.get_run_by_id(result.run_id).tags
    assert tags[CHECKS_FAILED_TAG] == "true"
    # 120 is outside [0, 100] and outside its interval [40, 60]: one ERROR, one WARN.
    assert failed_checks(tags) == {
        "plan_scores.sdi_in_range": "ERROR",
        "plan_scores.estimate_within_interval": "WARN",
    }


def test_a_failed_warn_check_leaves_the_run_green_but_tagged() -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = _run_checks(_scores(same_day_index=[59.0, 100.0, 6.0]), instance)  # b: 6 above its high of 5

    assert result.success
    tags = instance.get_run_by_id(result.run_id).tags
    assert failed_checks(tags) == {"plan_scores.estimate_within_interval": "WARN"}
