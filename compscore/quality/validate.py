"""`validate`: the plain-Python data-quality step between loading and scoring.

Order of work, which fixes what "rejected" means (docs/data_quality.md):

1. Each table is checked as received: blocking table checks (schema, rows, volume) and every row-level
   rule of the catalogue, foreign keys judged against the referenced tables *as received*. These are the
   counts GX reports too.
2. A row failing one or more rules is rejected, with one reject row per failed rule.
3. Cascade: a row that passed its own rules but refers (foreign key) to a row that was rejected is
   rejected too, with rule `references_rejected:<column>-><table>`; repeated until nothing changes
   (deals and referrals refer to each other).
4. The rows left are the clean tables; received = passed + rejected holds for every table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from compscore.dataset import CanonicalData
from compscore.plans import Plan
from compscore.quality.blocking import (
    DEFAULT_THRESHOLDS,
    NONEMPTY_TABLES,
    BlockingError,
    BlockingFailure,
    Thresholds,
)
from compscore.quality.evaluate import (
    RuleResult,
    TableCheck,
    check_table,
    finish_rejects,
    pairs_text,
    received_references,
    reject_rows,
    row_key_text,
    with_row_index,
)
from compscore.quality.rules import ROW_INDEX, failing_mask
from compscore.schema import DATA_QUALITY_REJECTS, TABLES, Table, conform, empty_frame

COUNT_SCHEMA = pl.Schema(
    {
        "table": pl.String(),
        "received": pl.Int64(),
        "passed": pl.Int64(),
        "rejected": pl.Int64(),
        "rejected_by_loader": pl.Int64(),
        "rejected_by_rules": pl.Int64(),
        "rejected_by_cascade": pl.Int64(),
    }
)


class Verdicts:
    """What a validation result says of itself, from its `blocking` failures and `counts` (shared by
    `ValidationResult` and the table-by-table result)."""

    blocking: list[BlockingFailure]
    counts: pl.DataFrame

    @property
    def ok(self) -> bool:
        return not self.blocking

    def raise_if_blocking(self) -> None:
        if self.blocking:
            raise BlockingError(self.blocking)

    def count(self, table: str) -> dict[str, int]:
        return self.counts.filter(pl.col("table") == table).to_dicts()[0]


@dataclass
class ValidationResult(Verdicts):
    run_id: str
    clean: CanonicalData
    """The rows that passed, conformed to the canonical schema; what scoring reads."""
    rejects: pl.DataFrame
    """DATA_QUALITY_REJECTS rows: the loader's (if given), then the rules', then the cascade's."""
    counts: pl.DataFrame
    """One row per table: received, passed, rejected (and by whom); received = passed + rejected."""
    rule_results: list[RuleResult]
    blocking: list[BlockingFailure]
    rejected_rows: dict[str, pl.Series] = field(repr=False)
    """Per table, the ROW_INDEX (position in the table as received) of every rejected row."""
    checks: dict[str, TableCheck] = field(repr=False, default_factory=dict)


def nonempty_required(spec: Table, given_commission_lines: bool) -> bool:
    """Whether an empty `spec` table blocks the run: statement lines only when the source gave them."""
    return spec.name in NONEMPTY_TABLES or (spec.name == "commission_lines" and given_commission_lines)


def plans_blocking(plans: Mapping[str, Plan]) -> list[BlockingFailure]:
    """The run's blocking failure when it has no plan (what everything after validation needs)."""
    if plans:
        return []
    return [BlockingFailure("plans", "row_count", "no plans: statement lines and scores need them")]


def cascade(
    tables: Mapping[str, pl.LazyFrame], rejected: dict[str, pl.Series], broken: set[str], run_id: str
) -> tuple[dict[str, pl.Series], list[pl.DataFrame]]:
    """Reject rows that refer to rejected rows, in rounds, until a round rejects nothing.

    `tables` are the tables as received, each with its ROW_INDEX column; only ROW_INDEX, the key, the
    foreign keys and the referenced columns are read, so they may be scans of files (a projection is read,
    never a whole table). `rejected` (table -> ROW_INDEX values) is extended in place.

    In each round every surviving row is judged against the rows rejected before the round; it gets one
    reject row per reference that points at such a row. Returns the cascaded indices and reject rows.

    A referenced value is gone when some rejected row holds it and no surviving row does, and those values
    are few, so every step is a scan against a small set.
    """
    by_table: dict[str, list[pl.DataFrame]] = {}
    cascaded = {name: pl.Series(ROW_INDEX, [], dtype=pl.UInt32) for name in tables}
    while True:
        new: dict[str, list[pl.Series]] = {}
        for spec in TABLES:
            if spec.name in broken:
                continue
            for col, fk in spec.foreign_keys():
                if fk.ref_table not in tables or fk.ref_table in broken:
                    continue
                dead = _dead_values(tables[fk.ref_table], fk.ref_column, rejected[fk.ref_table])
                if dead.len() == 0:
                    continue
                lf = tables[spec.name]
                names = lf.collect_schema().names()
                key = [c for c in spec.key if c in names]
                hits = (
                    _surviving(lf.select(*dict.fromkeys([ROW_INDEX, *key, col.name])), rejected[spec.name])
                    .filter(pl.col(col.name).is_in(dead.implode()))
                    .collect()
                )
                if hits.height == 0:
                    continue
                by_table.setdefault(spec.name, []).append(
                    hits.select(
                        row_key=row_key_text(spec, hits.columns),
                        rule=pl.lit(f"references_rejected:{col.name}->{fk.ref_table}"),
                        columns=pl.lit(col.name),
                        offending_values=pairs_text([col.name]),
                        detail=pl.lit(f"{col.name} refers to a {fk.ref_table} row that was rejected"),
                    )
                )
                new.setdefault(spec.name, []).append(hits.get_column(ROW_INDEX))
        if not new:
            break
        for name, parts in new.items():
            fresh = pl.concat(parts).unique().sort()
            rejected[name] = pl.concat([rejected[name], fresh])
            cascaded[name] = pl.concat([cascaded[name], fresh])
    frames = [finish_rejects(fs, name, run_id) for name, fs in by_table.items()]
    return cascaded, frames


def _position_mask(height: int, positions: pl.Series) -> pl.Series:
    """True at the given row positions (ROW_INDEX values), False elsewhere."""
    return ~failing_mask(height, positions)


def _surviving(lf: pl.LazyFrame, gone: pl.Series) -> pl.LazyFrame:
    """The rows of `lf` whose ROW_INDEX is not in `gone`."""
    return lf.filter(~pl.col(ROW_INDEX).is_in(gone.implode())) if gone.len() else lf


def _dead_values(lf: pl.LazyFrame, column: str, gone: pl.Series) -> pl.Series:
    """Distinct non-null values of `column` held by rows in `gone` (ROW_INDEX values) and by no other row."""
    if gone.len() == 0:
        return pl.Series(column, [], dtype=lf.collect_schema()[column])
    is_gone = pl.col(ROW_INDEX).is_in(gone.implode())
    values = lf.select(ROW_INDEX, column)
    candidates = values.filter(is_gone).select(pl.col(column).drop_nulls().unique()).collect().to_series()
    if candidates.len() == 0:
        return candidates
    still_held = (
        values.filter(~is_gone & pl.col(column).is_in(candidates.implode()))
        .select(pl.col(column).unique())
        .collect()
        .to_series()
    )
    return candidates.filter(~candidates.is_in(still_held.implode()))


def loader_counts(loader_rejects: pl.DataFrame | None) -> dict[str, int]:
    """Distinct rows the loader rejected, per table (a row can carry several cell-level rejects)."""
    if loader_rejects is None or loader_rejects.height == 0:
        return {}
    rows = loader_rejects.unique(["source_table", "source_file", "source_line", "row_key"])
    return dict(rows.group_by("source_table").len().iter_rows())


def validate(
    data: CanonicalData,
    run_id: str,
    *,
    loader_rejects: pl.DataFrame | None = None,
    previous_counts: Mapping[str, int] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sample_size: int = 5,
) -> ValidationResult:
    """Validate every canonical table; quarantine failing rows; report blocking failures (never raises).

    `loader_rejects` (DATA_QUALITY_REJECTS rows the loader produced for cells it could not read) are
    carried into the result's rejects and counted as received and rejected. `previous_counts` (table ->
    rows received in the previous run) enables the volume-drop check. Call `raise_if_blocking()` to stop.
    """
    tables = {spec.name: with_row_index(data.tables[spec.name]) for spec in TABLES}
    refs = received_references(tables, data.plans)
    blocking = plans_blocking(data.plans)
    checks = {
        spec.name: check_table(
            spec,
            tables[spec.name],
            refs,
            nonempty_required=nonempty_required(spec, data.given_commission_lines),
            previous_count=(previous_counts or {}).get(spec.name),
            thresholds=thresholds,
            sample_size=sample_size,
        )
        for spec in TABLES
    }
    blocking.extend(failure for check in checks.values() for failure in check.blocking)
    reject_frames = [
        *loader_reject_frames(loader_rejects, run_id),
        *(reject_rows(spec, checks[spec.name], run_id) for spec in TABLES),
    ]
    rejected = {name: rejected_by_rules(check) for name, check in checks.items()}

    by_rules = {name: s.len() for name, s in rejected.items()}
    broken = {name for name, c in checks.items() if not c.schema_ok}
    cascaded, cascade_frames = cascade(
        {name: df.lazy() for name, df in tables.items()}, rejected, broken, run_id
    )
    reject_frames.extend(cascade_frames)

    clean_tables = _clean_tables(tables, rejected, broken)
    clean = CanonicalData(
        tables=clean_tables,
        plans=dict(data.plans),
        given_commission_lines=data.given_commission_lines,
        warnings=list(data.warnings),
    )
    return ValidationResult(
        run_id=run_id,
        clean=clean,
        rejects=pl.concat(reject_frames, how="vertical"),
        counts=count_frame(
            {name: df.height for name, df in tables.items()},
            {name: df.height for name, df in clean_tables.items()},
            loader_counts(loader_rejects),
            by_rules,
            {name: s.len() for name, s in cascaded.items()},
        ),
        rule_results=[r for c in checks.values() for r in c.results],
        blocking=blocking,
        rejected_rows=rejected,
        checks=checks,
    )


def count_frame(
    received: dict[str, int],
    passed: dict[str, int],
    by_loader: dict[str, int],
    by_rules: dict[str, int],
    by_cascade: dict[str, int],
) -> pl.DataFrame:
    """One row per table: received = passed + rejected, and rejected = loader + rules + cascade.

    `received` counts the rows that reached validation; the loader's rejects are added to it.
    """
    return pl.DataFrame(
        [
            {
                "table": spec.name,
                "received": received[spec.name] + by_loader.get(spec.name, 0),
                "passed": passed[spec.name],
                "rejected": by_rules[spec.name] + by_cascade[spec.name] + by_loader.get(spec.name, 0),
                "rejected_by_loader": by_loader.get(spec.name, 0),
                "rejected_by_rules": by_rules[spec.name],
                "rejected_by_cascade": by_cascade[spec.name],
            }
            for spec in TABLES
        ],
        schema=COUNT_SCHEMA,
    )


def loader_reject_frames(loader_rejects: pl.DataFrame | None, run_id: str) -> list[pl.DataFrame]:
    """The loader's rejects as DATA_QUALITY_REJECTS rows of this run (none when it rejected nothing)."""
    if loader_rejects is None or not loader_rejects.height:
        return []
    return [
        loader_rejects.select(DATA_QUALITY_REJECTS.column_names)
        .cast(dict(DATA_QUALITY_REJECTS.polars_schema))
        .with_columns(pl.col("run_id").fill_null(run_id))
    ]


def rejected_by_rules(check: TableCheck) -> pl.Series:
    """ROW_INDEX of the rows failing at least one rule; every row when the table's schema is broken."""
    if not check.schema_ok:
        return check.flagged.get_column(ROW_INDEX)
    any_failed = pl.any_horizontal(pl.col(r.name) for r in check.rules) if check.rules else pl.lit(False)
    return check.failed.filter(any_failed).get_column(ROW_INDEX)


def _clean_tables(
    tables: dict[str, pl.DataFrame], rejected: dict[str, pl.Series], broken: set[str]
) -> dict[str, pl.DataFrame]:
    """Each table without its rejected rows, conformed; an empty table where the schema is broken."""
    clean_tables = {}
    for spec in TABLES:
        df = tables[spec.name].drop(ROW_INDEX)
        if spec.name in broken:
            clean_tables[spec.name] = empty_frame(spec.name)
        else:
            if rejected[spec.name].len():
                df = df.filter(~_position_mask(df.height, rejected[spec.name]))
            clean_tables[spec.name] = conform(df, spec.name).collect()
    return clean_tables
