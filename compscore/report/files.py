"""What the report reads (the score tables of a run) and where it writes (HTML and workbook side by side)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.provenance import checked_run_id
from compscore.scoring.attribution import EARNED_LINE_TYPES
from compscore.scoring.finish import COMPONENT_MARGINALS

HTML_NAME = "plan_review.html"
WORKBOOK_NAME = "plan_review.xlsx"
REPORTS_DIR = "reports"
SCENARIO_SCORES = "scenario_scores"
SCENARIO_TABLES = (SCENARIO_SCORES, "plan_scenarios")
"""Where scored what-if scenarios are found: `compscore whatif --out` names the table `scenario_scores`,
the warehouse names it after the Dagster asset, `plan_scenarios`."""


class ReportInputError(ValueError):
    """A scores folder the report cannot be made from, naming the missing file."""


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    workbook: Path

    @staticmethod
    def beside(html: str | Path) -> ReportPaths:
        """The workbook `plan_review.xlsx` in the HTML file's folder."""
        html = Path(html)
        return ReportPaths(html=html, workbook=html.with_name(WORKBOOK_NAME))


def report_paths(root: str | Path, run_id: str) -> ReportPaths:
    """Where a pipeline run's report goes: `<root>/reports/<run_id>/plan_review.html` (and .xlsx)."""
    return ReportPaths.beside(Path(root) / REPORTS_DIR / checked_run_id(run_id) / HTML_NAME)


@dataclass(frozen=True)
class ReportInputs:
    """The tables a report is made from; `scenario_scores` only when what-if scenarios were scored."""

    plan_scores: pl.DataFrame
    plan_outcomes: pl.DataFrame
    plan_incentive_curves: pl.DataFrame
    plan_component_marginals: pl.DataFrame
    plan_cost: pl.DataFrame
    """`plan_id`, `period`, `cost`: pay earned in the period before clawbacks, $."""
    scenario_scores: pl.DataFrame | None = None


def plan_cost(pay_attribution: pl.LazyFrame) -> pl.DataFrame:
    """Per plan and period: `cost`, the pay earned (earning and deferral-release lines, any channel) before
    clawbacks, $ (the cost of SPEC section 8, on the actual pay)."""
    return (
        pay_attribution.filter(pl.col("line_type").is_in(EARNED_LINE_TYPES))
        .group_by("plan_id", "period")
        .agg(cost=pl.sum("amount"))
        .collect()
    )


def _required(folder: Path, name: str) -> Path:
    path = folder / f"{name}.parquet"
    if not path.is_file():
        raise ReportInputError(
            f"{folder} has no {path.name}: point --scores at the output folder of `compscore score` "
            "or at the warehouse folder"
        )
    return path


def load_inputs(scores_dir: str | Path) -> ReportInputs:
    """The report's tables from a scores folder (`compscore score --out`, or the warehouse folder)."""
    folder = Path(scores_dir)
    read = {
        name: pl.read_parquet(_required(folder, name))
        for name in ("plan_scores", "plan_outcomes", "plan_incentive_curves", COMPONENT_MARGINALS)
    }
    scenario_files = [folder / f"{name}.parquet" for name in SCENARIO_TABLES]
    scenarios = next((path for path in scenario_files if path.is_file()), folder / "absent")
    return ReportInputs(
        **read,
        plan_cost=plan_cost(pl.scan_parquet(_required(folder, "pay_attribution"))),
        scenario_scores=pl.read_parquet(scenarios) if scenarios.is_file() else None,
    )
