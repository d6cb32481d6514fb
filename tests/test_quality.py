"""Data quality core (compscore.quality): rules, quarantine, cascade, counts, blocking, status. No GX."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from compscore.adapters.maven import import_maven
from compscore.dataset import CanonicalData
from compscore.plans import read_plans
from compscore.quality import BlockingError, References, load_plans_checked, table_rules, validate
from compscore.quality.corrupt import corrupt
from compscore.quality.status import data_quality_status
from compscore.schema import DATA_QUALITY_REJECTS, TABLES, conform
from compscore.scoring.scores import score_company

SMALL = Path(__file__).resolve().parent / "fixtures" / "canonical_small"


def load_small() -> CanonicalData:
    """The hand-made canonical fixture, read with the canonical dtypes."""
    tables = {
        spec.name: conform(
            pl.read_csv(SMALL / f"{spec.name}.csv", schema_overrides=spec.polars_schema), spec.name
        ).collect()
        for spec in TABLES
        if (SMALL / f"{spec.name}.csv").exists()
    }
    return CanonicalData(tables, read_plans(SMALL / "plans"), given_commission_lines=True)


def with_table(data: CanonicalData, name: str, df: pl.DataFrame) -> CanonicalData:
    return CanonicalData(
        {**data.tables, name: df}, dict(data.plans), given_commission_lines=data.given_commission_lines
    )


def assert_balanced(result) -> None:
    bad = result.counts.filter(pl.col("received") != pl.col("passed") + pl.col("rejected"))
    assert bad.height == 0, bad
    for row in result.counts.iter_rows(named=True):
        assert result.clean[row["table"]].height == row["passed"]


def test_clean_fixture_passes_everything():
    data = load_small()
    result = validate(data, "run-clean")
    assert result.ok and result.blocking == []
    assert result.rejects.height == 0
    assert result.rejects.schema == DATA_QUALITY_REJECTS.polars_schema
    assert result.counts.select("table", "received", "passed", "rejected").rows() == [
        ("accounts", 6, 6, 0),
        ("reps", 3, 3, 0),
        ("rep_plan_assignments", 3, 3, 0),
        ("deals", 8, 8, 0),
        ("churn_events", 2, 2, 0),
        ("referrals", 2, 2, 0),
        ("commission_lines", 9, 9, 0),
    ]
    assert_balanced(result)
    for spec in TABLES:
        assert result.clean[spec.name].equals(data[spec.name])


EXPECTED_REJECTS = {
    ("accounts", "account_id=<null>", "not_null:account_id"),
    ("accounts", "account_id=BAD-A1", "unique_key:account_id"),
    ("reps", "rep_id=BAD-R1", "date_order:hire_date<=termination_date"),
    ("rep_plan_assignments", "rep_id=BAD-R2, start_date=2026-01-01", "foreign_key:plan_id->plans"),
    ("rep_plan_assignments", "rep_id=R01, start_date=2026-01-01", "no_overlap:rep_id"),
    ("rep_plan_assignments", "rep_id=R01, start_date=2026-01-31", "no_overlap:rep_id"),
    ("deals", "deal_id=<null>", "not_null:deal_id"),
    ("deals", "deal_id=D001", "unique_key:deal_id"),
    ("deals", "deal_id=BAD-D1", "range:amount"),
    ("deals", "deal_id=BAD-D2", "range:discount_pct"),
    ("deals", "deal_id=BAD-D3", "date_order:created_date<=close_date"),
    ("deals", "deal_id=BAD-D4", "foreign_key:account_id->accounts"),
    ("deals", "deal_id=BAD-D5", "foreign_key:owner_rep_id->reps"),
    ("deals", "deal_id=BAD-D6", "allowed_values:stage"),
    ("deals", "deal_id=BAD-D7", "required_unless_open:close_date"),
    ("churn_events", "account_id=A002, churn_date=2001-01-01", "range:lost_amount"),
    ("referrals", "referral_id=BAD-F1", "foreign_key:referring_rep_id->reps"),
    ("referrals", "referral_id=BAD-F2", "foreign_key:converted_deal_id->deals"),
    ("commission_lines", "line_id=BAD-L1", "component_exists:component_id"),
    ("commission_lines", "line_id=BAD-L2", "amount_sign:clawback<=0"),
    ("commission_lines", "line_id=BAD-L3", "amount_sign:earning_deferral_release>=0"),
    ("commission_lines", "line_id=BAD-L4", "foreign_key:deal_id->deals"),
    ("commission_lines", "line_id=BAD-L5", "foreign_key:plan_id->plans"),
    ("commission_lines", "line_id=BAD-L7", "unique_key:line_id"),
    ("commission_lines", "line_id=BAD-L8", "allowed_values:line_type"),
    ("commission_lines", "line_id=L0001", "references_rejected:deal_id->deals"),
    ("commission_lines", "line_id=BAD-L6", "references_rejected:deal_id->deals"),
}


@pytest.fixture(scope="module")
def corrupted():
    clean = load_small()
    bad = corrupt(clean)
    return clean, bad, validate(bad.data, "run-bad")


def test_corrupted_rule_counts_are_exact(corrupted):
    _, bad, result = corrupted
    failing = {(r.table, r.rule): r.unexpected_count for r in result.rule_results if r.unexpected_count}
    assert failing == bad.expected_rule_counts
    assert failing[("deals", "unique_key:deal_id")] == 2
    assert failing[("commission_lines", "component_exists:component_id")] == 1


def test_corrupted_rejects_per_rule_and_keys(corrupted):
    _, bad, result = corrupted
    rows = result.rejects.select("source_table", "row_key", "rule").rows()
    assert set(rows) == EXPECTED_REJECTS
    assert len(rows) == 30  # the two copies of each duplicated key are two reject rows
    per_rule = {(t, r): n for t, r, n in result.rejects.group_by("source_table", "rule").len().rows()}
    expected = dict(bad.expected_rule_counts)
    expected[("commission_lines", "references_rejected:deal_id->deals")] = 2
    assert per_rule == expected
    assert result.rejects.get_column("run_id").unique().to_list() == ["run-bad"]
    offending = dict(
        result.rejects.filter(pl.col("source_table") == "commission_lines")
        .select("row_key", "offending_values")
        .rows()
    )
    assert offending["line_id=BAD-L2"] == "line_type=clawback, amount=500.0"


def test_corrupted_counts_balance(corrupted):
    _, _, result = corrupted
    assert_balanced(result)
    assert result.counts.select("table", "received", "passed", "rejected", "rejected_by_cascade").rows() == [
        ("accounts", 9, 6, 3, 0),
        ("reps", 5, 4, 1, 0),
        ("rep_plan_assignments", 5, 2, 3, 0),
        ("deals", 17, 7, 10, 0),
        ("churn_events", 3, 2, 1, 0),
        ("referrals", 4, 2, 2, 0),
        ("commission_lines", 18, 8, 10, 2),
    ]
    assert result.ok  # row-level defects only: nothing blocks


def test_untouched_plan_inputs_equal_the_clean_run(corrupted):
    clean, bad, result = corrupted
    assert bad.touched_plans == {"hunter-2026"}
    before = validate(clean, "run-clean").clean
    after = result.clean
    farmer_reps = before.rep_plan_assignments.filter(pl.col("plan_id") == "farmer-2026").get_column("rep_id")
    for name, rows in {
        "commission_lines": pl.col("plan_id") == "farmer-2026",
        "deals": pl.col("owner_rep_id").is_in(farmer_reps.implode()),
        "rep_plan_assignments": pl.col("plan_id") == "farmer-2026",
        "referrals": pl.col("referring_rep_id").is_in(farmer_reps.implode()),
    }.items():
        assert after[name].filter(rows).equals(before[name].filter(rows)), name
    for name in ("accounts", "churn_events"):
        assert after[name].equals(before[name]), name
    assert "D001" not in after.deals.get_column("deal_id").to_list()


def test_status_by_plan_and_period(corrupted):
    clean, bad, result = corrupted
    status = data_quality_status(bad.data, result)
    assert status.rows() == [
        ("farmer-2026", "2026-Q1", 6, 0, 0.0, "ok"),
        ("farmer-2026", "2026-Q2", 1, 0, 0.0, "ok"),
        ("hunter-2026", "2026-Q1", 32, 29, 29 / 32, "fail"),
        ("hunter-2026", "2026-Q2", 8, 4, 0.5, "fail"),
    ]
    clean_status = data_quality_status(clean, validate(clean, "c"))
    assert clean_status.get_column("data_quality_status").to_list() == ["ok"] * 4


def test_cascade_reaches_a_fixed_point_across_deals_and_referrals():
    data = load_small()
    referrals = data.referrals.with_columns(
        referring_rep_id=pl.when(pl.col("referral_id") == "F001")
        .then(pl.lit("GHOST"))
        .otherwise("referring_rep_id")
    )
    result = validate(with_table(data, "referrals", referrals), "run-cascade")
    rows = set(result.rejects.select("source_table", "row_key", "rule").rows())
    assert rows == {
        ("referrals", "referral_id=F001", "foreign_key:referring_rep_id->reps"),
        ("deals", "deal_id=D008", "references_rejected:referral_id->referrals"),
        ("commission_lines", "line_id=L0007", "references_rejected:deal_id->deals"),
        ("commission_lines", "line_id=L0008", "references_rejected:referral_id->referrals"),
    }
    assert_balanced(result)


@pytest.mark.parametrize(
    ("assignments", "overlapping"),
    [
        ([("R", "2026-01-01", "2026-03-31"), ("R", "2026-04-01", None)], set()),
        ([("R", "2026-01-01", "2026-04-01"), ("R", "2026-04-01", None)], {0, 1}),
        (
            [("R", "2026-01-01", None), ("R", "2026-06-01", "2026-06-30"), ("R", "2027-01-01", None)],
            {0, 1, 2},
        ),
        (
            [("R", "2026-01-01", "2026-12-31"), ("R", "2026-03-01", "2026-03-31"), ("S", "2026-03-01", None)],
            {0, 1},
        ),
    ],
)
def test_overlap_marks_every_row_of_an_overlapping_set(assignments, overlapping):
    data = load_small()
    reps = data.reps.head(1)
    reps = pl.concat([reps.with_columns(rep_id=pl.lit(r)) for r in ("R", "S")])
    asg = pl.DataFrame(
        {
            "rep_id": [a[0] for a in assignments],
            "plan_id": ["hunter-2026"] * len(assignments),
            "start_date": [dt.date.fromisoformat(a[1]) for a in assignments],
            "end_date": [dt.date.fromisoformat(a[2]) if a[2] else None for a in assignments],
        }
    )
    result = validate(with_table(with_table(data, "reps", reps), "rep_plan_assignments", asg), "r")
    failed = result.checks["rep_plan_assignments"].failed
    assert set(failed.filter(pl.col("no_overlap:rep_id")).get_column("__row").to_list()) == overlapping


def _drop_amount(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop("amount")


@pytest.mark.parametrize(
    ("table", "change", "rule"),
    [
        ("deals", _drop_amount, "schema"),
        ("deals", lambda df: df.with_columns(pl.col("amount").cast(pl.String)), "schema"),
        ("deals", lambda df: df.clear(), "row_count"),
        ("reps", lambda df: df.clear(), "row_count"),
        ("deals", lambda df: df.with_columns(account_id=pl.lit("NOPE")), "foreign_key:account_id->accounts"),
    ],
)
def test_blocking_failures_name_table_and_rule(table, change, rule):
    data = load_small()
    result = validate(with_table(data, table, change(data[table])), "run-block")
    # the root cause comes first; an empty table also breaks the references into it
    assert (result.blocking[0].table, result.blocking[0].rule) == (table, rule)
    with pytest.raises(BlockingError, match=f"{table}: {rule}"):
        result.raise_if_blocking()
    assert_balanced(result)


def test_schema_broken_table_rejects_every_row_and_keeps_none():
    data = load_small()
    result = validate(with_table(data, "deals", data.deals.drop("amount")), "run-schema")
    deals = result.rejects.filter(pl.col("source_table") == "deals")
    assert deals.height == 8 and set(deals.get_column("rule")) == {"schema"}
    assert "['amount'] missing" in deals.item(0, "detail")
    assert result.clean.deals.height == 0


def test_volume_drop_against_previous_run():
    data = load_small()
    result = validate(data, "r", previous_counts={"deals": 17, "accounts": 6})
    assert [(f.table, f.rule) for f in result.blocking] == [("deals", "volume_drop")]
    assert "8 rows, against 17" in result.blocking[0].message
    assert validate(data, "r", previous_counts={"deals": 16}).ok


def test_empty_optional_tables_do_not_block():
    data = load_small()
    data = with_table(
        with_table(data, "referrals", data.referrals.clear()), "churn_events", data.churn_events.clear()
    )
    assert validate(data, "r").blocking == []


def test_plan_file_that_does_not_parse_blocks(tmp_path):
    (tmp_path / "bad.yaml").write_text("plan_id: p\nperiod: fortnight\ncomponents: []\n")
    plans, failures = load_plans_checked(tmp_path)
    assert plans == {}
    assert len(failures) == 1 and failures[0].table == "plans" and failures[0].rule == "plan_parses"
    assert "bad.yaml:2: period" in failures[0].message
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [(f.table, f.rule) for f in load_plans_checked(empty)[1]] == [("plans", "row_count")]


def test_loader_rejects_are_carried_and_counted():
    data = load_small()
    loader = pl.DataFrame(
        {
            "source_table": ["deals", "deals"],
            "source_file": ["deals.csv", "deals.csv"],
            "source_line": [11, 11],
            "row_key": ["deal_id=D099", "deal_id=D099"],
            "rule": ["type:amount", "type:close_date"],
            "columns": ["amount", "close_date"],
            "offending_values": ["amount=abc", "close_date=31/02/2026"],
            "detail": ["expected a number", "expected YYYY-MM-DD"],
            "run_id": [None, None],
        },
        schema=DATA_QUALITY_REJECTS.polars_schema,
    )
    result = validate(data, "run-l", loader_rejects=loader)
    assert result.rejects.height == 2
    assert result.rejects.get_column("run_id").to_list() == ["run-l", "run-l"]
    assert result.count("deals") == {
        "table": "deals",
        "received": 9,
        "passed": 8,
        "rejected": 1,
        "rejected_by_loader": 1,
        "rejected_by_rules": 0,
        "rejected_by_cascade": 0,
    }


def test_core_does_not_import_great_expectations():
    code = (
        "import compscore.quality, compscore.quality.status, sys; print('great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_rule_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "data_quality.md").read_text()
    refs = References(
        keys={f"{t.name}.{c}": pl.Series([], dtype=pl.String) for t in TABLES for c in t.column_names},
        plans={},
    )
    names = {r.name for spec in TABLES for r in table_rules(spec, refs) if not r.name.startswith("not_null:")}
    assert sorted(n for n in names if f"`{n}`" not in doc) == []


def test_real_crm_data_validates_and_balances():
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "maven_crm"
    if not shared.is_dir():
        pytest.skip(f"{shared} is not there")
    imported = import_maven(shared)
    result = validate(imported.data, "run-maven", loader_rejects=imported.rejects)
    assert result.ok, result.blocking
    assert_balanced(result)
    deals = result.count("deals")
    assert deals["passed"] == imported.data.deals.height > 0
    assert (
        deals["rejected_by_loader"]
        == imported.rejects.filter(pl.col("source_table") == "deals")
        .unique(["source_file", "source_line", "row_key"])
        .height
    )


def test_untouched_plan_scores_equal_the_clean_run(corrupted):
    clean, _, result = corrupted
    as_of = dt.date(2027, 6, 30)
    before = score_company(validate(clean, "run-clean").clean, as_of=as_of).plan_scores
    after = score_company(result.clean, as_of=as_of).plan_scores
    farmer, hunter = pl.col("plan_id") == "farmer-2026", pl.col("plan_id") == "hunter-2026"
    assert after.filter(farmer).height > 0
    assert after.filter(farmer).equals(before.filter(farmer))
    assert not after.filter(hunter).equals(before.filter(hunter))
