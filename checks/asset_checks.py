"""Dagster asset checks on the raw tables: the data-quality rules of `compscore.quality`, and their GX suites.

One multi-asset check step, `raw_checks`, gives both checks of every raw table, with the raw tables (lazy
scans from the IO manager) and `raw_plans` as inputs. It takes one table at a time and reads it once: that
table, and of the tables it refers to only the key columns its foreign keys are judged against
(`references_of`), so memory holds one table, not the company. The rules compute one flag column per
row-level rule; the GX suite validates those same columns (`run_suite`), as `compscore score` does, so
neither the table nor its flags are read or computed twice (they were, when each check had its own step:
docs/performance.md, session 9, has what that second pass cost).

* `quality`, for each `raw_<table>`: every rule in Polars (`check_table`, the same counts `validated`
  quarantines by), the table's HTML report page (`data_quality/<run_id>/<table>.html`), and one
  `AssetCheckResult`, given as soon as the table is checked:

  - failed with severity ERROR when a blocking failure is found (schema, no rows, volume drop, a foreign
    key broken in most rows);
  - failed with severity WARN when only row-level rules fail: those rows are quarantined by `validated`;
  - passed otherwise.

  The check reports; `validated` is the gate. It runs the same rules on the same tables and fails on the
  same blocking failures (`compscore.quality.validate`), so the validated tables and everything after
  them are not written and the earlier outputs stay in the warehouse. Not making the check a Dagster
  blocking check keeps it off the critical path: it runs beside `validated` instead of before it (at 10M
  statement lines the rules take about 30 s, which every run would wait for).

  Metadata: every failed rule with its unexpected count and share, a few failing keys and values, and
  the path of the table's report page.

* `expectations`, for each `raw_<table>`, not blocking: the table's Great Expectations suite (in chunks of
  rows), one page for all tables (`data_quality/<run_id>/expectations.html`), the results once every table
  is done. Passed when GX finds no unexpected row and no expectation raises; else failed with severity
  WARN. Metadata: GX's unexpected count of every expectation, the failed ones with a few values, GX
  errors, and a link to the table's section of the page. A GX crash on one table is reported on that
  table's result instead of failing the run.

The step gates nothing, so it runs alongside `validated` and scoring (a low step priority lets the steps on
the critical path start first).
"""

from typing import Any

import dagster as dg
import polars as pl

from common.metadata import previous_from_same_source
from common.names import RAW_PLANS as PLANS
from common.names import TABLE_SCAN_INPUT_MANAGER, raw_asset_name
from common.resources import Warehouse
from common.ui_metadata import check_description, file_url, flag_if_failed
from compscore.plans import Plan
from compscore.quality import RuleResult, TableCheck, check_table
from compscore.quality.blocking import NONEMPTY_TABLES
from compscore.quality.evaluate import references_of, schema_broken
from compscore.quality.report import write_expectations_report, write_table_report
from compscore.quality.suites import ExpectationOutcome, run_suite
from compscore.schema import TABLES

CHECK_NAME = "quality"
"""The rules check on each raw table (reports; `validated` is the gate)."""
GX_CHECK_NAME = "expectations"
"""The non-blocking GX check on each raw table."""
CHECKS_STEP = "raw_checks"
"""The one step that runs both checks of every raw table."""
CHECKS_PRIORITY = -1
"""`dagster/priority` of the check step: with every step slot taken, the critical path goes first."""

_INS = {
    **{
        raw_asset_name(t.name): dg.AssetIn(raw_asset_name(t.name), input_manager_key=TABLE_SCAN_INPUT_MANAGER)
        for t in TABLES
    },
    PLANS: dg.AssetIn(PLANS),
}
"""Every raw table, as a lazy scan (each step reads one table at a time; an asset check's input cannot carry
a Dagster type, so the input manager says it), and the plans (`raw_plans`, also a dependency of the
specs)."""


def _received(inputs: dict[str, Any]) -> tuple[dict[str, pl.LazyFrame], dict[str, Plan]]:
    """The raw tables (scans) by canonical name, and the plans, from the step's inputs."""
    return {t.name: inputs[raw_asset_name(t.name)] for t in TABLES}, inputs[PLANS]


def previous_row_count(instance: dg.DagsterInstance, asset: str, run_id: str) -> int | None:
    """Rows of the asset's latest materialisation from an earlier run of the same source (volume drop)."""
    previous = previous_from_same_source(instance, asset, run_id)
    if previous is None or "dagster/row_count" not in previous:
        return None
    return int(previous["dagster/row_count"].value)


# --- the rules: reported here, enforced by `validated` -----------------------------------------------


def _failed_markdown(results: list[RuleResult]) -> str:
    lines = [
        "| rule | unexpected | share | e.g. keys | e.g. values |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        if r.success:
            continue
        keys = "; ".join(r.sample_keys).replace("|", "/")
        values = "; ".join(r.sample_values).replace("|", "/")
        lines.append(f"| `{r.rule}` | {r.unexpected_count} | {r.unexpected_share:.2%} | {keys} | {values} |")
    return "\n".join(lines) if len(lines) > 2 else "none"


def check_metadata(
    results: list[RuleResult], blocking: list[Any], rows: int, report: str
) -> dict[str, dg.MetadataValue]:
    failed = [
        {
            "rule": r.rule,
            "expected": r.detail,
            "unexpected_count": r.unexpected_count,
            "unexpected_share": round(r.unexpected_share, 6),
            "sample_keys": list(r.sample_keys),
            "sample_values": list(r.sample_values),
        }
        for r in results
        if not r.success
    ]
    return {
        "rows": dg.MetadataValue.int(rows),
        "blocking_failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in blocking) or "none"),
        "failed_expectations": dg.MetadataValue.md(_failed_markdown(results)),
        "failed_expectations_json": dg.MetadataValue.json(failed),
        "rules_run": dg.MetadataValue.int(len(results)),
        "report": file_url(report),
    }


def quality_result(check: TableCheck, report: str) -> dg.AssetCheckResult:
    """The verdict on one table: ERROR on a blocking failure, WARN on row-level failures, else passed."""
    return dg.AssetCheckResult(
        asset_key=raw_asset_name(check.table),
        check_name=CHECK_NAME,
        passed=not check.blocking and all(r.success for r in check.results),
        severity=dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN,
        description=check_description(
            sum(not r.success for r in check.results), [str(f) for f in check.blocking]
        ),
        metadata=check_metadata(check.results, check.blocking, check.rows, report),
    )


QUALITY_SPECS = [
    dg.AssetCheckSpec(
        CHECK_NAME,
        asset=raw_asset_name(t.name),
        blocking=False,
        additional_deps=[PLANS],
        description=(
            f"Data quality of `{t.name}` (docs/data_quality.md): keys, required values, allowed values, "
            "ranges, date order and references, in Polars. ERROR (and `validated` stops the run) on a broken "
            "schema, no rows, a sudden volume drop or references broken in most rows. GX's counts: the "
            "`expectations` check."
        ),
    )
    for t in TABLES
]


# --- GX: not blocking ---------------------------------------------------------------------------------


def _outcomes_markdown(outcomes: list[ExpectationOutcome]) -> str:
    lines = [
        "| rule | GX expectation | unexpected | share | e.g. values |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        if o.success:
            continue
        values = "; ".join(o.partial_unexpected).replace("|", "/")
        unexpected = f"error: {o.exception}" if o.exception else str(o.unexpected_count)
        lines.append(
            f"| `{o.rule}` | {o.expectation_type} | {unexpected} | {o.unexpected_share:.2%} | {values} |"
        )
    return "\n".join(lines) if len(lines) > 2 else "none"


def expectations_description(found: list[ExpectationOutcome] | str) -> str:
    """The one-line text of a GX check result (`found`: the outcomes, or why the suite did not run)."""
    if isinstance(found, str):
        return f"GX suite not run: {found}"
    outcomes = found
    failed = [o for o in outcomes if o.unexpected_count]
    errors = [o for o in outcomes if o.exception]
    if not failed and not errors:
        return f"all {len(outcomes)} GX expectations met"
    parts = []
    if failed:
        rows = sum(o.unexpected_count for o in failed)
        parts.append(
            f"{len(failed)} of {len(outcomes)} GX expectation(s) found {rows} unexpected value(s) "
            "(see failed_expectations)"
        )
    if errors:
        parts.append(f"{len(errors)} GX expectation(s) raised an error (see gx_errors)")
    return "; ".join(parts)


def expectations_result(
    table: str, found: list[ExpectationOutcome] | str, rows: int, report: str
) -> dg.AssetCheckResult:
    """GX's verdict on one table: passed when every expectation ran and found nothing; else WARN.
    `found`: the outcomes, or why the suite did not run."""
    ran = [] if isinstance(found, str) else found
    failed = [
        {
            "rule": o.rule,
            "expectation_type": o.expectation_type,
            "unexpected_count": o.unexpected_count,
            "unexpected_share": round(o.unexpected_share, 6),
            "partial_unexpected": list(o.partial_unexpected),
            "exception": o.exception,
        }
        for o in ran
        if not o.success
    ]
    return dg.AssetCheckResult(
        asset_key=raw_asset_name(table),
        check_name=GX_CHECK_NAME,
        passed=not isinstance(found, str) and all(o.success for o in found),
        severity=dg.AssetCheckSeverity.WARN,
        description=expectations_description(found),
        metadata={
            "rows": dg.MetadataValue.int(rows),
            "expectations_run": dg.MetadataValue.int(len(ran)),
            "unexpected_counts": dg.MetadataValue.json({o.rule: o.unexpected_count for o in ran}),
            "failed_expectations": dg.MetadataValue.md(_outcomes_markdown(ran)),
            "failed_expectations_json": dg.MetadataValue.json(failed),
            "gx_errors": dg.MetadataValue.json({o.rule: o.exception for o in ran if o.exception}),
            "report": file_url(report, anchor=table),
        },
    )


EXPECTATION_SPECS = [
    dg.AssetCheckSpec(
        GX_CHECK_NAME,
        asset=raw_asset_name(t.name),
        blocking=False,
        additional_deps=[PLANS],
        description=(
            f"The Great Expectations suite of `{t.name}` (docs/data_quality.md): the rules of the "
            "`quality` check as GX 1.x expectations, run in chunks of rows, with GX's unexpected count "
            "per expectation. Not blocking: it runs alongside validation and scoring and stops nothing."
        ),
    )
    for t in TABLES
]


# --- one step, one read of each table, for both checks ------------------------------------------------


@dg.multi_asset_check(
    name=CHECKS_STEP,
    specs=[*QUALITY_SPECS, *EXPECTATION_SPECS],
    ins=_INS,
    op_tags={"dagster/priority": str(CHECKS_PRIORITY)},
    description=(
        "Every raw table's data-quality rules (Polars) and Great Expectations suite, in one step that reads "
        "each table once; `validated` enforces the rules, and nothing waits for this step."
    ),
)
def raw_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, **inputs: Any):
    """Each raw table read once, as received: its rules (verdict and report page at once), then its GX suite
    on the same flag columns; GX's page for all tables and its results at the end."""
    scans, plans = _received(inputs)
    broken = schema_broken(scans)
    run_id = context.run.run_id
    found: dict[str, list[ExpectationOutcome] | str] = {}  # GX's outcomes, or why the suite did not run
    rows: dict[str, int] = {}
    for spec in TABLES:
        target = raw_asset_name(spec.name)
        check = check_table(
            spec,
            scans[spec.name].collect(),
            references_of(spec, scans, broken, plans),
            nonempty_required=spec.name in NONEMPTY_TABLES,
            previous_count=previous_row_count(context.instance, target, run_id),
        )
        report = write_table_report(warehouse.directory, run_id, spec.name, check.results, check.blocking)
        for failure in check.blocking:
            context.log.error(f"blocking: {failure}")
        yield flag_if_failed(context, quality_result(check, str(report)))
        rows[spec.name] = check.rows
        found[spec.name] = _expectations(context, check)
        del check  # one table and its flag columns at a time
    report = str(write_expectations_report(warehouse.directory, run_id, found))
    for spec in TABLES:
        result = expectations_result(spec.name, found[spec.name], rows[spec.name], report)
        yield flag_if_failed(context, result)


def _expectations(
    context: dg.AssetCheckExecutionContext, check: TableCheck
) -> list[ExpectationOutcome] | str:
    """GX's outcomes on a checked table (on the flag columns the rules computed), or why it did not run."""
    if not check.schema_ok:
        return "the table's schema is broken (see its quality check)"
    try:
        return run_suite(check)
    except Exception as error:  # GX only reports: its failure on one table must not fail the run
        context.log.exception(f"GX suite of {check.table} failed")
        return f"{type(error).__name__}: {error}"
