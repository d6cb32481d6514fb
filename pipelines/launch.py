"""Run a job of the `compscore` code location from the command line and wait for it.

    python -m pipelines.launch full_refresh [-c run.yaml ...] [--tags '{"k": "v"}'] [--partition KEY]

`dagster job execute -m pipelines.definitions` runs a job outside any workspace: the run is recorded
without a code location, so the UI's job page says "No runs found" and the timeline shows a phantom
`pipelines.definitions` location. `dagster job launch -w workspace.yaml -l compscore` records the run in
the right location but only hands it over (to the daemon's queue) and returns at once. This entry point
does what the scripts need: it loads `workspace.yaml`, creates the run in the `compscore` location (as the
UI's Launch button does), launches it straight away with the instance's run launcher (a subprocess of the
location's code server; no daemon needed, the run queue is bypassed), waits for it, prints each failed
step's one-line cause and each failed asset check, and exits 0 when the run succeeded, 1 when it did not.
The run's own log goes to the console as it runs (`-c scripts/run-config.yaml` keeps it to INFO).

The location's code server lives as long as this process, so the run never outlives its server.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._cli.job import _create_run
from dagster._cli.utils import get_possibly_temporary_instance_for_cli
from dagster._cli.workspace.cli_target import (
    get_code_location_from_workspace,
    get_remote_job_from_remote_repo,
    get_remote_repository_from_code_location,
    get_run_config_from_cli_opts,
)
from dagster._core.storage.tags import PARTITION_NAME_TAG
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from common.ui_metadata import CHECKS_FAILED_TAG, failed_checks

LOCATION = "compscore"
"""The code location of workspace.yaml that every documented command runs in."""
WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"
POLL_S = 1.0


@contextmanager
def workspace(instance: dg.DagsterInstance, path: Path = WORKSPACE) -> Iterator[WorkspaceRequestContext]:
    """The workspace of `path`, its code locations served by gRPC subprocesses while the block runs."""
    target = WorkspaceFileTarget(paths=[str(path)])
    with WorkspaceProcessContext(instance, target) as process_context:
        yield process_context.create_request_context()


def launch(
    instance: dg.DagsterInstance,
    request: WorkspaceRequestContext,
    job_name: str,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
) -> dg.DagsterRun:
    """Create a run of `job_name` in the `compscore` location and start it now; returns the run."""
    location = get_code_location_from_workspace(request, LOCATION)
    repository = get_remote_repository_from_code_location(location, None)
    job = get_remote_job_from_remote_repo(repository, job_name)
    run = _create_run(
        instance=instance,
        code_location=location,
        remote_repo=repository,
        remote_job=job,
        run_config=run_config or {},
        tags=tags or {},
        op_selection=None,
        run_id=None,
    )
    return instance.launch_run(run.run_id, request)


def wait(instance: dg.DagsterInstance, run_id: str, timeout_s: float | None = None) -> dg.DagsterRun:
    """Poll the run until it has finished (or `timeout_s` has passed: then raise TimeoutError)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run.status.value} after {timeout_s:g} s")
        time.sleep(POLL_S)


def _failure_cause(data) -> str:
    """A failed step's cause: a `dagster.Failure`'s own description, else the error's message."""
    if data is None:
        return "(no message)"
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    return data.error.message.strip() if data.error else "(no message)"


def outcome_lines(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """What a person needs after the run: each failed step with its one-line cause, each failed check
    with its severity and description, then the run's status."""
    lines = []
    for record in instance.get_records_for_run(run.run_id, limit=None).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            cause = _failure_cause(data)
            lines.append(f"step {event.step_key} failed: {cause}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION and not data.passed:
            key = data.asset_check_key
            lines.append(
                f"check {key.asset_key.to_user_string()}.{key.name} failed ({data.severity.value}): "
                f"{data.description or ''}"
            )
    lines.append(f"run {run.run_id}: {run.status.value}")
    if failed_checks(run.tags):
        lines.append(f"the run is tagged {CHECKS_FAILED_TAG}=true (filter the run list on it)")
    return lines


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.launch", description=__doc__.split("\n")[0])
    parser.add_argument("job", help="job of the compscore location, e.g. full_refresh")
    parser.add_argument("-c", "--config", action="append", default=[], help="run config YAML file(s)")
    parser.add_argument("--tags", default="{}", help='run tags as JSON, e.g. \'{"team": "finance"}\'')
    parser.add_argument("--partition", help="partition key of a partitioned job, e.g. 2026-03-01")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    run_config = get_run_config_from_cli_opts(tuple(args.config), None)
    tags = json.loads(args.tags)
    if args.partition:
        tags[PARTITION_NAME_TAG] = args.partition
    instance_cm = get_possibly_temporary_instance_for_cli("python -m pipelines.launch")
    with instance_cm as instance, workspace(instance) as request:
        run = launch(instance, request, args.job, run_config, tags)
        print(f"run {run.run_id} of {args.job} launched in code location {LOCATION}", flush=True)
        try:
            finished = wait(instance, run.run_id)
        except KeyboardInterrupt:
            instance.run_launcher.terminate(run.run_id)  # Ctrl-C stops the run, not only the wait
            raise
        print("\n".join(outcome_lines(instance, finished)), flush=True)
    return 0 if finished.status == dg.DagsterRunStatus.SUCCESS else 1


if __name__ == "__main__":
    sys.exit(main())
