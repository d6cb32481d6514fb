"""Schedules. Off by default: turn them on in the UI (Automation) or with `dagster schedule start`."""

import dagster as dg

from pipelines.jobs import full_refresh

daily_full_refresh = dg.ScheduleDefinition(
    name="daily_full_refresh",
    job=full_refresh,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Rebuild everything from the source folder every day at 06:00 UTC.",
)

SCHEDULES = [daily_full_refresh]
