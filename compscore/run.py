"""Score a canonical folder without Dagster: load, validate, score, write every output table.

This is what `compscore score` runs. It uses the same loaders, data-quality rules, Great Expectations
suites and scoring engine as the Dagster assets; only the wiring differs.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.history import record_folder_run
from compscore.outputs import OutputSet, check_output_dir
from compscore.provenance import Provenance
from compscore.quality import BlockingError, BlockingFailure
from compscore.quality.background import BackgroundSuites
from compscore.quality.by_table import TableByTableValidation, validate_by_table
from compscore.quality.outputs import COUNTS, REJECTS, STATUS
from compscore.quality.report import write_run_report
from compscore.safe_ids import checked_id
from compscore.scoring.batches import DEFAULT_BATCH_REPS
from compscore.scoring.bootstrap import WeightsAhead
from compscore.scoring.finish import finished_batch, finished_score_tables
from compscore.scoring.partitioned import partitioned_for_scoring, score_partitioned
from compscore.scoring.scores import ScoreTables, bootstrap_sizes

ATTRIBUTION = "pay_attribution"
WORK_PREFIX = ".compscore-work-"


@dataclass(frozen=True)
class FolderRun:
    run_id: str
    scores: ScoreTables
    tables: dict[str, pl.DataFrame]
    """Every output table written, by name (scores, evidence, data-quality rejects and counts), except
    `pay_attribution`: it is written batch by batch as it is scored and never held whole (read it from
    the output folder)."""
    warnings: list[str]
    report: Path | None
    """The HTML validation report of the run, when Great Expectations ran."""
    csv_left_out: list[str]
    """Tables written as Parquet only: longer than a spreadsheet opens (`compscore.outputs`)."""

    @property
    def written(self) -> list[str]:
        """The names of every table written, `pay_attribution` included."""
        return sorted([ATTRIBUTION, *self.tables])


class BlockedRun(BlockingError):
    """Validation found input that would make the scores meaningless; `report` shows why."""

    def __init__(self, failures: list[BlockingFailure], report: Path | None):
        super().__init__(failures)
        self.report = report


def score_folder(
    input_dir: str | Path,
    out_dir: str | Path,
    *,
    run_id: str | None = None,
    as_of: dt.date | None = None,
    great_expectations: bool = True,
    batch_reps: int = DEFAULT_BATCH_REPS,
    progress: Callable[[str], None] | None = None,
) -> FolderRun:
    """Load and validate `input_dir`, score it and write every output table into `out_dir`.

    With `great_expectations`, the GX suites also run (in bounded chunks, on a worker thread beside
    validation and scoring: `BackgroundSuites`) and an HTML report is written to
    `out_dir/data_quality/<run_id>/index.html`, also when validation blocks the run. Raises `LoadError`
    or `PlanError` (naming file, line and column or key) when the input cannot be read, and `BlockedRun`
    (naming table and rule) when it cannot give meaningful scores; nothing is written to the outputs then.
    Scoring runs on batches of `batch_reps` reps (see `score_company`). `progress`, if given, is told what
    the run is doing at each step.

    Memory follows one table, then one batch, not the company: validation holds one table whole at a time
    and writes the clean tables to a work folder (a Parquet input the loader would not change is linked
    there, not rewritten); the clean tables are cut into batches of reps on disk, and each batch is read,
    scored and released in turn (`compscore.scoring.partitioned`; a company of one batch is read from the
    clean tables, uncut). The bootstrap's resamples are drawn on a low-priority thread from the moment the
    rep-period grid is known (`compscore.scoring.bootstrap.WeightsAhead`). The work folder
    (`out_dir/.compscore-work-*`, on the outputs' file system) is removed at the end, also when the run
    fails.
    """
    say = progress or (lambda _message: None)
    run_id = checked_id("run id", run_id or f"cli-{uuid.uuid4().hex[:12]}")
    out = check_output_dir(out_dir)
    with (
        _work_folder(out) as work,
        BackgroundSuites(great_expectations, work / "gx") as suites,
        WeightsAhead() as bootstrap_weights,
    ):
        validation = _validate(input_dir, out, run_id, suites, work / "clean", say)
        say("cutting the clean tables into batches of reps")
        with partitioned_for_scoring(
            validation.clean_dir,
            validation.plans,
            validation.given_commission_lines,
            work / "batches",
            as_of=as_of,
            batch_reps=batch_reps,
            on_context=lambda context: bootstrap_weights.draw(bootstrap_sizes(context.grid)),
            one_batch_in_place=True,
        ) as company:
            if company.in_place is None:
                shutil.rmtree(validation.clean_dir)
            provenance = Provenance.now(run_id, company.context.as_of, str(Path(input_dir).resolve()))
            with OutputSet(out) as outputs:
                attribution = outputs.stream(ATTRIBUTION)
                scores = score_partitioned(
                    company,
                    data_quality_status=validation.status,
                    progress=say,
                    attribution_sink=lambda batch: attribution.append(
                        finished_batch(ATTRIBUTION, batch, provenance)
                    ),
                    weights_of=bootstrap_weights,
                )
                attribution.close(finished_batch(ATTRIBUTION, scores.pay_attribution, provenance))
                tables = {
                    **finished_score_tables(scores, validation.plans, provenance),
                    REJECTS: validation.rejects,
                    COUNTS: validation.counts,
                    STATUS: validation.status,
                }
                report = _report(out, validation, suites, say)
                say(f"writing {len(tables) + 1} tables to {out_dir}")
                for name, table in tables.items():
                    outputs.add(name, table)
                outputs.commit()
    record_folder_run(tables["plan_scores"], out_dir)
    return FolderRun(
        run_id=run_id,
        scores=scores,
        tables=tables,
        warnings=validation.warnings,
        report=report,
        csv_left_out=outputs.csv_left_out,
    )


@contextmanager
def _work_folder(out: Path) -> Iterator[Path]:
    """A private folder inside the output folder (its file system has room: `check_output_dir`), removed
    on the way out whatever happens, and the output folder with it when this run created it and wrote
    nothing there (a run that fails leaves no trace)."""
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=out))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created and not any(out.iterdir()):
            out.rmdir()


def _validate(
    input_dir: str | Path,
    out_dir: Path,
    run_id: str,
    suites: BackgroundSuites,
    clean_dir: Path,
    say: Callable[[str], None],
) -> TableByTableValidation:
    """Validate table by table, the clean tables into `clean_dir`, each checked table handed to `suites`.
    Raises `BlockedRun`, with the report (once the suites have run) when they run."""
    say(f"loading and validating {input_dir}, one table at a time")
    # Without GX no callback: validation then reads a table a few columns at a time, a lower peak.
    checked = suites.submit if suites.enabled else None
    validation = validate_by_table(input_dir, run_id, clean_dir, on_table_checked=checked)
    say(f"validated {sum(validation.received.values()):,} rows")
    if validation.blocking:
        raise BlockedRun(validation.blocking, _report(out_dir, validation, suites, say))
    return validation


def _report(
    out_dir: Path, validation: TableByTableValidation, suites: BackgroundSuites, say: Callable[[str], None]
) -> Path | None:
    """The run's validation report with the GX outcomes, once every suite has run; None without GX."""
    if not suites.enabled:
        return None
    if not suites.done():
        say("waiting for the Great Expectations suites")
    return write_run_report(out_dir, validation, suites.outcomes(), validation.status)
