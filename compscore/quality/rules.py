"""The data-quality rule catalogue: every row-level rule once, as a Polars check and as a GX expectation.

Most rules are read off `compscore.schema` (required columns, keys, allowed values, min/max, date orders,
foreign keys); the rest are written out here because the schema cannot say them (a close date unless the
deal is open, non-overlapping assignments, statement-line components that exist, the sign of an amount by
line type). See docs/data_quality.md for the list.

Each `Rule` carries

* `passes`: a Polars expression, True where a row satisfies the rule. It is null-safe: a rule other than
  `not_null` passes on a missing value (the `not_null` rule reports it), as GX does.
* `flag`: for rules that look across rows or tables (unique keys, overlaps, foreign keys, components),
  a function computing a boolean column on the whole table; `passes` then reads that column. Computed on
  the whole table before any chunking, so chunked validation still sees every duplicate and every key.
* `gx_type` / `gx_kwargs`: the equivalent Great Expectations 1.x expectation, by class name, so that this
  module imports no GX (`compscore.quality.suites` builds the objects). Flag rules map to
  `ExpectColumnValuesToBeInSet(column=<flag column>, value_set=[True])`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from compscore.plans import Plan
from compscore.quality.date_window import window_words, windowed_columns, within_window
from compscore.schema import ADJUSTMENT_COMPONENT, Column, Table

ROW_INDEX = "__row"
"""Position of a row in the table as received; added during validation, never in outputs."""

RuleSource = Literal["schema", "explicit"]
FlagFn = Callable[[pl.DataFrame], pl.Series]


@dataclass(frozen=True, eq=False)
class Rule:
    table: str
    name: str
    """Stable id within the table, `<kind>:<what>`, e.g. `range:amount`; the `rule` column of rejects."""
    columns: tuple[str, ...]
    detail: str
    """What is expected, in words."""
    passes: pl.Expr
    gx_type: str
    gx_kwargs: dict[str, Any]
    source: RuleSource = "schema"
    flag: FlagFn | None = field(default=None, repr=False)

    @property
    def flag_column(self) -> str:
        return flag_column(self.name)


def failing_mask(height: int, failing: pl.Series) -> pl.Series:
    """A flag column of `height` rows: True everywhere except at the positions in `failing`."""
    ok = pl.repeat(True, height, dtype=pl.Boolean, eager=True)
    return ok.scatter(failing, False) if failing.len() else ok


def flag_column(rule_name: str) -> str:
    """Name of the precomputed boolean column a flag rule reads (safe for pandas and GX)."""
    return "_ok_" + re.sub(r"[^0-9A-Za-z]+", "_", rule_name).strip("_")


@dataclass(frozen=True)
class References:
    """What foreign keys may point at: the key values of each referenced table, and the plans.

    A referenced table missing from `keys` (e.g. schema-broken) means its foreign-key rules are not built.
    """

    keys: Mapping[str, pl.Series]
    """`"<table>.<column>"` -> the distinct values present in that column."""
    plans: Mapping[str, Plan]

    @classmethod
    def from_tables(cls, tables: Mapping[str, pl.DataFrame], plans: Mapping[str, Plan]) -> References:
        keys = {}
        for name, df in tables.items():
            for col in df.columns:
                if col != ROW_INDEX:
                    keys[f"{name}.{col}"] = df.get_column(col)
        return cls(keys=keys, plans=plans)

    def targets(self, table: str, column: str) -> pl.Series | None:
        """The values a reference may point at (not de-duplicated: a join ignores repeats); None when the
        referenced table is unknown."""
        if table == "plans":
            return pl.Series(column, sorted(self.plans), dtype=pl.String)
        found = self.keys.get(f"{table}.{column}")
        return None if found is None else found.drop_nulls()


def _missing(col: Column) -> pl.Expr:
    """True where the cell is missing; NaN counts as missing, as pandas (and so GX) sees it."""
    expr = pl.col(col.name).is_null()
    if col.dtype == pl.Float64():
        expr = expr | pl.col(col.name).is_nan()
    return expr


def _flag_rule(
    table: str, name: str, columns: tuple[str, ...], detail: str, flag: FlagFn, source: RuleSource
) -> Rule:
    column = flag_column(name)
    return Rule(
        table,
        name,
        columns,
        detail,
        pl.col(column).fill_null(True),
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": [True]},
        source,
        flag,
    )


def _not_null(spec: Table, col: Column) -> Rule:
    return Rule(
        spec.name,
        f"not_null:{col.name}",
        (col.name,),
        f"{col.name} is required",
        ~_missing(col),
        "ExpectColumnValuesToNotBeNull",
        {"column": col.name},
    )


def _allowed(spec: Table, col: Column) -> Rule:
    allowed = list(col.allowed or ())
    return Rule(
        spec.name,
        f"allowed_values:{col.name}",
        (col.name,),
        f"{col.name} is one of {allowed}",
        pl.col(col.name).is_in(allowed).fill_null(True),
        "ExpectColumnValuesToBeInSet",
        {"column": col.name, "value_set": allowed},
    )


def _range(spec: Table, col: Column) -> Rule:
    c = pl.col(col.name)
    ok = pl.lit(True)
    words = []
    kwargs: dict[str, Any] = {"column": col.name}
    if col.min_value is not None:
        ok = ok & (c >= col.min_value)
        kwargs["min_value"] = col.min_value
        words.append(f">= {col.min_value}")
    if col.max_value is not None:
        ok = ok & (c <= col.max_value)
        kwargs["max_value"] = col.max_value
        words.append(f"<= {col.max_value}")
    return Rule(
        spec.name,
        f"range:{col.name}",
        (col.name,),
        f"{col.name} {' and '.join(words)}",
        (ok | _missing(col)).fill_null(True),
        "ExpectColumnValuesToBeBetween",
        kwargs,
    )


def _date_order(spec: Table, earlier: str, later: str) -> Rule:
    return Rule(
        spec.name,
        f"date_order:{earlier}<={later}",
        (earlier, later),
        f"{later} is on or after {earlier}",
        (pl.col(later) >= pl.col(earlier)).fill_null(True),
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {
            "column_A": later,
            "column_B": earlier,
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
    )


def _unique_key(spec: Table) -> Rule:
    key = spec.key

    def flag(df: pl.DataFrame) -> pl.Series:
        """Duplicates among the rows whose key hash repeats; an exact check, on those few rows only.

        Equal keys have equal hashes, so every copy of a duplicated key is among those rows. Sorting
        64-bit hashes is several times cheaper than hashing the (text) keys into a table of every row.
        """
        keys = df.select(key)
        hashes = keys.hash_rows()
        ordered = hashes.sort()
        repeated = ordered.filter(ordered == ordered.shift(1)).unique()
        if repeated.len() == 0:
            return failing_mask(df.height, pl.Series([], dtype=pl.UInt32))
        any_null = pl.any_horizontal(pl.col(k).is_null() for k in key)
        dup = pl.struct(key).is_duplicated() if len(key) > 1 else pl.col(key[0]).is_duplicated()
        broken = (
            keys.with_columns(_pos=pl.int_range(pl.len(), dtype=pl.UInt32))
            .filter(hashes.is_in(repeated.implode()))
            .filter(dup & ~any_null)
            .get_column("_pos")
        )
        return failing_mask(df.height, broken)

    return _flag_rule(
        spec.name,
        f"unique_key:{','.join(key)}",
        key,
        f"({', '.join(key)}) is unique; every copy of a duplicated key is rejected",
        flag,
        "schema",
    )


_FEW_REFERRING_ROWS = 4
"""A foreign key's referring rows are "few" below 1/4 of the referenced rows (measured at 10M lines:
the reverse lookup is 2-4x faster for churn events and referrals, 2x slower for statement lines)."""


def _foreign_key(spec: Table, col: Column, refs: References) -> Rule | None:
    fk = col.references
    assert fk is not None
    targets = refs.targets(fk.ref_table, fk.ref_column)
    if targets is None:
        return None
    name = col.name
    known = targets.cast(pl.String).to_frame(name)

    def flag(df: pl.DataFrame) -> pl.Series:
        """The referring rows whose value is not among `known` (`_absent_positions`)."""
        present = known
        if (df.height - df.get_column(name).null_count()) * _FEW_REFERRING_ROWS < known.height:
            # Few referring rows, many referenced ones (churn events into accounts): look the referenced
            # values up in the small set of referring values instead of hashing every referenced key.
            wanted = df.get_column(name).cast(pl.String).drop_nulls().unique()
            present = known.filter(pl.col(name).is_in(wanted.implode()))
        broken = _absent_positions(df.get_column(name).cast(pl.String), present.get_column(name))
        return failing_mask(df.height, broken)

    where = "a plan file" if fk.ref_table == "plans" else f"{fk.ref_table}.{fk.ref_column}"
    return _flag_rule(
        spec.name, f"foreign_key:{name}->{fk.ref_table}", (name,), f"{name} exists in {where}", flag, "schema"
    )


KNOWN_ROWS_PER_PASS = 20_000_000
"""At most this many referenced values go into one pass's hash table (`_absent_positions`). Measured on
the 30M-line company (54.7M deals): statement lines' deal ids against every deal in one pass peaked 5.1 GiB
above the values and took 17.2 s of CPU; in 3 or 4 passes, each on one share of the hashes, 1.42 or 1.25
GiB and 13.1 or 14.3 s (the smaller tables stay in cache). The 10M company (18.3M deals) still takes one
pass, where passes cost CPU (docs/performance.md, session 18)."""


def _absent_positions(
    values: pl.Series,
    known: pl.Series,
    hash_of: Callable[[pl.Expr], pl.Expr] = pl.Expr.hash,
    known_rows_per_pass: int = KNOWN_ROWS_PER_PASS,
) -> pl.Series:
    """The positions of the non-null `values` that are not among `known`, exactly, in no order.

    Joined on 64-bit hashes of the text, then checked: a value whose hash meets no known hash is absent;
    one that meets a known hash whose text differs (a collision) is a candidate, looked up by its text
    among the few known values of the same hash. Equal texts have equal hashes, so nothing absent is
    missed. At 10M lines this cost 2.8 s CPU for 18M deals against 13.5M accounts where the anti join on
    the text cost 4.8 s (docs/performance.md). The join runs on the streaming engine, a morsel of
    referring rows at a time against the hash table of the known values. More known values than
    `known_rows_per_pass` are joined in passes, each on the values whose hash falls in one residue class
    (equal texts, equal hashes: a value meets its known copy in the same pass), so the hash table stays
    bounded whatever the company's size. (`hash_of` is for tests, which pass a hash that collides.)"""
    name = values.name
    probe = (
        values.to_frame()
        .lazy()
        .select(name, _hash=hash_of(pl.col(name)), _pos=pl.int_range(pl.len(), dtype=pl.UInt32))
        .drop_nulls(name)
    )
    table = known.drop_nulls().to_frame("_known").lazy().with_columns(_hash=hash_of(pl.col("_known")))
    passes = max(1, -(-known.len() // known_rows_per_pass))
    candidates = pl.concat(
        [
            _hash_share(probe, k, passes)
            .join(_hash_share(table, k, passes), on="_hash", how="left")
            .filter(pl.col("_known").is_null() | (pl.col("_known") != pl.col(name)))
            .select(name, "_hash", "_pos")
            .unique("_pos")
            .collect(engine="streaming")
            for k in range(passes)
        ]
    )
    if candidates.height == 0:
        return candidates.get_column("_pos")
    same_hash = table.filter(pl.col("_hash").is_in(candidates.get_column("_hash").implode()))
    return (
        candidates.lazy()
        .join(same_hash.select(pl.col("_known").alias(name)), on=name, how="anti")
        .select("_pos")
        .collect()
        .get_column("_pos")
    )


def _hash_share(frame: pl.LazyFrame, k: int, passes: int) -> pl.LazyFrame:
    """The rows of `frame` whose `_hash` is `k` modulo `passes`: each row in exactly one pass's share."""
    return frame if passes == 1 else frame.filter(pl.col("_hash") % passes == k)


def _close_date_unless_open(spec: Table) -> Rule:
    return Rule(
        spec.name,
        "required_unless_open:close_date",
        ("stage", "close_date"),
        "close_date is required unless stage is open",
        pl.col("close_date").is_not_null() | (pl.col("stage") == "open").fill_null(False),
        "ExpectColumnValuesToNotBeNull",
        {"column": "close_date", "row_condition": 'stage != "open"', "condition_parser": "pandas"},
        "explicit",
    )


def _no_overlap(spec: Table) -> Rule:
    """A rep's assignments must not overlap; both (all) rows of an overlapping set are rejected."""

    def flag(df: pl.DataFrame) -> pl.Series:
        end = pl.col("end_date").fill_null(dt.date.max)
        ordered = (
            df.select(ROW_INDEX, "rep_id", "start_date", end.alias("_end"))
            .filter(pl.col("rep_id").is_not_null() & pl.col("start_date").is_not_null())
            .sort("rep_id", "start_date", ROW_INDEX)
            .with_columns(
                _prev_end=pl.col("_end").cum_max().shift(1).over("rep_id"),
                _next_start=pl.col("start_date").shift(-1).over("rep_id"),
            )
            .select(
                ROW_INDEX,
                _overlaps=(
                    (pl.col("_prev_end") >= pl.col("start_date")) | (pl.col("_end") >= pl.col("_next_start"))
                ).fill_null(False),
            )
        )
        joined = df.select(ROW_INDEX).join(ordered, on=ROW_INDEX, how="left", maintain_order="left")
        return joined.select((~pl.col("_overlaps").fill_null(False)).alias("ok")).to_series()

    return _flag_rule(
        spec.name,
        "no_overlap:rep_id",
        ("rep_id", "start_date", "end_date"),
        "a rep's assignments do not overlap (an open end runs forever); every overlapping row is rejected",
        flag,
        "explicit",
    )


def _component_exists(spec: Table, refs: References) -> Rule:
    pairs = pl.DataFrame(
        [(p.plan_id, c) for p in refs.plans.values() for c in p.component_ids],
        schema={"plan_id": pl.String, "component_id": pl.String},
        orient="row",
    )
    known_plans = sorted(refs.plans)

    def flag(df: pl.DataFrame) -> pl.Series:
        judged = (
            pl.col("plan_id").is_in(known_plans)
            & pl.col("component_id").is_not_null()
            & (pl.col("component_id") != ADJUSTMENT_COMPONENT)
        )
        probe = df.select(
            pl.col("plan_id", "component_id").cast(pl.String), _pos=pl.int_range(pl.len(), dtype=pl.UInt32)
        )
        broken = (
            probe.filter(judged.fill_null(False))
            .join(pairs, on=["plan_id", "component_id"], how="anti")
            .get_column("_pos")
        )
        return failing_mask(df.height, broken)

    return _flag_rule(
        spec.name,
        "component_exists:component_id",
        ("plan_id", "component_id"),
        f"component_id is a component of the line's plan, or `{ADJUSTMENT_COMPONENT}` "
        "(not judged when the plan itself is unknown: foreign_key:plan_id reports that)",
        flag,
        "explicit",
    )


_NON_NEGATIVE_TYPES = ["earning", "deferral_release"]


def _sign_rules(spec: Table) -> list[Rule]:
    amount = pl.col("amount")
    return [
        Rule(
            spec.name,
            "amount_sign:earning_deferral_release>=0",
            ("line_type", "amount"),
            "amount >= 0 on earning and deferral_release lines (negative only for clawbacks and adjustments)",
            ((amount >= 0) | amount.is_nan() | ~pl.col("line_type").is_in(_NON_NEGATIVE_TYPES)).fill_null(
                True
            ),
            "ExpectColumnValuesToBeBetween",
            {
                "column": "amount",
                "min_value": 0.0,
                "row_condition": f"line_type in {_NON_NEGATIVE_TYPES!r}",
                "condition_parser": "pandas",
            },
            "explicit",
        ),
        Rule(
            spec.name,
            "amount_sign:clawback<=0",
            ("line_type", "amount"),
            "amount <= 0 on clawback lines",
            ((amount <= 0) | amount.is_nan() | (pl.col("line_type") != "clawback")).fill_null(True),
            "ExpectColumnValuesToBeBetween",
            {
                "column": "amount",
                "max_value": 0.0,
                "row_condition": 'line_type == "clawback"',
                "condition_parser": "pandas",
            },
            "explicit",
        ),
    ]


def _date_window(spec: Table, column: str, upper: bool, relative: bool) -> Rule:
    """Dates inside a plausible window (see `compscore.quality.date_window`)."""
    return _flag_rule(
        spec.name,
        f"date_window:{column}",
        (column,),
        window_words(column, upper, relative),
        lambda df: within_window(df, column, upper, relative),
        "explicit",
    )


def table_rules(spec: Table, refs: References) -> list[Rule]:
    """Every row-level rule of one canonical table, schema-derived first, then the explicit ones."""
    rules = [_not_null(spec, c) for c in spec.columns if c.required]
    if spec.key:
        rules.append(_unique_key(spec))
    rules += [_allowed(spec, c) for c in spec.columns if c.allowed]
    rules += [_range(spec, c) for c in spec.columns if c.min_value is not None or c.max_value is not None]
    rules += [_date_order(spec, o.earlier, o.later) for o in spec.date_orders]
    rules += [_date_window(spec, *window) for window in windowed_columns(spec)]
    for col, _fk in spec.foreign_keys():
        rule = _foreign_key(spec, col, refs)
        if rule is not None:
            rules.append(rule)
    if spec.name == "deals":
        rules.append(_close_date_unless_open(spec))
    if spec.name == "rep_plan_assignments":
        rules.append(_no_overlap(spec))
    if spec.name == "commission_lines":
        rules.append(_component_exists(spec, refs))
        rules += _sign_rules(spec)
    return rules


def with_flags(df: pl.DataFrame, rules: list[Rule]) -> pl.DataFrame:
    """`df` (with its ROW_INDEX column) plus the flag column of every flag rule, computed on all rows."""
    flags = [rule.flag(df).alias(rule.flag_column) for rule in rules if rule.flag is not None]
    return df.with_columns(flags) if flags else df
