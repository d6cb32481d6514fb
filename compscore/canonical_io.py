"""Write canonical data to a folder in the SPEC "On disk" layout: `DIR/<table>.csv|parquet`, `DIR/plans/`.

`compscore.loaders.load_canonical_dir` reads the folder back to equal frames. CSV cells are written as
Polars writes them: ISO `YYYY-MM-DD` dates, floats in their shortest round-tripping form, empty cells for
null. A CSV cannot tell an empty string from a null, so an empty string comes back as null.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl

from compscore.dataset import CanonicalData
from compscore.plans import write_plans
from compscore.schema import PLANS_DIR, TABLES, TABLES_BY_NAME, conform

Format = Literal["csv", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "parquet")


def table_path(directory: str | Path, name: str, fmt: Format) -> Path:
    """Where table `name` lives in a canonical folder for format `fmt`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown table file format {fmt!r}; expected one of {list(FORMATS)}")
    return Path(directory) / f"{name}.{fmt}"


def write_table(
    df: pl.DataFrame | pl.LazyFrame, directory: str | Path, name: str, fmt: Format = "csv"
) -> Path:
    """Write one table to `directory/<name>.<fmt>` and return the path.

    A canonical table is conformed to the schema first (canonical column order and dtypes, absent optional
    columns added); any other name (e.g. `data_quality_rejects`) is written as given.
    """
    path = table_path(directory, name, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = conform(df, name) if name in TABLES_BY_NAME else df.lazy()
    if fmt == "csv":
        frame.sink_csv(path, date_format="%Y-%m-%d", null_value="")
    else:
        frame.sink_parquet(path)
    return path


def write_canonical_dir(data: CanonicalData, directory: str | Path, fmt: Format = "csv") -> list[Path]:
    """Write every canonical table and the plan files; return the written paths, tables first.

    `commission_lines` is written only when the data came with statement lines
    (`data.given_commission_lines`); otherwise the loader will treat them as absent, to be computed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in TABLES:
        if spec.name == "commission_lines" and not data.given_commission_lines:
            continue
        paths.append(write_table(data.tables[spec.name], directory, spec.name, fmt))
    paths.extend(write_plans(data.plans.values(), directory / PLANS_DIR))
    return paths
