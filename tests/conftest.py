"""Shared fixtures: the tiny hand-made canonical folder and the repository's shared-data locations.

`tests/fixtures/canonical_small/` is a complete canonical folder (SPEC sections 2-3): 6 accounts, 3 reps
on two quarterly plans (`hunter-2026`: 10 % new business with a 180-day clawback, a 14-day spiff and a flat
referral bonus; `farmer-2026`: 4 % renewal/expansion, 5 % referral rate, a GRR bonus), 8 deals in every
stage and type, 2 churn events, 2 referrals (one converted) and 9 statement lines hand-computed from those
rules (no quota is reached; D002's account churns 97 days after close, so its commission is clawed back).
`D006.term_months` is empty so the default (12) is exercised.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "deterministic",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
"""The default, in CI and locally: the same examples every run, no timing, no example database (see
docs/testing.md). `HYPOTHESIS_PROFILE=explore` draws new random examples to hunt for bugs."""
settings.register_profile(
    "explore",
    derandomize=False,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

REPO_ROOT = Path(__file__).resolve().parents[1]
CANONICAL_SMALL = REPO_ROOT / "tests" / "fixtures" / "canonical_small"
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture
def canonical_small_dir() -> Path:
    """The read-only fixture folder; copy it (`canonical_small_copy`) before changing anything."""
    return CANONICAL_SMALL


@pytest.fixture
def canonical_small_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture folder, for tests that add, break or remove files."""
    target = tmp_path / "canonical_small"
    shutil.copytree(CANONICAL_SMALL, target)
    return target


@pytest.fixture
def shared_datasets_dir() -> Path:
    """`../shared/datasets`, or skip the test when it is absent."""
    path = SHARED_DIR / "datasets"
    if not path.is_dir():
        pytest.skip(f"shared datasets folder {path} is absent")
    return path
