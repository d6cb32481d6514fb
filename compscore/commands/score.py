"""Score every plan of a canonical folder (SPEC "On disk") without Dagster, and write the output tables."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from compscore import outputs
from compscore.commands.arguments import add_as_of_argument
from compscore.loaders import LoadError
from compscore.plans import PlanError
from compscore.run import BlockedRun, score_folder
from compscore.safe_ids import UnsafeId
from compscore.scoring.batches import DEFAULT_BATCH_REPS
from compscore.scoring.display import format_plan_scores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", required=True, help="canonical folder: <table>.csv|parquet and plans/*.yaml"
    )
    parser.add_argument("--out", required=True, help="folder for the output tables (Parquet and CSV)")
    parser.add_argument(
        "--run-id",
        default=None,
        help="id recorded on the scores and rejects; names the run in the history (default: random)",
    )
    add_as_of_argument(parser)
    parser.add_argument(
        "--no-gx",
        action="store_true",
        help="skip the Great Expectations suites and the HTML report (the same rules still quarantine rows)",
    )
    parser.add_argument(
        "--batch-reps",
        type=int,
        default=DEFAULT_BATCH_REPS,
        help=f"reps scored at a time: memory follows it, results do not (default {DEFAULT_BATCH_REPS})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        result = score_folder(
            args.input,
            args.out,
            run_id=args.run_id,
            as_of=args.as_of,
            great_expectations=not args.no_gx,
            batch_reps=args.batch_reps,
            progress=_progress_to_stderr(),
        )
    except BlockedRun as exc:
        where = f"\nValidation report: {exc.report}" if exc.report else ""
        print(f"compscore score: cannot score {args.input}:\n{exc}{where}", file=sys.stderr)
        return 2
    except (LoadError, PlanError, UnsafeId, OSError) as exc:
        print(f"compscore score: cannot score {args.input}:\n{exc}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    rejects = result.tables["data_quality_rejects"].height
    print(
        f"Scored {args.input} (run {result.run_id}); {rejects} input rows rejected, see data_quality_rejects."
    )
    if result.report:
        print(f"Validation report: {result.report}")
    print(f"Wrote {len(result.written)} tables to {args.out} as Parquet and CSV.")
    if result.csv_left_out:
        limit = outputs.SPREADSHEET_MAX_ROWS
        print(
            f"  As Parquet only, being longer than a spreadsheet opens ({limit:,} rows): "
            + ", ".join(result.csv_left_out)
        )
    print()
    print(format_plan_scores(result.tables["plan_scores"]))
    return 0


def _progress_to_stderr() -> Callable[[str], None]:
    """Print each step with the wall and CPU seconds since the run began, on stderr (stdout keeps the score
    table). CPU time (all threads) is the steadier figure on a shared machine."""
    started, cpu_started = time.perf_counter(), time.process_time()

    def say(message: str) -> None:
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(f"[{wall:6.1f}s, CPU {cpu:6.1f}s] {message}", file=sys.stderr, flush=True)

    return say
