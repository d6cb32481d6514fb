"""The rebalancer (SPEC section 8): lever values that bring a plan to a target SDI at equal cost.

The search is a sequence of one-dimensional root finds on the plan's own scoring (`evaluate` prices a plan
on the baseline's books). It solves `h = m_S − T/100 · (m_S + m_R + m_F) = 0` rather than `SDI = T`:
without caps, the marginals and the cost are affine in every rate lever and in the clawback and deferral
fractions, so `h` and the cost are affine too, and the Illinois root finder lands on the exact root in one
step; where tiers, caps or windows bend them it still brackets the root and converges.

Fewest levers first (SPEC): every single lever is tried, then pairs of rate levers that move different
components, where the second rate keeps the cost equal (a one-dimensional curve along which the SDI is
searched). A pair with a clawback or deferral lever is never needed: those levers leave cost unchanged,
so a rate beside them would have to stay where it is. Among the solutions with fewest levers, the one with
the smallest largest relative change wins.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from compscore.plans import Plan
from compscore.scenarios.plan_edit import (
    Lever,
    LeverError,
    lever_bounds,
    lever_value,
    moved_components,
    relative_change,
    with_lever,
)
from compscore.scenarios.whatif import Pooled

SDI_TOLERANCE = 0.5
"""A proposal reaches the target when its SDI is within this many points of it (SPEC section 8)."""
COST_TOLERANCE = 0.005
"""... and its cost within this fraction of the baseline's."""
_SOLVE_SDI, _SOLVE_COST = 1e-6, 1e-7
_MAX_ITERATIONS = 40
RATE_DECIMALS = 6


@dataclass(frozen=True)
class Point:
    values: dict[str, float]
    """Every lever's value (all the levers the search may move)."""
    pooled: Pooled

    @property
    def sdi(self) -> float | None:
        return self.pooled.same_day_index

    @property
    def cost(self) -> float:
        return self.pooled.cost


@dataclass(frozen=True)
class RebalanceResult:
    target: float
    levers: tuple[Lever, ...]
    baseline: Point
    proposal: Point | None
    """The proposal (None when the target is out of reach)."""
    plan: Plan
    """The proposed plan (the baseline plan when out of reach)."""
    nearest_sdi: float | None
    """The SDI closest to the target among the equal-cost plans the search met."""

    @property
    def reached(self) -> bool:
        return self.proposal is not None

    def moved(self) -> list[Lever]:
        if self.proposal is None:
            return []
        return [lv for lv in self.levers if self.proposal.values[lv.name] != self.baseline.values[lv.name]]


class _Search:
    """Evaluations of lever settings on one plan, cached (each is a scoring run)."""

    def __init__(
        self, plan: Plan, levers: Sequence[Lever], evaluate: Callable[[Plan], Pooled], target: float
    ):
        self.plan, self.levers, self.evaluate, self.target = plan, tuple(levers), evaluate, target
        self.base = {lv.name: lever_value(plan, lv) for lv in levers}
        self.bounds = {lv.name: lever_bounds(plan, lv) for lv in levers}
        self.cache: dict[tuple[float, ...], Point] = {}
        self.baseline = self.at({})

    def plan_at(self, changes: dict[str, float]) -> Plan:
        plan = self.plan
        for lever in self.levers:
            if lever.name in changes:
                plan = with_lever(plan, lever, changes[lever.name])
        return plan

    def at(self, changes: dict[str, float]) -> Point:
        values = {**self.base, **changes}
        key = tuple(values[lv.name] for lv in self.levers)
        if key not in self.cache:
            self.cache[key] = Point(values, self.evaluate(self.plan_at(changes)))
        return self.cache[key]

    def gap(self, point: Point) -> float:
        """h = m_S − T/100·(m_S + m_R + m_F): the same sign as SDI − T, affine in the rates."""
        p = point.pooled
        total = p.marginal_same_day + p.marginal_retention + p.marginal_referral
        return p.marginal_same_day - self.target / 100.0 * total

    def cost_gap(self, point: Point) -> float:
        return point.cost - self.baseline.cost

    def equal_cost(self, point: Point) -> bool:
        base = self.baseline.cost
        return abs(point.cost - base) <= COST_TOLERANCE * abs(base) if base else point.cost == 0

    def on_target(self, point: Point) -> bool:
        return point.sdi is not None and abs(point.sdi - self.target) <= SDI_TOLERANCE


def _root(
    f: Callable[[float], float], a: float, b: float, fa: float, fb: float, tol: float, x_tol: float = 0.0
) -> float:
    """A root of `f` in [a, b] where fa and fb differ in sign (Illinois regula falsi): exact in one step
    when f is affine, and never leaves the bracket. Stops when |f| <= tol or the bracket is narrower than
    `x_tol` (a lever in whole days is a step function: no value makes f exactly 0)."""
    if fa == 0:
        return a
    if fb == 0:
        return b
    side = 0
    x = a
    for _ in range(_MAX_ITERATIONS):
        x = (a * fb - b * fa) / (fb - fa)
        fx = f(x)
        if abs(fx) <= tol or abs(b - a) <= max(x_tol, 1e-12 * max(1.0, abs(a), abs(b))):
            return x
        if (fx > 0) == (fb > 0):
            b, fb = x, fx
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = x, fx
            if side == 1:
                fb /= 2
            side = 1
    return x


def _opposite(u: float, v: float) -> bool:
    return (u <= 0 <= v) or (v <= 0 <= u)


def _single(search: _Search, lever: Lever) -> Point | None:
    """Move one lever from its value toward the bound on the target's side until the SDI is reached."""
    x0, g0 = search.base[lever.name], search.gap(search.baseline)
    tol = _SOLVE_SDI * max(search.baseline.pooled.marginal_same_day, 1e-12)

    def gap(x: float) -> float:
        return search.gap(search.at({lever.name: x}))

    for end in search.bounds[lever.name]:
        if end == x0:
            continue
        g_end = gap(end)
        if _opposite(g0, g_end):
            x_tol = 0.5 if lever.integer else 0.0
            return search.at({lever.name: _root(gap, x0, end, g0, g_end, tol, x_tol)})
    return None


def _rebalancing_rate(search: _Search, first: Lever, second: Lever, a: float) -> float | None:
    """The value of `second` that keeps the cost equal with `first` at `a`; None when out of its bounds."""
    lo, hi = search.bounds[second.name]

    def cost_gap(b: float) -> float:
        return search.cost_gap(search.at({first.name: a, second.name: b}))

    c_lo, c_hi = cost_gap(lo), cost_gap(hi)
    if not _opposite(c_lo, c_hi):
        return None
    return _root(cost_gap, lo, hi, c_lo, c_hi, _SOLVE_COST * max(abs(search.baseline.cost), 1.0))


def _reachable_end(search: _Search, first: Lever, second: Lever, end: float) -> tuple[float, float]:
    """How far `first` can move toward `end` with `second` still able to keep the cost: (a, b) there."""
    a0 = search.base[first.name]
    b = _rebalancing_rate(search, first, second, end)
    if b is not None:
        return end, b
    lo, hi = search.bounds[second.name]
    b_bound = lo if search.cost_gap(search.at({first.name: end, second.name: lo})) > 0 else hi

    def cost_gap(a: float) -> float:
        return search.cost_gap(search.at({first.name: a, second.name: b_bound}))

    c0, c_end = cost_gap(a0), cost_gap(end)
    if not _opposite(c0, c_end):
        return a0, search.base[second.name]
    a = _root(cost_gap, a0, end, c0, c_end, _SOLVE_COST * max(abs(search.baseline.cost), 1.0))
    return a, b_bound


def _pair(search: _Search, first: Lever, second: Lever) -> Point | None:
    """Move two rates along the equal-cost curve until the SDI is reached."""
    a0, g0 = search.base[first.name], search.gap(search.baseline)
    tol = _SOLVE_SDI * max(search.baseline.pooled.marginal_same_day, 1e-12)

    def point(a: float) -> Point | None:
        b = _rebalancing_rate(search, first, second, a)
        return None if b is None else search.at({first.name: a, second.name: b})

    def gap(a: float) -> float:
        p = point(a)
        return search.gap(p) if p is not None else math.nan

    for end in search.bounds[first.name]:
        if end == a0:
            continue
        a_end, b_end = _reachable_end(search, first, second, end)
        if a_end == a0:
            continue
        g_end = search.gap(search.at({first.name: a_end, second.name: b_end}))
        if _opposite(g0, g_end):
            a = _root(gap, a0, a_end, g0, g_end, tol)
            return point(a) or search.at({first.name: a_end, second.name: b_end})
    return None


def _rounded(search: _Search, point: Point) -> Point:
    """The point with rates to 6 decimals and windows in whole days, re-evaluated."""
    changes = {}
    for lever in search.levers:
        value = point.values[lever.name]
        if value != search.base[lever.name]:
            changes[lever.name] = float(round(value)) if lever.integer else round(value, RATE_DECIMALS)
    return search.at(changes)


def _candidates(search: _Search) -> list[tuple[int, Point]]:
    """Rounded candidates by the number of levers they move: every single lever, then (only when no single
    lever reaches the target at equal cost) rate pairs."""
    found = []
    for lever in search.levers:
        point = _single(search, lever)
        if point is not None:
            found.append((1, _rounded(search, point)))
    if any(search.on_target(p) and search.equal_cost(p) for _, p in found):
        return found
    rates = [lv for lv in search.levers if lv.moves_cost]
    for first, second in itertools.combinations(rates, 2):
        if moved_components(search.plan, first) & moved_components(search.plan, second):
            continue
        point = _pair(search, first, second)
        if point is not None:
            found.append((2, _rounded(search, point)))
    return found


def rebalance(
    plan: Plan, levers: Sequence[Lever], target: float, evaluate: Callable[[Plan], Pooled]
) -> RebalanceResult:
    """Search lever values that bring `plan` to SDI `target` at equal cost (see the module docstring).
    `evaluate` prices a plan on the baseline's books (`PlanEvaluation.pooled`)."""
    if not 0.0 <= target <= 100.0:
        raise LeverError(f"target SDI {target} is outside [0, 100]")
    search = _Search(plan, levers, evaluate, target)
    if search.baseline.sdi is None:
        raise LeverError(f"plan {plan.plan_id!r} pays nothing variable on its books: it has no SDI to move")
    if search.on_target(search.baseline):
        return RebalanceResult(
            target, search.levers, search.baseline, search.baseline, plan, search.baseline.sdi
        )
    solutions = []
    for n_moved, final in _candidates(search):
        if search.on_target(final) and search.equal_cost(final):
            changes = [
                relative_change(lv, search.base[lv.name], final.values[lv.name]) for lv in search.levers
            ]
            solutions.append(((n_moved, max(changes), sum(changes)), final))
    reachable = [p for p in search.cache.values() if p.sdi is not None and search.equal_cost(p)]
    nearest = min(reachable, key=lambda p: abs(p.sdi - target)).sdi
    if not solutions:
        return RebalanceResult(target, search.levers, search.baseline, None, plan, nearest)
    _, best = min(solutions, key=lambda s: s[0])
    proposal_plan = search.plan_at({k: v for k, v in best.values.items() if v != search.base[k]})
    return RebalanceResult(target, search.levers, search.baseline, best, proposal_plan, best.sdi)
