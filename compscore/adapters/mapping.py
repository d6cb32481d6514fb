"""The declarative source mapping: which export file feeds which canonical table, column by column.

A mapping is a YAML file a data engineer copies from `compscore/adapters/mappings/` and edits for their
org (column names, picklist value maps, date formats). `load_mapping` reads it into the typed model below
and rejects unknown keys, unknown column types and unknown canonical columns with the file, line and key.
The layout is documented in docs/sources.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compscore.adapters.errors import MappingError
from compscore.safe_paths import not_regular_file
from compscore.safe_yaml import MAX_BYTES, error_line, error_problem, load_document
from compscore.schema import TABLES_BY_NAME
from compscore.yaml_lines import line_of

MAPPINGS_DIR = Path(__file__).parent / "mappings"
COLUMN_TYPES: tuple[str, ...] = (
    "text",
    "id",
    "date",
    "money",
    "number",
    "integer",
    "bool",
    "category",
    "stage",
    "period",
)
DERIVATIONS: tuple[str, ...] = ("account_history", "source_line", "amount_sign", "assignment")
"""`account_history`: deal_type from the account's won deals; `source_line`: line_id from the export's file
name and line; `amount_sign`: line_type from the sign of the amount; `assignment`: plan_id from the rep's
plan assignment on the earned date (the last three for commission_lines, `compscore.adapters.commission`)."""
UNMAPPED: tuple[str, ...] = ("error", "keep")
AMOUNT_SIGNS: tuple[str, ...] = ("signed", "unsigned", "negated")
PERIOD_DATES: tuple[str, ...] = ("end", "start")
ID_STYLES: tuple[str, ...] = ("plain", "salesforce")
DEFAULT_DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d",)

_TOP_KEYS = {
    "source",
    "description",
    "id_style",
    "date_formats",
    "footer_after_blank_row",
    "files",
    "tables",
    "referrals",
    "plan_assignments",
    "options",
    "commission",
}
_TABLE_KEYS = {"from", "columns", "if_file_missing"}
_COLUMN_KEYS = {
    "column",
    "type",
    "map",
    "default",
    "if_blank",
    "optional",
    "fallback",
    "won_flag",
    "closed_flag",
    "derive",
    "constant",
    "unmapped",
}
_REFERRAL_KEYS = {"lead_sources", "referring_account_column"}
_ASSIGNMENT_KEYS = {"by", "plans", "default", "start_date"}
_COMMISSION_KEYS = {"amount_sign", "period_date"}


@dataclass(frozen=True)
class ColumnRule:
    """How one canonical column is made from the source row.

    - `columns`: the source column names to look for, first present wins (aliases for data-export API
      names and report-export labels).
    - `type`: how the text is parsed; `category` and `stage` translate values through `value_map`
      (matched trimmed and case-insensitively); a value missing from the map is an error naming it, unless
      `default` is set.
    - `if_blank`: canonical value used when the cell is empty (`account_history` for deal_type: derive it
      from the account's won deals, see `derive`).
    - `fallback`: source columns used, in order, when the primary columns are absent or the cell is empty.
    - `won_flag`/`closed_flag` (stage only): boolean columns that decide won / lost before `value_map`.
    - `derive`: make the column from other canonical data instead of a source column.
    - `constant`: the same canonical value on every row.
    - `unmapped` (category only): `error` (a value missing from the map is an error) or `keep` (it passes
      through unchanged: a payee id that already is the rep id).
    """

    target: str
    columns: tuple[str, ...] = ()
    type: str = "text"
    value_map: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    if_blank: Any = None
    optional: bool = False
    fallback: tuple[str, ...] = ()
    won_flag: str | None = None
    closed_flag: str | None = None
    derive: str | None = None
    constant: Any = None
    unmapped: str = "error"


@dataclass(frozen=True)
class TableMapping:
    """One canonical table made from one source object (file)."""

    table: str
    source_object: str | None
    columns: tuple[ColumnRule, ...]
    if_file_missing: str = "error"
    """`error`, or `derive`: build the table from the ids the deals use (e.g. HubSpot without owners)."""

    def rule(self, target: str) -> ColumnRule | None:
        for r in self.columns:
            if r.target == target:
                return r
        return None


@dataclass(frozen=True)
class ReferralRule:
    lead_sources: tuple[str, ...] = ()
    """Lead-source values that mean "referred" (matched case-insensitively)."""
    referring_account_column: str | None = None
    """Source column on the deal holding the referring account's id, when the org records one."""


@dataclass(frozen=True)
class PlanAssignmentRule:
    """Assign every rep to a plan by the value of one of their canonical columns (or `all`)."""

    by: str
    plans: Mapping[str, str]
    default: str | None
    start_date: dt.date


@dataclass(frozen=True)
class CommissionRule:
    """How a commission tool's payout export states money and time (docs/sources.md, "Commission data").

    - `amount_sign`: `signed` (amounts as paid: negative takes money back), `unsigned` (every amount is
      positive; lines typed `clawback` are negated), `negated` (the export books pay as negative, e.g. a
      ledger kept from the company's side: every amount is negated).
    - `period_date`: a period label (`Q1-2026`, `2026-01`) becomes the period's last day (`end`) or first
      day (`start`) as earned_date.
    """

    amount_sign: str = "signed"
    period_date: str = "end"


@dataclass(frozen=True)
class SourceMapping:
    source: str
    file: str
    """The mapping YAML it was read from, for messages."""
    files: Mapping[str, tuple[str, ...]]
    """Source object name -> candidate file names or globs inside the input folder, first found wins."""
    tables: Mapping[str, TableMapping]
    id_style: str = "plain"
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    footer_after_blank_row: bool = False
    referrals: ReferralRule = field(default_factory=ReferralRule)
    plan_assignments: PlanAssignmentRule | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    commission: CommissionRule = field(default_factory=CommissionRule)


class _Reader:
    def __init__(self, file: str, root: yaml.Node | None):
        self.file, self.root, self.problems = file, root, []

    def fail(self, path: Sequence[str], message: str) -> None:
        line = line_of(self.root, path)
        where = f"{self.file}:{line}" if line is not None else self.file
        self.problems.append(f"{where}: {'.'.join(path) or '<document>'}: {message}")

    def mapping(self, value: Any, path: Sequence[str], allowed: set[str] | None = None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, MappingABC):
            self.fail(path, f"expected a mapping, got {type(value).__name__}")
            return {}
        for key in value:
            if allowed is not None and key not in allowed:
                self.fail([*path, str(key)], f"unknown key; allowed keys: {', '.join(sorted(allowed))}")
        return dict(value)

    def names(self, value: Any, path: Sequence[str]) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.fail(path, f"expected a column name or a list of names, got {value!r}")
        return ()


def _read_column(rd: _Reader, table: str, target: str, raw: Any, path: list[str]) -> ColumnRule | None:
    spec = TABLES_BY_NAME[table]
    if target not in spec.column_names:
        rd.fail(path, f"{table} has no column {target!r}; columns: {', '.join(spec.column_names)}")
        return None
    if isinstance(raw, str | list):
        raw = {"column": raw}
    item = rd.mapping(raw, path, _COLUMN_KEYS)
    col_type = item.get("type", "text")
    if col_type not in COLUMN_TYPES:
        rd.fail([*path, "type"], f"unknown type {col_type!r}; expected one of {list(COLUMN_TYPES)}")
    derive = item.get("derive")
    if derive is not None and derive not in DERIVATIONS:
        rd.fail([*path, "derive"], f"unknown derivation {derive!r}; expected one of {list(DERIVATIONS)}")
    if_blank = item.get("if_blank")
    value_map = rd.mapping(item.get("map"), [*path, "map"])
    allowed = spec.column(target).allowed
    if allowed:
        for source_value, canonical in value_map.items():
            if canonical not in allowed:
                rd.fail([*path, "map", str(source_value)], f"{canonical!r} is not one of {list(allowed)}")
        for key in ("default", "constant"):
            if item.get(key) is not None and item[key] not in allowed:
                rd.fail([*path, key], f"{item[key]!r} is not one of {list(allowed)}")
        if if_blank is not None and if_blank not in (*allowed, *DERIVATIONS):
            rd.fail([*path, "if_blank"], f"{if_blank!r} is not one of {[*allowed, *DERIVATIONS]}")
    unmapped = item.get("unmapped", "error")
    if unmapped not in UNMAPPED:
        rd.fail([*path, "unmapped"], f"expected one of {list(UNMAPPED)}, got {unmapped!r}")
    columns = rd.names(item.get("column"), [*path, "column"])
    if not columns and derive is None and item.get("constant") is None and col_type != "stage":
        rd.fail(path, "needs `column`, `derive` or `constant`")
    return ColumnRule(
        target=target,
        columns=columns,
        type=col_type,
        value_map={str(k).strip().casefold(): str(v) for k, v in value_map.items()},
        default=item.get("default"),
        if_blank=if_blank,
        optional=bool(item.get("optional", False)),
        fallback=rd.names(item.get("fallback"), [*path, "fallback"]),
        won_flag=item.get("won_flag"),
        closed_flag=item.get("closed_flag"),
        derive=derive,
        constant=item.get("constant"),
        unmapped=unmapped,
    )


def _read_commission(rd: _Reader, raw: Any) -> CommissionRule:
    item = rd.mapping(raw, ["commission"], _COMMISSION_KEYS)
    rule = CommissionRule(**{k: str(v) for k, v in item.items() if k in _COMMISSION_KEYS})
    if rule.amount_sign not in AMOUNT_SIGNS:
        rd.fail(["commission", "amount_sign"], f"expected one of {list(AMOUNT_SIGNS)}")
    if rule.period_date not in PERIOD_DATES:
        rd.fail(["commission", "period_date"], f"expected one of {list(PERIOD_DATES)}")
    return rule


def parse_mapping(text: str, file: str = "<mapping>") -> SourceMapping:
    """Parse a mapping document; raise `MappingError` listing every located problem."""
    try:
        root, doc = load_document(text)
    except yaml.YAMLError as exc:
        line = error_line(exc)
        where = f"{file}:{line}" if line is not None else file
        raise MappingError(f"{where}: invalid YAML: {error_problem(exc)}") from exc
    rd = _Reader(file, root)
    top = rd.mapping(doc, [], _TOP_KEYS)
    for key in ("source", "files", "tables"):
        if key not in top:
            rd.fail([key], "required key is missing")
    id_style = top.get("id_style", "plain")
    if id_style not in ID_STYLES:
        rd.fail(["id_style"], f"unknown id_style {id_style!r}; expected one of {list(ID_STYLES)}")
    files = {
        str(name): rd.names(candidates, ["files", str(name)])
        for name, candidates in rd.mapping(top.get("files"), ["files"]).items()
    }
    tables: dict[str, TableMapping] = {}
    for name, raw in rd.mapping(top.get("tables"), ["tables"]).items():
        path = ["tables", str(name)]
        if name not in TABLES_BY_NAME:
            rd.fail(path, f"unknown canonical table; expected one of {', '.join(TABLES_BY_NAME)}")
            continue
        item = rd.mapping(raw, path, _TABLE_KEYS)
        source_object = item.get("from")
        if source_object is not None and source_object not in files:
            rd.fail([*path, "from"], f"{source_object!r} is not listed under `files`")
        if_missing = item.get("if_file_missing", "error")
        if if_missing not in ("error", "derive"):
            rd.fail([*path, "if_file_missing"], f"expected `error` or `derive`, got {if_missing!r}")
        rules = []
        for target, raw_rule in rd.mapping(item.get("columns"), [*path, "columns"]).items():
            rule = _read_column(rd, name, str(target), raw_rule, [*path, "columns", str(target)])
            if rule is not None:
                rules.append(rule)
        tables[name] = TableMapping(name, source_object, tuple(rules), if_missing)
    ref = rd.mapping(top.get("referrals"), ["referrals"], _REFERRAL_KEYS)
    referrals = ReferralRule(
        lead_sources=rd.names(ref.get("lead_sources"), ["referrals", "lead_sources"]),
        referring_account_column=ref.get("referring_account_column"),
    )
    assignments = None
    if top.get("plan_assignments") is not None:
        pa = rd.mapping(top["plan_assignments"], ["plan_assignments"], _ASSIGNMENT_KEYS)
        start = pa.get("start_date")
        if not isinstance(start, dt.date):
            rd.fail(["plan_assignments", "start_date"], f"expected a date YYYY-MM-DD, got {start!r}")
        plans = rd.mapping(pa.get("plans"), ["plan_assignments", "plans"])
        if not pa.get("by"):
            rd.fail(["plan_assignments", "by"], "name a reps column (e.g. region, team) or `all`")
        assignments = PlanAssignmentRule(
            by=str(pa.get("by")),
            plans={str(k): str(v) for k, v in plans.items()},
            default=pa.get("default"),
            start_date=start if isinstance(start, dt.date) else dt.date.min,
        )
    commission = _read_commission(rd, top.get("commission"))
    if rd.problems:
        raise MappingError("\n".join(rd.problems))
    return SourceMapping(
        source=str(top["source"]),
        file=file,
        files=files,
        tables=tables,
        id_style=id_style,
        date_formats=tuple(top.get("date_formats") or DEFAULT_DATE_FORMATS),
        footer_after_blank_row=bool(top.get("footer_after_blank_row", False)),
        referrals=referrals,
        plan_assignments=assignments,
        options=rd.mapping(top.get("options"), ["options"]),
        description=str(top.get("description") or ""),
        commission=commission,
    )


def load_mapping(path: str | Path) -> SourceMapping:
    path = Path(path)
    if (why := not_regular_file(path, MAX_BYTES)) is not None:
        raise MappingError(f"{path}: cannot read mapping file: {why}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read mapping file: {exc}") from exc
    return parse_mapping(text, str(path))


def default_mapping_path(kind: str) -> Path:
    """The shipped default mapping for a source kind (`salesforce`, `hubspot`, `maven`), or of a commission
    export (`commission_generic`, `commission_quotapath`)."""
    path = MAPPINGS_DIR / f"{kind}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml")))
        raise MappingError(f"no shipped mapping for source {kind!r}; shipped: {known}")
    return path
