"""The plan review report: the offline HTML report and the Excel workbook of a scoring run, written next to
the warehouse under `reports/<run_id>/` (see `compscore.report`)."""

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext

from common.metadata import FINANCE
from common.names import SCORES
from compscore.report.files import ReportInputs, plan_cost, report_paths
from compscore.scoring.finish import COMPONENT_MARGINALS


@dg.asset(
    group_name=SCORES,
    owners=FINANCE,
    kinds={"html", "excel"},
    ins={
        "plan_scores": dg.AssetIn("plan_scores"),
        "plan_outcomes": dg.AssetIn("plan_outcomes"),
        "plan_incentive_curves": dg.AssetIn("plan_incentive_curves"),
        "plan_component_marginals": dg.AssetIn(COMPONENT_MARGINALS),
        "pay_attribution": dg.AssetIn("pay_attribution"),
        "plan_scenarios": dg.AssetIn("plan_scenarios"),
    },
    required_resource_keys={"warehouse"},
    description=(
        "The plan review for finance: one self-contained HTML file (charts as inline SVG, nothing fetched "
        "from the network) with each plan's SDI and 90 % interval over the periods, a plain-language "
        "reading, the pay per $1 by channel and plan component, incentive curves and outcome indicators; "
        "and plan_review.xlsx beside it. Written to <warehouse>/reports/<run_id>/."
    ),
)
def plan_review_report(
    context: AssetExecutionContext,
    plan_scores: pl.DataFrame,
    plan_outcomes: pl.DataFrame,
    plan_incentive_curves: pl.DataFrame,
    plan_component_marginals: pl.DataFrame,
    pay_attribution: pl.LazyFrame,
    plan_scenarios: pl.DataFrame,
) -> dg.MaterializeResult:
    """The report of this run's scores; the what-if scenarios beside their baselines when there are any.

    The report builder is imported here, not at module level: it imports Altair (about 0.4 s), and every
    step process of every run loads this module with the definitions."""
    from compscore.report.build import write_report

    root = context.resources.warehouse.directory
    inputs = ReportInputs(
        plan_scores=plan_scores,
        plan_outcomes=plan_outcomes,
        plan_incentive_curves=plan_incentive_curves,
        plan_component_marginals=plan_component_marginals,
        plan_cost=plan_cost(pay_attribution),
        scenario_scores=plan_scenarios if plan_scenarios.height else None,
    )
    scored_by = plan_scores["run_id"][0] if plan_scores.height else context.run.run_id
    paths = write_report(inputs, report_paths(root, scored_by).html)
    context.log.info(f"plan review: {paths.html} and {paths.workbook}")
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": dg.MetadataValue.path(str(paths.html)),
            "report": dg.MetadataValue.url(paths.html.as_uri()),
            "workbook": dg.MetadataValue.path(str(paths.workbook)),
            "scored_by_run": dg.MetadataValue.text(scored_by),
        }
    )
