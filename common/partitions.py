"""Monthly partitions of the event tables, and where each month's drop lives in the source folder.

A drop for month `YYYY-MM` is the folder `<source>/incoming/YYYY-MM/` holding any of the event tables
(`compscore.schema.EVENT_TABLES`) as `<table>.csv` or `<table>.parquet`. Partition keys are Dagster's
monthly keys, `YYYY-MM-01`.
"""

import datetime as dt
import os
import re
from pathlib import Path

import dagster as dg

from compscore.schema import INCOMING_DIR

START_ENV_VAR = "COMPSCORE_PARTITIONS_START"
DEFAULT_START = "2024-01-01"
DROP_FOLDER = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})$")

MONTHLY = dg.MonthlyPartitionsDefinition(
    start_date=os.environ.get(START_ENV_VAR) or DEFAULT_START, end_offset=1
)
"""One partition per calendar month from $COMPSCORE_PARTITIONS_START (default 2024-01) to this month."""


def month_of(partition_key: str) -> str:
    """`2026-03-01` -> `2026-03`, the drop folder name of a partition."""
    return partition_key[:7]


def partition_of(drop_folder: str) -> str | None:
    """`2026-03` -> `2026-03-01`; None when the name is not a month."""
    m = DROP_FOLDER.match(drop_folder)
    if m is None or not 1 <= int(m["month"]) <= 12:
        return None
    return f"{drop_folder}-01"


def month_bounds(partition_key: str) -> tuple[dt.date, dt.date]:
    """First day of the partition's month and first day of the next month."""
    start = dt.date.fromisoformat(partition_key)
    end = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, end


def drop_dir(source: Path, partition_key: str) -> Path:
    return source / INCOMING_DIR / month_of(partition_key)
