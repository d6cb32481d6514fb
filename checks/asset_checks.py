"""Dagster asset checks on the raw tables: the data-quality suites of `compscore.quality` run through GX.

One blocking check per raw table (`raw_<table>_quality`), each its own step, so the executor runs them in
parallel. A check reads its table and `raw_plans` as inputs, and the raw tables its foreign keys point at
from the warehouse (as inputs they would make the checks wait on each other: a blocking check gates every
consumer of its asset, and deals and referrals refer to each other). Then it runs
every rule in Polars and the same suite in GX (in chunks), writes the table's HTML report page, and
returns an `AssetCheckResult`:

* failed with severity ERROR when a blocking failure is found (schema, no rows, volume drop, a foreign key
  broken in most rows): the `validated` assets and everything after them do not run, and the earlier
  outputs stay in the warehouse;
* failed with severity WARN when only row-level rules fail: those rows are quarantined by `validated`;
* passed otherwise.

Metadata: every failed expectation with its unexpected count and share, a few failing keys and values,
and the path of the report page.
"""

from typing import Any

import dagster as dg
import polars as pl

from common.metadata import previous_from_same_source
from common.names import RAW_PLANS as PLANS
from common.names import raw_asset_name
from common.resources import Warehouse
from common.ui_metadata import check_description, file_url, flag_if_failed
from compscore.plans import Plan
from compscore.quality import References, RuleResult, check_table
from compscore.quality.blocking import NONEMPTY_TABLES
from compscore.quality.report import write_table_report
from compscore.quality.suites import ExpectationOutcome, run_suite
from compscore.schema import TABLES, Table

CHECK_NAME = "quality"


def referenced_tables(spec: Table) -> list[str]:
    """The other canonical tables the table's foreign keys point at, in schema order."""
    targets = {fk.ref_table for _col, fk in spec.foreign_keys()}
    return [t.name for t in TABLES if t.name in targets and t.name != spec.name]


def previous_row_count(instance: dg.DagsterInstance, asset: str, run_id: str) -> int | None:
    """Rows of the asset's latest materialisation from an earlier run of the same source (volume drop)."""
    previous = previous_from_same_source(instance, asset, run_id)
    if previous is None or "dagster/row_count" not in previous:
        return None
    return int(previous["dagster/row_count"].value)


def _failed_markdown(results: list[RuleResult], outcomes: dict[str, ExpectationOutcome]) -> str:
    lines = [
        "| rule | GX expectation | unexpected | share | e.g. keys | e.g. values |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if r.success:
            continue
        o = outcomes.get(r.rule)
        gx = f"{o.expectation_type}: {o.unexpected_count}" if o else "(not run)"
        keys = "; ".join(r.sample_keys).replace("|", "/")
        values = "; ".join(r.sample_values).replace("|", "/")
        lines.append(
            f"| `{r.rule}` | {gx} | {r.unexpected_count} | {r.unexpected_share:.2%} | {keys} | {values} |"
        )
    return "\n".join(lines) if len(lines) > 2 else "none"


def check_metadata(
    results: list[RuleResult],
    outcomes: list[ExpectationOutcome],
    blocking: list[Any],
    rows: int,
    report: str,
) -> dict[str, dg.MetadataValue]:
    by_rule = {o.rule: o for o in outcomes}
    failed = [
        {
            "rule": r.rule,
            "expected": r.detail,
            "unexpected_count": r.unexpected_count,
            "unexpected_share": round(r.unexpected_share, 6),
            "gx_unexpected_count": by_rule[r.rule].unexpected_count if r.rule in by_rule else None,
            "sample_keys": list(r.sample_keys),
            "sample_values": list(r.sample_values),
        }
        for r in results
        if not r.success
    ]
    return {
        "rows": dg.MetadataValue.int(rows),
        "blocking_failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in blocking) or "none"),
        "failed_expectations": dg.MetadataValue.md(_failed_markdown(results, by_rule)),
        "failed_expectations_json": dg.MetadataValue.json(failed),
        "rules_run": dg.MetadataValue.int(len(results)),
        "gx_errors": dg.MetadataValue.json({o.rule: o.exception for o in outcomes if o.exception}),
        "report": file_url(report),
    }


def run_quality_check(
    context: dg.AssetCheckExecutionContext,
    warehouse: Warehouse,
    spec: Table,
    table: pl.DataFrame,
    plans: dict[str, Plan],
) -> dg.AssetCheckResult:
    """Every rule of `spec` on `table` in Polars and in GX, the table's report page, and the verdict."""
    target = raw_asset_name(spec.name)
    frames = {spec.name: table}
    for ref in referenced_tables(spec):
        frames[ref] = warehouse.read_table(raw_asset_name(ref))
    check = check_table(
        spec,
        table,
        References.from_tables(frames, plans),
        nonempty_required=spec.name in NONEMPTY_TABLES,
        previous_count=previous_row_count(context.instance, target, context.run.run_id),
    )
    outcomes = run_suite(check) if check.schema_ok else []
    report = write_table_report(
        warehouse.directory, context.run.run_id, spec.name, check.results, check.blocking, outcomes
    )
    passed = not check.blocking and all(r.success for r in check.results)
    for failure in check.blocking:
        context.log.error(f"blocking: {failure}")
    result = dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN,
        description=check_description(
            sum(not r.success for r in check.results), [str(f) for f in check.blocking]
        ),
        metadata=check_metadata(check.results, outcomes, check.blocking, check.rows, str(report)),
    )
    return flag_if_failed(context, result)


def build_quality_check(spec: Table) -> dg.AssetChecksDefinition:
    """The blocking quality check of raw table `spec`.

    Its inputs are the checked raw table (`table`, the one parameter not in `additional_ins`, which
    Dagster binds to the checked asset) and the parsed plans; the `warehouse` resource reads the tables
    the foreign keys point at.
    """

    @dg.asset_check(
        asset=raw_asset_name(spec.name),
        name=CHECK_NAME,
        blocking=True,
        description=(
            f"Data quality of `{spec.name}` (docs/data_quality.md): keys, required values, allowed values, "
            "ranges, date order and references, in Polars and Great Expectations. Blocks on a broken "
            "schema, no rows, a sudden volume drop or references broken in most rows."
        ),
        additional_ins={"plans": dg.AssetIn(PLANS, dagster_type=Any)},
    )
    def quality(
        context: dg.AssetCheckExecutionContext,
        warehouse: Warehouse,
        table: pl.DataFrame,
        plans: dict[str, Plan],
    ) -> dg.AssetCheckResult:
        return run_quality_check(context, warehouse, spec, table, plans)

    return quality


QUALITY_CHECKS = [build_quality_check(spec) for spec in TABLES]
