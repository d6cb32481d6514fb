"""Asset checks on `plan_scores`: the invariants of `compscore.scoring.invariants`, in one step.

ERROR checks are blocking: when one fails, its step fails and so does the run, so the run list shows the
run as failed (a wrong number must never look like a success). Every failed check, WARN included, also
tags the run (`compscore/checks_failed`, `common.ui_metadata`).

- `sdi_in_range` (ERROR): SDI and its interval bounds within [0, 100].
- `interval_ordered` (ERROR): low <= high for every interval.
- `estimate_within_interval` (WARN): the estimate inside its bootstrap interval; a percentile interval
  can miss a skewed estimate, so this asks for a look rather than marking the number wrong.
- `every_plan_period_scored` (ERROR): exactly one score row per plan-period with input, for every plan.
- `failed_data_quality_flagged` (ERROR): a plan-period whose data quality is `fail` says `fail` in its
  score row.
"""

from typing import Any

import dagster as dg
import polars as pl

from common.names import RAW_PLANS
from common.ui_metadata import failed_check_tags
from compscore.quality.outputs import STATUS as DATA_QUALITY_STATUS
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
    dg.AssetCheckSpec(
        name,
        asset=ASSET,
        description=text,
        blocking=severity == ERROR,
        additional_deps=[DATA_QUALITY_STATUS, RAW_PLANS],
    )
    for name, (severity, text) in _CHECKS.items()
]


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


@dg.multi_asset_check(
    specs=SPECS,
    ins={
        "plan_scores": dg.AssetIn(ASSET),
        "status": dg.AssetIn(DATA_QUALITY_STATUS),
        "plans": dg.AssetIn(RAW_PLANS),
    },
)
def plan_score_checks(
    context: dg.AssetCheckExecutionContext,
    plan_scores: pl.DataFrame,
    status: pl.DataFrame,
    plans: Any,
):
    """Every invariant of the score table, one result per check (`plans`: plan id -> `Plan`)."""
    failed_tags: dict[str, str] = {}
    for name, found in evaluate(plan_scores, status, set(plans)).items():
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
        context.instance.add_run_tags(context.run.run_id, failed_tags)
