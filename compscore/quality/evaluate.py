"""Evaluate one table's rules in Polars: flags, per-rule failing rows, results, reject rows, blocking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.plans import Plan
from compscore.quality.blocking import (
    DEFAULT_THRESHOLDS,
    BlockingFailure,
    Thresholds,
    row_count_failure,
    schema_failures,
    volume_failure,
)
from compscore.quality.rules import ROW_INDEX, References, Rule, table_rules, with_flags
from compscore.schema import DATA_QUALITY_REJECTS, TABLES_BY_NAME, Table

NULL_TEXT = "<null>"


@dataclass(frozen=True)
class RuleResult:
    """How one rule fared on one table, with a few failing rows to act on."""

    table: str
    rule: str
    columns: tuple[str, ...]
    detail: str
    source: str
    rows: int
    unexpected_count: int
    sample_keys: tuple[str, ...]
    sample_values: tuple[str, ...]

    @property
    def success(self) -> bool:
        return self.unexpected_count == 0

    @property
    def unexpected_share(self) -> float:
        return self.unexpected_count / self.rows if self.rows else 0.0


@dataclass
class TableCheck:
    """Everything Polars found on one table as received."""

    table: str
    rows: int
    rules: list[Rule]
    flagged: pl.DataFrame
    """The table with ROW_INDEX and every flag column: what GX validates. From `check_scan`: only the
    rows failing some rule, with ROW_INDEX, the key and the failing rules' columns."""
    failed: pl.DataFrame
    """ROW_INDEX plus one boolean column per rule name, True where the row fails it; from `check_scan`,
    only the rows failing some rule (row for row with `flagged`)."""
    results: list[RuleResult]
    blocking: list[BlockingFailure]
    schema_ok: bool
    flags: pl.DataFrame | None = None
    """From `check_scan(keep_flags=True)`: ROW_INDEX and every flag rule's flag column (True: passes, a
    null flag as True: both pass it) for every row, in row order; with `source`, what GX reads instead of a
    whole `flagged` table."""
    source: Path | None = None
    """The Parquet file the check read (rows in ROW_INDEX order), when a reader of `flags` may read the
    table's other columns from it (`suites.run_suite`); set by whoever knows the file."""


def pairs_text(columns: Sequence[str]) -> pl.Expr:
    """`col=value, col=value` as text, `<null>` for a missing value."""
    parts = [
        pl.concat_str([pl.lit(f"{c}="), pl.col(c).cast(pl.String).fill_null(NULL_TEXT)]) for c in columns
    ]
    return pl.concat_str(parts, separator=", ")


def row_key_text(spec: Table, present: Sequence[str]) -> pl.Expr:
    """The row's key as text; the row's position when the key columns are absent."""
    key = [c for c in spec.key if c in present]
    if key:
        return pairs_text(key)
    return pl.concat_str([pl.lit("row="), (pl.col(ROW_INDEX) + 1).cast(pl.String)])


def failing_rows(
    spec: Table, *, check_columns: Sequence[str], flagged: pl.DataFrame, mask: pl.Series
) -> pl.DataFrame:
    """The rows where `mask` is True, with only the columns a reject row reads (key, rule's, position)."""
    wanted = [ROW_INDEX, *spec.key, *check_columns]
    columns = [c for c in flagged.columns if c in wanted]
    return flagged.select(columns).filter(mask)


def with_row_index(df: pl.DataFrame) -> pl.DataFrame:
    return df if ROW_INDEX in df.columns else df.with_row_index(ROW_INDEX)


def received_references(tables: Mapping[str, pl.DataFrame], plans: Mapping[str, Plan]) -> References:
    """What foreign keys are judged against: every canonical table as received, except those whose schema
    is broken (their references are then not checked, and the table itself is blocked)."""
    return References.from_tables(
        {name: df for name, df in tables.items() if not schema_failures(TABLES_BY_NAME[name], df)}, plans
    )


def schema_broken(scans: Mapping[str, pl.LazyFrame]) -> set[str]:
    """The tables among `scans` whose schema is broken (`schema_failures`, read from the scans' schemas
    without their rows)."""
    return {
        name for name, scan in scans.items() if schema_failures(TABLES_BY_NAME[name], scan.head(0).collect())
    }


def references_of(
    spec: Table, scans: Mapping[str, pl.LazyFrame], broken: set[str], plans: Mapping[str, Plan]
) -> References:
    """What `spec`'s foreign keys are judged against, as `received_references` gives them, but read from
    `scans` (the tables as received) with only the referenced key columns: a step that checks one table
    at a time then holds that table and a few key columns, not every table. `broken`: `schema_broken`."""
    wanted: dict[str, list[str]] = {}
    for _col, fk in spec.foreign_keys():
        if fk.ref_table in scans and fk.ref_table not in broken:
            wanted.setdefault(fk.ref_table, []).append(fk.ref_column)
    columns = {name: scans[name].select(list(dict.fromkeys(cols))).collect() for name, cols in wanted.items()}
    return References.from_tables(columns, plans)


def check_table(
    spec: Table,
    df: pl.DataFrame,
    refs: References,
    *,
    nonempty_required: bool,
    previous_count: int | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sample_size: int = 5,
) -> TableCheck:
    """Run every rule of `spec` on `df` (as received, before any cascade) and the table-level checks."""
    df = with_row_index(df)
    rows = df.height
    blocking = table_blocking(spec, df, rows, nonempty_required, previous_count, thresholds)
    if any(f.rule == "schema" for f in blocking):
        empty = df.select(ROW_INDEX)
        return TableCheck(spec.name, rows, [], df, empty, [], blocking, schema_ok=False)

    rules = table_rules(spec, refs)
    flagged = with_flags(df, rules)
    failed = flagged.select(ROW_INDEX, *[(~rule.passes).alias(rule.name) for rule in rules])
    results = rule_results(spec, rules, rows, flagged, failed, blocking, thresholds, sample_size)
    return TableCheck(spec.name, rows, rules, flagged, failed, results, blocking, schema_ok=True)


def check_scan(
    spec: Table,
    scan: pl.LazyFrame,
    refs: References,
    *,
    nonempty_required: bool,
    previous_count: int | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sample_size: int = 5,
    keep_flags: bool = False,
) -> TableCheck:
    """`check_table` on a table read from `scan` (with ROW_INDEX) a few columns at a time.

    The same rules, results, blocking failures and reject rows, but the check holds only the rows that
    fail some rule: `failed` (ROW_INDEX and every rule's column) and `flagged` (ROW_INDEX, the key and the
    failing rules' columns, no flag column), row for row. The row rules are evaluated by the streaming
    engine in one pass; each flag rule reads only its own columns; the failing rows are read at the end.
    For a schema-broken table, which rejects every row, the table is read whole and given to `check_table`.
    With `keep_flags`, the check also keeps every row's flag columns (`TableCheck.flags`, booleans: about
    5 MB per million rows for six flag rules), which GX reads beside the table's file, a chunk at a time
    (`suites.run_suite`), instead of the whole table with its flags.
    """
    header = pl.DataFrame(schema=scan.collect_schema())
    if schema_failures(spec, header):
        return check_table(
            spec,
            scan.collect(),
            refs,
            nonempty_required=nonempty_required,
            previous_count=previous_count,
            thresholds=thresholds,
            sample_size=sample_size,
        )
    rules = table_rules(spec, refs)
    failed = _failed_by_scan(scan, rules)
    rows = failed.height
    passing = ((~pl.col(r.name)).alias(r.flag_column) for r in rules if r.flag is not None)
    flags = failed.select(ROW_INDEX, *passing) if keep_flags else None
    blocking = table_blocking(spec, header, rows, nonempty_required, previous_count, thresholds)
    failed = failed.filter(pl.any_horizontal(pl.col(r.name) for r in rules)) if rules else failed.clear()
    failing = {c for r in rules if failed.get_column(r.name).any() for c in r.columns}
    columns = [c for c in header.columns if c == ROW_INDEX or c in spec.key or c in failing]
    flagged = scan.select(columns).clear().collect()
    if failed.height:
        positions = failed.get_column(ROW_INDEX).implode()
        flagged = scan.select(columns).filter(pl.col(ROW_INDEX).is_in(positions)).collect()
    results = rule_results(spec, rules, rows, flagged, failed, blocking, thresholds, sample_size)
    return TableCheck(spec.name, rows, rules, flagged, failed, results, blocking, schema_ok=True, flags=flags)


def _failed_by_scan(scan: pl.LazyFrame, rules: list[Rule]) -> pl.DataFrame:
    """ROW_INDEX of every row and one boolean column per rule, True where the row fails it: the row
    rules in one streaming pass, each flag rule on a frame of only ROW_INDEX and its own columns."""
    row_rules = [(~r.passes).alias(r.name) for r in rules if r.flag is None]
    failed = scan.select(ROW_INDEX, *row_rules).collect(engine="streaming")
    flags = {}
    for rule in rules:
        if rule.flag is not None:
            columns = scan.select(ROW_INDEX, *(c for c in rule.columns if c != ROW_INDEX)).collect()
            ok = rule.flag(columns).alias(rule.flag_column).to_frame()
            del columns
            flags[rule.name] = ok.select((~rule.passes).alias(rule.name)).to_series()
    return failed.with_columns(flags.values()).select(ROW_INDEX, *(r.name for r in rules))


def table_blocking(
    spec: Table,
    df: pl.DataFrame,
    rows: int,
    nonempty_required: bool,
    previous_count: int | None,
    thresholds: Thresholds,
) -> list[BlockingFailure]:
    """The table-level failures: the schema of `df` (only its schema is read), row count and volume."""
    blocking = schema_failures(spec, df)
    for failure in (
        row_count_failure(spec, rows, nonempty_required),
        volume_failure(spec, rows, previous_count, thresholds),
    ):
        if failure is not None:
            blocking.append(failure)
    return blocking


def rule_results(
    spec: Table,
    rules: list[Rule],
    rows: int,
    flagged: pl.DataFrame,
    failed: pl.DataFrame,
    blocking: list[BlockingFailure],
    thresholds: Thresholds,
    sample_size: int,
) -> list[RuleResult]:
    """Each rule's result, with samples from `flagged` (row for row with `failed`); a foreign key broken
    by too many of the table's `rows` is added to `blocking`."""
    counts = failed.select(pl.col(r.name).sum() for r in rules).row(0) if rules else ()
    key = row_key_text(spec, flagged.columns)
    results = []
    for rule, count in zip(rules, counts, strict=True):
        samples = pl.DataFrame({"k": [], "v": []}, schema={"k": pl.String, "v": pl.String})
        if count:
            samples = failing_rows(spec, check_columns=rule.columns, flagged=flagged, mask=failed[rule.name])
            samples = samples.head(sample_size).select(key.alias("k"), pairs_text(rule.columns).alias("v"))
        results.append(
            RuleResult(
                spec.name,
                rule.name,
                rule.columns,
                rule.detail,
                rule.source,
                rows,
                int(count),
                tuple(samples.get_column("k").to_list()),
                tuple(samples.get_column("v").to_list()),
            )
        )
        if (
            rule.name.startswith("foreign_key:")
            and rows
            and count / rows > thresholds.foreign_key_blocking_share
        ):
            example = f"; e.g. {samples.row(0)[1]}" if samples.height else ""
            blocking.append(
                BlockingFailure(
                    spec.name,
                    rule.name,
                    f"{count} of {rows} rows ({count / rows:.0%}) break the reference: {rule.detail} "
                    f"(blocking above {thresholds.foreign_key_blocking_share:.0%}){example}",
                )
            )
    return results


def reject_rows(spec: Table, check: TableCheck, run_id: str) -> pl.DataFrame:
    """One DATA_QUALITY_REJECTS row per (row, failed rule); every row for a schema-broken table."""
    key = row_key_text(spec, check.flagged.columns)
    if not check.schema_ok:
        reason = "; ".join(f.message for f in check.blocking if f.rule == "schema")
        frames = [
            check.flagged.select(
                row_key=key,
                rule=pl.lit("schema"),
                columns=pl.lit(None, pl.String),
                offending_values=pl.lit(None, pl.String),
                detail=pl.lit(reason),
            )
        ]
    else:
        failing = {r.rule for r in check.results if r.unexpected_count}
        frames = [
            failing_rows(
                spec, check_columns=rule.columns, flagged=check.flagged, mask=check.failed[rule.name]
            ).select(
                row_key=key,
                rule=pl.lit(rule.name),
                columns=pl.lit(", ".join(rule.columns)),
                offending_values=pairs_text(rule.columns),
                detail=pl.lit(rule.detail),
            )
            for rule in check.rules
            if rule.name in failing  # a rule no row fails adds no row; its scan of the table is skipped
        ]
    return finish_rejects(frames, spec.name, run_id)


def finish_rejects(frames: list[pl.DataFrame], table: str, run_id: str) -> pl.DataFrame:
    """Stack partial reject frames and give them the DATA_QUALITY_REJECTS columns and dtypes."""
    schema = DATA_QUALITY_REJECTS.polars_schema
    if not frames:
        return pl.DataFrame(schema=schema)
    stacked = pl.concat(frames, how="vertical")
    return stacked.select(
        source_table=pl.lit(table, pl.String),
        source_file=pl.lit(None, pl.String),
        source_line=pl.lit(None, pl.Int64),
        row_key=pl.col("row_key"),
        rule=pl.col("rule"),
        columns=pl.col("columns"),
        offending_values=pl.col("offending_values"),
        detail=pl.col("detail"),
        run_id=pl.lit(run_id, pl.String),
    ).cast(dict(schema))
