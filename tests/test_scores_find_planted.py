"""On a generated company, the scores find what the generator planted (compscore/generator/planted.py)."""

from __future__ import annotations

import polars as pl
import pytest

from compscore.engine.payout import compute_payout
from compscore.engine.reconcile import reconcile, reconciliation_totals
from compscore.generator.build import generate_company
from compscore.generator.company import GeneratorConfig
from compscore.generator.planted import HIGHEST_SDI_PLAN, LOWEST_SDI_PLANS
from compscore.scoring.scores import ScoreTables, score_company


@pytest.fixture(scope="module")
def company():
    return generate_company(GeneratorConfig(reps=300, quarters=8, seed=7))


@pytest.fixture(scope="module")
def scores(company) -> ScoreTables:
    return score_company(company)


def test_plans_order_by_sdi_as_designed(scores):
    mean_sdi = dict(
        scores.plan_scores.group_by("plan_id")
        .agg(pl.mean("same_day_index"))
        .sort("same_day_index")
        .iter_rows()
    )
    ordered = sorted(mean_sdi, key=mean_sdi.__getitem__)
    assert ordered[-1] == HIGHEST_SDI_PLAN
    assert set(ordered[:2]) == LOWEST_SDI_PLANS
    per_period = scores.plan_scores.pivot(on="plan_id", index="period", values="same_day_index")
    for other in set(mean_sdi) - {HIGHEST_SDI_PLAN}:
        assert (per_period[HIGHEST_SDI_PLAN] > per_period[other]).all(), other


def _intervals(scores: ScoreTables, indicator: str, plan_id: str) -> pl.DataFrame:
    outcomes = scores.plan_outcomes
    return outcomes.filter(
        (pl.col("indicator") == indicator) & (pl.col("plan_id") == plan_id) & pl.col("value").is_not_null()
    ).select("period", "value", "low", "high")


@pytest.mark.parametrize(
    ("indicator", "higher", "lower"),
    [
        ("period_end_bunching", "hunter", "referral-led"),
        ("period_end_discount_gap", "hunter", "balanced"),
        ("early_churn_rate", "hunter", "referral-led"),
        ("referrals_per_100_accounts", "referral-led", "hunter"),
    ],
)
def test_indicators_point_the_planted_way_with_separated_intervals(scores, indicator, higher, lower):
    pair = _intervals(scores, indicator, higher).join(
        _intervals(scores, indicator, lower), on="period", suffix="_lower"
    )
    assert pair.height >= 4, f"too few mature periods for {indicator}"
    assert (pair["value"] > pair["value_lower"]).all()
    separated = (pair["low"] > pair["high_lower"]).mean()
    assert separated >= 0.75, f"{indicator}: intervals separate in only {separated:.0%} of periods"


def test_reconciliation_flags_exactly_the_generators_manual_adjustments(company):
    """What this does and does not test: the generator's statement lines ARE the payout engine's own lines
    (computed per chunk of reps, `compscore.generator.lines`) plus manual adjustments. So this checks that
    `reconcile` matches equal pay on every key and lists exactly the adjustments, with totals by status,
    and that the engine's lines do not depend on how reps are chunked. It does NOT check the engine's
    formulas: those are tested against hand-written lines in tests/test_engine_hand_lines.py."""
    computed = compute_payout(company).lines
    mismatches = reconcile(company.commission_lines, computed, company.plans)
    adjustments = company.commission_lines.filter(pl.col("line_type") == "adjustment")
    assert adjustments.height > 0
    assert mismatches["status"].unique().to_list() == ["unexplained"]
    assert sorted(mismatches["given_line_id"].to_list()) == sorted(adjustments["line_id"].to_list())
    totals = reconciliation_totals(mismatches)
    assert totals["unexplained_total"].sum() == pytest.approx(adjustments["amount"].sum())
    assert totals["missing_total"].abs().max() == 0.0
    assert totals["amount_differs_total"].abs().max() == 0.0


def test_realized_same_day_share_follows_plan_design(scores):
    realized = dict(
        scores.plan_scores.group_by("plan_id").agg(pl.mean("realized_same_day_share")).iter_rows()
    )
    assert realized[HIGHEST_SDI_PLAN] == pytest.approx(1.0)
    assert realized["account-manager"] < realized["balanced"] < realized[HIGHEST_SDI_PLAN]
