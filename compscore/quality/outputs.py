"""Names of the data-quality output tables, written by `compscore score` and by the `validated` assets."""

from compscore.schema import DATA_QUALITY_REJECTS

REJECTS = DATA_QUALITY_REJECTS.name
"""Every input row left out of scoring, with the rule that left it out."""
COUNTS = "data_quality_counts"
"""Rows received, passed and rejected per table."""
STATUS = "data_quality_status"
"""ok / warn / fail per plan and period."""
