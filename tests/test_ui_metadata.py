"""What the UI is given: per-plan score metadata, check texts, report links, failure descriptions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from common.ui_metadata import check_description, file_url, load_failure, plan_score_metadata
from compscore.errors import LoadError, LoadIssue
from compscore.scoring.display import headline_per_plan

SCORES = pl.DataFrame(
    {
        "plan_id": ["q", "q", "q", "m", "m"],
        "period": ["2026-Q1", "2026-Q2", "2026-Q3", "2026-05", "2026-06"],
        "period_start": [dt.date(2026, month, 1) for month in (1, 4, 7, 5, 6)],
        "same_day_index": [10.0, 20.0, 30.0, 55.5, None],
        "same_day_multiple": [0.5, 1.5, 2.5, 3.0, None],
    }
)
KINDS = {"q": "quarter", "m": "month"}


def test_headline_is_the_latest_period_ended_by_the_as_of_date() -> None:
    # As of 2026-06-30: q's Q2 ends that day (complete), Q3 has not begun ending; m's June ends 06-30 too.
    headline = headline_per_plan(SCORES, KINDS, dt.date(2026, 6, 30))
    assert headline.rows() == [("m", "2026-06", True, None, None), ("q", "2026-Q2", True, 20.0, 1.5)]
    # A day earlier neither Q2 nor June has ended: Q1 and May are the latest complete periods.
    earlier = headline_per_plan(SCORES, KINDS, dt.date(2026, 6, 29))
    assert earlier.select("plan_id", "period").rows() == [("m", "2026-05"), ("q", "2026-Q1")]


def test_headline_falls_back_to_the_latest_period_when_none_has_ended() -> None:
    headline = headline_per_plan(SCORES, KINDS, dt.date(2026, 1, 2))
    assert headline.select("plan_id", "period", "complete").rows() == [
        ("m", "2026-06", False),
        ("q", "2026-Q3", False),
    ]


def test_plan_score_metadata_is_floats_per_plan_and_leaves_out_nulls() -> None:
    metadata = plan_score_metadata(headline_per_plan(SCORES, KINDS, dt.date(2026, 6, 30)))
    assert metadata["sdi/q"] == dg.MetadataValue.float(20.0)
    assert metadata["multiple/q"] == dg.MetadataValue.float(1.5)
    assert metadata["period/q"] == dg.MetadataValue.text("2026-Q2 (complete)")
    assert "sdi/m" not in metadata and "multiple/m" not in metadata  # June's SDI is null
    assert metadata["period/m"] == dg.MetadataValue.text("2026-06 (complete)")


def test_check_text_reads_true_for_pass_warn_and_block() -> None:
    assert check_description(0, []) == "all rules passed; no rows quarantined"
    assert check_description(2, []).startswith("2 rule(s) failed; the failing rows quarantined")
    assert check_description(2, ["deals: schema", "deals: volume"]) == "deals: schema; deals: volume"


def test_report_link_is_a_file_url(tmp_path: Path) -> None:
    page = tmp_path / "run 1" / "deals.html"
    link = file_url(page)
    assert isinstance(link, dg.UrlMetadataValue)
    assert link.value == f"file://{tmp_path}/run%201/deals.html"


def test_load_failure_lists_located_issues_one_per_line_up_to_five() -> None:
    issues = [LoadIssue("deals.csv", f"problem {i}", line=i + 2, column="amount") for i in range(7)]
    failure = load_failure(LoadError(issues))
    lines = failure.description.splitlines()
    assert lines[0] == "deals.csv:2: column 'amount': problem 0"
    assert lines[4] == "deals.csv:6: column 'amount': problem 4"
    assert lines[5] == "... and 2 more problem(s)"
    assert len(lines) == 6
    assert failure.metadata["problems"] == dg.MetadataValue.int(7)
