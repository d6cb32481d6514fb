"""Scoring shard by shard, with each shard's tables written to Parquet and read back (as they travel
between Dagster steps), gives the tables of `score_company`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compscore.dataset import CanonicalData
from compscore.engine.payout import data_as_of
from compscore.generator import GeneratorConfig, generate_company
from compscore.loaders import load_canonical_dir
from compscore.scoring.batches import all_rep_ids
from compscore.scoring.scores import combine_shards, score_company
from compscore.scoring.shards import (
    ShardTables,
    read_context,
    score_shard,
    scoring_context,
    shard_batches,
    write_context,
)

CANONICAL_SMALL = Path(__file__).resolve().parent / "fixtures" / "canonical_small"
KEYS = {
    "plan_scores": ["plan_id", "period_start"],
    "pay_attribution": ["line_id"],
    "rep_period_books": ["rep_id", "plan_id", "period_start"],
    "plan_incentive_curves": ["plan_id", "attainment"],
    "plan_outcomes": ["plan_id", "period_start", "indicator"],
}


@pytest.fixture(scope="module", params=["canonical_small", "generated"])
def data(request) -> CanonicalData:
    if request.param == "canonical_small":
        return load_canonical_dir(CANONICAL_SMALL).data
    return generate_company(GeneratorConfig(reps=40, quarters=5, seed=11, reps_per_chunk=20))


@pytest.fixture(scope="module")
def whole(data) -> dict[str, pl.DataFrame]:
    return score_company(data).outputs()


def _by_key(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(KEYS.get(name, frame.columns), nulls_last=True)


@pytest.mark.parametrize("shard_count", [1, 2, 5])
def test_shards_written_and_read_back_combine_to_score_company(data, whole, shard_count, tmp_path):
    """Against `score_company` on the same shards (the CLI's loop) and on one shard, to 1e-12 relative: a
    float sum over rows of several shards, or a multi-threaded group-by mean, can add in another order and
    differ in the last bits (docs/scale-out.md, "Equal results"); every non-float column is exact."""
    write_context(scoring_context(data, data_as_of(data)), tmp_path / "plan_scoring.plan_shards" / "context")
    context = read_context(tmp_path / "plan_scoring.plan_shards" / "context")  # as the steps read it
    batches = shard_batches(data, shard_count)
    assert len(batches) == min(shard_count, all_rep_ids(data).len())  # canonical_small has 3 reps
    parts = []
    for number, batch in enumerate(batches):
        folder = tmp_path / f"plan_scoring.score_shard[{number}]"  # as a Dagster step key names it
        score_shard(data, batch, context).write(folder)
        parts.append(ShardTables.read(folder, scan_attribution=True))  # as the combine step reads them

    combined = combine_shards(parts, context).outputs()
    assert isinstance(combined["pay_attribution"], pl.LazyFrame)  # streamed, not held, by the step
    combined["pay_attribution"] = combined["pay_attribution"].collect()
    same_shards = score_company(data, batch_reps=batches[0].rep_ids.len()).outputs()

    assert combined.keys() == whole.keys() == same_shards.keys()
    for name, expected in whole.items():
        got = _by_key(name, combined[name])
        assert got.height == expected.height, name
        assert_frame_equal(got, _by_key(name, same_shards[name]), rel_tol=1e-12, abs_tol=1e-12)
        assert_frame_equal(got, _by_key(name, expected), rel_tol=1e-12, abs_tol=1e-12)


def test_shards_hold_every_rep_once_in_sorted_runs():
    data = generate_company(GeneratorConfig(reps=40, quarters=5, seed=11, reps_per_chunk=20))
    ids = all_rep_ids(data)
    assert ids.len() > 40  # hires replace leavers, so not a multiple of 5
    batches = shard_batches(data, 5)
    size = -(-ids.len() // 5)  # ceil(n / 5) reps a shard, the last one the rest

    assert [b.rep_ids.len() for b in batches[:-1]] == [size] * 4
    assert batches[-1].rep_ids.len() == ids.len() - 4 * size
    assert pl.concat([b.rep_ids for b in batches]).to_list() == ids.to_list()
    assert [b.holds_null for b in batches] == [True, False, False, False, False]


def test_more_shards_than_reps_gives_one_rep_a_shard():
    data = load_canonical_dir(CANONICAL_SMALL).data
    n = all_rep_ids(data).len()
    assert [b.rep_ids.len() for b in shard_batches(data, n + 3)] == [1] * n


def test_shard_count_must_be_positive():
    with pytest.raises(ValueError, match="shard_count must be at least 1, got 0"):
        shard_batches(load_canonical_dir(CANONICAL_SMALL).data, 0)


def test_a_folder_that_is_not_a_shard_is_refused(tmp_path):
    (tmp_path / "shard.json").write_text(json.dumps({"format": 99, "frames": []}))
    with pytest.raises(ValueError, match="not a shard of format 1"):
        ShardTables.read(tmp_path)


def test_the_scoring_context_survives_the_round_trip(tmp_path):
    data = generate_company(GeneratorConfig(reps=40, quarters=5, seed=11, reps_per_chunk=20))
    context = scoring_context(data, dt.date(2026, 6, 30))
    write_context(context, tmp_path)
    back = read_context(tmp_path)
    assert back.as_of == context.as_of and back.pt.max_tiers == context.pt.max_tiers
    for got, expected in [
        (back.pt.plans, context.pt.plans),
        (back.pt.components, context.pt.components),
        (back.pt.applies, context.pt.applies),
        (back.cross.churn, context.cross.churn),
        (back.cross.conversions, context.cross.conversions),
        (back.cross.churned, context.cross.churned),
        (back.grid, context.grid),
        (back.given_periods, context.given_periods),
    ]:
        assert expected.height > 0
        assert_frame_equal(got, expected)


def test_a_folder_that_is_not_a_scoring_context_is_refused(tmp_path):
    (tmp_path / "context.json").write_text(json.dumps({"format": 1, "frames": ["plans"]}))
    with pytest.raises(ValueError, match="not a scoring context of format 1"):
        read_context(tmp_path)


def test_categorical_deal_sizes_survive_the_round_trip(tmp_path):
    data = load_canonical_dir(CANONICAL_SMALL).data
    context = scoring_context(data, dt.date(2026, 6, 30))
    shard = score_shard(data, shard_batches(data, 1)[0], context)
    shard.write(tmp_path)
    back = ShardTables.read(tmp_path)
    assert back.won_deals.schema == shard.won_deals.schema
    assert back.won_deals.schema["deal_type"] == pl.Categorical
