"""compscore: scores sales compensation plans on how much their pay rewards same-day dollars.

The core (schema, plan rules, loaders, generator, payout engine, scoring, data quality) is plain Python
on Polars and runs without Dagster; `common/`, `assets/`, `checks/` and `pipelines/` wire it into Dagster.
Nothing here imports them (tests/test_layering.py).
"""

__version__ = "0.1.0"
