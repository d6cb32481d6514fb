"""The `marts` and `scores` layers: pay attribution, rep-period books, outcomes, incentive curves and the
plan scores, from the map and reduce of `compscore.scoring.shards` on the validated tables: one step plans
static shards of reps, one step per shard scores it, one step combines them (what `score_company` does in
one process). The shard count is op config (`plan_shards.config.shards`) or $COMPSCORE_SCORING_SHARDS.

Every score table carries the run's provenance (`compscore.provenance`); this run's plan scores are also
appended to the warehouse's history (`scores.plan_scores_history`, `scores.latest_plan_scores`)."""

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from checks.score_checks import SPECS as SCORE_CHECKS
from checks.score_checks import score_check_results
from common.metadata import FINANCE, KINDS
from common.names import MARTS, RAW_PLANS, SCORES
from common.ui_metadata import (
    AS_OF_TAG,
    SOURCE_METADATA,
    SOURCE_TAG,
    add_run_tags,
    latest_source_folder,
    plan_score_metadata,
)
from common.versions import code_version
from compscore.dataset import CanonicalScans
from compscore.history import record_warehouse_run
from compscore.plans import Plan
from compscore.provenance import Provenance
from compscore.quality.outputs import STATUS as DATA_QUALITY_STATUS
from compscore.report.files import report_paths
from compscore.schema import TABLES
from compscore.scoring.display import headline_per_plan, plan_scores_markdown
from compscore.scoring.finish import COMPONENT_MARGINALS, finished_score_tables
from compscore.scoring.partitioned import (
    ShardBatches,
    partition_scans,
    score_batches,
    shard_batch_numbers,
)
from compscore.scoring.scores import combine_shards as combine
from compscore.scoring.shards import (
    ScoringContext,
    ShardTables,
    run_shards_folder,
    shard_run_ids,
)

_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "pay_attribution": (
        MARTS,
        "Every statement line (given, or computed from the plan rules where a plan period has none) with "
        "its channel (same_day, retention, referral; clawback and adjustment kept apart), the contingency "
        "c of new-business pay, and its amount split by channel. See docs/methodology.md.",
    ),
    "rep_period_books": (
        MARTS,
        "One row per rep, plan and plan period: won dollars by deal type, credited dollars and attainment, "
        "won and lost renewal dollars, referrals credited, and the rep's marginal pay per dollar by channel.",
    ),
    "plan_outcomes": (
        MARTS,
        "Outcome indicators per plan and period (early churn, 12-month retention, referrals per 100 "
        "accounts, period-end bunching and discount gap) with numerator, denominator, 90 % bootstrap "
        "interval, and the date each becomes mature. Associations, not proof of cause.",
    ),
    "pay_reconciliation": (
        MARTS,
        "Given statement lines that the plan rules do not explain, and pay the rules imply that no line "
        "shows, matched on rep, plan, component, line type, deal, referral and date.",
    ),
    "pay_reconciliation_totals": (
        MARTS,
        "Per plan and period: given pay the plan rules do not explain, and pay they imply that no "
        "statement line shows (from pay_reconciliation).",
    ),
    "plan_incentive_curves": (
        SCORES,
        "Marginal pay per dollar by channel for each plan at attainments 0-200 %, before any cap binds.",
    ),
    COMPONENT_MARGINALS: (
        SCORES,
        "Which rule drives the SDI: each plan component's marginal pay per dollar by channel at "
        "attainments 0-200 %, priced alone as in plan_incentive_curves (they sum to the plan's curve).",
    ),
    "plan_scores": (
        SCORES,
        "The headline: per plan and plan period, the Same-Day Index (0-100; 100 = pay rewards nothing but "
        "the close) with its 90 % interval, the same-day multiple, marginal pay per $ by channel, realized "
        "shares, clawbacks, the pull-forward premium, the outcome indicators, confidence and data-quality "
        "status. Formulas and units: docs/methodology.md.",
    ),
}

UPSTREAM = [*(t.name for t in TABLES), RAW_PLANS, DATA_QUALITY_STATUS]
"""The validated canonical tables, the parsed plans and the per plan-period data-quality status."""

DAILY_SCORES = dg.FreshnessPolicy.cron(deadline_cron="0 7 * * *", lower_bound_delta=dt.timedelta(hours=1))
"""plan_scores is expected each day between 06:00 and 07:00 UTC: the `daily_full_refresh` schedule's run
(06:00 UTC, off by default; docs/operations.md)."""

SPECS = [
    dg.AssetSpec(
        name,
        description=description,
        group_name=group,
        owners=FINANCE,
        kinds=KINDS,
        code_version=code_version(__file__),
        freshness_policy=DAILY_SCORES if name == "plan_scores" else None,
    )
    for name, (group, description) in _DESCRIPTIONS.items()
]


def _run_identity(context: dg.OpExecutionContext, as_of: dt.date) -> dict[str, dg.MetadataValue]:
    """Tag the run with the as-of date and the source folder the raw layer last read; the same as
    metadata of plan_scores."""
    tags = {AS_OF_TAG: as_of.isoformat()}
    source = latest_source_folder(context.instance, RAW_PLANS, context.run.run_id)
    if source is not None:
        tags[SOURCE_TAG] = source
    add_run_tags(context, tags)
    return {SOURCE_METADATA: dg.MetadataValue.path(source)} if source else {}


SHARDS_ENV_VAR = "COMPSCORE_SCORING_SHARDS"
DEFAULT_SHARDS = 2
SHARD_IO_MANAGER = "shard_io_manager"
"""The resource that passes shards between steps (registered in `pipelines.definitions`)."""


class ShardPlanConfig(dg.Config):
    shards: int | None = Field(
        default=None,
        description=(
            f"Shards of reps, each scored as its own step; default: ${SHARDS_ENV_VAR}, else {DEFAULT_SHARDS}."
        ),
    )


def shard_count(config: ShardPlanConfig) -> int:
    """The configured shard count, else the environment's, else `DEFAULT_SHARDS`; at least 1."""
    given = config.shards if config.shards is not None else dg.EnvVar(SHARDS_ENV_VAR).get_value()
    text = str(given if given not in (None, "") else DEFAULT_SHARDS)
    if not text.isdigit() or int(text) < 1:
        raise dg.Failure(
            f"shard count: expected a whole number of at least 1 (config or ${SHARDS_ENV_VAR}), got {text!r}"
        )
    return int(text)


def _validated_scans(raw_plans: dict[str, Plan], tables: dict[str, Any]) -> CanonicalScans:
    """The validated tables as the IO manager scans them (each query reads only its columns), with the
    plans; statement lines are given when the validated table has any."""
    frames: dict[str, pl.LazyFrame] = {spec.name: tables[spec.name] for spec in TABLES}
    given = frames["commission_lines"].select(pl.len()).collect().item() > 0
    return CanonicalScans(tables=frames, plans=raw_plans, given_commission_lines=given)


def partition_folder(warehouse: Path, run_id: str) -> Path:
    """Where `plan_shards` writes the run's validated rows cut by shard (`partition_scans`), which each
    shard step reads its own of; removed with the run's shards."""
    return run_shards_folder(warehouse, run_id) / PARTITION_FOLDER


PARTITION_FOLDER = "partition"


_TABLE_INS = {**{t.name: dg.In(pl.LazyFrame) for t in TABLES}, RAW_PLANS: dg.In(Any)}
"""The validated tables come in as lazy scans (the IO manager scans a `pl.LazyFrame` input), so a step
reads only the columns scoring needs."""


def remove_shards_of_ended_runs(instance: dg.DagsterInstance, root: Path, current_run_id: str) -> list[str]:
    """A run that failed before its combine step leaves its shards; remove those of every ended run and
    return their run ids (a shard folder of a run this instance does not know is left alone: another
    instance may own it)."""
    removed = []
    for run_id in shard_run_ids(root):
        run = instance.get_run_by_id(run_id)
        if run_id != current_run_id and run is not None and run.is_finished:
            shutil.rmtree(run_shards_folder(root, run_id), ignore_errors=True)
            removed.append(run_id)
    return removed


@dg.op(
    ins=_TABLE_INS,
    out={
        "batches": dg.DynamicOut(Any, io_manager_key=SHARD_IO_MANAGER),
        "shared_context": dg.Out(Any, io_manager_key=SHARD_IO_MANAGER),
    },
    required_resource_keys={"warehouse"},
)
def plan_shards(context: dg.OpExecutionContext, config: ShardPlanConfig, **tables: Any):
    """Cut the reps into static shards and write each shard's validated rows to its own files
    (`compscore.scoring.partitioned.partition_scans`, streamed from the validated tables: no table is
    held whole), one output per shard; compute once what every shard shares (the scoring context: plan
    tables, cross-rep frames, the rep-period grid), which the shard and combine steps read instead of
    recomputing it; first remove the shards earlier runs left behind."""
    root = context.resources.warehouse.directory
    removed = remove_shards_of_ended_runs(context.instance, root, context.run_id)
    if removed:
        context.log.info(f"removed the shards left by ended runs {', '.join(removed)}")
    scans = _validated_scans(tables.pop(RAW_PLANS), tables)
    shards = shard_count(config)
    company = partition_scans(scans, partition_folder(root, context.run_id), balanced_over=shards)
    yield dg.Output(company.context, output_name="shared_context")
    groups = shard_batch_numbers(len(company.batches), shards)
    largest = max(batch.rep_ids.len() for batch in company.batches)
    context.log.info(f"{len(groups)} shards of up to {len(groups[0])} batches of up to {largest:,} reps")
    for number, numbers in enumerate(groups):
        yield dg.DynamicOutput(ShardBatches(tuple(numbers)), mapping_key=str(number), output_name="batches")


@dg.op(
    ins={"batch": dg.In(Any), "shared_context": dg.In(Any), RAW_PLANS: dg.In(Any)},
    out=dg.Out(Any, io_manager_key=SHARD_IO_MANAGER),
    required_resource_keys={"warehouse"},
)
def score_shard(
    context: dg.OpExecutionContext, batch: ShardBatches, shared_context: ScoringContext, **inputs: Any
) -> ShardTables:
    """Payout engine, books, indicator parts, attribution and reconciliation of one shard's reps: its
    batches (`plan_shards` wrote their files) read and scored one at a time, so that memory follows the
    batch (`compscore.scoring.partitioned.score_batches`)."""
    folder = partition_folder(context.resources.warehouse.directory, context.run_id)
    return score_batches(folder, list(batch.numbers), inputs[RAW_PLANS], shared_context)


@dg.op(
    ins={
        "parts": dg.In(Any),
        "shared_context": dg.In(Any),
        RAW_PLANS: dg.In(Any),
        DATA_QUALITY_STATUS: dg.In(Any),
    },
    out={
        **{spec.key.to_python_identifier(): dg.Out(Any) for spec in SPECS},
        **{check.get_python_identifier(): dg.Out(dagster_type=None) for check in SCORE_CHECKS},
    },
    required_resource_keys={"source", "warehouse"},
)
def combine_shards(
    context: dg.OpExecutionContext,
    parts: list[ShardTables],
    shared_context: ScoringContext,
    **inputs: Any,
):
    """The cross-shard parts (Δ, marginals, bootstrap, scores), the finished tables with their provenance,
    and this run's plan scores appended to the history; then the checks of `plan_scores`
    (`checks.score_checks`: a blocking one that fails fails this step once its tables are written). The
    run's shard folder is removed at the end. It reads no validated table: what it needs of them is in
    the shards and the scoring context."""
    raw_plans: dict[str, Plan] = inputs[RAW_PLANS]
    result = combine(parts, shared_context, inputs[DATA_QUALITY_STATUS])
    del parts
    context.log.info(f"scored {result.plan_scores.height} plan periods as of {result.as_of}")
    run_id = context.run.run_id
    provenance = Provenance.now(run_id, result.as_of, str(context.resources.source.directory))
    outputs = finished_score_tables(result, raw_plans, provenance)
    root = context.resources.warehouse.directory
    history = record_warehouse_run(outputs["plan_scores"], root)
    for name, frame in outputs.items():
        metadata: dict[str, Any] = {}
        if name == "plan_scores":
            metadata["scores"] = dg.MetadataValue.md(plan_scores_markdown(frame))
            metadata["as_of"] = dg.MetadataValue.text(result.as_of.isoformat())
            metadata["history"] = dg.MetadataValue.md(
                f"`{history.layer}.plan_scores_history` ({history.row_count} rows this run, run `{run_id}`); "
                f"latest run: `{history.layer}.latest_plan_scores`"
            )
            metadata["plan_review_report"] = dg.MetadataValue.path(str(report_paths(root, run_id).html))
            metadata |= _run_identity(context, result.as_of)
            kinds = {plan_id: plan.period for plan_id, plan in raw_plans.items()}
            metadata |= plan_score_metadata(headline_per_plan(frame, kinds, result.as_of))
        yield dg.Output(frame, output_name=name, metadata=metadata)
    shutil.rmtree(run_shards_folder(root, run_id), ignore_errors=True)
    status: pl.DataFrame = inputs[DATA_QUALITY_STATUS]
    yield from score_check_results(outputs["plan_scores"], status, set(raw_plans), context.instance, run_id)


@dg.graph_multi_asset(
    outs={spec.key.to_python_identifier(): dg.AssetOut.from_spec(spec, dagster_type=Any) for spec in SPECS},
    ins={name: dg.AssetIn(name) for name in UPSTREAM},
    check_specs=SCORE_CHECKS,
    can_subset=False,
)
def plan_scoring(**tables):
    """Score every plan on the rows that passed validation, one step per shard of reps and one step that
    combines them; keep this run's plan scores in the history."""
    batches, shared = plan_shards(**{name: tables[name] for name in _TABLE_INS})
    parts = batches.map(
        lambda batch: score_shard(batch=batch, shared_context=shared, **{RAW_PLANS: tables[RAW_PLANS]})
    ).collect()
    return combine_shards(
        parts=parts,
        shared_context=shared,
        **{RAW_PLANS: tables[RAW_PLANS], DATA_QUALITY_STATUS: tables[DATA_QUALITY_STATUS]},
    )


_GROUPS = {spec.key: spec.group_name for spec in SPECS}
plan_scoring = plan_scoring.map_asset_specs(
    lambda spec: spec.replace_attributes(group_name=_GROUPS[spec.key])
)
"""`graph_multi_asset` takes one group for all its assets; ours are in two layers (marts, scores)."""
