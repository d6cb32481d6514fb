"""Great Expectations suites built from the rule catalogue of `compscore.quality`, run in bounded chunks.

GX 1.x has no Polars support and costs about 1.5 µs per row per expectation on pandas, so a table is
validated in chunks of `chunk_rows` rows: each chunk is converted to pandas (only the columns the
suite reads, plain dtypes) and validated, and the per-expectation counts are added up. Cross-row and
cross-table rules arrive as flag columns computed by Polars on the whole table first
(`compscore.quality.with_flags`), so chunking loses no duplicate and no key. Memory stays about one
chunk's worth; the result is the same as one run on the whole table.

GX is imported inside functions: importing it costs ~340 MB and seconds.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from compscore.quality import Rule, TableCheck

DEFAULT_CHUNK_ROWS = 1_000_000
PARTIAL_LIMIT = 5


@dataclass
class ExpectationOutcome:
    """One GX expectation's verdict over the whole table, summed over chunks."""

    table: str
    rule: str
    expectation_type: str
    kwargs: dict[str, Any]
    rows: int
    unexpected_count: int = 0
    partial_unexpected: list[str] = field(default_factory=list)
    exception: str | None = None

    @property
    def success(self) -> bool:
        return self.unexpected_count == 0 and self.exception is None

    @property
    def unexpected_share(self) -> float:
        return self.unexpected_count / self.rows if self.rows else 0.0


@functools.cache
def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def expectation(rule: Rule) -> Any:
    """The GX expectation object of a rule, tagged with the rule's qualified name in `meta`."""
    import great_expectations.expectations as gxe

    cls = getattr(gxe, rule.gx_type)
    return cls(**rule.gx_kwargs, meta={"rule": rule.name, "table": rule.table})


def build_suite(name: str, rules: list[Rule]) -> Any:
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=[expectation(r) for r in rules])


def suite_columns(rules: list[Rule]) -> list[str]:
    """The columns the suite reads: each flag rule's flag column, each other rule's own columns."""
    cols: list[str] = []
    for rule in rules:
        for c in (rule.flag_column,) if rule.flag is not None else rule.columns:
            if c not in cols:
                cols.append(c)
    return cols


def _validation(table: str, rules: list[Rule]) -> Any:
    import great_expectations as gx

    ctx = _context()
    tag = uuid.uuid4().hex[:8]
    batch = (
        ctx.data_sources.add_pandas(f"{table}_{tag}")
        .add_dataframe_asset(table)
        .add_batch_definition_whole_dataframe("chunk")
    )
    suite = ctx.suites.add(build_suite(f"{table}_{tag}", rules))
    return ctx.validation_definitions.add(
        gx.ValidationDefinition(name=f"{table}_{tag}", data=batch, suite=suite)
    )


def run_suite(
    check: TableCheck, chunk_rows: int = DEFAULT_CHUNK_ROWS, frame: pl.DataFrame | None = None
) -> list[ExpectationOutcome]:
    """Validate `check.flagged` (or `frame`, same columns) with GX, chunk by chunk; outcomes in rule order."""
    rules = check.rules
    if not rules:
        return []
    data = (frame if frame is not None else check.flagged).select(suite_columns(rules))
    outcomes = {
        r.name: ExpectationOutcome(check.table, r.name, r.gx_type, dict(r.gx_kwargs), data.height)
        for r in rules
    }
    validation = _validation(check.table, rules)
    for offset in range(0, max(data.height, 1), chunk_rows):
        chunk = data.slice(offset, chunk_rows).to_pandas()
        result = validation.run(
            batch_parameters={"dataframe": chunk}, result_format={"result_format": "SUMMARY"}
        )
        for r in result.results:
            out = outcomes[r.expectation_config.meta["rule"]]
            if r.exception_info and r.exception_info.get("raised_exception"):
                out.exception = str(r.exception_info.get("exception_message"))
                continue
            out.unexpected_count += int(r.result.get("unexpected_count") or 0)
            room = PARTIAL_LIMIT - len(out.partial_unexpected)
            if room > 0:
                out.partial_unexpected += [str(v) for v in r.result.get("partial_unexpected_list", [])[:room]]
        del chunk
    return [outcomes[r.name] for r in rules]


def run_all_suites(
    checks: dict[str, TableCheck], chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> dict[str, list[ExpectationOutcome]]:
    """GX outcomes for every table whose schema allowed its rules to run (`ValidationResult.checks`)."""
    return {name: run_suite(check, chunk_rows) for name, check in checks.items() if check.schema_ok}
