"""The plan review: the plain-language reading, number formatting, the HTML report and the workbook.

The report is built once per module from the hand-made canonical folder, scored by `score_folder`, with
one plan renamed to a hostile name (a formula and a script tag) so escaping is tested on real output.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS

from compscore.cli import main
from compscore.report.files import ReportInputs, load_inputs
from compscore.report.numbers import cents, dollars, number, percent
from compscore.report.prepare import headline_rows, scenario_comparison
from compscore.report.reading import plan_reading
from compscore.run import score_folder

HOSTILE_NAME = '=HYPERLINK("http://example.invalid/x") <script>alert(1)</script>'


def _row(**changes) -> dict:
    """A hand-made plan-scores row: 10 % new-business commission, nothing else (SPEC worked example 1)."""
    row = {
        "plan_id": "hunter",
        "period": "2026-Q1",
        "marginal_same_day": 0.10,
        "marginal_retention": 0.0,
        "marginal_referral": 0.0,
        "same_day_index": 100.0,
        "same_day_index_low": 100.0,
        "same_day_index_high": 100.0,
        "same_day_multiple": None,
        "period_complete": True,
        "as_of": "2026-04-15",
    }
    return {**row, **changes}


def test_reading_of_a_plan_that_pays_only_for_the_close():
    assert plan_reading(_row()) == (
        "For each $1 of new business closed, a rep on hunter earns 10.0¢ that no later event can take back, "
        "and nothing for keeping or growing a customer. A referral earns nothing. Its Same-Day Index in "
        "2026-Q1 is 100 of 100 (90 % interval 100–100): it rewards the close over the customer."
    )


def test_reading_with_retention_pay_a_multiple_and_a_period_in_progress():
    # SPEC worked example 2: m_S 0.10, m_R 0.02 -> SDI 83.3, multiple 5.0.
    reading = plan_reading(
        _row(marginal_retention=0.02, same_day_index=83.33, same_day_index_low=80.0,
             same_day_index_high=86.0, same_day_multiple=5.0, marginal_referral=0.05, period_complete=False)
    )  # fmt: skip
    assert "earns 10.0¢ that no later event can take back, and 2.0¢ per $1 for keeping" in reading
    assert "A referral that turns into a deal earns 5.0¢ per $1 of that deal." in reading
    assert "is 83 of 100 (90 % interval 80–86): it rewards the close over the customer." in reading
    assert "Closing $1 today pays 5.0× keeping $1." in reading
    assert reading.endswith("2026-Q1 is still in progress (data as of 2026-04-15): its book is partial.")


def test_reading_verdicts_at_the_thresholds():
    assert "weighs the close and the customer about evenly" in plan_reading(_row(same_day_index=60.0))
    assert "rewards the customer over the close" in plan_reading(_row(same_day_index=39.9))
    assert "pays nothing variable" in plan_reading(_row(same_day_index=None, marginal_same_day=0.0))


def test_zero_prints_as_zero_and_shares_as_percentages():
    assert cents(2.22e-16) == "nothing"
    assert number(2.22e-16, 2) == "0.00"
    assert number(-1e-12) == "0.0"  # not "-0.0"
    assert percent(0.4512) == "45.1 %"
    assert percent(-1e-12) == "0.0 %"
    assert dollars(63_403.4) == "$63,403"
    assert number(None) == "–"


def test_headline_is_the_latest_finished_period_else_the_latest():
    scores = pl.DataFrame(
        {
            "plan_id": ["a", "a", "a", "b"],
            "period_start": pl.date_range(pl.date(2026, 1, 1), pl.date(2026, 4, 1), "1mo", eager=True),
            "period_complete": [True, True, False, False],
            "same_day_index": [10.0, 20.0, 99.0, 50.0],
        }
    )
    assert headline_rows(scores).select("plan_id", "same_day_index").rows() == [("b", 50.0), ("a", 20.0)]


def test_scenarios_sit_beside_their_baseline_with_its_cost():
    scores = pl.DataFrame(
        {"plan_id": ["hunter"], "period": ["2026-Q1"], "n_reps": [3], "same_day_index": [100.0],
         "same_day_multiple": [None], "marginal_same_day": [0.1], "marginal_retention": [0.0],
         "marginal_referral": [0.0]}
    )  # fmt: skip
    scenarios = pl.DataFrame(
        {"scenario": ["hunter-clawback"], "plan_id": ["hunter"], "period": ["2026-Q1"], "n_reps": [3],
         "same_day_index": [42.2], "same_day_multiple": [0.73], "marginal_same_day": [0.0507],
         "marginal_retention": [0.0693], "marginal_referral": [0.0], "cost": [9_000.0], "cost_change": [-0.1]}
    )  # fmt: skip
    compared = scenario_comparison(scores, scenarios)
    # Baseline cost = 9,000 / (1 - 0.1) = 10,000.
    assert compared.select("scenario", "same_day_index", "cost", "cost_change").rows() == [
        ("baseline", 100.0, pytest.approx(10_000.0), 0.0),
        ("hunter-clawback", 42.2, 9_000.0, -0.1),
    ]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The canonical folder with farmer-2026 renamed to a hostile name, scored; plus a scenario table."""
    from conftest import CANONICAL_SMALL

    root = tmp_path_factory.mktemp("report")
    source = root / "source"
    shutil.copytree(CANONICAL_SMALL, source)
    plan = source / "plans" / "farmer-2026.yaml"
    plan.write_text(plan.read_text().replace("name: Farmer AM 2026", f"name: '{HOSTILE_NAME}'"))
    out = root / "scores"
    score_folder(source, out, run_id="report-test", great_expectations=False)
    pl.DataFrame(
        {"scenario": ["hunter-no-spiff"], "plan_id": ["hunter-2026"], "period": ["2026-Q1"], "n_reps": [2],
         "same_day_index": [100.0], "same_day_multiple": [None], "marginal_same_day": [0.1],
         "marginal_retention": [0.0], "marginal_referral": [0.0], "cost": [5_000.0], "cost_change": [-0.2]}
    ).write_parquet(out / "scenario_scores.parquet")  # fmt: skip
    return out


@pytest.fixture(scope="module")
def report(scored: Path) -> tuple[Path, Path, ReportInputs]:
    """The report and workbook as `compscore report` writes them (rendered once for the module)."""
    html = scored / "review" / "plan_review.html"
    assert main(["report", "--scores", str(scored), "--out", str(html)]) == 0
    return html, html.with_name("plan_review.xlsx"), load_inputs(scored)


def test_report_escapes_data_and_fetches_nothing(report):
    html = report[0].read_text()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://example.invalid" not in html.replace("&quot;http://example.invalid/x&quot;", "")
    assert "src=" not in html and "<link" not in html
    assert "default-src 'none'" in html  # the browser itself refuses any fetch
    assert 'id="scenarios"' in html and "hunter-no-spiff" in html


def test_workbook_holds_the_plan_scores_numbers_with_units_and_text_cells(report, scored):
    _, workbook, _ = report
    scores = pl.read_parquet(scored / "plan_scores.parquet")
    book = openpyxl.load_workbook(workbook)
    assert {"Plan scores", "Outcomes", "Incentive curves", "Components", "Cost", "Scenarios"} <= set(
        book.sheetnames
    )
    sheet = book["Plan scores"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["plan_id", "plan_name", "period"]
    assert "same_day_index (0-100)" in header and "realized_same_day_share (%)" in header
    assert sheet.freeze_panes == "C2"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == scores.height
    for column in ("same_day_index", "marginal_same_day", "realized_same_day_share", "clawed_back"):
        from_book = [r[header.index(next(h for h in header if h.split(" (")[0] == column))] for r in rows]
        assert from_book == pytest.approx(scores[column].to_list())
    share = sheet.cell(2, header.index("realized_same_day_share (%)") + 1)
    assert share.number_format == "0.0%"
    names = [c for c in sheet["B"][1:] if c.value == HOSTILE_NAME]
    assert names and all(c.data_type == "s" for c in names)  # text, not a formula


def test_report_command_writes_both_files_and_refuses_a_folder_without_scores(report, tmp_path, capsys):
    html, workbook, _ = report
    assert html.is_file() and workbook.is_file()
    assert main(["report", "--scores", str(tmp_path)]) == 2
    assert "has no plan_scores.parquet" in capsys.readouterr().err


def test_report_renders_every_chart_in_a_real_browser_offline(report):
    """Debian's Chromium through Playwright (as tests/test_ui_browser.py): one company chart plus three
    per plan render with a size, the page asks for nothing but itself, and logs no console error."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (`apt-get install chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is absent")
    html, _, inputs = report
    n_plans = inputs.plan_scores["plan_id"].n_unique()
    requests, errors = [], []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(html.as_uri())
            charts = page.locator("figure[data-chart] > svg")
            sizes = charts.evaluate_all("svgs => svgs.map(s => s.getBoundingClientRect().height)")
            names = page.locator("figure[data-chart]").evaluate_all("fs => fs.map(f => f.dataset.chart)")
            summary = page.locator("ul.summary li").all_inner_texts()
        finally:
            browser.close()
    assert requests == [html.as_uri()]
    assert errors == []
    assert len(names) == 1 + 3 * n_plans and names[0] == "sdi-over-periods"
    assert all(height > 50 for height in sizes) and len(sizes) == len(names)
    assert len(summary) == n_plans and summary[0].startswith("hunter-2026")


def test_a_run_without_scores_gives_a_page_that_says_so(report):
    from compscore.report.build import render_report

    _, _, inputs = report
    empty = ReportInputs(
        plan_scores=inputs.plan_scores.head(0),
        plan_outcomes=inputs.plan_outcomes.head(0),
        plan_incentive_curves=inputs.plan_incentive_curves.head(0),
        plan_component_marginals=inputs.plan_component_marginals.head(0),
        plan_cost=inputs.plan_cost.head(0),
    )
    assert "No plan was scored" in render_report(empty)


def test_the_warehouse_table_of_scenarios_is_read_like_the_whatif_output(scored, tmp_path):
    """The warehouse names scored scenarios after the Dagster asset (`plan_scenarios`), `compscore whatif`
    writes `scenario_scores`: the report reads either."""
    folder = tmp_path / "warehouse"
    shutil.copytree(scored, folder)
    (folder / "scenario_scores.parquet").rename(folder / "plan_scenarios.parquet")

    scenarios = load_inputs(folder).scenario_scores

    assert scenarios is not None and scenarios["scenario"].to_list() == ["hunter-no-spiff"]
