"""A rebalance in words and as a table: what moved, what the SDI and the cost became, and what it means for a
typical rep."""

from __future__ import annotations

import polars as pl

from compscore.scenarios.plan_edit import Lever, lever_value
from compscore.scenarios.rebalance import Point, RebalanceResult
from compscore.scenarios.whatif import PlanEvaluation

PER_DOLLARS = 10_000
"""The deal size the words price the marginals on ("per $10,000 closed")."""


def _value(lever: Lever, value: float) -> str:
    return f"{value:.0f} days" if lever.integer else f"{100 * value:.4g} %"


def _multiple(value: float | None) -> str:
    return "none (nothing paid for retention)" if value is None else f"{value:.2f}"


def _lever_lines(result: RebalanceResult) -> list[str]:
    """One line per lever whose value differs in the proposed plan; a clawback or deferral term that came
    with another lever (the defaults in `compscore.scenarios.plan_edit`) is said to have come with it."""
    moved = {lv.name for lv in result.moved()}
    lines = []
    for lever in result.levers:
        before, after = result.baseline.values[lever.name], lever_value(result.plan, lever)
        if after == before:
            continue
        note = "" if lever.name in moved else " (comes with the lever above; not moved on its own)"
        lines.append(f"{lever.name}: {_value(lever, before)} -> {_value(lever, after)}{note}")
    return lines


def rebalance_rows(result: RebalanceResult, plan_id: str, period: str | None) -> pl.DataFrame:
    """`rebalance.csv`: the baseline and the proposal with each lever's value, SDI, multiple and cost."""
    points = [("baseline", result.baseline)] + ([("proposal", result.proposal)] if result.proposal else [])
    rows = []
    for role, point in points:
        p = point.pooled
        values = (
            point.values
            if role == "baseline"
            else {lv.name: lever_value(result.plan, lv) for lv in result.levers}
        )
        rows.append(
            {
                "role": role,
                "plan_id": plan_id,
                "period": period or "all",
                **{lv.name: values[lv.name] for lv in result.levers},
                "same_day_index": p.same_day_index,
                "same_day_multiple": p.same_day_multiple,
                "marginal_same_day": p.marginal_same_day,
                "marginal_retention": p.marginal_retention,
                "marginal_referral": p.marginal_referral,
                "cost": p.cost,
                "cost_change": p.cost / result.baseline.cost - 1.0 if result.baseline.cost else None,
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def _per_deal(point: Point) -> str:
    p = point.pooled
    return (
        f"${PER_DOLLARS * p.marginal_same_day:,.0f} same-day, ${PER_DOLLARS * p.marginal_retention:,.0f} "
        f"retention, ${PER_DOLLARS * p.marginal_referral:,.0f} referral"
    )


def typical_rep_pay(evaluation: PlanEvaluation) -> pl.DataFrame:
    """Per rep: mean pay (cost) per period over the rep-periods in the evaluation."""
    return evaluation.units.group_by("rep_id").agg(pay=pl.mean("cost"))


def describe(
    result: RebalanceResult, before: PlanEvaluation | None = None, after: PlanEvaluation | None = None
) -> list[str]:
    """The lines printed after a rebalance."""
    base = result.baseline
    if result.proposal is None:
        return [
            f"The target SDI {result.target:g} cannot be reached at equal cost (within 0.5 %) by moving "
            f"{', '.join(lv.name for lv in result.levers)} within their bounds.",
            f"Baseline SDI {base.sdi:.1f}; nearest reachable SDI at equal cost: {result.nearest_sdi:.1f}.",
        ]
    new = result.proposal
    lines = _lever_lines(result) or ["No lever moved: the plan is already at the target."]
    lines += [
        f"Same-Day Index {base.sdi:.1f} -> {new.sdi:.1f} (target {result.target:g}); same-day multiple "
        f"{_multiple(base.pooled.same_day_multiple)} -> {_multiple(new.pooled.same_day_multiple)}.",
        f"Cost (variable pay before clawbacks) {base.cost:,.2f} -> {new.cost:,.2f} "
        f"({(new.cost / base.cost - 1.0) * 100 if base.cost else 0.0:+.2f} %).",
        f"Per ${PER_DOLLARS:,} of added business a rep is paid, on average: {_per_deal(base)} before; "
        f"{_per_deal(new)} after.",
    ]
    if before is not None and after is not None:
        pay = typical_rep_pay(before).join(typical_rep_pay(after), on="rep_id", suffix="_after")
        if pay.height:
            median = pay.select(pl.median("pay"), pl.median("pay_after")).row(0)
            lines.append(
                f"A typical (median) rep earned {median[0]:,.2f} a period under the baseline and would earn "
                f"{median[1]:,.2f} under the proposal on the same book."
            )
    return lines


def side_by_side(rows: pl.DataFrame) -> pl.DataFrame:
    """`rebalance_rows` on its side for a terminal: one line per figure, baseline and proposal beside."""
    figures = [c for c in rows.columns if c not in ("role", "plan_id", "period")]
    columns = {"figure": figures}
    for row in rows.iter_rows(named=True):
        columns[row["role"]] = [None if row[f] is None else float(row[f]) for f in figures]
    return pl.DataFrame(columns, schema_overrides={r: pl.Float64 for r in rows["role"]})
