"""Asset group names and the asset names that more than one Dagster module uses, defined once here.

The groups are the warehouse layers; the jobs select assets by group (`pipelines/jobs.py`), so a new
asset joins its jobs by naming its group.
"""

RAW, VALIDATED, QUALITY, MARTS, SCORES, INCOMING = (
    "raw",
    "validated",
    "quality",
    "marts",
    "scores",
    "incoming",
)
DATABASE = "database"
"""The group of `warehouse_database`, the step that loads the tables into DuckDB (not a layer itself)."""
WAREHOUSE_DATABASE = "warehouse_database"

RAW_PREFIX = "raw_"
INCOMING_PREFIX = "incoming_"
RAW_LOAD_REJECTS = "raw_load_rejects"
"""Cells of the source folder's files that could not be read (assets/raw.py)."""
INCOMING_LOAD_REJECTS = "incoming_load_rejects"
"""Cells of the monthly drops that could not be read (assets/incoming.py)."""
RAW_SOURCE_FINDINGS = "raw_source_findings"
"""Source-system rows kept with a data-quality finding, as the adapters report them (assets/raw.py)."""
RAW_PLANS = "raw_plans"
"""The parsed plan files, by plan id."""


def raw_asset_name(table: str) -> str:
    """The raw asset holding canonical table `table`: `raw_<table>`."""
    return f"{RAW_PREFIX}{table}"


def incoming_asset_name(table: str) -> str:
    """The monthly-partitioned asset holding the drops of event table `table`: `incoming_<table>`."""
    return f"{INCOMING_PREFIX}{table}"


TABLE_SCAN_INPUT_MANAGER = "table_scan_input_manager"
"""The input manager that gives a warehouse table as a lazy scan (`pipelines.io_managers`)."""
