"""Pay attribution: each statement line with its channel and contingency (SPEC sections 4 and 6).

Channels follow SPEC section 4, applied to the line's component kind and its deal's type. Commission
and spiff pay on new business is same-day, except a contingent share that counts as retention:
f·min(w/H, 1) of a line paid at close (the clawback's reach) and min(t/H, 1) of a deferral release,
which together make up the component's contingency c of SPEC section 4. A deferral release is labelled
`retention` (its pay waited for the customer to stay), its amount still split by its contingency (all of it
retention once the delay reaches H). Pay on renewal or expansion
and retention bonuses are retention; referral bonuses are referral. Clawback and adjustment lines are
kept apart (channel `clawback` / `adjustment`) and do not enter the realized shares; so are given lines
that cannot be placed (channel `unattributed`: a component the plan does not have, or commission and spiff
lines without a known deal).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.payout import PayoutResult, with_period
from compscore.engine.periods import period_start
from compscore.engine.plan_tables import PlanTables
from compscore.engine.reconcile import given_plan_periods
from compscore.schema import COMMISSION_LINES
from compscore.text_keys import left_join_on_unique_text

GIVEN = "given"
EARNED_LINE_TYPES = ("earning", "deferral_release")
_MANY_DEALS_PER_LINE = 4
"""Above this many deals per line, the attribution joins only the deals its lines name (a semi-join
first). A batch read from its own files has about two deals a line, and there the semi-join cost more
than it saved: 0.12 s of the attribution's 0.77 s at 10M statement lines (docs/performance.md)."""


def statement_lines(
    data: CanonicalData, payout: PayoutResult, pt: PlanTables, given_periods: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Given statement lines, plus computed ones for every plan and period that has no given line.

    `given_periods` (`compscore.engine.reconcile.given_plan_periods` of all given lines) is needed when
    `data` and `payout` hold a batch of reps: a period is given when any rep has given lines in it.
    """
    computed = with_period(payout.lines.lazy().join(pt.plans.lazy(), on="plan_id"), "earned_date")
    if not data.given_commission_lines:
        return computed.select(*COMMISSION_LINES.column_names, "origin").collect()
    given = data.commission_lines.lazy().with_columns(origin=pl.lit(GIVEN))
    if given_periods is None:
        given_periods = given_plan_periods(data.commission_lines, data.plans)
    missing = computed.join(given_periods.lazy(), on=["plan_id", "period"], how="anti")
    cols = [*COMMISSION_LINES.column_names, "origin"]
    return pl.concat([given.select(cols), missing.select(cols)]).collect(engine="in-memory")


def _lines_in_context(lines: pl.DataFrame, data: CanonicalData, pt: PlanTables) -> pl.LazyFrame:
    """The lines with their component, deal and plan, their plan period and their deal's period."""
    components = pt.components.select(
        "plan_id", "component_id", "kind", "kept_contingency", "deferred_contingency"
    )
    deals = data.deals.lazy().select("deal_id", "deal_type", pl.col("close_date").alias("deal_close_date"))
    if data.deals.height > _MANY_DEALS_PER_LINE * lines.height:
        # A batch's lines beside the whole company's deals (`score_company` in memory): the lines' own
        # deals only, so that the join does not hash every deal of the company.
        deals = deals.join(lines.lazy().select("deal_id").unique(), on="deal_id", how="semi")
    with_component = lines.lazy().join(components.lazy(), on=["plan_id", "component_id"], how="left")
    joined = left_join_on_unique_text(with_component, deals.collect(), "deal_id").join(
        pt.plans.lazy().select("plan_id", "plan_name", "period_kind"), on="plan_id", how="left"
    )
    return with_period(joined, "earned_date").with_columns(
        deal_period_start=pl.coalesce(
            period_start(pl.col("deal_close_date"), pl.col("period_kind")), pl.col("period_start")
        )
    )


def _channel_columns() -> dict[str, pl.Expr]:
    """`channel`, `contingency` and `split_by_contingency` of a line in context (methodology: channels)."""
    is_new_business = pl.col("deal_type") == "new_business"
    is_release = (
        (pl.col("line_type") == "deferral_release") & (pl.col("kind") == "commission") & is_new_business
    )
    channel = (
        pl.when(pl.col("line_type") == "adjustment")
        .then(pl.lit("adjustment"))
        .when(pl.col("line_type") == "clawback")
        .then(pl.lit("clawback"))
        .when(
            pl.col("kind").is_null()
            | (pl.col("kind").is_in(["commission", "spiff"]) & pl.col("deal_type").is_null())
        )
        .then(pl.lit("unattributed"))
        .when(pl.col("kind") == "referral_bonus")
        .then(pl.lit("referral"))
        .when((pl.col("kind") == "retention_bonus") | is_release)
        .then(pl.lit("retention"))
        .when(is_new_business)
        .then(pl.lit("same_day"))
        .otherwise(pl.lit("retention"))
    )
    line_contingency = (
        pl.when(pl.col("line_type") == "deferral_release")
        .then(pl.col("deferred_contingency"))
        .otherwise(pl.col("kept_contingency"))
    )
    contingency = (
        pl.when((pl.col("kind") == "commission") & is_new_business).then(line_contingency).otherwise(0.0)
    )
    return {
        "channel": channel,
        "contingency": contingency.fill_null(0.0),
        "split_by_contingency": is_release.fill_null(False),
    }


def pay_attribution(lines: pl.DataFrame, data: CanonicalData, pt: PlanTables) -> pl.DataFrame:
    """One row per statement line with `channel`, `contingency`, and its amount split by channel.

    `period` is the plan period of the line's earned date; `deal_period_start` the period in which the
    line's deal closed (clawbacks are reported against the period whose pay they take back).
    """
    attributed = _lines_in_context(lines, data, pt).with_columns(**_channel_columns())
    amount = pl.col("amount")
    split = (pl.col("channel") == "same_day") | pl.col("split_by_contingency")
    return (
        attributed.with_columns(
            same_day_amount=pl.when(split).then(amount * (1.0 - pl.col("contingency"))).otherwise(0.0),
            retention_amount=pl.when(split)
            .then(amount * pl.col("contingency"))
            .when(pl.col("channel") == "retention")
            .then(amount)
            .otherwise(0.0),
            referral_amount=pl.when(pl.col("channel") == "referral").then(amount).otherwise(0.0),
        )
        .select(
            *COMMISSION_LINES.column_names,
            "origin",
            "plan_name",
            "period",
            "period_start",
            "deal_period_start",
            pl.col("kind").alias("component_kind"),
            "deal_type",
            "channel",
            "contingency",
            "same_day_amount",
            "retention_amount",
            "referral_amount",
        )
        .sort("earned_date", "line_id")
        .collect(engine="in-memory")  # a third less CPU than streaming here (docs/performance.md)
    )


@dataclass(frozen=True)
class RealizedParts:
    """The sums behind the realized shares, per plan-period, of some statement lines (a batch of reps):
    summed again over batches, they give the whole company's shares without keeping its lines.

    - `earned`: `plan_id`, `period_start`, `realized_same_day`, `realized_retention`, `realized_referral`.
    - `clawed`: `plan_id`, `period_start` (of the clawed deal's close), `clawed_back`.
    """

    earned: pl.DataFrame
    clawed: pl.DataFrame

    @staticmethod
    def of(attribution: pl.DataFrame) -> RealizedParts:
        earned = attribution.filter(
            pl.col("line_type").is_in(EARNED_LINE_TYPES) & (pl.col("channel") != "unattributed")
        )
        return RealizedParts(
            earned=earned.group_by("plan_id", "period_start").agg(
                realized_same_day=pl.sum("same_day_amount"),
                realized_retention=pl.sum("retention_amount"),
                realized_referral=pl.sum("referral_amount"),
            ),
            clawed=attribution.filter(pl.col("line_type") == "clawback")
            .group_by("plan_id", pl.col("deal_period_start").alias("period_start"))
            .agg(clawed_back=-pl.sum("amount")),
        )

    @staticmethod
    def concat(parts: list[RealizedParts]) -> RealizedParts:
        """The parts of several batches summed per plan-period (one batch: returned as it is)."""
        if len(parts) == 1:
            return parts[0]
        keys = ["plan_id", "period_start"]
        return RealizedParts(
            earned=pl.concat([p.earned for p in parts]).group_by(keys).agg(pl.all().sum()),
            clawed=pl.concat([p.clawed for p in parts]).group_by(keys).agg(pl.all().sum()),
        )


def realized_from_parts(parts: RealizedParts) -> pl.DataFrame:
    """Realized channel shares of pay earned in each plan period, and clawbacks by the period clawed."""
    total = pl.col("realized_same_day") + pl.col("realized_retention") + pl.col("realized_referral")
    shares = parts.earned.with_columns(
        realized_total=total,
        realized_same_day_share=pl.when(total > 0).then(pl.col("realized_same_day") / total),
        realized_retention_share=pl.when(total > 0).then(pl.col("realized_retention") / total),
        realized_referral_share=pl.when(total > 0).then(pl.col("realized_referral") / total),
    )
    return shares.join(parts.clawed, on=["plan_id", "period_start"], how="full", coalesce=True).with_columns(
        pl.col("clawed_back").fill_null(0.0),
        clawback_rate=pl.when(pl.col("realized_total") > 0).then(
            pl.col("clawed_back").fill_null(0.0) / pl.col("realized_total")
        ),
    )
