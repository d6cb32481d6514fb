"""Write a run's output tables as one set: checked before the work, staged, then swapped into place.

`check_output_dir` runs before loading and scoring, so a run that cannot write its outputs says so in
one line before spending minutes: `--out` must be a folder (or creatable), writable, with no directory in
the way of an output file, and with at least `MIN_FREE_BYTES` free.

`OutputSet` (and `write_output_set`, its one-call form) writes every table (Parquet and CSV) into a hidden
staging folder inside the output folder (same file system, so the final moves are renames; a long table
can be streamed there batch by batch), and only when every file is written moves them into place; the
previous files are kept aside until all moves are done and put back if one fails. A run
that fails while writing (disk full, a file in the way) leaves the previous outputs as they were, and no
temporary file behind.

CSV copies are for spreadsheets, so a table is copied to CSV only while it fits one
(`SPREADSHEET_MAX_ROWS`, Excel's limit): a company-sized table (the attribution has a row per statement
line, ten million at a 40,000-rep company) is written as Parquet only, its CSV copy of an earlier run is
removed with the commit (a stale copy must not sit beside the new table), and `OutputSet.csv_left_out`
names it for the caller to say so. Writing ten million rows as CSV cost about 45 s of CPU, for a file no
spreadsheet opens.

Values are made reproducible at this step (`stable_floats`): the engine sums floats in an order that may
vary between runs (parallel and hash-ordered aggregation), so the last bits of a sum may differ; every
float is rounded to `SIGNIFICANT_DIGITS` significant digits and magnitudes below `ZERO_BELOW` (sums that
cancel to rounding noise, e.g. 2.2e-16) are written as 0.0. The CSV copies escape spreadsheet formulas
(`compscore.spreadsheet`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from compscore.spreadsheet import escape_formulas

MIN_FREE_BYTES = 64 * 1024 * 1024
SIGNIFICANT_DIGITS = 12
"""A float64 holds 15-16 significant digits; summing in another order changes the last 1-3 of them."""
ZERO_BELOW = 1e-9
SUFFIXES = (".parquet", ".csv")
SPREADSHEET_MAX_ROWS = 1_048_575
"""Rows of a CSV copy at most: what Excel opens (1,048,576 lines, the header included)."""
_STAGING_PREFIX = ".compscore-staging-"
_T = TypeVar("_T")


class OutputError(OSError):
    """The output folder cannot take the run's outputs; the message says which path and why."""


class _NotRestored(Exception):
    """A failed swap whose previous files could not all be put back (they stay in the staging folder)."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.cause = cause


def check_output_dir(out_dir: str | Path) -> Path:
    """Raise `OutputError` unless `out_dir` can receive output tables; an absent folder is not created
    here, but its nearest existing parent must be a writable folder.

    Any `*.parquet` or `*.csv` entry of the folder that is not a regular file (a directory, a symlink)
    would be in the way of an output file of that name, and is refused here.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: --out is not a folder")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise OutputError(f"{out}: cannot create the output folder: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{existing}: the output folder is not writable")
    if existing == out:
        for target in sorted(out.iterdir()):
            if target.suffix in SUFFIXES and (target.is_symlink() or not target.is_file()):
                raise OutputError(f"{target}: in the way of an output file (not a regular file)")
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise OutputError(
            f"{out}: only {free // 2**20} MB free; at least {MIN_FREE_BYTES // 2**20} MB needed"
        )
    return out


def stable_floats(df: pl.DataFrame) -> pl.DataFrame:
    """Every Float64 column rounded to `SIGNIFICANT_DIGITS` significant digits, rounding noise as 0.0."""
    floats = [name for name, dtype in df.schema.items() if dtype == pl.Float64]
    if not floats:
        return df
    rounded = [pl.col(name).round_sig_figs(SIGNIFICANT_DIGITS) for name in floats]
    return df.with_columns(
        pl.when(expr.abs() < ZERO_BELOW).then(0.0).otherwise(expr).alias(name)
        for name, expr in zip(floats, rounded, strict=True)
    )


def write_output_set(tables: dict[str, pl.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write each table as `<name>.parquet` and `<name>.csv` into `out_dir`, all or none (see the module
    notes); return the final paths. Raises `OutputError` when the set cannot be written."""
    with OutputSet(out_dir) as outputs:
        for name, df in tables.items():
            outputs.add(name, df)
        return outputs.commit()


STATISTICS_TEXT_COLUMNS = ("rep_id",)
"""The text columns whose row groups get min/max statistics in a streamed table (`statistics_columns`)."""


def statistics_columns(schema: pl.Schema) -> list[str]:
    """The columns of a streamed table whose row groups get min/max statistics: every column but text,
    and of the text columns `rep_id` only.

    A streamed table is written a batch of reps at a time (each batch in its own row groups), so the reps'
    ids and the dates and amounts let a reader skip row groups; the other text columns' statistics (line, deal
    and component ids, names, labels) skip nothing and cost about a fifth of Arrow's Parquet writer: 0.22
    s of 1.12 s of CPU for the attribution of 1M statement lines (docs/performance.md, session 13).
    """
    return [name for name, dtype in schema.items() if dtype != pl.String or name in STATISTICS_TEXT_COLUMNS]


def streamed_parquet_writer(path: Path, first: pl.DataFrame, schema: pa.Schema) -> pq.ParquetWriter:
    """Arrow's Parquet writer of a streamed table whose first batch is `first` (`schema`: its Arrow
    schema), with row-group statistics on `statistics_columns`."""
    return pq.ParquetWriter(path, schema, write_statistics=statistics_columns(first.schema))


class TableStream:
    """One output table written batch by batch into the staging folder (Parquet and CSV), so that a table
    as long as the company's statement lines never has to be held whole.

    Each batch is written on a background thread while the caller computes the next one (Polars' CSV
    writer and Arrow's Parquet writer release the GIL); at most one batch is in flight, so memory holds
    one batch more, not the table. A failed write is raised by the next `append` or by `close`.
    """

    def __init__(self, staging: Path, name: str):
        self.name = name
        self.parquet_path, self.csv_path = (staging / f"{name}{suffix}" for suffix in SUFFIXES)
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: BinaryIO | None = self.csv_path.open("wb")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{name}")
        self._in_flight: Future[None] | None = None

    @property
    def paths(self) -> list[Path]:
        """The files the stream has written: Parquet, and CSV unless the table outgrew a spreadsheet."""
        return [self.parquet_path] if self.csv_left_out else [self.parquet_path, self.csv_path]

    @property
    def csv_left_out(self) -> bool:
        """True once the table passed `SPREADSHEET_MAX_ROWS`: its CSV copy is dropped (module notes)."""
        return self._csv is None

    def append(self, batch: pl.DataFrame) -> None:
        """Add rows (each batch must have the first batch's columns)."""
        self._wait()
        self._in_flight = self._writer.submit(self._write, batch)

    def _write(self, batch: pl.DataFrame) -> None:
        stable = stable_floats(batch)
        table = stable.to_arrow()
        if self._parquet is None:
            self._parquet = streamed_parquet_writer(self.parquet_path, stable, table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))
        self.rows += batch.height
        if self._csv is not None and self.rows > SPREADSHEET_MAX_ROWS:
            self._csv.close()
            self._csv = None
            self.csv_path.unlink()
        if self._csv is not None:
            escape_formulas(stable).write_csv(self._csv, include_header=self._csv.tell() == 0)

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def close(self, columns: pl.DataFrame) -> None:
        """Finish both files; `columns` (an empty frame) gives the table its columns when no batch came."""
        self._wait()
        self._writer.shutdown()
        if self._parquet is None:
            self._write(columns.clear())
        assert self._parquet is not None
        self._parquet.close()
        if self._csv is not None:
            self._csv.close()

    def abandon(self) -> None:
        """Release the open files of a stream that will not be committed (a write in flight is let end;
        its error, if any, is not raised again)."""
        self._writer.shutdown(wait=True)
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()


class OutputSet:
    """The output tables of one run, staged in a hidden folder inside the output folder, then moved into
    place together by `commit` (see the module notes). Use as a context manager: leaving it without a
    commit (an error while scoring or writing) removes the staging folder and leaves the previous outputs.
    Any `OSError` comes out as an `OutputError` naming the path."""

    def __init__(self, out_dir: str | Path):
        self.out = check_output_dir(out_dir)
        self.staging = self.out / f"{_STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        self._staged: list[Path] = []
        self._streams: list[TableStream] = []
        self._keep_staging = False
        self.csv_left_out: list[str] = []
        """Tables written as Parquet only, being longer than a spreadsheet (`SPREADSHEET_MAX_ROWS`)."""

    def __enter__(self) -> OutputSet:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.out}: cannot create the output folder: {exc.strerror or exc}") from exc
        self._guarded(self.staging.mkdir)
        return self

    def __exit__(self, *_exc: object) -> None:
        for stream in self._streams:
            stream.abandon()
        if not self._keep_staging:
            shutil.rmtree(self.staging, ignore_errors=True)

    def add(self, name: str, df: pl.DataFrame) -> None:
        """Stage one whole table."""

        fits = df.height <= SPREADSHEET_MAX_ROWS

        def stage() -> None:
            stable = stable_floats(df)
            stable.write_parquet(self.staging / f"{name}.parquet")
            if fits:
                escape_formulas(stable).write_csv(self.staging / f"{name}.csv")

        self._guarded(stage)
        self._staged += [self.staging / f"{name}{suffix}" for suffix in (SUFFIXES if fits else SUFFIXES[:1])]
        if not fits:
            self.csv_left_out.append(name)

    def stream(self, name: str) -> TableStream:
        """Stage one table batch by batch; close the stream before `commit`."""
        stream = self._guarded(lambda: TableStream(self.staging, name))
        self._streams.append(stream)
        return stream

    def commit(self) -> list[Path]:
        """Move every staged file into place (all or none), removing the earlier CSV copy of a table
        written as Parquet only; return the final paths."""
        staged = self._staged + [path for stream in self._streams for path in stream.paths]
        self.csv_left_out += [stream.name for stream in self._streams if stream.csv_left_out]
        stale = [self.out / f"{name}.csv" for name in self.csv_left_out]
        try:
            return self._guarded(lambda: _swap_in(staged, self.out, self.staging, stale))
        except _NotRestored as exc:
            self._keep_staging = True
            raise OutputError(
                f"{exc.cause.filename or self.out}: cannot write the outputs: "
                f"{exc.cause.strerror or exc.cause}; previous files that could not be put back are in "
                f"{self.staging / '.previous'}"
            ) from exc.cause

    def _guarded(self, action: Callable[[], _T]) -> _T:
        try:
            return action()
        except OutputError:
            raise
        except OSError as exc:
            where = exc.filename or self.out
            raise OutputError(f"{where}: cannot write the outputs: {exc.strerror or exc}") from exc


def _swap_in(staged: list[Path], out: Path, staging: Path, stale: list[Path]) -> list[Path]:
    """Move the `stale` final files aside and the staged files over the final ones; on a failure put every
    previous file back."""
    previous = staging / ".previous"
    previous.mkdir()
    moved: list[tuple[Path, Path | None]] = []
    try:
        for final in stale:
            if final.exists():
                kept = previous / final.name
                os.replace(final, kept)
                moved.append((final, kept))
        for file in staged:
            final = out / file.name
            kept = None
            if final.exists():
                kept = previous / file.name
                os.replace(final, kept)
            moved.append((final, kept))
            os.replace(file, final)
    except OSError as exc:
        restored = True
        for final, kept in reversed(moved):
            try:
                if kept is not None:
                    os.replace(kept, final)
                else:
                    final.unlink(missing_ok=True)
            except OSError:
                restored = False  # keep going: put back all that can be put back
        if not restored:
            raise _NotRestored(exc) from exc
        raise
    return [out / file.name for file in staged]
