"""The clean canonical data a what-if or rebalance runs on: loaded and validated as `compscore score` does,
so scenarios are priced on the same rows the plan scores were."""

from __future__ import annotations

import uuid
from pathlib import Path

from compscore.dataset import CanonicalData
from compscore.loaders import load_canonical_dir
from compscore.quality import validate
from compscore.scenarios.whatif import ScenarioError


def load_clean(input_dir: str | Path) -> CanonicalData:
    """The rows of `input_dir` that pass validation; `ScenarioError` when validation would block scoring.
    Raises the loaders' `LoadError` or `PlanError` for unreadable input (both name file and line)."""
    loaded = load_canonical_dir(input_dir)
    result = validate(loaded.data, f"whatif-{uuid.uuid4().hex[:12]}", loader_rejects=loaded.rejects)
    if result.blocking:
        reasons = "; ".join(str(f) for f in result.blocking)
        raise ScenarioError(f"{input_dir}: validation blocks scoring: {reasons}")
    return result.clean
