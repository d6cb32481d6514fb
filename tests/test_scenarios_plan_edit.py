"""Scenario files (a plan file plus `scenario_of`) and the levers the rebalancer moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from compscore.plans import PlanError, dump_plan, parse_plan, read_plans
from compscore.scenarios.plan_edit import (
    LEVERS,
    LeverError,
    lever_bounds,
    lever_value,
    moved_components,
    parse_levers,
    parse_scenario,
    read_scenarios,
    relative_change,
    usable_levers,
    with_lever,
)

SCENARIO = """\
scenario_of: hunter
plan_id: hunter-clawback
period: quarter
components:
  - id: nb
    kind: commission
    applies_to: [new_business]
    tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.15}]
    clawback: {window_days: 180, fraction: 1.0}
"""

TWO_TIERS = parse_plan(
    """\
plan_id: p
period: quarter
quota: 100000
quota_credit: [new_business]
components:
  - id: nb
    kind: commission
    applies_to: [new_business]
    tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.15}]
  - {id: keep, kind: commission, applies_to: [renewal, expansion], tiers: [{from: 0.0, rate: 0.02}]}
  - {id: ref, kind: referral_bonus, amount: 500}
"""
)


def test_scenario_is_a_plan_file_with_its_baseline() -> None:
    scenario = parse_scenario(SCENARIO, "s.yaml")

    assert scenario.scenario_of == "hunter"
    assert scenario.name == "hunter-clawback"
    assert scenario.plan.component("nb").clawback.window_days == 180


def test_scenario_errors_name_file_line_and_key() -> None:
    with pytest.raises(PlanError) as missing:
        parse_scenario(SCENARIO.replace("scenario_of: hunter\n", ""), "s.yaml")
    assert "s.yaml: scenario_of: a scenario needs" in str(missing.value)

    with pytest.raises(PlanError) as bad_rate:
        parse_scenario(SCENARIO.replace("rate: 0.15", "rate: 1.5"), "s.yaml")
    assert "s.yaml:8: components[0].tiers[1].rate: 1.5 is outside [0.0, 1.0]" in str(bad_rate.value)

    with pytest.raises(PlanError) as bad_id:
        parse_scenario(SCENARIO.replace("scenario_of: hunter", "scenario_of: ../etc"), "s.yaml")
    assert "s.yaml:1: scenario_of: expected a plan id" in str(bad_id.value)


def test_a_plan_file_with_scenario_of_is_not_a_plan(tmp_path: Path) -> None:
    (tmp_path / "hunter-clawback.yaml").write_text(SCENARIO)

    with pytest.raises(PlanError) as exc:
        read_plans(tmp_path)
    assert "hunter-clawback.yaml:1: scenario_of: unknown key" in str(exc.value)


def test_absent_scenario_folder_has_no_scenarios(tmp_path: Path) -> None:
    assert read_scenarios(tmp_path / "scenarios") == []


def test_new_business_rate_is_one_factor_on_every_tier() -> None:
    lever = LEVERS["new_business_rate"]
    # 0.10 -> 0.05 halves every tier: 0.15 -> 0.075. The top tier caps the factor: 1 / 0.15 -> rate 0.6667.
    halved = with_lever(TWO_TIERS, lever, 0.05)

    assert [t.rate for t in halved.component("nb").tiers] == pytest.approx([0.05, 0.075])
    assert lever_value(halved, lever) == pytest.approx(0.05)
    assert lever_bounds(TWO_TIERS, lever) == pytest.approx((0.0, 0.10 / 0.15))
    assert parse_plan(dump_plan(halved)) == halved


def test_one_component_paying_renewal_and_expansion_moves_with_either() -> None:
    renewal, expansion = LEVERS["renewal_rate"], LEVERS["expansion_rate"]

    assert with_lever(TWO_TIERS, expansion, 0.03).component("keep").tiers[0].rate == 0.03
    assert moved_components(TWO_TIERS, renewal) & moved_components(TWO_TIERS, expansion) == {"keep"}


def test_contingency_levers_add_a_clawback_or_deferral_with_documented_defaults() -> None:
    clawed = with_lever(TWO_TIERS, LEVERS["clawback_fraction"], 0.5).component("nb").clawback
    windowed = with_lever(TWO_TIERS, LEVERS["clawback_window_days"], 90.4).component("nb").clawback
    deferred = with_lever(TWO_TIERS, LEVERS["deferral_fraction"], 0.25).component("nb").deferral

    assert (clawed.window_days, clawed.fraction) == (180, 0.5)
    assert (windowed.window_days, windowed.fraction) == (90, 1.0)
    assert (deferred.fraction, deferred.release_after_days) == (0.25, 365)


def test_a_rate_lever_without_a_component_adds_one_and_bounds_clip() -> None:
    no_renewal = parse_plan(
        "plan_id: q\nperiod: quarter\ncomponents:\n"
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.1}]}\n"
    )
    added = with_lever(no_renewal, LEVERS["renewal_rate"], 1.7)

    assert added.component("renewal-rate").tiers[0].rate == 1.0
    assert added.component("renewal-rate").applies_to == ("renewal",)


def test_flat_referral_bonus_is_not_a_rate_lever() -> None:
    with pytest.raises(LeverError, match="flat referral bonus"):
        lever_value(TWO_TIERS, LEVERS["referral_rate"])
    usable, reasons = usable_levers(TWO_TIERS, list(LEVERS.values()))
    assert LEVERS["referral_rate"] not in usable and len(usable) == 6 and len(reasons) == 1


def test_lever_names_and_relative_change() -> None:
    with pytest.raises(LeverError, match="unknown lever"):
        parse_levers("new_business_rate,bonus")
    # from 0.10 to 0.084: 0.016 / 0.10 = 16 %; from no clawback (0) to 146 days: 146 / 730 = 20 %
    assert relative_change(LEVERS["new_business_rate"], 0.10, 0.084) == pytest.approx(0.16)
    assert relative_change(LEVERS["clawback_window_days"], 0.0, 146.0) == pytest.approx(0.20)
