"""Plan scores: one row per plan and plan period, with the evidence tables beside them (SPEC 5 and 6).

`score_company` is the whole scoring run without Dagster: the payout engine, the rep-period books, the
marginal pay per dollar by channel, the Same-Day Index with its bootstrap interval, the realized shares,
the pull-forward premium and the outcome indicators.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from compscore.dataset import CanonicalData
from compscore.engine.payout import data_as_of
from compscore.engine.periods import next_period_start, period_days
from compscore.engine.plan_tables import PlanTables
from compscore.engine.reconcile import ORDER as RECONCILIATION_ORDER
from compscore.engine.reconcile import reconciliation_totals
from compscore.scoring import bootstrap
from compscore.scoring.attribution import RealizedParts, realized_from_parts
from compscore.scoring.batches import DEFAULT_BATCH_REPS, rep_batches
from compscore.scoring.books import UNIT_KEYS
from compscore.scoring.indicators import INDICATORS, Indicator
from compscore.scoring.marginal import (
    component_increments,
    marginal_by_unit,
    same_day_index,
    same_day_multiple,
)
from compscore.scoring.shards import (
    PLAN_PERIOD,
    AttributionSink,
    DealSizes,
    ScoringContext,
    ShardTables,
    ids_as_categories,
    score_shard,
    scoring_context,
)

DEFAULT_DELTA = 10_000.0
"""Δ_S when the plan won no new business in the period nor in any other (SPEC section 5's fallback)."""
LOW_CONFIDENCE_REPS = 5
LOW_CONFIDENCE_DEALS = 30
CURVE_ATTAINMENTS = tuple(round(0.05 * i, 2) for i in range(41))
_TYPICAL_PERIOD_DAYS = {"month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}


@dataclass(frozen=True)
class ScoreTables:
    plan_scores: pl.DataFrame
    pay_attribution: pl.DataFrame | pl.LazyFrame
    """Every statement line by `earned_date` and `line_id`; a LazyFrame (shard by shard, each in that
    order) when the shards' attribution was scanned from their files (see `_combined_attribution`)."""
    rep_period_books: pl.DataFrame
    plan_incentive_curves: pl.DataFrame
    plan_outcomes: pl.DataFrame
    pay_reconciliation: pl.DataFrame
    as_of: dt.date
    """The date the data was scored as known on (see `compscore.engine.payout.data_as_of`)."""
    deal_sizes: DealSizes
    """The won deals and converted referrals under their plans that Δ was taken over (the component
    marginals reuse them)."""
    attribution_streamed: bool = False
    """True when `score_company` handed the attribution to an `attribution_sink` batch by batch: then
    `pay_attribution` holds no rows (only the columns) and `outputs()` leaves it out."""

    def outputs(self) -> dict[str, pl.DataFrame]:
        """The output tables of SPEC section 6 that scoring produces, by name (without `pay_attribution`
        when it was streamed to a sink)."""
        attribution = {} if self.attribution_streamed else {"pay_attribution": self.pay_attribution}
        return {
            "plan_scores": self.plan_scores,
            **attribution,
            "rep_period_books": self.rep_period_books,
            "plan_incentive_curves": self.plan_incentive_curves,
            "plan_outcomes": self.plan_outcomes,
            "pay_reconciliation": self.pay_reconciliation,
            "pay_reconciliation_totals": reconciliation_totals(self.pay_reconciliation),
        }


def _component_frame(pt: PlanTables) -> pl.DataFrame:
    """Components with `applies_<deal_type>` flags, ready to be joined onto rep-period books."""
    flags = pt.applies.group_by("plan_id", "component_id").agg(
        *[
            (pl.col("deal_type") == t).any().alias(f"applies_{t}")
            for t in ("new_business", "expansion", "renewal")
        ]
    )
    return pt.components.join(flags, on=["plan_id", "component_id"], how="left")


def _deltas(won: pl.DataFrame, keys: list[str]) -> pl.LazyFrame:
    """Δ_S, Δ_R, Δ_F and the renewal share of existing-customer dollars, per `keys` (SPEC section 5)."""
    existing = pl.col("deal_type").is_in(["renewal", "expansion"])
    return (
        won.lazy()
        .group_by(keys)
        .agg(
            delta_same_day=pl.col("amount").filter(pl.col("deal_type") == "new_business").median(),
            delta_retention=pl.col("amount").filter(existing).median(),
            renewal_dollars=pl.col("amount").filter(pl.col("deal_type") == "renewal").sum(),
            expansion_dollars=pl.col("amount").filter(pl.col("deal_type") == "expansion").sum(),
        )
    )


def _referral_deltas(sizes: DealSizes, keys: list[str]) -> pl.LazyFrame:
    """Δ_F: the median won deal that a referral credited to the population's reps turned into."""
    return sizes.converted_referrals.lazy().group_by(keys).agg(delta_referral=pl.col("deal_amount").median())


DELTA_COLUMNS = ("delta_same_day", "delta_retention", "delta_referral")


def _typical_sizes(sizes: DealSizes, keys: list[str]) -> pl.LazyFrame:
    """Δ_S, Δ_R, Δ_F (null where the population won no such deal) and renewal/expansion dollars."""
    as_text = pl.col("plan_id").cast(pl.String)
    return (
        _deltas(sizes.won_deals, keys)
        .with_columns(as_text)
        .join(_referral_deltas(sizes, keys).with_columns(as_text), on=keys, how="full", coalesce=True)
    )


def plan_typical_sizes(sizes: DealSizes) -> pl.DataFrame:
    """Δ_S, Δ_R, Δ_F and renewal/expansion dollars per plan, over all its periods: computed once (medians
    over every won deal of the company), read by the plan-period fallback, the incentive curves and the
    component marginals."""
    return _typical_sizes(sizes, ["plan_id"]).collect()


def _with_plan_fallback(units: pl.LazyFrame, plan_sizes: pl.DataFrame) -> pl.LazyFrame:
    """A Δ the plan-period lacks is taken over all the plan's periods (`plan_typical_sizes`) before SPEC's
    own fallbacks apply, so a quarter without new business does not price every deal at the arbitrary
    10,000."""
    plan_wide = plan_sizes.lazy().select(
        pl.col("plan_id").cast(units.collect_schema()["plan_id"]),
        *[pl.col(c).alias(f"{c}_plan") for c in DELTA_COLUMNS],
    )
    return (
        units.join(plan_wide, on="plan_id", how="left")
        .with_columns(pl.coalesce(c, f"{c}_plan").alias(c) for c in DELTA_COLUMNS)
        .drop(f"{c}_plan" for c in DELTA_COLUMNS)
    )


def _fill_deltas(lf: pl.LazyFrame) -> pl.LazyFrame:
    existing = pl.col("renewal_dollars").fill_null(0.0) + pl.col("expansion_dollars").fill_null(0.0)
    return lf.with_columns(
        delta_same_day=pl.col("delta_same_day").fill_null(DEFAULT_DELTA).clip(lower_bound=0.01)
    ).with_columns(
        delta_retention=pl.col("delta_retention").fill_null(pl.col("delta_same_day")).clip(lower_bound=0.01),
        delta_referral=pl.col("delta_referral").fill_null(pl.col("delta_same_day")).clip(lower_bound=0.01),
        renewal_weight=pl.when(existing > 0).then(pl.col("renewal_dollars") / existing).otherwise(1.0),
    )


def _unit_marginals(
    books: pl.DataFrame,
    sizes: DealSizes,
    plan_sizes: pl.DataFrame,
    paid_so_far: pl.DataFrame,
    pt: PlanTables,
    as_of: dt.date,
) -> pl.DataFrame:
    """m_S, m_R, m_F per rep-period; pay of a Δ_S deal on the period's last day and the next's first."""
    deltas = _typical_sizes(sizes, PLAN_PERIOD)
    plan_terms = pt.plans.select(
        "plan_id", "quota", "credits_new_business", "credits_expansion", "credits_renewal"
    )
    units = (
        _categorical_ids(books)
        .join(_categorical_ids(deltas), on=PLAN_PERIOD, how="left")
        .pipe(_with_plan_fallback, plan_sizes)
        .pipe(_fill_deltas)
        .join(_categorical_ids(plan_terms), on="plan_id", how="left")
        .join(_categorical_ids(_component_frame(pt)), on="plan_id", how="inner")
        .join(_categorical_ids(paid_so_far), on=[*UNIT_KEYS, "component_id"], how="left")
        .with_columns(pl.col("paid_so_far").fill_null(0.0), pl.col("credited").cast(pl.Float64))
    )
    this_period = marginal_by_unit(component_increments(units, pt.max_tiers), UNIT_KEYS)
    following = units.select(
        "rep_id",
        "plan_id",
        "component_id",
        pl.col("period_start").alias("next_period_start"),
        pl.col("credited").alias("next_credited"),
        pl.col("paid_so_far").alias("next_paid_so_far"),
    )
    has_next = pl.col("next_period_start") <= pl.lit(as_of)
    next_units = (
        units.with_columns(next_period_start=next_period_start(pl.col("period_start"), pl.col("period_kind")))
        .join(following, on=["rep_id", "plan_id", "component_id", "next_period_start"], how="left")
        .with_columns(
            # The deal closes on the next period's first day: a spiff counts there if its window spans
            # the next period's days, not this one's (a 90-day window misses 1 April in a 91-day Q2).
            period_days=period_days(pl.col("next_period_start"), pl.col("period_kind")),
            credited=pl.when(has_next)
            .then(pl.col("next_credited").fill_null(0.0))
            .otherwise(pl.col("credited")),
            paid_so_far=pl.when(has_next)
            .then(pl.col("next_paid_so_far").fill_null(0.0))
            .otherwise(pl.col("paid_so_far")),
        )
    )
    next_period = (
        component_increments(next_units, pt.max_tiers)
        .group_by(UNIT_KEYS)
        .agg(pay_first_day_next=pl.sum("nb_increment_first_day"))
    )
    return (
        this_period.join(next_period, on=UNIT_KEYS, how="left")
        .with_columns(pl.col("rep_id", "plan_id").cast(pl.String))
        .collect()
    )


_IDS = ("rep_id", "plan_id", "component_id")


def _categorical_ids(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """`frame` with its rep, plan and component ids as `Categorical`: the marginals join and group a
    million rep-periods per component on them, and whole-number keys halve the time of text ones."""
    return ids_as_categories(frame.lazy(), _IDS)


def _indicator_value(ind: Indicator, sums: dict[str, np.ndarray | float]) -> np.ndarray | float:
    n = ind.name
    if ind.difference:
        return ind.scale * (sums[f"{n}_num_a"] / sums[f"{n}_den_a"] - sums[f"{n}_num_b"] / sums[f"{n}_den_b"])
    return ind.scale * sums[f"{n}_num"] / sums[f"{n}_den"]


def _indicator_columns(ind: Indicator) -> list[str]:
    n = ind.name
    if ind.difference:
        return [f"{n}_num_a", f"{n}_den_a", f"{n}_num_b", f"{n}_den_b"]
    return [f"{n}_num", f"{n}_den"]


MARGINAL_COLUMNS = ("marginal_same_day", "marginal_retention", "marginal_referral")


def _resampled_same_day_index(sums: Mapping[str, np.ndarray]) -> np.ndarray:
    """SDI of each bootstrap resample, by the same `same_day_index` as the point estimate (NaN where null).

    SDI is a ratio of per-rep sums, so the resampled sums give it as well as the resampled means do.
    """
    frame = pl.DataFrame({c: sums[c] for c in MARGINAL_COLUMNS})
    sdi = frame.select(same_day_index(*(pl.col(c) for c in MARGINAL_COLUMNS)))
    return sdi.to_series().cast(pl.Float64).to_numpy()


_BOOTSTRAPPED = (*MARGINAL_COLUMNS, *(c for ind in INDICATORS for c in _indicator_columns(ind)))
"""The per-rep columns whose resampled sums the bootstrap intervals are taken from."""


def bootstrap_sizes(grid: pl.DataFrame) -> list[tuple[str, int]]:
    """The bootstrap key and number of rep-periods of every plan-period of the rep-period `grid` (the
    scoring context's), in plan and period order: what `combine_shards` will draw resamples of, since
    the units it resamples are the grid's rows (`rep_period_books`). For `bootstrap.WeightsAhead`."""
    counts = grid.group_by("plan_id", "period_start", "period").len().sort("plan_id", "period_start")
    return [(bootstrap.key_of(plan, period), n) for plan, _start, period, n in counts.iter_rows()]


def _plan_period_statistics(
    units: pl.DataFrame, as_of: dt.date, weights_of: bootstrap.WeightSource
) -> tuple[list[dict], list[dict]]:
    """Point estimates and bootstrap intervals per plan-period: score rows and long-format outcome rows.

    Plan-periods are independent and each has its own seeded draws, so they run on a thread per core
    (NumPy's draws and products release the GIL): the result is the same as one after the other.
    """
    groups = units.partition_by(PLAN_PERIOD, maintain_order=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda group: _group_statistics(group, as_of, weights_of), groups))
    score_rows = [row for row, _outcomes in results]
    outcome_rows = [outcome for _row, outcomes in results for outcome in outcomes]
    return score_rows, outcome_rows


def _group_statistics(
    group: pl.DataFrame, as_of: dt.date, weights_of: bootstrap.WeightSource
) -> tuple[dict, list[dict]]:
    """The score row and outcome rows of one plan-period's rep-period units."""
    outcome_rows = []
    plan_id, period_start = group["plan_id"][0], group["period_start"][0]
    period, period_end = group["period"][0], group["period_end"][0]
    weights = weights_of(group.height, bootstrap.key_of(plan_id, period))
    resampled = bootstrap.resampled_sums(weights, {c: group[c].to_numpy() for c in _BOOTSTRAPPED})
    del weights
    low, high = bootstrap.interval_of_sums(resampled, _resampled_same_day_index)
    row: dict = {"plan_id": plan_id, "period_start": period_start, "same_day_index_low": low}
    row["same_day_index_high"] = high
    notes = []
    for ind in INDICATORS:
        cols = {c: group[c].to_numpy() for c in _indicator_columns(ind)}
        sums = {c: float(v.sum()) for c, v in cols.items()}
        denominators = [v for k, v in sums.items() if "_den" in k]
        mature_on = period_end + dt.timedelta(days=ind.maturity_days)
        value = lo = hi = None
        if mature_on > as_of:
            note = f"{ind.name}: immature until {mature_on.isoformat()}"
        elif min(denominators) <= 0:
            note = f"{ind.name}: no deals or accounts to measure"
        else:
            note = None
            value = float(_indicator_value(ind, sums))
            lo, hi = bootstrap.interval_of_sums(resampled, lambda s, ind=ind: _indicator_value(ind, s))
        if note:
            notes.append(note)
        row[ind.name], row[f"{ind.name}_low"], row[f"{ind.name}_high"] = value, lo, hi
        outcome_rows.append(
            {
                "plan_id": plan_id,
                "period": period,
                "period_start": period_start,
                "indicator": ind.name,
                "value": value,
                "low": lo,
                "high": hi,
                "numerator": sums.get(f"{ind.name}_num", sums.get(f"{ind.name}_num_a")),
                "denominator": sums.get(f"{ind.name}_den", sums.get(f"{ind.name}_den_a")),
                "mature_on": mature_on,
                "note": note,
            }
        )
    row["indicator_notes"] = "; ".join(notes) if notes else None
    return row, outcome_rows


def incentive_curves(sizes: DealSizes, pt: PlanTables) -> pl.DataFrame:
    """Marginal pay per $ by channel at attainments 0–200 %, per plan, before any cap binds.

    Retention bonuses are left out: they depend on a rep's renewals, not on attainment (see methodology).
    """
    return incentive_curves_of(plan_typical_sizes(sizes), pt)


def incentive_curves_of(plan_sizes: pl.DataFrame, pt: PlanTables) -> pl.DataFrame:
    """`incentive_curves` from the plans' typical sizes (`plan_typical_sizes`)."""
    grid = pt.plans.join(pl.DataFrame({"attainment": CURVE_ATTAINMENTS}), how="cross").with_columns(
        period_days=pl.col("period_kind").replace_strict(_TYPICAL_PERIOD_DAYS, return_dtype=pl.Float64),
        credited=pl.col("attainment") * pl.col("quota").fill_null(0.0),
        paid_so_far=pl.lit(0.0),
        won_renewal=pl.lit(0.0),
        lost=pl.lit(0.0),
    )
    components = _component_frame(pt).filter(pl.col("kind") != "retention_bonus")
    units = (
        grid.lazy()
        .join(plan_sizes.lazy(), on="plan_id", how="left")
        .pipe(_fill_deltas)
        .join(components.lazy(), on="plan_id", how="inner")
    )
    curves = marginal_by_unit(component_increments(units, pt.max_tiers), ["plan_id", "attainment"])
    return (
        curves.with_columns(
            same_day_index=same_day_index(
                pl.col("marginal_same_day"), pl.col("marginal_retention"), pl.col("marginal_referral")
            )
        )
        .select(
            "plan_id",
            "attainment",
            "marginal_same_day",
            "marginal_retention",
            "marginal_referral",
            "same_day_index",
        )
        .sort("plan_id", "attainment")
        .collect()
    )


def _rep_period_units(books: pl.DataFrame, marginals: pl.DataFrame, indicators: pl.DataFrame) -> pl.DataFrame:
    """One row per rep-period: its book, marginal pay and indicator parts, sorted by rep, plan, period."""
    return (
        books.join(marginals, on=UNIT_KEYS, how="left")
        .with_columns(
            pl.col(*MARGINAL_COLUMNS, "pay_last_day", "pay_first_day_next").fill_null(0.0),
        )
        .join(indicators, on=UNIT_KEYS, how="left")
        .sort(UNIT_KEYS)
    )


def score_company(
    data: CanonicalData,
    *,
    as_of: dt.date | None = None,
    data_quality_status: pl.DataFrame | None = None,
    batch_reps: int = DEFAULT_BATCH_REPS,
    progress: Callable[[str], None] | None = None,
    attribution_sink: AttributionSink | None = None,
) -> ScoreTables:
    """Score every plan in every plan period it had reps. `data_quality_status` (plan_id, period,
    data_quality_status) comes from validation; without it the status is `not_validated`.

    The map and reduce of `compscore.scoring.shards` in one process: the payout engine and the rep-level
    scoring run on shards of `batch_reps` reps, so that memory follows the shard; the result does not
    depend on the shard size. `progress`, if given, is told about each shard (long runs should show that
    they are moving). With `attribution_sink`, each shard's `pay_attribution` rows go to it as soon as
    they are computed and are not kept (a writer of the CLI run appends them to its files): the
    attribution is then the one table whose memory would follow the company (about 300 bytes a
    statement line), and the result's `pay_attribution` holds no rows.
    """
    say = progress or (lambda _message: None)
    context = scoring_context(data, as_of or data_as_of(data))
    with bootstrap.WeightsAhead() as weights:
        weights.draw(bootstrap_sizes(context.grid))
        batches = list(rep_batches(data, batch_reps))
        parts = []
        for number, batch in enumerate(batches, start=1):
            say(f"scoring batch {number}/{len(batches)} ({batch.rep_ids.len():,} reps)")
            parts.append(score_shard(data, batch, context, attribution_sink))
        del batches
        say("marginal pay, bootstrap intervals and plan scores")
        result = combine_shards(parts, context, data_quality_status, weights)
    return replace(result, attribution_streamed=attribution_sink is not None)


def combine_shards(
    parts: list[ShardTables],
    context: ScoringContext,
    data_quality_status: pl.DataFrame | None = None,
    weights_of: bootstrap.WeightSource = bootstrap.rep_weights,
) -> ScoreTables:
    """The reduce: what crosses shards (typical sizes Δ, marginals, bootstrap intervals, scores) from the
    shards' tables, and the shards' line-level tables concatenated in a fixed order. `weights_of` gives
    each plan-period's resample weights (`bootstrap.WeightsAhead` when they were drawn ahead)."""
    pt, as_of = context.pt, context.as_of
    books = pl.concat([p.books for p in parts])
    indicators = pl.concat([p.indicators for p in parts])
    paid_so_far = pl.concat([p.paid_so_far for p in parts])
    sizes = DealSizes.concat([p.sizes for p in parts])
    realized = realized_from_parts(RealizedParts.concat([p.realized for p in parts]))
    attribution = _combined_attribution([p.attribution for p in parts])
    reconciliation = pl.concat([p.reconciliation for p in parts])
    reconciliation = reconciliation.sort(RECONCILIATION_ORDER)
    plan_sizes = plan_typical_sizes(sizes)
    marginals = _unit_marginals(books, sizes, plan_sizes, paid_so_far, pt, as_of)
    units = _rep_period_units(books, marginals, indicators)
    score_rows, outcome_rows = _plan_period_statistics(units, as_of, weights_of)
    return ScoreTables(
        plan_scores=_assemble_scores(units, score_rows, realized, pt, data_quality_status),
        pay_attribution=attribution,
        rep_period_books=_rep_books(units, pt),
        plan_incentive_curves=incentive_curves_of(plan_sizes, pt),
        plan_outcomes=pl.DataFrame(outcome_rows, schema=OUTCOME_SCHEMA),
        pay_reconciliation=reconciliation,
        as_of=as_of,
        deal_sizes=sizes,
    )


def _combined_attribution(parts: list[pl.DataFrame | pl.LazyFrame]) -> pl.DataFrame | pl.LazyFrame:
    """The shards' attribution rows as one table. Frames in memory are sorted by `earned_date` and
    `line_id`; scanned ones (a Dagster run's shards on disk: ten million rows at 10M statement lines) are
    chained lazily, shard after shard, each already in that order, so that the combine step streams them
    to the table's file instead of holding and sorting them (as the CLI writes them batch by batch)."""
    if all(isinstance(part, pl.DataFrame) for part in parts):
        return pl.concat(parts).sort("earned_date", "line_id")
    return pl.concat([part.lazy() for part in parts])


def _rep_books(units: pl.DataFrame, pt: PlanTables) -> pl.DataFrame:
    """The `rep_period_books` output: each rep-period's book, marginal pay and attainment."""
    return (
        units.select(
            *UNIT_KEYS,
            "period",
            "period_end",
            "n_won_deals",
            "won_new_business",
            "won_expansion",
            "won_renewal",
            "lost",
            "credited",
            "referrals_credited",
            *MARGINAL_COLUMNS,
        )
        .join(pt.plans.select("plan_id", "quota"), on="plan_id", how="left")
        .with_columns(attainment=pl.when(pl.col("quota") > 0).then(pl.col("credited") / pl.col("quota")))
    )


OUTCOME_SCHEMA = pl.Schema(
    {
        "plan_id": pl.String,
        "period": pl.String,
        "period_start": pl.Date,
        "indicator": pl.String,
        "value": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "numerator": pl.Float64,
        "denominator": pl.Float64,
        "mature_on": pl.Date,
        "note": pl.String,
    }
)


_INTERVAL_SCHEMA = pl.Schema(
    {
        "plan_id": pl.String,
        "period_start": pl.Date,
        "same_day_index_low": pl.Float64,
        "same_day_index_high": pl.Float64,
        **{c: pl.Float64 for ind in INDICATORS for c in (ind.name, f"{ind.name}_low", f"{ind.name}_high")},
        "indicator_notes": pl.String,
    }
)
"""The columns of `_plan_period_statistics`'s score rows (typed, so that no plan-period still has them)."""


PLAN_SCORE_COLUMNS = [
    "plan_id",
    "plan_name",
    "period",
    "period_start",
    "n_reps",
    "n_deals",
    "same_day_index",
    "same_day_index_low",
    "same_day_index_high",
    "same_day_multiple",
    "marginal_same_day",
    "marginal_retention",
    "marginal_referral",
    "realized_same_day_share",
    "realized_retention_share",
    "realized_referral_share",
    "clawed_back",
    "clawback_rate",
    "pull_forward_premium",
    *[c for ind in INDICATORS for c in (ind.name, f"{ind.name}_low", f"{ind.name}_high")],
    "confidence",
    "data_quality_status",
    "note",
]


def _assemble_scores(
    units: pl.DataFrame,
    score_rows: list[dict],
    realized: pl.DataFrame,
    pt: PlanTables,
    data_quality_status: pl.DataFrame | None,
) -> pl.DataFrame:
    means = units.group_by(PLAN_PERIOD).agg(
        pl.first("period"),
        n_reps=pl.len(),
        n_deals=pl.sum("n_won_deals"),
        marginal_same_day=pl.mean("marginal_same_day"),
        marginal_retention=pl.mean("marginal_retention"),
        marginal_referral=pl.mean("marginal_referral"),
        pay_last_day=pl.mean("pay_last_day"),
        pay_first_day_next=pl.mean("pay_first_day_next"),
    )
    intervals = (
        pl.DataFrame(score_rows, schema=_INTERVAL_SCHEMA) if score_rows else _INTERVAL_SCHEMA.to_frame()
    )
    m_s, m_r, m_f = pl.col("marginal_same_day"), pl.col("marginal_retention"), pl.col("marginal_referral")
    scores = (
        means.join(intervals, on=PLAN_PERIOD, how="left")
        .join(realized, on=PLAN_PERIOD, how="left")
        .join(pt.plans.select("plan_id", "plan_name"), on="plan_id", how="left")
        .with_columns(
            same_day_index=same_day_index(m_s, m_r, m_f),
            same_day_multiple=same_day_multiple(m_s, m_r),
            pull_forward_premium=pl.when(pl.col("pay_first_day_next") > 0).then(
                pl.col("pay_last_day") / pl.col("pay_first_day_next") - 1.0
            ),
            clawed_back=pl.col("clawed_back").fill_null(0.0),
            confidence=pl.when(
                (pl.col("n_reps") < LOW_CONFIDENCE_REPS) | (pl.col("n_deals") < LOW_CONFIDENCE_DEALS)
            )
            .then(pl.lit("low"))
            .otherwise(pl.lit("normal")),
        )
    )
    if data_quality_status is not None:
        scores = scores.join(
            data_quality_status.select("plan_id", "period", "data_quality_status"),
            on=["plan_id", "period"],
            how="left",
        ).with_columns(pl.col("data_quality_status").fill_null("ok"))
    else:
        scores = scores.with_columns(data_quality_status=pl.lit("not_validated"))
    reasons = [
        pl.when(pl.col("same_day_index").is_null()).then(
            pl.lit("same_day_index: the plan pays nothing variable for an added deal, renewal or referral")
        ),
        pl.when(pl.col("same_day_multiple").is_null()).then(
            pl.lit("same_day_multiple: nothing is paid for retention (m_R = 0)")
        ),
        pl.when(pl.col("pull_forward_premium").is_null()).then(
            pl.lit("pull_forward_premium: a deal on the next period's first day pays nothing")
        ),
        pl.when(pl.col("realized_same_day_share").is_null()).then(
            pl.lit("realized shares: no pay earned in the period")
        ),
        pl.col("indicator_notes"),
    ]
    scores = scores.with_columns(note=pl.concat_str(reasons, separator="; ", ignore_nulls=True)).with_columns(
        note=pl.when(pl.col("note") == "").then(None).otherwise(pl.col("note"))
    )
    return scores.select(PLAN_SCORE_COLUMNS).sort("plan_id", "period_start")
