"""Great Expectations suites built from the rule catalogue of `compscore.quality`, run in bounded chunks.

GX 1.x has no Polars support and costs about 1.5 µs per row per expectation on pandas, so a table is
validated in chunks of `chunk_rows` rows: each chunk is converted to pandas (only the columns the
suite reads, plain dtypes) and validated, and the per-expectation counts are added up. Cross-row and
cross-table rules arrive as flag columns computed by Polars on the whole table first
(`compscore.quality.with_flags`), so chunking loses no duplicate and no key. Memory stays about one
chunk's worth; the result is the same as one run on the whole table.

Three things keep a chunked run cheap:

* GX fingerprints every pandas batch under 1 GB (`hash_pandas_object` over all cells, a batch marker
  that nothing here reads). That was about half of a 1M-row chunk's CPU time, and a whole 10M-row table
  is over 1 GB so it never paid it; `_no_batch_fingerprint` switches it off while a suite runs.
* Each expectation sees only the columns it reads. GX filters the whole batch it is given for every
  expectation (its row condition, its nulls, its column pair), copying every column of the batch each
  time: with the 16 columns of the deals suite that was most of its time. The rules are grouped by the
  columns they read (`column_groups`), each group has its own validation definition, and each chunk is
  converted to pandas once and handed to every group as the group's columns only: on a 10M-line company
  the suites took 25.2 s with one batch of all columns and 15.7 s so, with the same outcomes (about 13 s
  with the one data source below and chunks of 2M rows; docs/performance.md, session 10). A table smaller
  than one chunk keeps one validation of all its columns: there the fixed cost of a validation run per
  group outweighs the copies it saves.
* Validation definitions (suites) are built once per table and group and reused for every chunk, all on
  one data source and batch definition (`_chunk_batch`).

Row conditions are passed to GX as `Condition` objects (`row_condition`), not as deprecated pandas
query strings; the rule catalogue writes them as strings, which `row_condition` parses.

GX is imported inside functions: importing it costs ~340 MB and seconds.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from compscore.quality import Rule, TableCheck
from compscore.quality.rules import ROW_INDEX

DEFAULT_CHUNK_ROWS = 2_000_000
"""Rows per GX batch. With 2M rather than 1M rows the suites of a 10M-line company's three large tables took
12.9 s against 14.7 s (fewer runs, each with GX's fixed cost per expectation), for about 0.4 GiB more
(docs/performance.md, session 10)."""
RESULT_FORMAT = {"result_format": "BASIC"}
"""What GX is asked to return: each expectation's unexpected count and its partial list of unexpected
values (of which an `ExpectationOutcome` keeps `PARTIAL_LIMIT`), all an outcome reads. `SUMMARY` also
computes, for every column-map expectation of every chunk, the index list and the pandas query of its
unexpected rows, which nothing here reads: on a 1M-line company the suites took 9.5 s of CPU with it and
7.2 s without, with the same outcomes (also on the corrupted copy's 24 failing expectations;
docs/performance.md)."""
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


_COMPARISONS: dict[type[ast.cmpop], str] = {
    ast.Eq: "__eq__",
    ast.NotEq: "__ne__",
    ast.Lt: "__lt__",
    ast.LtE: "__le__",
    ast.Gt: "__gt__",
    ast.GtE: "__ge__",
    ast.In: "is_in",
    ast.NotIn: "is_not_in",
}


def row_condition(text: str) -> Any:
    """The GX `Condition` of a pandas-query row condition of the form `<column> <op> <literal>`.

    `op` is a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`) or `in` / `not in` with a literal tuple or
    list. GX renders the object back to the same pandas query, so results do not change.
    """
    from great_expectations.expectations.row_conditions import Column

    node = ast.parse(text, mode="eval").body
    if not (
        isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Name)
        and len(node.ops) == 1
        and type(node.ops[0]) in _COMPARISONS
    ):
        raise ValueError(f"row condition {text!r}: expected '<column> <comparison> <literal>'")
    try:
        value = ast.literal_eval(node.comparators[0])
    except ValueError as err:
        raise ValueError(f"row condition {text!r}: the right-hand side is not a literal") from err
    return getattr(Column(node.left.id), _COMPARISONS[type(node.ops[0])])(value)


def gx_kwargs(rule: Rule) -> dict[str, Any]:
    """The rule's GX kwargs, with a string `row_condition` as a `Condition` and no `condition_parser`."""
    kwargs = {k: v for k, v in rule.gx_kwargs.items() if k != "condition_parser"}
    if isinstance(kwargs.get("row_condition"), str):
        kwargs["row_condition"] = row_condition(kwargs["row_condition"])
    return kwargs


def expectation(rule: Rule) -> Any:
    """The GX expectation object of a rule, tagged with the rule's qualified name in `meta`."""
    import great_expectations.expectations as gxe

    cls = getattr(gxe, rule.gx_type)
    return cls(**gx_kwargs(rule), meta={"rule": rule.name, "table": rule.table})


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


@functools.cache
def _chunk_batch() -> Any:
    """The one batch definition every validation reads: a whole pandas dataframe, given at each run.

    One data source for the process, not one per validation: the ephemeral context writes its whole
    configuration (every data source) out as YAML each time one is added, so adding one per group of rules
    grew quadratically (0.8 s of a 1M-line company's 3.6 s of suites)."""
    return (
        _context().data_sources.add_pandas("compscore_chunks").add_dataframe_asset("chunk")
    ).add_batch_definition_whole_dataframe("chunk")


def _validation(table: str, rules: list[Rule]) -> Any:
    import great_expectations as gx

    ctx = _context()
    name = f"{table}_{uuid.uuid4().hex[:8]}"
    suite = ctx.suites.add(build_suite(name, rules))
    return ctx.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=_chunk_batch(), suite=suite)
    )


@contextlib.contextmanager
def _no_batch_fingerprint() -> Iterator[None]:
    """Skip GX's fingerprint of pandas batches (`HASH_THRESHOLD`) for the duration; restored after."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    saved = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = saved


def run_suite(check: TableCheck, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> list[ExpectationOutcome]:
    """Validate a checked table with GX, chunk by chunk; outcomes in rule order.

    The table is the check's file read a chunk at a time beside its flag columns (`check.source` and
    `check.flags`, from `check_scan(keep_flags=True)`: memory holds one chunk), else `check.flagged` (the
    whole table with its flags, from `check_table`)."""
    if check.flags is not None and check.source is not None:
        return run_rules_from_file(check.table, check.rules, check.source, check.flags, chunk_rows)
    return run_rules(check.table, check.rules, check.flagged, chunk_rows)


def _flag_computed_by_the_check(_df: pl.DataFrame) -> pl.Series:
    raise RuntimeError(
        "a detached rule's flag column was computed by its check; read it from the check's flags"
    )


def detached(rules: list[Rule]) -> list[Rule]:
    """The rules as a suite reads them, for a suite run later: each flag rule's flag function, which holds
    the key columns its foreign key refers to (at 30M lines the 54.7M deal ids of the statement lines'
    rule), is replaced by one that holds nothing; names, GX types and arguments, columns and flag columns
    are kept. A queued suite would otherwise keep every referenced table's keys alive (5 GiB at 30M)."""
    return [replace(r, flag=_flag_computed_by_the_check) if r.flag is not None else r for r in rules]


def run_rules_from_file(
    table: str, rules: list[Rule], source: Path, flags: pl.DataFrame, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> list[ExpectationOutcome]:
    """`run_rules` on a table read from its Parquet file `source` one chunk of rows at a time, each chunk
    beside the same rows of `flags` (ROW_INDEX and the flag columns of every row, in file order)."""
    if not rules:
        return []
    columns = suite_columns(rules)
    from_file = pl.scan_parquet(source).select(c for c in columns if c not in flags.columns)
    rows = flags.height

    def chunks() -> Iterator[pl.DataFrame]:
        for offset in range(0, max(rows, 1), chunk_rows):
            read = from_file.slice(offset, chunk_rows).collect()
            yield read.hstack(flags.slice(offset, chunk_rows).drop(ROW_INDEX)).select(columns)

    return _run_chunks(table, rules, rows, chunks(), chunk_rows)


def column_groups(rules: list[Rule], rows: int, chunk_rows: int) -> dict[tuple[str, ...], list[Rule]]:
    """The rules of one GX run per group, keyed by the columns the group reads, in rule order.

    With at least a chunk of rows, rules reading the same columns form a group; with fewer, all rules form
    one group of every column the suite reads (`suite_columns`).
    """
    if rows < chunk_rows:
        return {tuple(suite_columns(rules)): list(rules)} if rules else {}
    groups: dict[tuple[str, ...], list[Rule]] = {}
    for rule in rules:
        groups.setdefault(tuple(suite_columns([rule])), []).append(rule)
    return groups


def run_rules(
    table: str, rules: list[Rule], flagged: pl.DataFrame, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> list[ExpectationOutcome]:
    """Validate `flagged` (a table with the flag columns of `rules`) with GX, chunk by chunk, each group of
    rules on its own columns (`column_groups`)."""
    if not rules:
        return []
    data = flagged.select(suite_columns(rules))
    chunks = (data.slice(offset, chunk_rows) for offset in range(0, max(data.height, 1), chunk_rows))
    return _run_chunks(table, rules, data.height, chunks, chunk_rows)


def _run_chunks(
    table: str, rules: list[Rule], rows: int, chunks: Iterable[pl.DataFrame], chunk_rows: int
) -> list[ExpectationOutcome]:
    """GX's outcomes over a table of `rows` rows given as `chunks` of the suite's columns."""
    outcomes = {r.name: ExpectationOutcome(table, r.name, r.gx_type, dict(r.gx_kwargs), rows) for r in rules}
    groups = column_groups(rules, rows, chunk_rows)
    validations = {columns: _validation(table, group) for columns, group in groups.items()}
    for part in chunks:
        chunk = part.to_pandas()
        del part
        for columns, validation in validations.items():
            with _no_batch_fingerprint():
                result = validation.run(
                    batch_parameters={"dataframe": chunk[list(columns)]}, result_format=RESULT_FORMAT
                )
            _add_results(outcomes, result)
        del chunk
    return [outcomes[r.name] for r in rules]


def _add_results(outcomes: dict[str, ExpectationOutcome], result: Any) -> None:
    """Add one chunk's GX results to the outcomes of their rules (`meta["rule"]`)."""
    for r in result.results:
        out = outcomes[r.expectation_config.meta["rule"]]
        if r.exception_info and r.exception_info.get("raised_exception"):
            out.exception = str(r.exception_info.get("exception_message"))
            continue
        out.unexpected_count += int(r.result.get("unexpected_count") or 0)
        room = PARTIAL_LIMIT - len(out.partial_unexpected)
        if room > 0:
            out.partial_unexpected += [str(v) for v in r.result.get("partial_unexpected_list", [])[:room]]


def run_all_suites(
    checks: dict[str, TableCheck], chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> dict[str, list[ExpectationOutcome]]:
    """GX outcomes for every table whose schema allowed its rules to run (`ValidationResult.checks`)."""
    return {name: run_suite(check, chunk_rows) for name, check in checks.items() if check.schema_ok}
