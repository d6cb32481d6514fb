"""GX and Polars agree on every rule; chunked GX equals one whole-table run; the HTML report."""

from __future__ import annotations

import warnings

import polars as pl
import pytest
from test_quality import load_small

from compscore.quality import check_table, received_references, validate
from compscore.quality.corrupt import corrupt
from compscore.quality.evaluate import check_scan
from compscore.quality.report import (
    EXPECTATIONS_PAGE,
    LATEST,
    write_expectations_report,
    write_run_report,
    write_table_report,
)
from compscore.quality.rules import ROW_INDEX
from compscore.quality.status import data_quality_status
from compscore.quality.suites import (
    DEFAULT_CHUNK_ROWS,
    column_groups,
    detached,
    expectation,
    row_condition,
    run_all_suites,
    run_rules,
    run_suite,
    suite_columns,
)
from compscore.schema import DEALS, TABLES


@pytest.fixture(scope="module")
def corrupted_result():
    return validate(corrupt(load_small()).data, "run-gx")


@pytest.fixture(scope="module")
def outcomes(corrupted_result):
    """One GX run per table (GX has a fixed cost of about a second per run, whatever the rows)."""
    return run_all_suites(corrupted_result.checks)


def test_gx_and_polars_agree_on_every_rule(corrupted_result, outcomes):
    polars_counts = {(r.table, r.rule): r.unexpected_count for r in corrupted_result.rule_results}
    gx_counts = {(o.table, o.rule): o.unexpected_count for table in outcomes.values() for o in table}
    assert gx_counts == polars_counts
    assert sum(gx_counts.values()) == 28
    assert not [o for table in outcomes.values() for o in table if o.exception]


def test_chunked_run_equals_whole_table_run(corrupted_result, outcomes):
    """Chunks of 6 rows (a table of more than a chunk: each group of rules on its own columns) against the
    whole table in one batch of every column: the same counts and the same examples, for every table."""
    for table, check in corrupted_result.checks.items():
        whole = outcomes[table]
        chunked = run_suite(check, chunk_rows=6)
        assert [(o.rule, o.unexpected_count, o.partial_unexpected, o.exception) for o in chunked] == [
            (o.rule, o.unexpected_count, o.partial_unexpected, o.exception) for o in whole
        ], table
    deals = run_suite(corrupted_result.checks["deals"], chunk_rows=6)
    amount = next(o for o in deals if o.rule == "range:amount")
    assert amount.partial_unexpected == ["-100.0"]
    assert next(o for o in deals if o.rule == "required_unless_open:close_date").unexpected_count > 0


def test_a_suite_read_from_the_file_beside_its_flags_equals_the_whole_table_run(outcomes, tmp_path):
    """What `compscore score` runs: the check by scan keeps every row's flags, and GX reads the table's other
    columns from its file a chunk at a time (here 6 rows: chunks cross the file's row groups)."""
    bad = corrupt(load_small()).data
    refs = received_references(bad.tables, bad.plans)
    for spec in TABLES:
        path = tmp_path / f"{spec.name}.parquet"
        bad.tables[spec.name].write_parquet(path, row_group_size=4)
        scan = pl.scan_parquet(path, row_index_name=ROW_INDEX)
        check = check_scan(spec, scan, refs, nonempty_required=False, keep_flags=True)
        check.source = path
        for chunk_rows in (6, DEFAULT_CHUNK_ROWS):
            found = run_suite(check, chunk_rows=chunk_rows)
            assert [(o.rule, o.unexpected_count, o.partial_unexpected, o.exception) for o in found] == [
                (o.rule, o.unexpected_count, o.partial_unexpected, o.exception) for o in outcomes[spec.name]
            ], (spec.name, chunk_rows)
    assert sum(o.unexpected_count for table in outcomes.values() for o in table) == 28


def test_detached_rules_read_the_same_columns_and_hold_no_reference_data(corrupted_result, outcomes):
    rules = corrupted_result.checks["commission_lines"].rules
    loose = detached(rules)
    assert [(r.name, r.gx_type, r.gx_kwargs, r.columns) for r in loose] == [
        (r.name, r.gx_type, r.gx_kwargs, r.columns) for r in rules
    ]
    assert suite_columns(loose) == suite_columns(rules)
    foreign = next(r for r in rules if r.name == "foreign_key:deal_id->deals")
    assert foreign.flag.__closure__  # the real flag function holds the deal ids it looks up
    for rule in loose:
        if rule.flag is not None:
            assert rule.flag.__closure__ is None
            with pytest.raises(RuntimeError, match="computed by its check"):
                rule.flag(pl.DataFrame())
    check = corrupted_result.checks["commission_lines"]
    found = run_rules(check.table, loose, check.flagged, chunk_rows=4)
    assert [(o.rule, o.unexpected_count) for o in found] == [
        (o.rule, o.unexpected_count) for o in outcomes["commission_lines"]
    ]


def test_rules_are_grouped_by_the_columns_they_read_from_one_chunk_of_rows(corrupted_result):
    rules = corrupted_result.checks["deals"].rules
    grouped = column_groups(rules, rows=10, chunk_rows=10)
    assert grouped[("stage", "close_date")] == [
        r for r in rules if r.name == "required_unless_open:close_date"
    ]
    assert [r.name for r in grouped[("deal_type",)]] == ["not_null:deal_type", "allowed_values:deal_type"]
    assert [r.name for r in grouped[("_ok_unique_key_deal_id",)]] == ["unique_key:deal_id"]
    assert [r for group in grouped.values() for r in group] != rules  # regrouped, not one batch
    assert sorted(r.name for group in grouped.values() for r in group) == sorted(r.name for r in rules)
    # Fewer rows than a chunk: one batch of every column the suite reads.
    assert column_groups(rules, rows=9, chunk_rows=10) == {tuple(suite_columns(rules)): rules}
    assert column_groups([], rows=0, chunk_rows=10) == {}


def test_the_suite_of_a_raw_table_checked_alone_equals_the_suite_of_validates_check(outcomes):
    """What the Dagster check step runs (one table's rules on the frame as received, with the key columns
    it refers to, then GX on those flag columns) gives the same counts and examples as the suite of
    `validate`'s own check."""
    bad = corrupt(load_small()).data
    refs = received_references(bad.tables, bad.plans)
    check = check_table(DEALS, bad.tables["deals"], refs, nonempty_required=True)
    found = run_suite(check)
    assert [(o.rule, o.unexpected_count, o.partial_unexpected) for o in found] == [
        (o.rule, o.unexpected_count, o.partial_unexpected) for o in outcomes["deals"]
    ]
    assert any(o.unexpected_count for o in found)
    # A table whose schema is broken runs no rule, in GX as in Polars; the references skip it.
    broken = {**bad.tables, "deals": bad.tables["deals"].drop("amount")}
    refs = received_references(broken, bad.plans)
    assert not check_table(DEALS, broken["deals"], refs, nonempty_required=True).schema_ok
    assert refs.targets("deals", "deal_id") is None and refs.targets("accounts", "account_id") is not None


def test_row_conditions_are_condition_objects_with_the_same_pandas_filter(corrupted_result):
    from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
    from great_expectations.expectations.row_conditions import Condition

    rules = [r for c in corrupted_result.checks.values() for r in c.rules if "row_condition" in r.gx_kwargs]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = {r.name: expectation(r) for r in rules}
    assert not [w for w in caught if "condition" in str(w.message)]
    assert all(isinstance(e.row_condition, Condition) and e.condition_parser is None for e in built.values())
    clause = PandasExecutionEngine().condition_to_filter_clause
    assert {name: clause(e.row_condition) for name, e in built.items()} == {
        "required_unless_open:close_date": "stage != 'open'",
        "amount_sign:earning_deferral_release>=0": "line_type in ['earning', 'deferral_release']",
        "amount_sign:clawback<=0": "line_type == 'clawback'",
    }
    with pytest.raises(ValueError, match="row condition 'amount > other'"):
        row_condition("amount > other")


def test_batch_fingerprint_is_switched_off_only_while_a_suite_runs(corrupted_result):
    from great_expectations.execution_engine import pandas_execution_engine as engine

    before = engine.HASH_THRESHOLD
    run_suite(corrupted_result.checks["accounts"])
    assert engine.HASH_THRESHOLD == before == 1e9


def test_suite_reads_only_what_it_needs(corrupted_result):
    check = corrupted_result.checks["deals"]
    cols = suite_columns(check.rules)
    assert "lead_source" not in cols and "_ok_unique_key_deal_id" in cols and "amount" in cols


def test_report_lists_blocking_failures_counts_and_failing_keys(tmp_path, corrupted_result, outcomes):
    data = load_small()
    bad = corrupt(data)
    result = corrupted_result
    path = write_run_report(tmp_path, result, outcomes, data_quality_status(bad.data, result))
    page = path.read_text()
    assert path == tmp_path / "data_quality" / "run-gx" / "index.html"
    assert (tmp_path / LATEST).read_text() == page
    assert "deal_id=BAD-D1" in page and "range:amount" in page and "ExpectColumnValuesToBeBetween" in page
    assert "No blocking failure" in page

    empty = validate(
        type(data)({**data.tables, "deals": data.deals.clear()}, data.plans, True), "run-blocked"
    )
    blocked = write_run_report(tmp_path, empty).read_text()
    assert "Scoring was stopped by" in blocked and "row_count" in blocked


def test_dagster_pages_rules_per_table_and_one_gx_page_linked_from_the_run_page(
    tmp_path, corrupted_result, outcomes
):
    check = corrupted_result.checks["deals"]
    table_page = write_table_report(tmp_path, "run-gx", "deals", check.results, check.blocking).read_text()
    assert "deal_id=BAD-D1" in table_page
    assert "<th>GX</th>" not in table_page and "ExpectColumnValuesToBeBetween" not in table_page
    assert f"href='{EXPECTATIONS_PAGE}#deals'" in table_page

    gx = write_expectations_report(tmp_path, "run-gx", {"deals": outcomes["deals"], "reps": "schema broken"})
    assert gx == tmp_path / "data_quality" / "run-gx" / EXPECTATIONS_PAGE
    page = gx.read_text()
    assert page.index("<h2 id='deals'>") < page.index("<h2 id='reps'>")
    assert "GX suite not run: schema broken" in page
    amount = next(o for o in outcomes["deals"] if o.rule == "range:amount")
    assert f"{amount.unexpected_count} of {amount.rows}" in page and "-100.0" in page

    run_page = write_run_report(tmp_path, corrupted_result).read_text()
    assert "Per-table check pages: <a href='deals.html'>deals</a>." in run_page
    assert f"GX results: <a href='{EXPECTATIONS_PAGE}'>expectations</a>" in run_page
    assert "<th>GX</th>" not in run_page  # no GX column where GX was not given
