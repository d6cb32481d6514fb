"""Plan rules (SPEC section 3): typed model, YAML parser with located errors, and a writer.

A plan file is parsed twice: once to plain values with `yaml.safe_load`, once to a node tree with
`yaml.compose`, which gives every key its line, so that each rejection names the file, the line and the key.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from compscore.schema import ADJUSTMENT_COMPONENT, DEAL_TYPES
from compscore.yaml_lines import line_of

Period = Literal["month", "quarter", "year"]
ComponentKind = Literal["commission", "spiff", "referral_bonus", "retention_bonus"]
PERIODS: tuple[str, ...] = ("month", "quarter", "year")
COMPONENT_KINDS: tuple[str, ...] = ("commission", "spiff", "referral_bonus", "retention_bonus")
RETENTION_METRICS: tuple[str, ...] = ("gross_revenue_retention",)


@dataclass(frozen=True)
class Tier:
    from_attainment: float
    """Lower bound of the band, as a fraction of quota (1.0 = 100 % attainment)."""
    rate: float


@dataclass(frozen=True)
class Clawback:
    window_days: int
    fraction: float


@dataclass(frozen=True)
class Deferral:
    fraction: float
    release_after_days: int


@dataclass(frozen=True)
class Component:
    id: str
    kind: ComponentKind
    applies_to: tuple[str, ...] = ()
    tiers: tuple[Tier, ...] = ()
    cap: float | None = None
    clawback: Clawback | None = None
    deferral: Deferral | None = None
    amount: float | None = None
    rate: float | None = None
    last_days_of_period: int | None = None
    metric: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    period: Period
    components: tuple[Component, ...]
    quota: float | None = None
    quota_credit: tuple[str, ...] = ()
    effective_start: dt.date | None = None
    effective_end: dt.date | None = None
    source: str | None = field(default=None, compare=False)
    """The file the plan was read from, for messages."""

    def component(self, component_id: str) -> Component:
        for c in self.components:
            if c.id == component_id:
                return c
        raise KeyError(f"plan {self.plan_id!r} has no component {component_id!r}")

    @property
    def component_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.components)


@dataclass(frozen=True)
class PlanIssue:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}"


class PlanError(ValueError):
    """A plan file that cannot be used; `issues` lists every problem found, each located."""

    def __init__(self, issues: Sequence[PlanIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


_TOP_KEYS = {"plan_id", "name", "effective", "period", "quota", "quota_credit", "components"}
_COMPONENT_KEYS: dict[str, set[str]] = {
    "commission": {"id", "kind", "applies_to", "tiers", "cap", "clawback", "deferral"},
    "spiff": {"id", "kind", "applies_to", "amount", "last_days_of_period", "cap"},
    "referral_bonus": {"id", "kind", "amount", "rate", "cap"},
    "retention_bonus": {"id", "kind", "metric", "threshold", "amount"},
}


class _Checker:
    """Collects located issues while a plan document is read."""

    def __init__(self, file: str, root: yaml.Node | None):
        self.file, self.root, self.issues = file, root, []

    def fail(self, path: Sequence[str | int], message: str) -> None:
        key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        self.issues.append(PlanIssue(self.file, line_of(self.root, path), key or "<document>", message))

    def mapping(self, value: Any, path: Sequence[str | int], allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, f"expected a mapping, got {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                self.fail([*path, str(key)], f"unknown key; allowed keys: {', '.join(sorted(allowed))}")
        return dict(value)

    def number(
        self, value: Any, path: Sequence[str | int], lo: float | None = None, hi: float | None = None
    ) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a number, got {value!r}")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
            self.fail(path, f"{value!r} is outside {bounds}")
            return None
        return float(value)

    def integer(self, value: Any, path: Sequence[str | int], lo: int = 0) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected a whole number, got {value!r}")
            return None
        if value < lo:
            self.fail(path, f"{value!r} is below {lo}")
            return None
        return value

    def deal_types(self, value: Any, path: Sequence[str | int]) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of deal types from {list(DEAL_TYPES)}")
            return ()
        out = []
        for i, item in enumerate(value):
            if item not in DEAL_TYPES:
                self.fail([*path, i], f"unknown deal type {item!r}; expected one of {list(DEAL_TYPES)}")
            else:
                out.append(item)
        return tuple(out)

    def date(self, value: Any, path: Sequence[str | int]) -> dt.date | None:
        if value is None:
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            if isinstance(value, dt.datetime):
                raise ValueError("a timestamp is not a date")
            return dt.date.fromisoformat(str(value))
        except ValueError:
            shown = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else repr(value)
            self.fail(path, f"expected a date YYYY-MM-DD, got {shown}")
            return None


def _read_tiers(ck: _Checker, value: Any, path: list[str | int]) -> tuple[Tier, ...]:
    if not isinstance(value, list) or not value:
        ck.fail(path, "expected a non-empty list of {from, rate} tiers")
        return ()
    tiers: list[Tier] = []
    starts: list[tuple[int, float]] = []
    """(index in the file, from) of every tier whose `from` is valid, to check their order."""
    for i, raw in enumerate(value):
        item = ck.mapping(raw, [*path, i], {"from", "rate"})
        if "from" not in item or "rate" not in item:
            ck.fail([*path, i], "each tier needs both `from` and `rate`")
            continue
        start = ck.number(item["from"], [*path, i, "from"], lo=0.0)
        rate = ck.number(item["rate"], [*path, i, "rate"], lo=0.0, hi=1.0)
        if start is not None:
            starts.append((i, start))
        if start is not None and rate is not None:
            tiers.append(Tier(start, rate))
    if starts and starts[0] != (0, 0.0):
        ck.fail([*path, starts[0][0], "from"], "the first tier must start at 0.0")
    for (_, previous), (i, start) in itertools.pairwise(starts):
        if start <= previous:
            ck.fail(
                [*path, i, "from"],
                f"tiers overlap: from {start} does not start above the previous tier's from {previous}",
            )
    return tuple(tiers)


def _read_component(ck: _Checker, raw: Any, path: list[str | int]) -> Component | None:
    if not isinstance(raw, Mapping):
        ck.fail(path, "expected a component mapping")
        return None
    kind = raw.get("kind")
    if kind not in COMPONENT_KINDS:
        ck.fail([*path, "kind"], f"unknown component kind {kind!r}; expected one of {list(COMPONENT_KINDS)}")
        return None
    item = ck.mapping(raw, path, _COMPONENT_KEYS[kind])
    cid = item.get("id")
    if not isinstance(cid, str) or not cid:
        ck.fail([*path, "id"], "every component needs a string `id`")
        return None
    if cid == ADJUSTMENT_COMPONENT:
        ck.fail([*path, "id"], f"`{ADJUSTMENT_COMPONENT}` is reserved for manual adjustment lines")

    def optional_number(key: str, lo: float | None = 0.0, hi: float | None = None) -> float | None:
        return None if item.get(key) is None else ck.number(item[key], [*path, key], lo, hi)

    def required(key: str) -> bool:
        if key not in item:
            ck.fail([*path, key], f"a {kind} component needs `{key}`")
            return False
        return True

    fields: dict[str, Any] = {"id": cid, "kind": kind, "cap": optional_number("cap")}
    if kind in ("commission", "spiff") and required("applies_to"):
        fields["applies_to"] = ck.deal_types(item["applies_to"], [*path, "applies_to"])
    if kind == "commission":
        if required("tiers"):
            fields["tiers"] = _read_tiers(ck, item["tiers"], [*path, "tiers"])
        if item.get("clawback") is not None:
            cb = ck.mapping(item["clawback"], [*path, "clawback"], {"window_days", "fraction"})
            window = ck.integer(cb.get("window_days"), [*path, "clawback", "window_days"])
            frac = ck.number(cb.get("fraction", 1.0), [*path, "clawback", "fraction"], 0.0, 1.0)
            if window is not None and frac is not None:
                fields["clawback"] = Clawback(window, frac)
        if item.get("deferral") is not None:
            de = ck.mapping(item["deferral"], [*path, "deferral"], {"fraction", "release_after_days"})
            frac = ck.number(de.get("fraction"), [*path, "deferral", "fraction"], 0.0, 1.0)
            after = ck.integer(de.get("release_after_days"), [*path, "deferral", "release_after_days"])
            if frac is not None and after is not None:
                fields["deferral"] = Deferral(frac, after)
    elif kind == "spiff":
        if required("amount"):
            fields["amount"] = ck.number(item["amount"], [*path, "amount"], lo=0.0)
        if required("last_days_of_period"):
            fields["last_days_of_period"] = ck.integer(
                item["last_days_of_period"], [*path, "last_days_of_period"], lo=1
            )
    elif kind == "referral_bonus":
        has_amount, has_rate = item.get("amount") is not None, item.get("rate") is not None
        if has_amount == has_rate:
            ck.fail(path, "a referral_bonus needs exactly one of `amount` (flat) or `rate`")
        fields["amount"] = optional_number("amount")
        fields["rate"] = optional_number("rate", 0.0, 1.0)
    elif kind == "retention_bonus":
        metric = item.get("metric", "gross_revenue_retention")
        if metric not in RETENTION_METRICS:
            ck.fail(
                [*path, "metric"], f"unknown metric {metric!r}; expected one of {list(RETENTION_METRICS)}"
            )
        fields["metric"] = metric
        if required("threshold"):
            fields["threshold"] = ck.number(item["threshold"], [*path, "threshold"], 0.0, 1.0)
        if required("amount"):
            fields["amount"] = ck.number(item["amount"], [*path, "amount"], lo=0.0)
    return Component(**fields)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_plan(text: str, file: str = "<plan>", extra_keys: frozenset[str] = frozenset()) -> Plan:
    """Parse and validate one plan document; raise `PlanError` listing every located problem.

    `extra_keys` are top-level keys a caller reads itself (a scenario's `scenario_of`): allowed here and
    otherwise ignored, so a normal plan file with one of them is still rejected.
    """
    try:
        root = yaml.compose(text)
        doc = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError([PlanIssue(file, line, "<yaml>", f"invalid YAML: {problem}")]) from exc
    ck = _Checker(file, root)
    top = ck.mapping(doc, [], _TOP_KEYS | extra_keys)
    if not top:
        if not ck.issues:
            ck.fail([], "the plan file is empty")
        raise PlanError(ck.issues)
    for key in ("plan_id", "period", "components"):
        if key not in top:
            ck.fail([key], "required key is missing")
    plan_id = top.get("plan_id")
    if "plan_id" in top and (not isinstance(plan_id, str) or not plan_id):
        ck.fail(["plan_id"], f"expected a non-empty string, got {plan_id!r}")
    period = top.get("period")
    if "period" in top and period not in PERIODS:
        ck.fail(["period"], f"unknown period {period!r}; expected one of {list(PERIODS)}")
    quota = None if top.get("quota") is None else ck.number(top["quota"], ["quota"], lo=0.0)
    if quota == 0.0:
        ck.fail(["quota"], "quota must be above 0 (leave it out for a plan without quota)")
    quota_credit = ()
    if top.get("quota_credit") is not None:
        quota_credit = ck.deal_types(top["quota_credit"], ["quota_credit"])
    eff = ck.mapping(top.get("effective") or {}, ["effective"], {"start", "end"})
    start, end = (
        ck.date(eff.get("start"), ["effective", "start"]),
        ck.date(eff.get("end"), ["effective", "end"]),
    )
    if start and end and end < start:
        ck.fail(["effective", "end"], f"end {end} is before start {start}")
    components: list[Component] = []
    raw_components = top.get("components")
    if "components" in top and not isinstance(raw_components, list):
        ck.fail(["components"], "expected a list of components")
    for i, raw in enumerate(raw_components if isinstance(raw_components, list) else []):
        comp = _read_component(ck, raw, ["components", i])
        if comp is not None:
            if comp.id in {c.id for c in components}:
                ck.fail(["components", i, "id"], f"duplicate component id {comp.id!r}")
            components.append(comp)
    if ck.issues:
        raise PlanError(ck.issues)
    return Plan(
        plan_id=plan_id,
        name=str(top.get("name") or plan_id),
        period=period,
        components=tuple(components),
        quota=quota,
        quota_credit=quota_credit,
        effective_start=start,
        effective_end=end,
        source=file,
    )


def read_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError([PlanIssue(str(path), None, "<file>", f"cannot read plan file: {exc}")]) from exc
    return parse_plan(text, str(path))


def read_plans(directory: str | Path) -> dict[str, Plan]:
    """Read every `*.yaml`/`*.yml` plan in a folder; raise one `PlanError` with all files' issues."""
    directory = Path(directory)
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    plans: dict[str, Plan] = {}
    issues: list[PlanIssue] = []
    for f in files:
        try:
            plan = read_plan(f)
        except PlanError as exc:
            issues.extend(exc.issues)
            continue
        if plan.plan_id in plans:
            other = plans[plan.plan_id].source
            issues.append(
                PlanIssue(
                    str(f),
                    line_of(yaml.compose(f.read_text()), ["plan_id"]),
                    "plan_id",
                    f"plan_id {plan.plan_id!r} is already defined in {other}",
                )
            )
            continue
        plans[plan.plan_id] = plan
    if issues:
        raise PlanError(issues)
    return plans


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The YAML-ready mapping of a plan, in SPEC section 3's layout; `parse_plan` reads it back equal."""

    def component(c: Component) -> dict[str, Any]:
        out: dict[str, Any] = {"id": c.id, "kind": c.kind}
        if c.applies_to:
            out["applies_to"] = list(c.applies_to)
        if c.tiers:
            out["tiers"] = [{"from": t.from_attainment, "rate": t.rate} for t in c.tiers]
        for key in ("cap", "amount", "rate", "last_days_of_period", "metric", "threshold"):
            if getattr(c, key) is not None:
                out[key] = getattr(c, key)
        if c.clawback:
            out["clawback"] = {"window_days": c.clawback.window_days, "fraction": c.clawback.fraction}
        if c.deferral:
            out["deferral"] = {
                "fraction": c.deferral.fraction,
                "release_after_days": c.deferral.release_after_days,
            }
        return out

    out: dict[str, Any] = {"plan_id": plan.plan_id, "name": plan.name}
    if plan.effective_start or plan.effective_end:
        out["effective"] = {"start": plan.effective_start, "end": plan.effective_end}
    out["period"] = plan.period
    if plan.quota is not None:
        out["quota"] = plan.quota
    if plan.quota_credit:
        out["quota_credit"] = list(plan.quota_credit)
    out["components"] = [component(c) for c in plan.components]
    return out


def dump_plan(plan: Plan) -> str:
    return yaml.safe_dump(plan_to_dict(plan), sort_keys=False, default_flow_style=None)


def write_plans(plans: Iterable[Plan], directory: str | Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for plan in plans:
        path = directory / f"{plan.plan_id}.yaml"
        path.write_text(dump_plan(plan), encoding="utf-8")
        paths.append(path)
    return paths
