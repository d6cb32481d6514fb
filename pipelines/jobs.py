"""The three jobs, selected by asset group so that new assets in a group join them automatically.

Selecting assets also selects their asset checks, so `validation_only` runs the data-quality checks.
"""

from __future__ import annotations

import dagster as dg

RAW, VALIDATED, MARTS, SCORES = "raw", "validated", "marts", "scores"

full_refresh = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.all(),
    description="Everything: read the source folder, validate it, build the marts and score every plan.",
)

validation_only = dg.define_asset_job(
    "validation_only",
    selection=dg.AssetSelection.groups(RAW, VALIDATED),
    description="Read and validate the source folder (raw and validated groups, with their checks).",
)

scoring_only = dg.define_asset_job(
    "scoring_only",
    selection=dg.AssetSelection.groups(MARTS, SCORES),
    description="Rebuild the marts and plan scores from the validated tables already in the warehouse.",
)

JOBS = [full_refresh, validation_only, scoring_only]
