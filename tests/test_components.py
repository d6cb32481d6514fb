"""plan_component_marginals: which rule pays for what, worked by hand."""

from __future__ import annotations

import polars as pl
import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.scoring.components import component_marginals

CLAWBACK_NB = (
    "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
    "     clawback: {window_days: 180, fraction: 1.0}}\n"
)
RENEW_2 = (
    "  - {id: renew, kind: commission, applies_to: [renewal, expansion], tiers: [{from: 0.0, rate: 0.02}]}\n"
)
REFERRAL = "  - {id: ref, kind: referral_bonus, rate: 0.05}\n"


def test_each_component_priced_alone_at_quota():
    company = Company(
        plans=[plan(CLAWBACK_NB + RENEW_2 + REFERRAL, quota=100_000)],
        deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))],
    )
    at_quota = component_marginals(company.data()).filter(pl.col("attainment") == 1.0)
    rows = {r["component_id"]: r for r in at_quota.iter_rows(named=True)}
    assert set(rows) == {"nb", "renew", "ref"}
    # nb: 10 % with a 180-day full clawback, c = 180/365 = 0.4932: 0.1 × (1 − c) same-day, 0.1 × c retention.
    assert rows["nb"]["marginal_same_day"] == pytest.approx(0.1 * (1 - 180 / 365))
    assert rows["nb"]["marginal_retention"] == pytest.approx(0.1 * 180 / 365)
    assert rows["nb"]["marginal_referral"] == 0.0
    # renew: 2 % of a renewal dollar, retention only; ref: 5 % of the referred deal.
    assert (rows["renew"]["marginal_same_day"], rows["renew"]["marginal_retention"]) == (
        0.0,
        pytest.approx(0.02),
    )
    assert rows["ref"]["marginal_referral"] == pytest.approx(0.05)
    assert rows["ref"]["component_kind"] == "referral_bonus"
