"""The plan review report: one self-contained HTML file (inline CSS and SVG, nothing fetched), with the
workbook `plan_review.xlsx` beside it. `write_report` is what the CLI and the Dagster asset call."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from compscore.report import charts, prepare
from compscore.report.files import ReportInputs, ReportPaths
from compscore.report.html import figure, page, table, text
from compscore.report.numbers import cents, dollars, interval, number, percent
from compscore.report.reading import plan_reading, verdict
from compscore.report.workbook import write_workbook

STATUS_NOTE = "Hollow or faded points are periods still in progress (their book is partial)."


def _provenance(scores: pl.DataFrame) -> dict[str, object]:
    first = scores.row(0, named=True) if scores.height else {}
    return {k: first.get(k) for k in ("run_id", "scored_at", "as_of", "source")}


def _summary(headlines: pl.DataFrame) -> str:
    """The first thing a reader sees: each plan's verdict on its latest finished period, highest SDI first."""
    items = [
        f"<li><strong>{text(r['plan_id'])}</strong> ({text(r['plan_name'])}), {text(r['period'])}: SDI "
        f"{text(number(r['same_day_index'], 0))}, {text(verdict(r['same_day_index']))}; keeps "
        f"{text(cents(r['marginal_same_day']))} per $1 closed whatever happens to the customer.</li>"
        for r in headlines.iter_rows(named=True)
    ]
    return f'<ul class="summary">{"".join(items)}</ul>'


def _company_table(company: pl.DataFrame) -> str:
    header = [
        "plan", "period", "reps", "SDI (0-100)", "SDI 90 % interval", "same-day multiple (×)",
        "realized same-day", "realized retention", "realized referral", "clawed back ($)",
        "clawback rate", "cost ($)", "confidence", "data quality",
    ]  # fmt: skip
    rows = [
        [
            r["plan_id"],
            r["period"],
            r["n_reps"],
            number(r["same_day_index"]),
            interval(r["same_day_index_low"], r["same_day_index_high"]),
            number(r["same_day_multiple"], 2),
            percent(r["realized_same_day_share"]),
            percent(r["realized_retention_share"]),
            percent(r["realized_referral_share"]),
            dollars(r["clawed_back"]),
            percent(r["clawback_rate"]),
            dollars(r.get("cost")),
            r["confidence"],
            r["data_quality_status"],
        ]
        for r in company.iter_rows(named=True)
    ]
    return table(header, rows, text_columns=2)


def _periods_table(scores: pl.DataFrame) -> str:
    header = [
        "period", "status", "reps", "won deals", "SDI", "SDI 90 %", "early churn", "GRR 12 m",
        "referrals / 100 accounts", "period-end bunching", "discount gap (pts)", "confidence",
        "data quality", "note",
    ]  # fmt: skip
    rows, classes = [], []
    for r in scores.sort("period_start").iter_rows(named=True):
        finished = r.get("period_complete", True)
        rows.append(
            [
                r["period"],
                "finished" if finished else "in progress",
                r["n_reps"],
                r["n_deals"],
                number(r["same_day_index"]),
                interval(r["same_day_index_low"], r["same_day_index_high"]),
                percent(r["early_churn_rate"]),
                percent(r["grr_12m"]),
                number(r["referrals_per_100_accounts"], 2),
                number(r["period_end_bunching"], 2),
                number(r["period_end_discount_gap"], 1),
                r["confidence"],
                r["data_quality_status"],
                r["note"],
            ]
        )
        classes.append("" if finished else "in-progress")
    return table(header, rows, text_columns=2, wide_last=True, row_classes=classes)


def _plan_section(inputs: ReportInputs, headline: dict) -> str:
    plan_id = headline["plan_id"]
    scores = inputs.plan_scores.filter(pl.col("plan_id") == plan_id)
    components = prepare.components_at_quota(inputs.plan_component_marginals, plan_id)
    parts = [
        f'<section class="plan" id="plan-{text(plan_id)}">',
        f"<h2>{text(plan_id)}: {text(headline['plan_name'])}</h2>",
        f'<p class="reading">{text(plan_reading(headline))}</p>',
        figure(
            charts.to_svg(charts.components_chart(components, plan_id)),
            f"components-{plan_id}",
            "Marginal pay per $1 by channel at quota, split by the plan component that pays it: the rule "
            "that drives the SDI is the longest bar. Retention bonuses depend on renewals, not on "
            "attainment, and are left out here (they are in the SDI).",
        ),
        figure(
            charts.to_svg(
                charts.curves_chart(prepare.curves_long(inputs.plan_incentive_curves, plan_id), plan_id)
            ),
            f"curves-{plan_id}",
            "Pay per $1 by channel for a rep at each attainment, before any cap binds.",
        ),
        figure(
            charts.to_svg(
                charts.outcomes_chart(
                    prepare.outcomes_long(inputs.plan_scores, inputs.plan_outcomes, plan_id), plan_id
                )
            ),
            f"outcomes-{plan_id}",
            "SDI beside the outcome indicators, with 90 % bootstrap intervals. Indicators missing in "
            "recent periods are not mature yet (early churn 180 days, GRR 365 days after the period). "
            f"{STATUS_NOTE}",
        ),
        _periods_table(scores),
        "</section>",
    ]
    return "".join(parts)


def _scenarios(inputs: ReportInputs) -> str:
    if inputs.scenario_scores is None or inputs.scenario_scores.height == 0:
        return ""
    compared = prepare.scenario_comparison(inputs.plan_scores, inputs.scenario_scores)
    header = [
        "plan", "period", "scenario", "reps", "SDI", "same-day multiple (×)", "same-day (¢ per $1)",
        "retention (¢ per $1)", "referral (¢ per $1)", "cost ($)", "cost change",
    ]  # fmt: skip
    rows = [
        [
            r["plan_id"],
            r["period"],
            r["scenario"],
            r["n_reps"],
            number(r["same_day_index"]),
            number(r["same_day_multiple"], 2),
            cents(r["marginal_same_day"]),
            cents(r["marginal_retention"]),
            cents(r["marginal_referral"]),
            dollars(r["cost"]),
            percent(r["cost_change"]),
        ]
        for r in compared.iter_rows(named=True)
    ]
    return (
        '<section id="scenarios"><h2>What-if scenarios beside their baseline</h2>'
        "<p>Each scenario is scored on its baseline plan's reps and actual books; reps' behaviour would "
        "respond to a new plan, which this does not predict.</p>"
        f"{table(header, rows, text_columns=3)}</section>"
    )


def render_report(inputs: ReportInputs) -> str:
    """The whole report as one HTML string."""
    if inputs.plan_scores.height == 0:
        return page("Plan review", "<h1>Plan review</h1><p>No plan was scored: plan_scores is empty.</p>")
    prov = _provenance(inputs.plan_scores)
    company = prepare.company_table(inputs)
    sdi_chart = charts.to_svg(charts.sdi_over_periods(prepare.sdi_series(inputs.plan_scores)))
    body = [
        "<h1>Plan review: which plans reward the close over the customer</h1>",
        f'<p class="meta">Data as of {text(prov["as_of"])} · scored {text(prov["scored_at"])} · run '
        f"{text(prov['run_id'])} · source {text(prov['source'])}</p>",
        "<h2>In two minutes</h2>",
        "<p>Same-Day Index (SDI), 0-100: the share of the pay for one more dollar that rewards the close "
        "itself; 100 = pay rewards nothing but the close. Each plan on its latest finished period:</p>",
        _summary(company),
        figure(sdi_chart, "sdi-over-periods", f"Every plan's SDI with its 90 % interval. {STATUS_NOTE}"),
        "<h2>The company's plans, latest finished period</h2>",
        _company_table(company),
        "<p>Realized shares: the channel split of the pay actually earned in the period; clawback rate: "
        "clawed back ÷ pay earned; cost: pay earned before clawbacks.</p>",
        _scenarios(inputs),
        *(_plan_section(inputs, h) for h in company.iter_rows(named=True)),
        '<p class="meta">Definitions and units: docs/methodology.md. Figures are associations, not proof '
        "of cause.</p>",
    ]
    return page("Plan review", "\n".join(body))


def write_report(inputs: ReportInputs, html_path: str | Path) -> ReportPaths:
    """Write the HTML report and, beside it, `plan_review.xlsx`; both replaced only once fully written."""
    paths = ReportPaths.beside(html_path)
    paths.html.parent.mkdir(parents=True, exist_ok=True)
    partial = paths.html.with_name(f".{paths.html.name}.partial")
    partial.write_text(render_report(inputs), encoding="utf-8")
    partial.replace(paths.html)
    write_workbook(inputs, paths.workbook)
    return paths
