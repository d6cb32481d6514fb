"""The allocator setting (`compscore.allocator`) reaches Polars from every entry point, the user's kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compscore.allocator import ALLOCATOR_ENV, KEEP_FREED_MEMORY

REPO = Path(__file__).resolve().parents[1]


def _imported(module: str, user_setting: str | None = None) -> list[str]:
    """In a fresh interpreter, import `module`, then Polars; print whether compscore's setting came before
    Polars and the variable as Polars left it."""
    env = {k: v for k, v in os.environ.items() if k != ALLOCATOR_ENV}
    if user_setting is not None:
        env[ALLOCATOR_ENV] = user_setting
    code = (
        f"import {module}, os, polars, compscore.allocator as a; "
        f"print(a.applied); print(os.environ[{ALLOCATOR_ENV!r}])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


@pytest.mark.parametrize("entry_point", ["compscore.cli", "pipelines.definitions"])
def test_every_entry_point_sets_the_allocator_before_polars_loads(entry_point: str) -> None:
    applied, setting = _imported(entry_point)
    assert applied == "True"
    # Polars appends what was set before it to its own setting, so the last value of each option wins.
    assert setting.endswith("," + KEEP_FREED_MEMORY)


def test_the_users_setting_is_kept() -> None:
    applied, setting = _imported("compscore.cli", user_setting="dirty_decay_ms:0")
    assert applied == "True"
    assert setting.endswith(",dirty_decay_ms:0") and KEEP_FREED_MEMORY not in setting


def test_polars_imported_first_is_reported() -> None:
    applied, setting = _imported("polars")
    assert applied == "False"
    assert KEEP_FREED_MEMORY not in setting  # too late: Polars read the variable before compscore set it
