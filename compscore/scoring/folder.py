"""Score a canonical folder without Dagster: load, validate, score, write every output table.

This is what `compscore score` runs. It uses the same loaders, data-quality rules and scoring engine as
the Dagster assets; only the wiring differs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.loaders import load_canonical_dir
from compscore.quality import validate
from compscore.quality.status import data_quality_status
from compscore.scoring.scores import ScoreTables, score_company


@dataclass(frozen=True)
class FolderRun:
    run_id: str
    scores: ScoreTables
    tables: dict[str, pl.DataFrame]
    """Every output table written, by name (scores, evidence, data-quality rejects and counts)."""
    warnings: list[str]


def score_folder(
    input_dir: str | Path, *, run_id: str | None = None, as_of: dt.date | None = None
) -> FolderRun:
    """Load and validate `input_dir`, then score it. Raises `LoadError`, `PlanError` or `BlockingError`
    (each naming the file, table and rule) when the input cannot give meaningful scores."""
    run_id = run_id or f"cli-{uuid.uuid4().hex[:12]}"
    loaded = load_canonical_dir(input_dir)
    result = validate(loaded.data, run_id, loader_rejects=loaded.rejects)
    result.raise_if_blocking()
    status = data_quality_status(loaded.data, result)
    scores = score_company(result.clean, as_of=as_of, data_quality_status=status)
    tables = {
        **scores.outputs(),
        "data_quality_rejects": result.rejects,
        "data_quality_counts": result.counts,
    }
    return FolderRun(run_id=run_id, scores=scores, tables=tables, warnings=loaded.warnings)


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
