"""Commission data from the system that paid it: a commission tool's payout export -> `commission_lines`.

The export (CSV, or a JSON page of a payouts API) is mapped by the same declarative mapping files as the
CRM exports (`mappings/commission_generic.yaml`, `mappings/commission_quotapath.yaml`), then finished here:

- `line_id` missing: `<file name>:<line>` (`derive: source_line`);
- the amount's sign convention (`commission.amount_sign`: signed, unsigned, negated);
- `line_type` missing: from the sign, negative -> clawback, else earning; a line of the `adjustment`
  component is an adjustment (`derive: amount_sign`);
- `plan_id` missing: the plan of the rep's assignment covering the earned date (`derive: assignment`);
- Salesforce-style ids (`id_style: salesforce`) of rep and deal made 18-character after value maps.

Rows still missing a required value, and records with the wrong number of fields (`core.shape_rejects`),
are rejects with their file and line; cells that do not parse and rule names missing from the component
map fail the import (`SourceError`), listed by value, count, first line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from compscore.adapters.core import (
    FILE,
    ImportResult,
    empty_rejects,
    issue_rows,
    map_exports,
    split_missing_required,
)
from compscore.adapters.mapping import SourceMapping, default_mapping_path, load_mapping
from compscore.adapters.readers import LINE
from compscore.adapters.transform import salesforce_id18
from compscore.schema import ADJUSTMENT_COMPONENT, COMMISSION_LINES, conform

TABLE = COMMISSION_LINES.name
DEFAULT_MAPPING = "commission_generic"


@dataclass
class CommissionImport:
    lines: pl.DataFrame
    """Conformed `commission_lines`."""
    rejects: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def _derivation(mapping: SourceMapping, target: str) -> str | None:
    rule = mapping.tables[TABLE].rule(target)
    return rule.derive if rule is not None else None


def _sign_convention(frame: pl.DataFrame, mapping: SourceMapping) -> pl.DataFrame:
    sign = mapping.commission.amount_sign
    if sign == "negated":
        return frame.with_columns(-pl.col("amount"))
    if sign == "unsigned":
        clawback = pl.col("line_type") == "clawback"
        return frame.with_columns(
            pl.when(clawback).then(-pl.col("amount").abs()).otherwise(pl.col("amount")).alias("amount")
        )
    return frame


def _line_type_by_sign(frame: pl.DataFrame) -> pl.DataFrame:
    by_sign = (
        pl.when(pl.col("component_id") == ADJUSTMENT_COMPONENT)
        .then(pl.lit("adjustment"))
        .when(pl.col("amount") < 0)
        .then(pl.lit("clawback"))
        .when(pl.col("amount").is_not_null())
        .then(pl.lit("earning"))
    )
    return frame.with_columns(pl.coalesce("line_type", by_sign).alias("line_type"))


def plans_by_assignment(frame: pl.DataFrame, assignments: pl.DataFrame | None) -> pl.DataFrame:
    """Fill an empty `plan_id` with the plan of the rep's assignment whose dates cover `earned_date`."""
    if assignments is None or assignments.is_empty():
        return frame
    covering = (
        assignments.select(
            pl.col("rep_id"),
            pl.col("start_date"),
            pl.col("end_date"),
            pl.col("plan_id").alias("__assigned"),
        )
        .drop_nulls(["rep_id", "start_date"])
        .sort("start_date")
    )
    ordered = frame.with_row_index("__order").sort("earned_date", nulls_last=True)
    joined = ordered.join_asof(
        covering,
        left_on="earned_date",
        right_on="start_date",
        by="rep_id",
        strategy="backward",
        check_sortedness=False,
    )
    in_force = pl.col("end_date").is_null() | (pl.col("earned_date") <= pl.col("end_date"))
    assigned = pl.when(in_force).then(pl.col("__assigned"))
    return (
        joined.with_columns(pl.coalesce("plan_id", assigned).alias("plan_id"))
        .sort("__order")
        .select(frame.columns)
    )


def _unassigned_rejects(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    known = pl.col("rep_id").is_not_null() & pl.col("earned_date").is_not_null()
    missing = pl.col("plan_id").is_null() & known
    rejects = issue_rows(
        frame.filter(missing),
        TABLE,
        "plan_assignment:plan_id",
        "rep_id, earned_date",
        pl.format("{}, {}", pl.col("rep_id"), pl.col("earned_date")),
        "the export names no plan and no plan assignment of the rep covers the earned date",
    )
    return frame.filter(~missing), rejects


def map_commission_lines(
    location: str | Path,
    mapping_path: str | Path | None = None,
    *,
    assignments: pl.DataFrame | None = None,
) -> CommissionImport:
    """Map one payout export (a file, or a folder holding it) to `commission_lines`.

    `assignments` (canonical rep_plan_assignments) serve `plan_id: {derive: assignment}`.
    """
    mapping = load_mapping(mapping_path or default_mapping_path(DEFAULT_MAPPING))
    mapped = map_exports(mapping, location)
    frame = mapped.tables[TABLE]
    source_object = mapping.tables[TABLE].source_object
    file_name = mapped.exports[source_object].path.name if source_object in mapped.exports else "export"
    if _derivation(mapping, "line_id") == "source_line":
        frame = frame.with_columns(
            pl.coalesce("line_id", pl.format(f"{file_name}:{{}}", pl.col(LINE))).alias("line_id")
        )
    if mapping.id_style == "salesforce":
        frame = frame.with_columns(salesforce_id18(pl.col(c)).alias(c) for c in ("rep_id", "deal_id"))
    frame = _sign_convention(frame, mapping)
    if _derivation(mapping, "line_type") == "amount_sign":
        frame = _line_type_by_sign(frame)
    rejects = [empty_rejects(), mapped.rejects]
    if _derivation(mapping, "plan_id") == "assignment":
        frame, unassigned = _unassigned_rejects(plans_by_assignment(frame, assignments))
        rejects.append(unassigned)
    good, missing = split_missing_required(frame, TABLE)
    rejects.append(missing)
    lines = conform(good.drop(LINE, FILE), TABLE).collect()
    return CommissionImport(lines, pl.concat(rejects), list(mapped.warnings))


def add_commission_lines(
    result: ImportResult, location: str | Path, mapping_path: str | Path | None = None
) -> ImportResult:
    """`result` (a CRM import) with its `commission_lines` taken from a payout export."""
    imported = map_commission_lines(location, mapping_path, assignments=result.data.rep_plan_assignments)
    result.data.tables[TABLE] = imported.lines
    result.data.given_commission_lines = True
    result.rejects = pl.concat([result.rejects, imported.rejects])
    result.warnings.extend(imported.warnings)
    return result
