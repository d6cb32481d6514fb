"""Asset checks on `plan_scores`: the invariants of `compscore.scoring.invariants`.

They run in the step that writes `plan_scores` (`assets.scoring.combine_shards` yields
`score_check_results` after its tables): a step of their own cost every `full_refresh` a process start on
its critical path, since `warehouse_database` waits for the blocking checks (2.8 s of a 10M run's wall
in session 14; docs/performance.md, "Issue 9, sessions 15 and 16").

ERROR checks are blocking: when one fails, the scoring step fails after writing its tables, and so does the
run, so the run list shows the run as failed and the warehouse's database is not loaded (a wrong number
must never look like a success). Every failed check, WARN included, also tags the run
(`compscore/checks_failed`, `common.ui_metadata`).

- `sdi_in_range` (ERROR): SDI and its interval bounds within [0, 100].
- `interval_ordered` (ERROR): low <= high for every interval.
- `estimate_within_interval` (WARN): the estimate inside its bootstrap interval; a percentile interval
  can miss a skewed estimate, so this asks for a look rather than marking the number wrong.
- `every_plan_period_scored` (ERROR): exactly one score row per plan-period with input, for every plan.
- `failed_data_quality_flagged` (ERROR): a plan-period whose data quality is `fail` says `fail` in its
  score row.
"""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from common.ui_metadata import failed_check_tags
from compscore.scoring import invariants as inv

ASSET = "plan_scores"
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN

_CHECKS: dict[str, tuple[dg.AssetCheckSeverity, str]] = {
    "sdi_in_range": (ERROR, "Same-Day Index and its 90 % interval bounds lie within [0, 100]."),
    "interval_ordered": (ERROR, "Every interval's low bound is at most its high bound."),
    "estimate_within_interval": (
        WARN,
        "Every estimate (SDI, indicators) lies within its bootstrap interval; a percentile interval can "
        "miss a skewed estimate, so this warns.",
    ),
    "every_plan_period_scored": (
        ERROR,
        "Exactly one score row per plan-period with input (data_quality_status), for every plan present.",
    ),
    "failed_data_quality_flagged": (
        ERROR,
        "A plan-period whose data quality is `fail` says `fail` in its score row's data_quality_status.",
    ),
}

SPECS = [
    dg.AssetCheckSpec(name, asset=ASSET, description=text, blocking=severity == ERROR)
    for name, (severity, text) in _CHECKS.items()
]
"""The checks' specs, for the asset that computes `plan_scores` (its inputs include
`data_quality_status` and `raw_plans`, which the checks also read)."""


def evaluate(scores: pl.DataFrame, status: pl.DataFrame, plan_ids: set[str]) -> dict[str, inv.Violations]:
    """Check name -> the rows breaking it."""
    return {
        "sdi_in_range": inv.sdi_out_of_range(scores),
        "interval_ordered": inv.interval_inverted(scores),
        "estimate_within_interval": inv.estimate_outside_interval(scores),
        "every_plan_period_scored": inv.missing_or_duplicate_plan_periods(scores, status, plan_ids),
        "failed_data_quality_flagged": inv.fail_not_flagged(scores, status),
    }


_WHAT = {
    "sdi_in_range": "with an SDI or bound outside [0, 100]",
    "interval_ordered": "with an interval whose low exceeds its high",
    "estimate_within_interval": "with an estimate outside its interval",
    "every_plan_period_scored": "missing from plan_scores or scored more than once",
    "failed_data_quality_flagged": "of failed data quality not flagged `fail`",
}


def score_check_results(
    plan_scores: pl.DataFrame,
    status: pl.DataFrame,
    plan_ids: set[str],
    instance: dg.DagsterInstance,
    run_id: str,
) -> Iterator[dg.AssetCheckResult]:
    """One result per check of `plan_scores` (`status`: `data_quality_status`; `plan_ids`: the plans
    loaded); the run `run_id` is tagged with every failed check once all are evaluated."""
    failed_tags: dict[str, str] = {}
    for name, found in evaluate(plan_scores, status, plan_ids).items():
        severity = _CHECKS[name][0]
        if not found.passed:
            failed_tags |= failed_check_tags(ASSET, name, severity)
        yield dg.AssetCheckResult(
            asset_key=ASSET,
            check_name=name,
            passed=found.passed,
            severity=severity,
            description=found.describe(_WHAT[name]),
            metadata={
                "violations": dg.MetadataValue.int(found.count),
                "example_plan_periods": dg.MetadataValue.json(list(found.keys)),
                "plan_periods_checked": dg.MetadataValue.int(plan_scores.height),
            },
        )
    if failed_tags:
        instance.add_run_tags(run_id, failed_tags)
