"""Score a plan, or a scenario of it, on the baseline plan's reps and their actual books (SPEC section 8).

Nothing is re-implemented here: the plan under test takes the baseline's plan_id in a copy of the data that
holds only that plan, so the payout engine (`compute_payout`) and the scoring (`score_company`) see exactly
the baseline's reps, assignments, deals, churn and referrals, and apply the same formulas (SPEC section 5).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.payout import PayoutResult, compute_payout, data_as_of, with_period
from compscore.plans import Plan
from compscore.scenarios.plan_edit import Scenario
from compscore.scoring.books import UNIT_KEYS
from compscore.scoring.marginal import same_day_index, same_day_multiple
from compscore.scoring.scores import score_company

BASELINE = "baseline"
MARGINALS = ("marginal_same_day", "marginal_retention", "marginal_referral")
SCENARIO_SCORES_SCHEMA: dict[str, pl.DataType] = {
    "scenario": pl.String(),
    "plan_id": pl.String(),
    "period": pl.String(),
    "period_start": pl.Date(),
    "n_reps": pl.UInt32(),
    "same_day_index": pl.Float64(),
    "same_day_multiple": pl.Float64(),
    "marginal_same_day": pl.Float64(),
    "marginal_retention": pl.Float64(),
    "marginal_referral": pl.Float64(),
    "cost": pl.Float64(),
    "cost_change": pl.Float64(),
}
"""The `scenario_scores` table: one row per scenario and period, the baseline as scenario `baseline`.
`plan_id` is the baseline plan whose reps and books were used; units in docs/whatif.md."""


class ScenarioError(ValueError):
    """A scenario that cannot be scored against the baseline asked for."""


@dataclass(frozen=True)
class Pooled:
    """A plan over a set of rep-periods: the means of the reps' marginals, their SDI and multiple, and the
    total cost."""

    marginal_same_day: float
    marginal_retention: float
    marginal_referral: float
    same_day_index: float | None
    same_day_multiple: float | None
    cost: float
    n_units: int


@dataclass(frozen=True)
class PlanEvaluation:
    """A plan priced on the baseline's books.

    - `periods`: per period, n_reps, SDI, multiple, mean marginals and `cost`.
    - `units`: per rep and period, the rep's marginals and `cost`.
    """

    periods: pl.DataFrame
    units: pl.DataFrame

    def for_period(self, period: str) -> PlanEvaluation:
        return PlanEvaluation(
            periods=self.periods.filter(pl.col("period") == period),
            units=self.units.filter(pl.col("period") == period),
        )

    def pooled(self, period: str | None = None) -> Pooled:
        """SDI of the means of the reps' marginals and the total cost, over one period or all of them."""
        units = self.units if period is None else self.units.filter(pl.col("period") == period)
        means = units.select(*[pl.mean(c).fill_null(0.0) for c in MARGINALS], pl.sum("cost"), pl.len())
        m_s, m_r, m_f = (pl.col(c) for c in MARGINALS)
        row = means.with_columns(sdi=same_day_index(m_s, m_r, m_f), multiple=same_day_multiple(m_s, m_r)).row(
            0, named=True
        )
        return Pooled(
            marginal_same_day=row["marginal_same_day"],
            marginal_retention=row["marginal_retention"],
            marginal_referral=row["marginal_referral"],
            same_day_index=row["sdi"],
            same_day_multiple=row["multiple"],
            cost=row["cost"],
            n_units=row["len"],
        )


def baseline_only(data: CanonicalData, plan: Plan, baseline_id: str) -> CanonicalData:
    """The data with `plan` standing in for the baseline plan and no other plan; statement lines are left
    out (cost is what the engine computes, SPEC section 8)."""
    stand_in = dataclasses.replace(plan, plan_id=baseline_id)
    tables = dict(data.tables)
    tables["commission_lines"] = data.commission_lines.head(0)
    return CanonicalData(tables=tables, plans={baseline_id: stand_in})


def unit_costs(payout: PayoutResult, plan: Plan) -> pl.DataFrame:
    """Variable pay before clawbacks per rep-period: deal commissions and spiffs (before deferral), referral
    bonuses, and retention bonuses earned."""
    deal = payout.deal_pay.select(*UNIT_KEYS, "gross_pay")
    referral = payout.referral_pay.select(*UNIT_KEYS, "gross_pay")
    bonus_ids = [c.id for c in plan.components if c.kind == "retention_bonus"]
    retention = with_period(
        payout.lines.lazy()
        .filter(pl.col("component_id").is_in(bonus_ids) & (pl.col("line_type") == "earning"))
        .with_columns(period_kind=pl.lit(plan.period)),
        "earned_date",
    ).select(*UNIT_KEYS, gross_pay=pl.col("amount"))
    return (
        pl.concat([deal.lazy(), referral.lazy(), retention])
        .group_by(UNIT_KEYS)
        .agg(cost=pl.sum("gross_pay"))
        .collect()
    )


def evaluate_plan(data: CanonicalData, baseline_id: str, plan: Plan, as_of: dt.date) -> PlanEvaluation:
    """Score `plan` on the baseline plan's reps and their actual books, and price it (cost)."""
    own = baseline_only(data, plan, baseline_id)
    scores = score_company(own, as_of=as_of)
    costs = unit_costs(compute_payout(own, as_of), own.plans[baseline_id])
    units = (
        scores.rep_period_books.select(*UNIT_KEYS, "period", *MARGINALS)
        .join(costs, on=UNIT_KEYS, how="left")
        .with_columns(pl.col("cost").fill_null(0.0))
    )
    period_cost = units.group_by("period_start").agg(pl.sum("cost"))
    periods = (
        scores.plan_scores.select(
            "plan_id", "period", "period_start", "n_reps", "same_day_index", "same_day_multiple", *MARGINALS
        )
        .join(period_cost, on="period_start", how="left")
        .with_columns(pl.col("cost").fill_null(0.0))
    )
    return PlanEvaluation(periods=periods, units=units)


def check_scenario(data: CanonicalData, baseline_id: str, scenario: Scenario) -> None:
    """Raise `ScenarioError` when the scenario does not belong to this baseline."""
    where = scenario.plan.source or scenario.name
    if scenario.scenario_of != baseline_id:
        raise ScenarioError(
            f"{where}: scenario_of: is {scenario.scenario_of!r}, but the baseline asked for is "
            f"{baseline_id!r}"
        )
    if scenario.plan.period != data.plans[baseline_id].period:
        raise ScenarioError(
            f"{where}: period: a scenario keeps its baseline's period "
            f"({data.plans[baseline_id].period!r}), got {scenario.plan.period!r}"
        )


def require_plan(data: CanonicalData, plan_id: str) -> Plan:
    if plan_id not in data.plans:
        known = ", ".join(sorted(data.plans)) or "none"
        raise ScenarioError(f"plan {plan_id!r} is not among the input's plans ({known})")
    return data.plans[plan_id]


def scenario_scores(
    data: CanonicalData, baseline_id: str, scenarios: Sequence[Scenario], as_of: dt.date | None = None
) -> pl.DataFrame:
    """The `scenario_scores` rows of one baseline plan: the baseline, then each scenario, per period."""
    baseline = require_plan(data, baseline_id)
    names = [s.name for s in scenarios]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(f"scenario plan_id(s) used twice: {', '.join(repeated)}")
    for scenario in scenarios:
        check_scenario(data, baseline_id, scenario)
    as_of = as_of or data_as_of(data)
    rows = []
    for name, plan in [(BASELINE, baseline), *((s.name, s.plan) for s in scenarios)]:
        periods = evaluate_plan(data, baseline_id, plan, as_of).periods
        rows.append(periods.with_columns(scenario=pl.lit(name)))
    table = pl.concat(rows)
    base_cost = table.filter(pl.col("scenario") == BASELINE).select(
        "period_start", baseline_cost=pl.col("cost")
    )
    return (
        table.join(base_cost, on="period_start", how="left")
        .with_columns(
            cost_change=pl.when(pl.col("baseline_cost") > 0).then(
                pl.col("cost") / pl.col("baseline_cost") - 1.0
            )
        )
        .select(list(SCENARIO_SCORES_SCHEMA))
        .cast(SCENARIO_SCORES_SCHEMA)
    )


def all_scenario_scores(
    data: CanonicalData, scenarios: Sequence[Scenario], as_of: dt.date | None = None
) -> pl.DataFrame:
    """`scenario_scores` for every baseline the scenarios name; an empty table when there are none."""
    as_of = as_of or data_as_of(data)
    baselines = list(dict.fromkeys(s.scenario_of for s in scenarios))
    frames = [
        scenario_scores(data, b, [s for s in scenarios if s.scenario_of == b], as_of) for b in baselines
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=SCENARIO_SCORES_SCHEMA)
