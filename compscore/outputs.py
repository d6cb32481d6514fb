"""Write a run's output tables as one set: checked before the work, staged, then swapped into place.

`check_output_dir` runs before loading and scoring, so a run that cannot write its outputs says so in
one line before spending minutes: `--out` must be a folder (or creatable), writable, with no directory in
the way of an output file, and with at least `MIN_FREE_BYTES` free.

`write_output_set` writes every table (Parquet and CSV) into a hidden staging folder inside the output
folder (same file system, so the final moves are renames), and only when every file is written moves them
into place; the previous files are kept aside until all moves are done and put back if one fails. A run
that fails while writing (disk full, a file in the way) leaves the previous outputs as they were, and no
temporary file behind.

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
from pathlib import Path

import polars as pl

from compscore.spreadsheet import escape_formulas

MIN_FREE_BYTES = 64 * 1024 * 1024
SIGNIFICANT_DIGITS = 12
"""A float64 holds 15-16 significant digits; summing in another order changes the last 1-3 of them."""
ZERO_BELOW = 1e-9
SUFFIXES = (".parquet", ".csv")
_STAGING_PREFIX = ".compscore-staging-"


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
    out = check_output_dir(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder: {exc.strerror or exc}") from exc
    staging = out / f"{_STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    keep_staging = False
    try:
        staging.mkdir()
        staged = _stage(tables, staging)
        return _swap_in(staged, out, staging)
    except _NotRestored as exc:
        keep_staging = True
        raise OutputError(
            f"{exc.cause.filename or out}: cannot write the outputs: {exc.cause.strerror or exc.cause}; "
            f"previous files that could not be put back are in {staging / '.previous'}"
        ) from exc.cause
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        where = exc.filename or out
        raise OutputError(f"{where}: cannot write the outputs: {exc.strerror or exc}") from exc
    finally:
        if not keep_staging:
            shutil.rmtree(staging, ignore_errors=True)


def _stage(tables: dict[str, pl.DataFrame], staging: Path) -> list[Path]:
    staged = []
    for name, df in tables.items():
        stable = stable_floats(df)
        stable.write_parquet(staging / f"{name}.parquet")
        escape_formulas(stable).write_csv(staging / f"{name}.csv")
        staged += [staging / f"{name}{suffix}" for suffix in SUFFIXES]
    return staged


def _swap_in(staged: list[Path], out: Path, staging: Path) -> list[Path]:
    """Move the staged files over the final ones; on a failure put every previous file back."""
    previous = staging / ".previous"
    previous.mkdir()
    moved: list[tuple[Path, Path | None]] = []
    try:
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
    return [final for final, _ in moved]
