"""Every run's `plan_scores`, kept (SPEC section 7): in the warehouse and in a CLI output folder.

- Warehouse: table `scores.plan_scores_runs` (one partition per run id, Parquet under
  `<warehouse>/plan_scores_runs/<run_id>.parquet`) and the views `scores.plan_scores_history` (every run)
  and `scores.latest_plan_scores` (the run with the latest `scored_at`), see `compscore.warehouse.write_run`.
- CLI output folder: `<out>/plan_scores_runs/<run_id>.parquet`, one file per run; `read_folder_history`
  and `latest_run` give the same two views in Polars.

Writing the same run id again replaces that run's rows: recording is idempotent.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from compscore import warehouse
from compscore.provenance import checked_run_id
from compscore.scoring.columns import OUTPUT_COLUMNS

TABLE = "plan_scores"
RUNS_DIR = f"{TABLE}_runs"
LAYER = "scores"
_COMMENT = "Plan scores of every scoring run, with run_id, scored_at, as_of and source."


def _run_id(plan_scores: pl.DataFrame) -> str:
    ids = plan_scores["run_id"].unique().to_list()
    if len(ids) != 1:
        raise ValueError(f"plan_scores must hold one run to be recorded, found run ids {ids}")
    return checked_run_id(ids[0])


def record_warehouse_run(plan_scores: pl.DataFrame, root: str | Path | None = None) -> warehouse.WrittenTable:
    """Keep this run's plan scores in the warehouse's history."""
    comments = warehouse.Comments(_COMMENT, OUTPUT_COLUMNS[TABLE])
    return warehouse.write_run(plan_scores, TABLE, _run_id(plan_scores), root, layer=LAYER, comments=comments)


def record_folder_run(plan_scores: pl.DataFrame, out_dir: str | Path) -> Path:
    """Keep this run's plan scores as `<out_dir>/plan_scores_runs/<run_id>.parquet` (atomic replace)."""
    folder = Path(out_dir) / RUNS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{_run_id(plan_scores)}.parquet"
    partial = folder / f".{final.name}.partial"
    plan_scores.write_parquet(partial)
    partial.replace(final)
    return final


def read_folder_history(out_dir: str | Path) -> pl.DataFrame | None:
    """Every recorded run's plan scores in a CLI output folder; None when none was recorded."""
    files = sorted((Path(out_dir) / RUNS_DIR).glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else None


def latest_run(history: pl.DataFrame) -> pl.DataFrame:
    """The rows of the run with the latest `scored_at` (ties: the greatest run id), as the latest view."""
    last = history.sort("scored_at", "run_id", descending=True)["run_id"][0]
    return history.filter(pl.col("run_id") == last)
