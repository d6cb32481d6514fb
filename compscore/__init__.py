"""compscore: scores sales compensation plans on how much their pay rewards same-day dollars.

The core (schema, plan rules, loaders, generator, payout engine, scoring, data quality) is plain Python
on Polars and runs without Dagster; `common/`, `assets/`, `checks/` and `pipelines/` wire it into Dagster.
Nothing here imports them (tests/test_layering.py).
"""

from compscore import allocator  # noqa: F401  (first: it must come before anything imports Polars)

__version__ = "0.1.0"
