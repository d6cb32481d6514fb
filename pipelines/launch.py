"""Run a job of the `compscore` code location from the command line and wait for it.

    python -m pipelines.launch full_refresh [-c run.yaml ...] [--tags '{"k": "v"}']

`dagster job execute -m pipelines.definitions` runs a job outside any workspace: the run is recorded
without a code location, so the UI's job page says "No runs found" and the timeline shows a phantom
`pipelines.definitions` location. `dagster job launch -w workspace.yaml -l compscore` records the run in
the right location but only hands it over (to the daemon's queue) and returns at once. This entry point
does what the scripts need: it loads `workspace.yaml`, creates the run in the `compscore` location (as the
UI's Launch button does), launches it straight away with the instance's run launcher (a subprocess of the
location's code server; no daemon needed, the run queue is bypassed), prints each step's outcome and
every asset-check result as the run goes, and exits 0 when the run succeeded, 1 when it did not.

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
from dagster._cli.utils import get_possibly_temporary_instance
from dagster._cli.workspace.cli_target import (
    get_code_location_from_workspace,
    get_remote_job_from_remote_repo,
    get_remote_repository_from_code_location,
)
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._utils.yaml_utils import load_yaml_from_glob_list

from common.ui_metadata import CHECKS_FAILED_TAG

LOCATION = "compscore"
"""The code location of workspace.yaml that every documented command runs in."""
WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"
POLL_S = 1.0
_SHOWN = {
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_SUCCESS,
}


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


def _event_line(event: dg.EventLogEntry) -> str | None:
    dagster_event = event.dagster_event
    if dagster_event is None:
        return event.user_message if event.level >= 20 else None
    if dagster_event.event_type not in _SHOWN:
        return None
    if dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        evaluation = dagster_event.event_specific_data
        verdict = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
        key = evaluation.asset_check_key
        return f"check {key.asset_key.to_user_string()}.{key.name} {verdict}: {evaluation.description or ''}"
    step = f"{dagster_event.step_key}: " if dagster_event.step_key else ""
    return f"{step}{event.user_message or dagster_event.event_type_value}"


def wait(instance: dg.DagsterInstance, run_id: str, echo=print) -> dg.DagsterRun:
    """Poll the run until it ends, echoing its step outcomes and check results; the finished run."""
    cursor = None
    while True:
        run = instance.get_run_by_id(run_id)
        connection = instance.get_records_for_run(run_id, cursor=cursor)
        for record in connection.records:
            line = _event_line(record.event_log_entry)
            if line:
                echo(line)
        cursor = connection.cursor
        if run.is_finished and not connection.has_more:
            return run
        if not connection.has_more:
            time.sleep(POLL_S)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.launch", description=__doc__.split("\n")[0])
    parser.add_argument("job", help="job of the compscore location, e.g. full_refresh")
    parser.add_argument("-c", "--config", action="append", default=[], help="run config YAML file(s)")
    parser.add_argument("--tags", default="{}", help='run tags as JSON, e.g. \'{"team": "finance"}\'')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    run_config = load_yaml_from_glob_list(args.config) if args.config else {}
    with get_possibly_temporary_instance() as instance, workspace(instance) as request:
        run = launch(instance, request, args.job, run_config, json.loads(args.tags))
        print(f"run {run.run_id} of {args.job} launched in code location {LOCATION}")
        finished = wait(instance, run.run_id)
    print(f"run {finished.run_id}: {finished.status.value}")
    if finished.tags.get(CHECKS_FAILED_TAG):
        print(f"asset checks failed: {finished.tags[CHECKS_FAILED_TAG]} (see the run's Checks in the UI)")
    return 0 if finished.status == dg.DagsterRunStatus.SUCCESS else 1


if __name__ == "__main__":
    sys.exit(main())
