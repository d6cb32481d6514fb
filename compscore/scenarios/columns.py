"""One-line descriptions, with units, of the `scenario_scores` columns (definitions: docs/whatif.md)."""

from __future__ import annotations

from compscore.scoring.columns import PLAN_SCORES

SCENARIO_SCORES: dict[str, str] = {
    "scenario": "Scenario name: the scenario file's plan_id, or `baseline` for the plan as it is.",
    "plan_id": "The baseline plan whose reps and actual books the scenario is scored on.",
    "period": PLAN_SCORES["period"],
    "period_start": PLAN_SCORES["period_start"],
    "n_reps": PLAN_SCORES["n_reps"],
    "same_day_index": PLAN_SCORES["same_day_index"],
    "same_day_multiple": PLAN_SCORES["same_day_multiple"],
    "marginal_same_day": PLAN_SCORES["marginal_same_day"],
    "marginal_retention": PLAN_SCORES["marginal_retention"],
    "marginal_referral": PLAN_SCORES["marginal_referral"],
    "cost": "Variable pay the payout engine computes for these reps on their actual books in the period, "
    "before clawbacks and before deferral holds, in plan currency.",
    "cost_change": "cost ÷ the baseline's cost in the same period − 1 (fraction; null when the baseline "
    "paid nothing).",
}
