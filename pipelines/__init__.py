"""Dagster's wiring of compscore: definitions, jobs, executors, IO managers, schedules and sensors.

`compscore` is imported first, before anything here imports Polars, so that its allocator setting
(`compscore.allocator`) applies in every Dagster process that loads the definitions.
"""

import compscore  # noqa: F401
