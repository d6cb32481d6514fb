"""`compscore whatif` and `compscore rebalance` on the small canonical fixture."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from compscore.cli import main
from compscore.engine.payout import data_as_of
from compscore.loaders import load_canonical_dir
from compscore.plans import read_plan
from compscore.scenarios.whatif import SCENARIO_SCORES_SCHEMA, evaluate_plan

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"
NO_SPIFF = """\
scenario_of: hunter-2026
plan_id: hunter-no-spiff
period: quarter
quota: 250000
quota_credit: [new_business]
components:
  - id: nb
    kind: commission
    applies_to: [new_business]
    tiers: [{from: 0.0, rate: 0.10}, {from: 1.0, rate: 0.15}]
"""


def test_whatif_writes_scenario_scores_with_costs_by_hand(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "no-spiff.yaml"
    scenario.write_text(NO_SPIFF)

    code = main(
        [
            "whatif",
            "--input",
            str(FIXTURE),
            "--plan",
            "hunter-2026",
            "--scenario",
            str(scenario),
            "--out",
            str(tmp_path / "out"),
        ]
    )

    assert code == 0
    table = pl.read_parquet(tmp_path / "out" / "scenario_scores.parquet")
    assert pl.read_csv(tmp_path / "out" / "scenario_scores.csv").height == table.height == 8
    assert list(table.columns) == list(SCENARIO_SCORES_SCHEMA)
    q1 = {r["scenario"]: r for r in table.filter(pl.col("period") == "2026-Q1").to_dicts()}
    # R01 closes $40,000 on Feb 10 and $60,000 on Mar 25 (in the last 14 days: a $1,000 spiff), far below
    # the 250,000 quota: baseline 0.10 * 100,000 + 1,000 = 11,000; without the spiff 10,000 (-9.09 %).
    assert q1["baseline"]["cost"] == pytest.approx(11_000)
    assert q1["hunter-no-spiff"]["cost"] == pytest.approx(10_000)
    assert q1["hunter-no-spiff"]["cost_change"] == pytest.approx(10_000 / 11_000 - 1)
    # Without the clawback and the referral bonus, pay rewards only the close.
    assert q1["hunter-no-spiff"]["same_day_index"] == pytest.approx(100.0)
    assert "hunter-no-spiff" in capsys.readouterr().out


def test_whatif_bad_scenario_is_one_located_message_and_exit_2(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(NO_SPIFF.replace("rate: 0.15", "rate: 15"))

    code = main(
        [
            "whatif",
            "--input",
            str(FIXTURE),
            "--plan",
            "hunter-2026",
            "--scenario",
            str(scenario),
            "--out",
            str(tmp_path / "out"),
        ]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert f"{scenario}:10: components[0].tiers[1].rate: 15 is outside [0.0, 1.0]" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_rebalance_writes_a_plan_that_parses_and_scores_on_target(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"

    code = main(
        [
            "rebalance",
            "--input",
            str(FIXTURE),
            "--plan",
            "hunter-2026",
            "--target-sdi",
            "30",
            "--levers",
            "new_business_rate,clawback_window_days",
            "--out",
            str(out),
        ]
    )

    assert code == 0
    printed = capsys.readouterr().out
    proposed = read_plan(out / "hunter-2026.rebalanced.yaml")
    assert proposed.plan_id == "hunter-2026"
    data = load_canonical_dir(FIXTURE).data
    rescored = evaluate_plan(data, "hunter-2026", proposed, data_as_of(data)).pooled()
    baseline = evaluate_plan(data, "hunter-2026", data.plans["hunter-2026"], data_as_of(data)).pooled()
    assert abs(rescored.same_day_index - 30) <= 0.5
    assert abs(rescored.cost / baseline.cost - 1) <= 0.005
    # A rate moves the cost, so the window alone must move: longer than 180 days, more pay is contingent.
    assert proposed.component("nb").clawback.window_days > 180
    assert proposed.component("nb").tiers == data.plans["hunter-2026"].component("nb").tiers
    rows = pl.read_csv(out / "rebalance.csv")
    assert rows["role"].to_list() == ["baseline", "proposal"]
    assert "Same-Day Index" in printed


def test_rebalance_out_of_reach_says_how_near_and_exits_2(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "rebalance",
            "--input",
            str(FIXTURE),
            "--plan",
            "hunter-2026",
            "--target-sdi",
            "30",
            "--levers",
            "new_business_rate",
            "--out",
            str(tmp_path / "out"),
        ]
    )

    err = capsys.readouterr().err
    assert code == 2
    assert "cannot be reached at equal cost" in err
    assert "nearest reachable SDI at equal cost: 46.9" in err
    assert not (tmp_path / "out").exists()
