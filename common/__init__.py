"""The Dagster pieces shared by assets, checks and pipelines: resources, partitions, metadata, names.

This package sits below `assets/` and `checks/` and above `compscore/`: it may import `compscore` and
Dagster, never `assets`, `checks` or `pipelines` (tests/test_layering.py enforces it).
"""
