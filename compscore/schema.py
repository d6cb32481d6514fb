"""The canonical input tables of SPEC section 2, as code, in one place.

Loaders, validation suites, documentation and the generator all read these definitions; nothing else
restates a column name, dtype, required flag, key, allowed value set or foreign key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

DEAL_TYPES: tuple[str, ...] = ("new_business", "expansion", "renewal")
DEAL_STAGES: tuple[str, ...] = ("open", "won", "lost")
LINE_TYPES: tuple[str, ...] = ("earning", "clawback", "deferral_release", "adjustment")
ADJUSTMENT_COMPONENT = "adjustment"
"""The `component_id` of a manual adjustment line, which belongs to no plan component."""


@dataclass(frozen=True)
class ForeignKey:
    """`column` refers to `ref_table.ref_column`; `plans` as ref_table means a plan file's `plan_id`."""

    ref_table: str
    ref_column: str


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    required: bool = False
    description: str = ""
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    references: ForeignKey | None = None
    default: object | None = None
    """Value filled in when the column is absent or the cell is empty (e.g. term_months = 12)."""


@dataclass(frozen=True)
class DateOrder:
    """Row rule: `later` must be on or after `earlier` when both are present."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    """Columns whose combination is unique; empty when the table has no natural key."""
    date_orders: tuple[DateOrder, ...] = ()
    event_date: str | None = None
    """The date that places a row in a month, for event tables that arrive as monthly drops."""
    optional: bool = False
    """An optional table may be absent from a source folder (its rows are then computed or empty)."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def foreign_keys(self) -> Iterator[tuple[Column, ForeignKey]]:
        for c in self.columns:
            if c.references is not None:
                yield c, c.references


_STR = pl.String()
_DATE = pl.Date()
_F64 = pl.Float64()
_I64 = pl.Int64()

ACCOUNTS = Table(
    name="accounts",
    description="Customer accounts (crm.accounts).",
    columns=(
        Column("account_id", _STR, required=True, description="Unique account id."),
        Column("account_name", _STR),
        Column("industry", _STR),
        Column("region", _STR),
        Column("created_date", _DATE, description="When the account was created in the CRM."),
    ),
    key=("account_id",),
)

REPS = Table(
    name="reps",
    description="Sales reps (crm.reps).",
    columns=(
        Column("rep_id", _STR, required=True, description="Unique rep id."),
        Column("rep_name", _STR),
        Column("team", _STR),
        Column("region", _STR),
        Column("hire_date", _DATE),
        Column("termination_date", _DATE, description="Null while the rep is employed."),
    ),
    key=("rep_id",),
    date_orders=(DateOrder("hire_date", "termination_date"),),
)

REP_PLAN_ASSIGNMENTS = Table(
    name="rep_plan_assignments",
    description="Which plan each rep is paid under, over which dates; a rep's assignments never overlap.",
    columns=(
        Column("rep_id", _STR, required=True, references=ForeignKey("reps", "rep_id")),
        Column("plan_id", _STR, required=True, references=ForeignKey("plans", "plan_id")),
        Column("start_date", _DATE, required=True),
        Column("end_date", _DATE, description="Last day of the assignment; null = open."),
    ),
    key=("rep_id", "start_date"),
    date_orders=(DateOrder("start_date", "end_date"),),
)

DEALS = Table(
    name="deals",
    description="Opportunities (crm.deals); amount is first-year value in plan currency.",
    columns=(
        Column("deal_id", _STR, required=True, description="Unique deal id."),
        Column("account_id", _STR, required=True, references=ForeignKey("accounts", "account_id")),
        Column("owner_rep_id", _STR, required=True, references=ForeignKey("reps", "rep_id")),
        Column("deal_type", _STR, required=True, allowed=DEAL_TYPES),
        Column("stage", _STR, required=True, allowed=DEAL_STAGES),
        Column("amount", _F64, required=True, min_value=0.0, description="First-year value."),
        Column("term_months", _I64, min_value=1, default=12),
        Column("discount_pct", _F64, min_value=0.0, max_value=1.0, description="Discount, 0 to 1."),
        Column("created_date", _DATE, required=True),
        Column("close_date", _DATE, description="Required unless the deal is open."),
        Column("lead_source", _STR),
        Column("referral_id", _STR, references=ForeignKey("referrals", "referral_id")),
    ),
    key=("deal_id",),
    date_orders=(DateOrder("created_date", "close_date"),),
    event_date="close_date",
)

CHURN_EVENTS = Table(
    name="churn_events",
    description="Accounts lost (crm.churn_events); a lost renewal deal also counts as churn at its close.",
    columns=(
        Column("account_id", _STR, required=True, references=ForeignKey("accounts", "account_id")),
        Column("churn_date", _DATE, required=True),
        Column("lost_amount", _F64, min_value=0.0, description="Annual revenue lost."),
        Column("reason", _STR),
    ),
    key=("account_id", "churn_date"),
    event_date="churn_date",
)

REFERRALS = Table(
    name="referrals",
    description="Referrals from existing customers (crm.referrals), credited to `referring_rep_id`.",
    columns=(
        Column("referral_id", _STR, required=True, description="Unique referral id."),
        Column("referring_account_id", _STR, required=True, references=ForeignKey("accounts", "account_id")),
        Column("referring_rep_id", _STR, required=True, references=ForeignKey("reps", "rep_id")),
        Column("referred_account_id", _STR, references=ForeignKey("accounts", "account_id")),
        Column("referral_date", _DATE, required=True),
        Column("converted_deal_id", _STR, references=ForeignKey("deals", "deal_id")),
    ),
    key=("referral_id",),
    event_date="referral_date",
)

COMMISSION_LINES = Table(
    name="commission_lines",
    description="Commission statement lines (commission.lines); computed from the plan rules when absent.",
    columns=(
        Column("line_id", _STR, required=True, description="Unique line id."),
        Column(
            "rep_id", _STR, required=True, description="Rep paid.", references=ForeignKey("reps", "rep_id")
        ),
        Column(
            "plan_id",
            _STR,
            required=True,
            description="Plan the line pays under.",
            references=ForeignKey("plans", "plan_id"),
        ),
        Column(
            "component_id",
            _STR,
            required=True,
            description="A component of the plan, or `adjustment` for a manual adjustment.",
        ),
        Column("line_type", _STR, required=True, allowed=LINE_TYPES, description="What kind of line."),
        Column(
            "deal_id", _STR, description="Deal paid for, if any.", references=ForeignKey("deals", "deal_id")
        ),
        Column(
            "referral_id",
            _STR,
            description="Referral paid for, if any.",
            references=ForeignKey("referrals", "referral_id"),
        ),
        Column("amount", _F64, required=True, description="Negative only for clawbacks and adjustments."),
        Column("earned_date", _DATE, required=True, description="Date the pay was earned."),
        Column("paid_date", _DATE, description="Date paid, if known."),
    ),
    key=("line_id",),
    event_date="earned_date",
    optional=True,
)

TABLES: tuple[Table, ...] = (
    ACCOUNTS,
    REPS,
    REP_PLAN_ASSIGNMENTS,
    DEALS,
    CHURN_EVENTS,
    REFERRALS,
    COMMISSION_LINES,
)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

DATA_QUALITY_REJECTS = Table(
    name="data_quality_rejects",
    description="Every input row left out of scoring, with its source and the rule it failed.",
    columns=(
        Column("source_table", _STR, required=True, description="Canonical table the row came from."),
        Column("source_file", _STR, description="File (or query) the row was read from."),
        Column("source_line", _I64, description="1-based line in the file (CSV header = line 1)."),
        Column(
            "row_key", _STR, required=True, description="The row's key values, `col=value` joined by `, `."
        ),
        Column("rule", _STR, required=True, description="Name of the failed rule."),
        Column("columns", _STR, description="Columns the rule looked at."),
        Column("offending_values", _STR, description="The values that broke the rule, as text."),
        Column("detail", _STR, description="What was expected, in words."),
        Column("run_id", _STR, description="The run that rejected the row."),
    ),
)
"""An output table, defined here because loaders, validation and adapters all produce its rows."""
EVENT_TABLES: tuple[Table, ...] = tuple(t for t in TABLES if t.event_date is not None)
PLANS_DIR = "plans"
"""Plan files live in `<source>/plans/*.yaml` (SPEC "On disk")."""
INCOMING_DIR = "incoming"
"""Monthly drops of the event tables live in `<source>/incoming/YYYY-MM/<table>.csv|parquet`."""
SCENARIOS_DIR = "scenarios"
"""What-if scenario files (plan files with `scenario_of`) live in `<source>/scenarios/*.yaml` (SPEC 8)."""


def table(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        known = ", ".join(TABLES_BY_NAME)
        raise KeyError(f"unknown canonical table {name!r}; known tables: {known}") from None


def empty_frame(name: str) -> pl.DataFrame:
    """A zero-row frame with the table's canonical schema."""
    return pl.DataFrame(schema=table(name).polars_schema)


def conform(df: pl.DataFrame | pl.LazyFrame, name: str) -> pl.LazyFrame:
    """Select the table's canonical columns in order, cast to their dtypes, fill absent optional ones."""
    spec = table(name)
    lf = df.lazy()
    present = set(lf.collect_schema().names())
    exprs = []
    for c in spec.columns:
        if c.name in present:
            expr = pl.col(c.name).cast(c.dtype)
            if c.default is not None:
                expr = expr.fill_null(pl.lit(c.default, dtype=c.dtype))
        else:
            expr = pl.lit(c.default, dtype=c.dtype).alias(c.name)
        exprs.append(expr)
    return lf.select(exprs)
