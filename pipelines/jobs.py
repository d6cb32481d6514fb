"""The jobs, selected by asset group so that new assets in a group join them automatically.

Selecting assets also selects their asset checks, so every job with the `raw` group (`full_refresh`,
`full_refresh_celery`, `validation_only`) runs both checks of each raw table: the blocking rules
(`quality`) and the GX suite (`expectations`, not blocking). The others select no raw asset and so no raw
check.
Every job but `incoming_monthly` ends with `warehouse_database`, the one step that writes DuckDB (the monthly
partitions reach DuckDB with the next job). The monthly-partitioned `incoming` group runs on its own, one
partition per run (`incoming_monthly`); the
raw layer of `full_refresh` merges the stored partitions in, and the `refresh_after_drops` sensor launches
`full_refresh` once drops have landed.
"""

from __future__ import annotations

import dagster as dg

from common.names import DATABASE, INCOMING, MARTS, QUALITY, RAW, SCORES, VALIDATED
from pipelines.executors import celery_executor

full_refresh = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(INCOMING),
    description=(
        "Everything from the full source folder: read it, validate it, build the marts and score every plan."
    ),
)

full_refresh_celery = dg.define_asset_job(
    "full_refresh_celery",
    selection=full_refresh.selection,
    executor_def=celery_executor(),
    description=(
        "full_refresh with every step sent to Celery workers (scripts/start-workers.sh) through the broker "
        "in COMPSCORE_CELERY_BROKER: for an instance on PostgreSQL and workers on several machines "
        "(docs/scale-out.md)."
    ),
)

validation_only = dg.define_asset_job(
    "validation_only",
    selection=dg.AssetSelection.groups(RAW, VALIDATED, QUALITY, DATABASE),
    description="Read and validate the source folder (raw, validated and quality groups, with their checks).",
)

scoring_only = dg.define_asset_job(
    "scoring_only",
    selection=dg.AssetSelection.groups(MARTS, SCORES, DATABASE),
    description="Rebuild the marts and plan scores from the validated tables already in the warehouse.",
)

incoming_monthly = dg.define_asset_job(
    "incoming_monthly",
    selection=dg.AssetSelection.groups(INCOMING),
    description="Load one month's drop (`<source>/incoming/YYYY-MM/`) into the monthly event partitions.",
)

scenarios = dg.define_asset_job(
    "scenarios",
    selection=dg.AssetSelection.assets("plan_scenarios") | dg.AssetSelection.groups(DATABASE),
    description=(
        "Score the what-if scenarios (`<source>/scenarios/*.yaml`, or one inline in the launchpad config) "
        "on their baseline plans' reps and books, from the validated tables already in the warehouse."
    ),
)

JOBS = [full_refresh, full_refresh_celery, validation_only, scoring_only, incoming_monthly, scenarios]
