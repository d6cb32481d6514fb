"""Score a canonical folder without Dagster: load, validate, score, write every output table.

This is what `compscore score` runs. It uses the same loaders, data-quality rules, Great Expectations
suites and scoring engine as the Dagster assets; only the wiring differs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.payout import data_as_of
from compscore.history import record_folder_run
from compscore.loaders import load_canonical_dir
from compscore.outputs import OutputSet, check_output_dir
from compscore.provenance import Provenance
from compscore.quality import BlockingError, BlockingFailure, ValidationResult, validate
from compscore.quality.outputs import COUNTS, REJECTS, STATUS
from compscore.quality.status import data_quality_status
from compscore.safe_ids import checked_id
from compscore.scoring.batches import DEFAULT_BATCH_REPS, scoring_view
from compscore.scoring.finish import finished_batch, finished_score_tables
from compscore.scoring.scores import ScoreTables, score_company

ATTRIBUTION = "pay_attribution"


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

    With `great_expectations`, the GX suites also run (in bounded chunks) and an HTML report is written to
    `out_dir/data_quality/<run_id>/index.html`, also when validation blocks the run. Raises `LoadError`
    or `PlanError` (naming file, line and column or key) when the input cannot be read, and `BlockedRun`
    (naming table and rule) when it cannot give meaningful scores; nothing is written to the outputs then.
    Scoring runs on batches of `batch_reps` reps (see `score_company`). `progress`, if given, is told
    what the run is doing at each step.
    """
    say = progress or (lambda _message: None)
    run_id = checked_id("run id", run_id or f"cli-{uuid.uuid4().hex[:12]}")
    check_output_dir(out_dir)
    clean, quality_tables, warnings, report = _load_and_validate(
        input_dir, out_dir, run_id, great_expectations, say
    )
    clean = scoring_view(clean)
    as_of = as_of or data_as_of(clean)
    provenance = Provenance.now(run_id, as_of, str(Path(input_dir).resolve()))
    with OutputSet(out_dir) as outputs:
        attribution = outputs.stream(ATTRIBUTION)
        scores = score_company(
            clean,
            as_of=as_of,
            data_quality_status=quality_tables[STATUS],
            batch_reps=batch_reps,
            progress=say,
            attribution_sink=lambda batch: attribution.append(finished_batch(ATTRIBUTION, batch, provenance)),
        )
        attribution.close(finished_batch(ATTRIBUTION, scores.pay_attribution, provenance))
        tables = {**finished_score_tables(scores, clean.plans, provenance), **quality_tables}
        say(f"writing {len(tables) + 1} tables to {out_dir}")
        for name, table in tables.items():
            outputs.add(name, table)
        outputs.commit()
    record_folder_run(tables["plan_scores"], out_dir)
    return FolderRun(
        run_id=run_id,
        scores=scores,
        tables=tables,
        warnings=warnings,
        report=report,
        csv_left_out=outputs.csv_left_out,
    )


def _load_and_validate(
    input_dir: str | Path,
    out_dir: str | Path,
    run_id: str,
    great_expectations: bool,
    say: Callable[[str], None],
) -> tuple[CanonicalData, dict[str, pl.DataFrame], list[str], Path | None]:
    """The clean data and the data-quality tables; the raw input and the validation's working frames
    (flagged copies of every table) are released on return, before scoring needs the memory."""
    say(f"loading {input_dir}")
    loaded = load_canonical_dir(input_dir)
    say(f"validating {sum(loaded.received.values()):,} rows")
    result = validate(loaded.data, run_id, loader_rejects=loaded.rejects)
    status = data_quality_status(loaded.data, result)
    if great_expectations:
        say("running the Great Expectations suites and writing the report")
    report = _gx_report(result, status, out_dir) if great_expectations else None
    if result.blocking:
        raise BlockedRun(result.blocking, report)
    quality_tables = {
        REJECTS: result.rejects,
        COUNTS: result.counts,
        STATUS: status,
    }
    return scoring_view(result.clean), quality_tables, loaded.warnings, report


def _gx_report(result: ValidationResult, status: pl.DataFrame, out_dir: str | Path) -> Path:
    """Run the GX suites of every table whose schema allowed its rules, and write the HTML report.

    Imported here, not at module level: GX costs about 340 MB and seconds to import (STACK.md), and
    `--no-gx` runs should not pay for it.
    """
    from compscore.quality.report import write_run_report
    from compscore.quality.suites import run_all_suites

    return write_run_report(out_dir, result, run_all_suites(result.checks), status)
