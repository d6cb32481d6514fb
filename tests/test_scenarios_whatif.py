"""What-if scenarios scored on the baseline plan's reps and actual books, worked by hand (SPEC 5 and 8)."""

from __future__ import annotations

import pytest
from scoring_builders import Company, D, Deal, plan

from compscore.scenarios.plan_edit import parse_scenario
from compscore.scenarios.whatif import (
    SCENARIO_SCORES_SCHEMA,
    ScenarioError,
    all_scenario_scores,
    scenario_scores,
)

AS_OF = D(2026, 3, 31)
BASELINE = """\
  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}
  - {id: renew, kind: commission, applies_to: [renewal], tiers: [{from: 0.0, rate: 0.02}]}
"""


def scenario(components: str, name: str = "s1", of: str = "p", period: str = "quarter"):
    return parse_scenario(f"scenario_of: {of}\nplan_id: {name}\nperiod: {period}\ncomponents:\n{components}")


def company() -> Company:
    """R1 on plan p: $50,000 new business (its account churns 30 days later) and $10,000 of renewals.
    R2 on plan q: $900,000 of new business, which a scenario of p must not see."""
    return Company(
        plans=[plan(BASELINE), plan(BASELINE, plan_id="q")],
        reps=("R1", "R2"),
        assignments={"R1": "p", "R2": "q"},
        deals=[
            Deal("N1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),
            Deal("RN1", "R1", 10_000, D(2026, 2, 11), deal_type="renewal"),
            Deal("N2", "R2", 900_000, D(2026, 2, 12)),
        ],
        churn=[("A1", D(2026, 3, 12), 50_000)],
    )


def test_clawback_scenario_matches_spec_worked_example_3_at_unchanged_cost() -> None:
    clawback = scenario(
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],"
        " clawback: {window_days: 180, fraction: 1.0}}\n"
        "  - {id: renew, kind: commission, applies_to: [renewal], tiers: [{from: 0.0, rate: 0.02}]}\n"
    )
    rows = {r["scenario"]: r for r in scenario_scores(company().data(), "p", [clawback], AS_OF).to_dicts()}

    base, s1 = rows["baseline"], rows["s1"]
    # Baseline (SPEC example 2): m_S = 0.10, m_R = 0.02 -> SDI 100 * 0.10 / 0.12 = 83.3, multiple 5.0.
    assert base["same_day_index"] == pytest.approx(83.333, abs=1e-3)
    assert base["same_day_multiple"] == pytest.approx(5.0)
    # Scenario (SPEC example 3): c = 180/365 = 0.49315; m_S = 0.10 * (1 - c) = 0.050685,
    # m_R = 0.02 + 0.10 * c = 0.069315 -> SDI 100 * 0.050685 / 0.12 = 42.24.
    assert s1["marginal_same_day"] == pytest.approx(0.10 * (1 - 180 / 365))
    assert s1["marginal_retention"] == pytest.approx(0.02 + 0.10 * 180 / 365)
    assert s1["same_day_index"] == pytest.approx(42.237, abs=1e-3)
    # Cost before clawbacks: 0.10 * 50,000 + 0.02 * 10,000 = 5,200 under both (the churn claws back 5,000
    # under the scenario, which cost does not count); only R1 is p's rep (n_reps 1, R2's $900,000 unseen).
    assert base["cost"] == pytest.approx(5_200) and s1["cost"] == pytest.approx(5_200)
    assert s1["cost_change"] == pytest.approx(0.0)
    assert base["n_reps"] == s1["n_reps"] == 1


def test_higher_rate_scenario_costs_more_by_hand() -> None:
    richer = scenario(BASELINE.replace("rate: 0.10", "rate: 0.12"), name="richer")

    table = scenario_scores(company().data(), "p", [richer], AS_OF)

    [row] = table.filter(table["scenario"] == "richer").to_dicts()
    # 0.12 * 50,000 + 0.02 * 10,000 = 6,200; 6,200 / 5,200 - 1 = 0.1923
    assert row["cost"] == pytest.approx(6_200)
    assert row["cost_change"] == pytest.approx(6_200 / 5_200 - 1)
    assert list(table.schema) == list(SCENARIO_SCORES_SCHEMA)
    assert table["scenario"].to_list() == ["baseline", "richer"]


def test_scenario_for_another_baseline_or_period_is_refused() -> None:
    data = company().data()
    with pytest.raises(ScenarioError, match="scenario_of: is 'q', but the baseline asked for is 'p'"):
        scenario_scores(data, "p", [scenario(BASELINE, of="q")], AS_OF)
    with pytest.raises(ScenarioError, match="a scenario keeps its baseline's period"):
        scenario_scores(data, "p", [scenario(BASELINE, period="month")], AS_OF)
    with pytest.raises(ScenarioError, match="plan 'zz' is not among the input's plans"):
        scenario_scores(data, "zz", [], AS_OF)
    with pytest.raises(ScenarioError, match="used twice: s1"):
        scenario_scores(data, "p", [scenario(BASELINE), scenario(BASELINE)], AS_OF)


def test_no_scenarios_is_an_empty_table_with_the_columns() -> None:
    table = all_scenario_scores(company().data(), [], AS_OF)

    assert table.height == 0
    assert table.schema == SCENARIO_SCORES_SCHEMA
