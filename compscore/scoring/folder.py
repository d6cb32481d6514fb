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
from typing import BinaryIO

import polars as pl
import pyarrow.parquet as pq

from compscore.dataset import CanonicalData
from compscore.loaders import load_canonical_dir
from compscore.quality import BlockingError, BlockingFailure, ValidationResult, validate
from compscore.quality.status import data_quality_status
from compscore.scoring.batches import DEFAULT_BATCH_REPS, scoring_view
from compscore.scoring.scores import ScoreTables, score_company


@dataclass(frozen=True)
class FolderRun:
    run_id: str
    scores: ScoreTables
    tables: dict[str, pl.DataFrame]
    """Every output table written from memory, by name (scores, evidence, data-quality rejects and counts)."""
    streamed: dict[str, Path]
    """The output tables written batch by batch while scoring (`pay_attribution`), by name: their Parquet
    file (their rows are never all in memory; `scores.pay_attribution` has none)."""
    warnings: list[str]
    report: Path | None
    """The HTML validation report of the run, when Great Expectations ran."""


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
    run_id = run_id or f"cli-{uuid.uuid4().hex[:12]}"
    clean, quality_tables, warnings, report = _load_and_validate(
        input_dir, out_dir, run_id, great_expectations, say
    )
    attribution = BatchedTableWriter(out_dir, "pay_attribution")
    try:
        scores = score_company(
            clean,
            as_of=as_of,
            data_quality_status=quality_tables["data_quality_status"],
            batch_reps=batch_reps,
            progress=say,
            attribution_sink=attribution.append,
        )
        tables = {**scores.outputs(), **quality_tables}
        say(f"writing {len(tables)} more tables to {out_dir}")
        write_outputs(tables, out_dir)
    except BaseException:
        attribution.abort()
        raise
    streamed = {"pay_attribution": attribution.finish()[0]}
    return FolderRun(run_id, scores, tables, streamed, warnings, report)


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
        "data_quality_rejects": result.rejects,
        "data_quality_counts": result.counts,
        "data_quality_status": status,
    }
    return scoring_view(result.clean), quality_tables, loaded.warnings, report


def _gx_report(result: ValidationResult, status: pl.DataFrame, out_dir: str | Path) -> Path:
    """Run the GX suites of every table whose schema allowed its rules, and write the HTML report.

    Imported here, not at module level: GX costs about 340 MB and seconds to import (STACK.md), and
    `--no-gx` runs should not pay for it.
    """
    from checks.report import write_run_report
    from checks.suites import run_all_suites

    return write_run_report(out_dir, result, run_all_suites(result.checks), status)


class BatchedTableWriter:
    """One output table written as `<name>.parquet` and `<name>.csv` a batch of rows at a time, so that the
    rows are never all in memory: each `append` adds a Parquet row group and CSV lines to hidden partial
    files, and `finish` moves them to their final names (rows in the order of the batches)."""

    def __init__(self, out_dir: str | Path, name: str):
        self.out = Path(out_dir)
        self.name = name
        self.rows = 0
        self.schema: pl.Schema | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._csv: BinaryIO | None = None

    def _partial(self, suffix: str) -> Path:
        return self.out / f".{self.name}{suffix}.partial"

    def append(self, df: pl.DataFrame) -> None:
        if self._csv is None:
            self.out.mkdir(parents=True, exist_ok=True)
            self.schema = df.schema
            self._csv = self._partial(".csv").open("wb")
            df.head(0).write_csv(self._csv)
        arrow = df.to_arrow()
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self._partial(".parquet"), arrow.schema, compression="zstd")
        self._parquet.write_table(arrow)
        df.write_csv(self._csv, include_header=False)
        self.rows += df.height

    def _close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()

    def finish(self) -> list[Path]:
        """Close the files and give them their final names."""
        self._close()
        written = []
        for suffix in (".parquet", ".csv"):
            if self._partial(suffix).exists():
                final = self.out / f"{self.name}{suffix}"
                self._partial(suffix).replace(final)
                written.append(final)
        return written

    def abort(self) -> None:
        """Close and remove the partial files (the run failed: nothing is written)."""
        self._close()
        for suffix in (".parquet", ".csv"):
            self._partial(suffix).unlink(missing_ok=True)


def write_outputs(tables: dict[str, pl.DataFrame], out_dir: str | Path) -> list[Path]:
    """Each table as `<name>.parquet` and `<name>.csv`; files are replaced only once fully written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        for suffix, write in ((".parquet", df.write_parquet), (".csv", df.write_csv)):
            final = out / f"{name}{suffix}"
            partial = out / f".{name}{suffix}.partial"
            write(partial)
            partial.replace(final)
            written.append(final)
    return written
