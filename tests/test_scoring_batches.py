"""Scoring in batches of reps gives the same tables as scoring the company at once.

The generated company has what crosses reps: referral bonuses on other reps' deals, churn of accounts
whose renewal another rep lost, and typical deal sizes over every rep of a plan-period.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compscore.dataset import CanonicalData
from compscore.engine.payout import compute_payout, cross_rep_frames
from compscore.engine.plan_tables import plan_tables
from compscore.engine.reconcile import MATCH_KEY
from compscore.generator import GeneratorConfig, generate_company
from compscore.loaders import load_canonical_dir
from compscore.scoring.batches import REP_COLUMN, all_rep_ids, batch_data, rep_batches
from compscore.scoring.components import component_marginals, component_marginals_of
from compscore.scoring.scores import score_company

AS_OF = dt.date(2025, 6, 30)
CANONICAL_SMALL = Path(__file__).resolve().parent / "fixtures" / "canonical_small"


@pytest.fixture(scope="module")
def company() -> CanonicalData:
    return generate_company(GeneratorConfig(reps=60, quarters=6, seed=5, reps_per_chunk=30))


def _assert_same_tables(whole: dict[str, pl.DataFrame], batched: dict[str, pl.DataFrame]) -> None:
    """Equal after sorting by every column; float sums may differ in the last bits (summation order)."""
    assert whole.keys() == batched.keys()
    for name, expected in whole.items():
        got = batched[name]
        assert got.height == expected.height, name
        assert_frame_equal(
            got.sort(got.columns, nulls_last=True),
            expected.sort(expected.columns, nulls_last=True),
            rel_tol=1e-12,
            abs_tol=1e-12,
        )


def test_batches_hold_every_rep_keyed_row_once(company):
    batches = list(rep_batches(company, batch_reps=7))
    n_reps = all_rep_ids(company).len()
    assert n_reps > 60  # hires replace leavers
    assert len(batches) == -(-n_reps // 7)
    assert all(b.rep_ids.len() == 7 for b in batches[:-1])
    for table, column in REP_COLUMN.items():
        parts = [batch_data(company, b)[table] for b in batches]
        assert sum(p.height for p in parts) == company[table].height
        assert pl.concat(parts)[column].n_unique() == company[table][column].n_unique()


def test_batch_payouts_are_the_whole_payout_of_their_reps(company):
    cross = cross_rep_frames(company)
    whole = compute_payout(company, AS_OF).lines
    naive_differs = False
    for batch in rep_batches(company, batch_reps=7):
        part = batch_data(company, batch)
        expected = whole.filter(batch.predicate()).sort("line_id")
        batched = compute_payout(part, AS_OF, cross.for_reps(batch.predicate())).lines.sort("line_id")
        assert_frame_equal(batched, expected, check_exact=True)
        naive = compute_payout(part, AS_OF).lines.sort("line_id")
        naive_differs |= not naive.equals(expected)
    assert naive_differs, "some batch needs other reps' rows (the cross-rep frames)"


def test_computed_lines_are_sorted_unless_asked_not_to_be(company):
    lines = compute_payout(company, AS_OF).lines
    assert lines.equals(lines.sort("earned_date", "line_id"))
    unsorted = compute_payout(company, AS_OF, sort_lines=False).lines
    assert unsorted.sort("earned_date", "line_id").equals(lines)


def test_at_most_one_computed_line_per_match_key(company):
    """What lets `score_shard` take the payout's lines unsorted: reconciliation sums lines by match key,
    and a sum of one computed line does not depend on the order of the lines."""
    lines = compute_payout(company, AS_OF).lines
    assert {"earning", "deferral_release", "clawback"} <= set(lines["line_type"])
    assert (
        lines["referral_id"].is_not_null().any() and lines["deal_id"].is_null().any()
    )  # referral, retention
    assert not lines.select(MATCH_KEY).is_duplicated().any()


def test_batch_referral_bonuses_use_other_reps_deals(company):
    """A referral bonus is priced on the converted deal, which its referring rep did not own."""
    cross = cross_rep_frames(company)
    owners = company.deals.select(pl.col("deal_id").alias("converted_deal_id"), "owner_rep_id")
    foreign = cross.conversions.join(owners, on="converted_deal_id").filter(
        pl.col("rep_id") != pl.col("owner_rep_id")
    )
    assert foreign.height > 0


@pytest.mark.parametrize("batch_reps", [1, 7])
def test_generated_company_scores_the_same_in_batches(company, batch_reps):
    whole = score_company(company, as_of=AS_OF).outputs()
    batched = score_company(company, as_of=AS_OF, batch_reps=batch_reps).outputs()
    _assert_same_tables(whole, batched)


def test_canonical_small_scores_the_same_one_rep_at_a_time():
    data = load_canonical_dir(CANONICAL_SMALL).data
    _assert_same_tables(score_company(data).outputs(), score_company(data, batch_reps=1).outputs())


def test_batch_size_must_be_positive(company):
    with pytest.raises(ValueError, match="batch_reps must be at least 1"):
        score_company(company, batch_reps=0)


def test_component_marginals_from_the_run_equal_those_placed_from_the_data(company):
    """`finished_score_tables` prices the components from the deals the batches placed under their plans;
    that must be the table `component_marginals` makes from the data on its own."""
    scores = score_company(company, as_of=AS_OF, batch_reps=7)
    assert scores.deal_sizes is not None
    reused = component_marginals_of(plan_tables(company.plans), scores.deal_sizes)
    expected = component_marginals(company)
    assert expected.height > 40 and expected["marginal_same_day"].sum() > 0
    _assert_same_tables({"c": expected}, {"c": reused})
