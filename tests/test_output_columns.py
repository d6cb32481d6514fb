"""Every column of every scoring output has a description for the Dagster UI and finance."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.metadata import column_descriptions
from compscore.loaders import load_canonical_dir
from compscore.provenance import Provenance
from compscore.scoring.columns import OUTPUT_COLUMNS
from compscore.scoring.finish import finished_score_tables
from compscore.scoring.scores import score_company


@pytest.fixture(scope="module")
def outputs(canonical_small_dir_module: Path):
    data = load_canonical_dir(canonical_small_dir_module).data
    scores = score_company(data)
    return finished_score_tables(scores, data.plans, Provenance.now("t", scores.as_of, "fixture"))


@pytest.fixture(scope="module")
def canonical_small_dir_module() -> Path:
    return Path(__file__).resolve().parent / "fixtures" / "canonical_small"


@pytest.mark.parametrize("table", sorted(OUTPUT_COLUMNS))
def test_every_output_column_is_described(outputs, table):
    assert outputs[table].width > 0
    undescribed = [c for c in outputs[table].columns if c not in OUTPUT_COLUMNS[table]]
    assert undescribed == []


def test_asset_column_schemas_use_them():
    assert column_descriptions("plan_scores")["same_day_index"].startswith("Same-Day Index")
    assert column_descriptions("deals")["amount"] == "First-year value."
