"""Scenario files and plan levers (SPEC section 8).

A scenario is a plan file (SPEC section 3) with one more top-level key, `scenario_of: <baseline plan_id>`,
read by the same parser (`compscore.plans.parse_plan`), so its errors name the file, the line and the key.
A lever is one number of a plan that the rebalancer may move; `lever_value` reads it and `with_lever`
writes it, leaving the rest of the plan as it was.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from compscore.plans import Clawback, Component, Deferral, Plan, PlanError, PlanIssue, Tier, parse_plan
from compscore.yaml_lines import line_of

SCENARIO_KEY = "scenario_of"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""Plan and scenario ids that may name an output file or a table row."""


@dataclass(frozen=True)
class Scenario:
    plan: Plan
    """The scenario's rules; its `plan_id` is the scenario's name in the outputs."""
    scenario_of: str
    """The baseline plan whose reps and books it is scored on."""

    @property
    def name(self) -> str:
        return self.plan.plan_id


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """Parse a scenario document; `PlanError` (file, line, key) when it is not a valid plan or lacks
    `scenario_of`."""
    plan = parse_plan(text, file, extra_keys=frozenset({SCENARIO_KEY}))
    doc = yaml.safe_load(text)
    baseline = doc.get(SCENARIO_KEY)
    root = yaml.compose(text)
    if SCENARIO_KEY not in doc:
        raise PlanError([PlanIssue(file, None, SCENARIO_KEY, "a scenario needs `scenario_of: <plan_id>`")])
    if not isinstance(baseline, str) or not SAFE_ID.match(baseline):
        line = line_of(root, [SCENARIO_KEY])
        raise PlanError([PlanIssue(file, line, SCENARIO_KEY, f"expected a plan id, got {baseline!r}")])
    if not SAFE_ID.match(plan.plan_id) or plan.plan_id == "baseline":
        line = line_of(root, ["plan_id"])
        message = "a scenario's plan_id names it: letters, digits, . _ - and not `baseline`"
        raise PlanError([PlanIssue(file, line, "plan_id", message)])
    return Scenario(plan=plan, scenario_of=baseline)


def read_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError([PlanIssue(str(path), None, "<file>", f"cannot read scenario file: {exc}")]) from exc
    return parse_scenario(text, str(path))


def read_scenarios(directory: str | Path) -> list[Scenario]:
    """Every `*.yaml`/`*.yml` scenario in a folder, by file name; none when the folder is absent.
    One `PlanError` lists every file's problems."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    scenarios, issues = [], []
    for f in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            scenarios.append(read_scenario(f))
        except PlanError as exc:
            issues.extend(exc.issues)
    if issues:
        raise PlanError(issues)
    return scenarios


class LeverError(ValueError):
    """A lever that does not exist or cannot move on this plan."""


RATE_BOUNDS = (0.0, 1.0)
WINDOW_BOUNDS = (0.0, 730.0)
DEFAULT_CLAWBACK_WINDOW_DAYS = 180
"""Window of a clawback that the `clawback_fraction` lever adds where there is none (SPEC 3's example)."""
DEFAULT_CLAWBACK_FRACTION = 1.0
"""Fraction of a clawback the `clawback_window_days` lever adds (the parser's default)."""
DEFAULT_RELEASE_AFTER_DAYS = 365
"""Release delay of a deferral the `deferral_fraction` lever adds (the reference horizon H)."""


@dataclass(frozen=True)
class Lever:
    name: str
    moves_cost: bool
    """Whether the lever changes pay before clawbacks (rates do; clawbacks and deferrals only move pay in time
    or take it back, so they change the SDI at equal cost)."""
    bounds: tuple[float, float]
    integer: bool = False

    @property
    def scale(self) -> float:
        """The change that counts as 100 % for a lever whose baseline value is 0."""
        return self.bounds[1] - self.bounds[0]


LEVERS: dict[str, Lever] = {
    "new_business_rate": Lever("new_business_rate", True, RATE_BOUNDS),
    "renewal_rate": Lever("renewal_rate", True, RATE_BOUNDS),
    "expansion_rate": Lever("expansion_rate", True, RATE_BOUNDS),
    "referral_rate": Lever("referral_rate", True, RATE_BOUNDS),
    "clawback_window_days": Lever("clawback_window_days", False, WINDOW_BOUNDS, integer=True),
    "clawback_fraction": Lever("clawback_fraction", False, RATE_BOUNDS),
    "deferral_fraction": Lever("deferral_fraction", False, RATE_BOUNDS),
}
_DEAL_TYPE_OF = {
    "new_business_rate": "new_business",
    "renewal_rate": "renewal",
    "expansion_rate": "expansion",
}


def parse_levers(text: str) -> list[Lever]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in LEVERS]
    if unknown or not names:
        raise LeverError(f"unknown lever(s) {unknown or text!r}; expected some of {', '.join(LEVERS)}")
    return [LEVERS[n] for n in dict.fromkeys(names)]


def usable_levers(plan: Plan, levers: list[Lever]) -> tuple[list[Lever], list[str]]:
    """The levers that can move on this plan, and why each other one cannot."""
    usable, reasons = [], []
    for lever in levers:
        try:
            lever_value(plan, lever)
        except LeverError as exc:
            reasons.append(str(exc))
            continue
        usable.append(lever)
    return usable, reasons


def _commissions_on(plan: Plan, deal_type: str) -> list[Component]:
    return [c for c in plan.components if c.kind == "commission" and deal_type in c.applies_to]


def moved_components(plan: Plan, lever: Lever) -> frozenset[str]:
    """Ids of the components the lever changes (a lever that adds a component names the new one)."""
    if lever.name in _DEAL_TYPE_OF:
        found = _commissions_on(plan, _DEAL_TYPE_OF[lever.name])
        return frozenset(c.id for c in found) or frozenset({_added_id(lever)})
    if lever.name == "referral_rate":
        found = [c for c in plan.components if c.kind == "referral_bonus"]
        return frozenset(c.id for c in found) or frozenset({_added_id(lever)})
    return frozenset(c.id for c in _commissions_on(plan, "new_business"))


def _added_id(lever: Lever) -> str:
    return lever.name.replace("_", "-")


def lever_value(plan: Plan, lever: Lever) -> float:
    """The lever's value on the plan: the first tier rate of the first component it moves (0 when the plan
    has none), the referral bonus rate, or the first new-business commission's clawback/deferral term."""
    if lever.name in _DEAL_TYPE_OF:
        found = _commissions_on(plan, _DEAL_TYPE_OF[lever.name])
        return found[0].tiers[0].rate if found else 0.0
    if lever.name == "referral_rate":
        bonuses = [c for c in plan.components if c.kind == "referral_bonus"]
        if any(c.rate is None for c in bonuses):
            raise LeverError(
                f"plan {plan.plan_id!r} pays a flat referral bonus; referral_rate cannot move it"
            )
        return bonuses[0].rate if bonuses else 0.0
    nb = _commissions_on(plan, "new_business")
    if not nb:
        raise LeverError(f"plan {plan.plan_id!r} has no new-business commission for {lever.name} to act on")
    first = nb[0]
    if lever.name == "clawback_window_days":
        return float(first.clawback.window_days) if first.clawback else 0.0
    if lever.name == "clawback_fraction":
        return first.clawback.fraction if first.clawback else 0.0
    return first.deferral.fraction if first.deferral else 0.0


def lever_bounds(plan: Plan, lever: Lever) -> tuple[float, float]:
    """The lever's range on this plan: its own bounds, and for a rate that scales tiers, no tier above 1."""
    lo, hi = lever.bounds
    if lever.name in _DEAL_TYPE_OF:
        found = _commissions_on(plan, _DEAL_TYPE_OF[lever.name])
        base = lever_value(plan, lever)
        top = max((t.rate for c in found for t in c.tiers), default=0.0)
        if base > 0 and top > 0:
            hi = min(hi, hi * base / top)
    return lo, hi


def _scaled(rate: float, base: float, value: float) -> float:
    """`rate` moved by the factor value/base, kept in [0, 1]; rounded to 12 decimals so that the base rate
    itself lands exactly on `value` (0.02 · 0.03 / 0.02 is 0.029999999999999995 in floats)."""
    return min(round(rate * value / base, 12), 1.0)


def _scaled_tiers(component: Component, base: float, value: float) -> tuple[Tier, ...]:
    """Every tier rate times value/base (one factor), or every tier at `value` when the base rate is 0."""
    if base > 0:
        return tuple(Tier(t.from_attainment, _scaled(t.rate, base, value)) for t in component.tiers)
    return tuple(Tier(t.from_attainment, value) for t in component.tiers)


def _set_rate(plan: Plan, lever: Lever, value: float) -> Plan:
    deal_type = _DEAL_TYPE_OF[lever.name]
    found = {c.id for c in _commissions_on(plan, deal_type)}
    if not found:
        added = Component(
            id=_added_id(lever), kind="commission", applies_to=(deal_type,), tiers=(Tier(0.0, value),)
        )
        return dataclasses.replace(plan, components=(*plan.components, added))
    base = lever_value(plan, lever)
    return _replace_components(
        plan, found, lambda c: dataclasses.replace(c, tiers=_scaled_tiers(c, base, value))
    )


def _set_referral_rate(plan: Plan, lever: Lever, value: float) -> Plan:
    bonuses = {c.id for c in plan.components if c.kind == "referral_bonus"}
    if not bonuses:
        added = Component(id=_added_id(lever), kind="referral_bonus", rate=value)
        return dataclasses.replace(plan, components=(*plan.components, added))
    base = lever_value(plan, lever)

    def scaled(c: Component) -> Component:
        return dataclasses.replace(c, rate=_scaled(c.rate, base, value) if base > 0 else value)

    return _replace_components(plan, bonuses, scaled)


def _set_contingency(plan: Plan, lever: Lever, value: float) -> Plan:
    def changed(c: Component) -> Component:
        if lever.name == "clawback_window_days":
            fraction = c.clawback.fraction if c.clawback else DEFAULT_CLAWBACK_FRACTION
            return dataclasses.replace(c, clawback=Clawback(round(value), fraction))
        if lever.name == "clawback_fraction":
            window = c.clawback.window_days if c.clawback else DEFAULT_CLAWBACK_WINDOW_DAYS
            return dataclasses.replace(c, clawback=Clawback(window, value))
        after = c.deferral.release_after_days if c.deferral else DEFAULT_RELEASE_AFTER_DAYS
        return dataclasses.replace(c, deferral=Deferral(value, after))

    return _replace_components(plan, {c.id for c in _commissions_on(plan, "new_business")}, changed)


def _replace_components(plan: Plan, ids: set[str], change: Callable[[Component], Component]) -> Plan:
    components = tuple(change(c) if c.id in ids else c for c in plan.components)
    return dataclasses.replace(plan, components=components)


def with_lever(plan: Plan, lever: Lever, value: float) -> Plan:
    """The plan with the lever set to `value` (clipped to its bounds); unchanged when already there."""
    lo, hi = lever_bounds(plan, lever)
    value = min(max(value, lo), hi)
    if lever.integer:
        value = float(round(value))
    if value == lever_value(plan, lever):
        return plan
    if lever.name in _DEAL_TYPE_OF:
        return _set_rate(plan, lever, value)
    if lever.name == "referral_rate":
        return _set_referral_rate(plan, lever, value)
    return _set_contingency(plan, lever, value)


def relative_change(lever: Lever, before: float, after: float) -> float:
    """|after − before| ÷ before, or ÷ the lever's range when it was 0."""
    return abs(after - before) / (before if before > 0 else lever.scale)
