"""The report's charts: Altair specifications rendered to inline SVG offline with vl-convert (no browser,
no network: the SVG carries its own text, no script or font file)."""

from __future__ import annotations

import altair as alt
import polars as pl
import vl_convert

from compscore.report.prepare import SDI

WIDTH = 560
STATUS_SHAPES = alt.Scale(domain=["finished", "in progress"], range=[1.0, 0.15])
"""Finished periods are filled points, periods in progress hollow (nearly transparent fill)."""
CHANNEL_COLOURS = alt.Scale(
    domain=["same-day", "retention", "referral"], range=["#c0392b", "#2e86c1", "#27ae60"]
)


def _values(df: pl.DataFrame) -> alt.Data:
    """Inline data, dates as ISO strings (the SVG is rendered from these values, nothing is fetched)."""
    return alt.Data(values=df.with_columns(pl.col(pl.Date).cast(pl.String)).to_dicts())


def to_svg(chart: alt.TopLevelMixin) -> str:
    return vl_convert.vegalite_to_svg(chart.to_json())


def sdi_over_periods(series: pl.DataFrame) -> alt.TopLevelMixin:
    """Every plan's SDI with its 90 % interval over the periods; periods in progress hollow."""
    periods = series.sort("period_start")["period"].unique(maintain_order=True).to_list()
    x = alt.X("period:O", sort=periods, title="plan period")
    base = alt.Chart(_values(series)).encode(x=x, color=alt.Color("plan_id:N", title="plan"))
    band = base.mark_rule(strokeWidth=6, opacity=0.35).encode(
        y=alt.Y(f"{SDI}_low:Q", title="Same-Day Index (0-100)", scale=alt.Scale(domain=[0, 100])),
        y2=f"{SDI}_high:Q",
    )
    line = base.mark_line().encode(y=f"{SDI}:Q")
    points = base.mark_point(size=60, filled=True).encode(
        y=f"{SDI}:Q",
        fillOpacity=alt.FillOpacity("period_status:N", scale=STATUS_SHAPES, title="period"),
    )
    return (band + line + points).properties(
        width=WIDTH, height=300, title="Same-Day Index by plan and period, with 90 % interval"
    )


def components_chart(components: pl.DataFrame, plan_id: str) -> alt.TopLevelMixin:
    """Pay per $1 at quota by channel, stacked by the plan component that pays it."""
    return (
        alt.Chart(_values(components))
        .mark_bar()
        .encode(
            y=alt.Y("channel:N", sort=["same-day", "retention", "referral"], title=None),
            x=alt.X("cents_per_dollar:Q", title="cents per $1 (at quota)", stack="zero"),
            color=alt.Color("component_id:N", title="component"),
        )
        .properties(width=WIDTH - 120, height=110, title=f"{plan_id}: which rule pays for what")
    )


def curves_chart(curves: pl.DataFrame, plan_id: str) -> alt.TopLevelMixin:
    """Pay per $1 by channel over attainment 0-200 %."""
    return (
        alt.Chart(_values(curves))
        .mark_line()
        .encode(
            x=alt.X("attainment_pct:Q", title="attainment (% of quota)"),
            y=alt.Y("cents_per_dollar:Q", title="cents per $1"),
            color=alt.Color("channel:N", scale=CHANNEL_COLOURS, title="channel"),
        )
        .properties(width=WIDTH - 120, height=180, title=f"{plan_id}: incentive curves")
    )


def outcomes_chart(outcomes: pl.DataFrame, plan_id: str) -> alt.TopLevelMixin:
    """SDI and each outcome indicator over the periods, with 90 % intervals, one small chart each."""
    periods = outcomes.sort("period_start")["period"].unique(maintain_order=True).to_list()
    indicators = outcomes["indicator"].unique(maintain_order=True).to_list()
    x = alt.X("period:O", sort=periods, title=None)
    base = alt.Chart().encode(x=x)
    rules = base.mark_rule(color="#7f8c8d").encode(y=alt.Y("low:Q", title=None), y2="high:Q")
    points = base.mark_point(filled=True, size=40, color="#2c3e50").encode(
        y="value:Q",
        fillOpacity=alt.FillOpacity("period_status:N", scale=STATUS_SHAPES, title="period"),
    )
    return (
        alt.layer(rules, points, data=_values(outcomes.drop("order")))
        .properties(width=WIDTH - 120, height=70)
        .facet(
            row=alt.Row(
                "indicator:N",
                sort=indicators,
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top"),
            )
        )
        .resolve_scale(y="independent")
        .properties(title=f"{plan_id}: SDI and outcome indicators (90 % intervals)")
    )
