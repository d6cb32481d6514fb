"""Sensors: launch the months a new or changed drop affects; rescore once drops have landed; record every
failed run.

`incoming_drops` looks at `<source>/incoming/YYYY-MM/<event table>.csv|parquet`. Its cursor is the state
(modification time and size) of every drop file seen at the last evaluation; a file that appeared,
changed or disappeared since then marks its month, and the sensor requests exactly one `incoming_monthly`
run per marked month. Folders that are not a month within the partitions, and files that are not event
tables, are reported and skipped.

`refresh_after_drops` launches `full_refresh` (raw -> validated -> marts -> scores) when a month's drop
has been stored since the raw layer last ran, once no `incoming_monthly` run or backfill is queued or in
progress: a backfill of many months ends in one rescoring, not one per month.

`record_run_failure` appends one JSON line per failed compscore run to `<warehouse>/run_failures.jsonl`:
job, run id, partition, when, and each failed step with its error; runs started from the UI, a schedule,
a sensor or `dagster job execute` alike.
"""

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import dagster as dg

from common.names import INCOMING_LOAD_REJECTS as INCOMING_REJECTS
from common.names import RAW_LOAD_REJECTS as RAW_REJECTS
from common.names import incoming_asset_name
from common.partitions import INCOMING_DIR, MONTHLY, partition_of
from common.resources import SourceFolder, Warehouse
from compscore.canonical_io import FORMATS
from compscore.schema import EVENT_TABLES
from pipelines.jobs import JOBS, full_refresh, incoming_monthly

FAILURE_LOG = "run_failures.jsonl"
INCOMING_ASSETS = [*(incoming_asset_name(t.name) for t in EVENT_TABLES), INCOMING_REJECTS]
EVENT_FILES = {f"{t.name}.{fmt}" for t in EVENT_TABLES for fmt in FORMATS}


def drop_files_state(source: Path) -> dict[str, str]:
    """`YYYY-MM/<file>` -> `<mtime_ns>:<size>` for every event-table file in the source's drops."""
    incoming = source / INCOMING_DIR
    if not incoming.is_dir():
        return {}
    state = {}
    for path in sorted(incoming.glob("*/*")):
        if path.is_file() and path.name in EVENT_FILES:
            st = path.stat()
            state[f"{path.parent.name}/{path.name}"] = f"{st.st_mtime_ns}:{st.st_size}"
    return state


def changed_months(previous: dict[str, str], current: dict[str, str]) -> set[str]:
    """Drop folders (`YYYY-MM`) with a file added, changed or removed between two states."""
    changed = {p for p in current if previous.get(p) != current[p]} | (previous.keys() - current.keys())
    return {p.split("/", 1)[0] for p in changed}


def _run_key(month: str, state: dict[str, str]) -> str:
    files = sorted((p, s) for p, s in state.items() if p.startswith(f"{month}/"))
    return f"{month}:{hashlib.sha256(json.dumps(files).encode()).hexdigest()[:16]}"


@dg.sensor(
    job=incoming_monthly,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Loads each month whose drop in <source>/incoming/YYYY-MM/ is new or has changed.",
)
def incoming_drops(context: dg.SensorEvaluationContext, source: SourceFolder) -> dg.SensorResult:
    previous = json.loads(context.cursor) if context.cursor else {}
    current = drop_files_state(source.directory)
    valid = set(MONTHLY.get_partition_keys())
    requests, skipped = [], []
    for month in sorted(changed_months(previous, current)):
        partition = partition_of(month)
        if partition is None or partition not in valid:
            skipped.append(month)
            continue
        requests.append(
            dg.RunRequest(
                run_key=_run_key(month, current),
                partition_key=partition,
                tags={"compscore/drop": f"{INCOMING_DIR}/{month}"},
            )
        )
    if skipped:
        context.log.warning(
            f"ignored drop folders {skipped}: not a month (YYYY-MM) within the partitions "
            f"{MONTHLY.get_first_partition_key()} .. {MONTHLY.get_last_partition_key()}"
        )
    skip = (
        None if requests else dg.SkipReason(f"no new or changed drops in {source.directory / INCOMING_DIR}")
    )
    return dg.SensorResult(
        run_requests=requests, skip_reason=skip, cursor=json.dumps(current, sort_keys=True)
    )


UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _latest_storage_id(instance: dg.DagsterInstance, asset: str) -> int | None:
    """Event-log id of the asset's latest materialisation (any partition): later events have larger ids."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    return records[0].storage_id if records else None


def requested_backfills(instance: dg.DagsterInstance) -> list[Any]:
    """The instance's backfills that are requested and not finished (`PartitionBackfill` objects).

    The one use of a private Dagster module: dagster 1.13 does not re-export `BulkActionStatus`.
    tests/test_operations.py calls this, so it fails if Dagster moves the class.
    """
    from dagster._core.execution.backfill import BulkActionStatus

    return list(instance.get_backfills(status=BulkActionStatus.REQUESTED))


def drops_in_flight(instance: dg.DagsterInstance) -> int:
    """Unfinished `incoming_monthly` runs plus requested backfills that load drops (job or asset backfill)."""
    runs = instance.get_runs_count(dg.RunsFilter(job_name=incoming_monthly.name, statuses=UNFINISHED))
    incoming_keys = {dg.AssetKey(incoming_asset) for incoming_asset in INCOMING_ASSETS}
    backfills = [
        b
        for b in requested_backfills(instance)
        if b.job_name == incoming_monthly.name or incoming_keys & set(b.asset_selection or [])
    ]
    return runs + len(backfills)


@dg.sensor(
    job=full_refresh,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Rescores (full_refresh) after monthly drops have been loaded, once no drop run or backfill is "
        "pending, so the scores of every period a new month touches are recomputed."
    ),
)
def refresh_after_drops(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    instance = context.instance
    drop = _latest_storage_id(instance, INCOMING_REJECTS)
    if drop is None:
        return dg.SensorResult(skip_reason=dg.SkipReason("no monthly drop has been loaded"))
    raw = _latest_storage_id(instance, RAW_REJECTS)
    if raw is not None and raw > drop:
        return dg.SensorResult(skip_reason=dg.SkipReason("the raw layer already includes the latest drop"))
    pending = drops_in_flight(instance)
    if pending:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"waiting for {pending} drop run(s) or backfill(s) to finish")
        )
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"after-drop-event-{drop}", tags={"compscore/trigger": "drops"})]
    )


def _root_cause(error: Any) -> str | None:
    """The innermost error's message: the user's exception under Dagster's step-execution wrapper."""
    if error is None:
        return None
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def failure_record(context: dg.RunFailureSensorContext) -> dict:
    """What went wrong in a failed run, as one JSON-able record."""
    run = context.dagster_run
    steps = [
        {
            "step": event.step_key,
            "error": _root_cause(event.step_failure_data.error),
        }
        for event in context.get_step_failure_events()
    ]
    return {
        "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "job": run.job_name,
        "run_id": run.run_id,
        "partition": run.tags.get("dagster/partition"),
        "message": context.failure_event.message,
        "failed_steps": steps,
    }


RECORDED_JOBS = frozenset({*(job.name for job in JOBS), "__ASSET_JOB", "__ephemeral_asset_job__"})
"""Jobs whose failures `record_run_failure` records: compscore's, and assets materialised from the UI
(`__ASSET_JOB`) or by a script (`dagster.materialize`)."""


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Appends a record of every failed compscore run to <warehouse>/{FAILURE_LOG}.",
    # A run started with `dagster job execute` (or a script) has no code-location origin, and a sensor that
    # monitors only its own location never matches it: such failures went unrecorded. So every location's
    # runs are seen, and the sensor keeps compscore's jobs by name.
    monitor_all_code_locations=True,
)
def record_run_failure(context: dg.RunFailureSensorContext, warehouse: Warehouse) -> dg.SkipReason | None:
    if context.dagster_run.job_name not in RECORDED_JOBS:
        return dg.SkipReason(f"{context.dagster_run.job_name} is not a compscore job")
    record = failure_record(context)
    path = warehouse.directory / FAILURE_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
    context.log.info(f"recorded failed run {record['run_id']} of {record['job']} in {path}")


SENSORS = [incoming_drops, refresh_after_drops, record_run_failure]
