"""The payout engine: every statement line the plan rules imply, from the canonical CRM tables.

Vectorised over deals, referrals and rep-periods: plans are turned into small frames
(`compscore.engine.plan_tables`) and joined on. The semantics are SPEC section 3's; where the spec is
open, the decision is written in docs/methodology.md ("Payout engine").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from compscore.dataset import CanonicalData, CompanyTables
from compscore.engine.periods import period_days, period_end, period_label, period_start
from compscore.engine.plan_tables import PlanTables, capped_increment, is_credited, plan_tables, tiered_pay
from compscore.schema import COMMISSION_LINES
from compscore.text_keys import HashOf, text_hash

REP_PLAN_PERIOD = ["rep_id", "plan_id", "period_start"]
COMPUTED = "computed"


def closed_won(deals: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Won deals with a close date: the only deals that pay or own an account."""
    return deals.lazy().filter((pl.col("stage") == "won") & pl.col("close_date").is_not_null())


def lost_renewals(deals: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Lost renewal deals with a close date: churn of their account on that date (SPEC section 2)."""
    return deals.lazy().filter(
        (pl.col("stage") == "lost") & (pl.col("deal_type") == "renewal") & pl.col("close_date").is_not_null()
    )


@dataclass(frozen=True)
class PayoutResult:
    """The engine's lines and the intermediate frames that scoring reuses (one computation, one place).

    - `lines`: statement lines in the `commission_lines` shape plus `origin` = `computed`.
    - `won_deals`: won deals with the plan their owner was under at close and its period columns.
    - `deal_pay`: one row per (deal, commission or spiff component) with its `raw_pay` (before the cap)
      and `gross_pay` (after the cap, before deferral and clawback).
    - `retention_book`: per rep, plan and period, won renewal dollars and lost renewal + churned dollars.
    - `referral_pay`: one row per (converted referral, referral-bonus component) with its `raw_pay` and
      `gross_pay` (after the cap).
    - `converted_referrals`: referrals whose deal was won, under the referring rep's plan at its close.
    - `unpaid_deals`: won deals whose owner had no plan on the close date (they earn nothing).
    """

    lines: pl.DataFrame
    won_deals: pl.DataFrame
    deal_pay: pl.DataFrame
    retention_book: pl.DataFrame
    referral_pay: pl.DataFrame
    converted_referrals: pl.DataFrame
    unpaid_deals: pl.DataFrame
    as_of: dt.date


def data_as_of(data: CompanyTables) -> dt.date:
    """The latest date any CRM event is known for: pay due after it is not yet earned."""
    latest = pl.collect_all(
        [
            data.deals.lazy().select(pl.max("close_date"), pl.max("created_date")),
            data.churn_events.lazy().select(pl.max("churn_date")),
            data.referrals.lazy().select(pl.max("referral_date")),
        ]
    )
    known = [d for frame in latest for d in frame.row(0) if d is not None]
    return max(known) if known else dt.date.today()


PERIOD_COLUMNS = ("period_start", "period_end", "period_days", "period")


def with_period(lf: pl.LazyFrame, date_col: str) -> pl.LazyFrame:
    """Add `period_start`, `period_end`, `period_days`, `period` (label) for the row's plan `period_kind`
    (replacing any such column already there).

    Computed once per distinct (date, kind) and joined on: a batch of a million lines has about a
    thousand such pairs, and the label and the period arithmetic per row cost three times the join.
    """
    keys = [date_col, "period_kind"]
    kind, start = pl.col("period_kind"), pl.col("__period_start")
    calendar = (
        lf.select(keys)
        .unique()
        .with_columns(__period_start=period_start(pl.col(date_col), kind))
        .with_columns(
            __period_end=period_end(start, kind),
            __period_days=period_days(start, kind),
            __period=period_label(start, kind),
        )
    )
    joined = lf.join(calendar, on=keys, how="left", nulls_equal=True, maintain_order="left")
    present = set(lf.collect_schema().names())
    replaced = [c for c in PERIOD_COLUMNS if c in present]
    return joined.drop(replaced).rename({f"__{c}": c for c in PERIOD_COLUMNS})


PLAN_TERMS = [
    "plan_id",
    "period_kind",
    "quota",
    "credits_new_business",
    "credits_expansion",
    "credits_renewal",
]
"""The plan columns rules need row by row; names and effective dates stay in `PlanTables.plans`."""


def attach_plan(lf: pl.LazyFrame, date_col: str, data: CanonicalData, pt: PlanTables) -> pl.LazyFrame:
    """Join each row (with a `rep_id`) to the plan its rep was assigned to on `date_col`, and its period.

    An as-of join on the assignment's start (assignments of a rep never overlap once validated), so each row
    meets one assignment instead of all of its rep's. Rows whose rep had no assignment that day, or whose
    plan has no plan file, are dropped here; callers that must report them compare against their input
    (see `unpaid_deals`).
    """
    assignments = (
        data.rep_plan_assignments.lazy()
        .select("rep_id", "plan_id", "start_date", "end_date")
        .sort("start_date")
    )
    joined = (
        lf.sort(date_col)
        .join_asof(
            assignments,
            left_on=date_col,
            right_on="start_date",
            by="rep_id",
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col(date_col) <= pl.col("end_date").fill_null(dt.date.max))
        .drop("start_date", "end_date")
    )
    joined = joined.join(pt.plans.lazy().select(PLAN_TERMS), on="plan_id", how="inner")
    return with_period(joined, date_col)


def churn_dates(data: CompanyTables) -> pl.LazyFrame:
    """Every date an account churned: churn events, and lost renewal deals at their close date (SPEC 2)."""
    events = data.churn_events.lazy().select("account_id", "churn_date")
    lost = lost_renewals(data.deals).select("account_id", pl.col("close_date").alias("churn_date"))
    return pl.concat([events, lost]).unique().sort("churn_date")


_ACCOUNT_HASH = "__account_hash"
_CHURNED_ACCOUNT = "__churned_account"
_ROW = "__row"


def _first_churn_on_or_after(lf: pl.LazyFrame, date_col: str, churn: pl.LazyFrame, by: str) -> pl.LazyFrame:
    return lf.sort(date_col).join_asof(
        churn,
        left_on=date_col,
        right_on="next_churn_date",
        by=by,
        strategy="forward",
        check_sortedness=False,
    )


def next_churn(
    lf: pl.LazyFrame, date_col: str, churn: pl.LazyFrame, hash_of: HashOf = pl.Expr.hash
) -> pl.LazyFrame:
    """Add `next_churn_date`: the account's first churn on or after `date_col` (null if none); the rows
    come sorted by `date_col`. `churn` is sorted by `churn_date` (`churn_dates`).

    The as-of join is by a 64-bit hash of `account_id` (`hash_of`; a whole-number key: on the text the
    join cost about a quarter more), and exact: a row whose churn found is its own account's has the
    right date (the first on or after its date among the accounts of one hash is its own account's
    first); a row that met another account's churn, whose id hashes alike, is joined again on the text,
    and the rows keep their order. (`hash_of` is for tests, which pass one that collides.)
    """
    hashed_account = text_hash("account_id", hash_of)
    churned = churn.select(
        hashed_account.alias(_ACCOUNT_HASH),
        pl.col("account_id").alias(_CHURNED_ACCOUNT),
        pl.col("churn_date").alias("next_churn_date"),
    )
    joined = (
        _first_churn_on_or_after(
            lf.with_columns(hashed_account.alias(_ACCOUNT_HASH)), date_col, churned, _ACCOUNT_HASH
        )
        .drop(_ACCOUNT_HASH)
        .collect(engine="in-memory")
    )
    collided = (pl.col(_CHURNED_ACCOUNT) != pl.col("account_id")).fill_null(False)
    if not joined.select(collided.any()).item():
        return joined.drop(_CHURNED_ACCOUNT).lazy()
    by_row = joined.with_row_index(_ROW)
    again = _first_churn_on_or_after(
        by_row.filter(collided).drop("next_churn_date", _CHURNED_ACCOUNT).lazy(),
        date_col,
        churn.rename({"churn_date": "next_churn_date"}),
        "account_id",
    )
    kept = by_row.lazy().filter(~collided).drop(_CHURNED_ACCOUNT)
    return pl.concat([kept, again]).sort(_ROW).drop(_ROW)


def won_deals_under_plan(data: CanonicalData, pt: PlanTables) -> pl.LazyFrame:
    won = closed_won(data.deals).select(
        "deal_id",
        "account_id",
        pl.col("owner_rep_id").alias("rep_id"),
        "deal_type",
        "amount",
        "close_date",
        "discount_pct",
    )
    return attach_plan(won, "close_date", data, pt).with_columns(credited=is_credited(pl.col("deal_type")))


def _with_attainment_position(deals: pl.LazyFrame) -> pl.LazyFrame:
    """Cumulative credited dollars before and after each deal in its rep-period, in close order."""
    credited_amount = pl.when(pl.col("credited")).then(pl.col("amount")).otherwise(0.0)
    cum_after = credited_amount.cum_sum().over(REP_PLAN_PERIOD, order_by=["close_date", "deal_id"])
    return deals.with_columns(credited_after=cum_after).with_columns(
        credited_before=pl.col("credited_after") - credited_amount
    )


def _capped(lf: pl.LazyFrame, raw: str, order: list[str]) -> pl.LazyFrame:
    """Apply each component's per-period `cap` to `raw` pay, in `order` within the rep-period."""
    keys = [*REP_PLAN_PERIOD, "component_id"]
    before = pl.col(raw).cum_sum().over(keys, order_by=order) - pl.col(raw)
    return lf.with_columns(gross_pay=capped_increment(before, pl.col(raw), pl.col("cap")))


def deal_component_pay(won: pl.LazyFrame, pt: PlanTables) -> pl.LazyFrame:
    """Gross pay per (deal, component) for commission and spiff components, after caps."""
    positioned = _with_attainment_position(won)
    components = pt.applies.lazy().join(pt.components.lazy(), on=["plan_id", "component_id"])
    paired = positioned.join(components, on=["plan_id", "deal_type"], how="inner")
    commission_raw = tiered_pay(
        start=pl.when(pl.col("credited")).then(pl.col("credited_before")).otherwise(0.0),
        end=pl.when(pl.col("credited")).then(pl.col("credited_after")).otherwise(pl.col("amount")),
        quota=pl.col("quota"),
        credited=pl.col("credited"),
        max_tiers=pt.max_tiers,
    )
    in_spiff_window = pl.col("close_date") > pl.col("period_end") - pl.duration(
        days=pl.col("last_days_of_period")
    )
    raw = (
        pl.when(pl.col("kind") == "commission")
        .then(commission_raw)
        .when(in_spiff_window.fill_null(False))
        .then(pl.col("component_amount"))
        .otherwise(0.0)
    )
    pays = (pl.col("kind") == "commission") | ((pl.col("kind") == "spiff") & in_spiff_window.fill_null(False))
    paid = paired.filter(pays).with_columns(raw_pay=raw)
    return _capped(paid, "raw_pay", ["close_date", "deal_id"]).select(
        "rep_id",
        "plan_id",
        "component_id",
        "kind",
        "deal_id",
        "account_id",
        "deal_type",
        pl.col("amount").alias("deal_amount"),
        "close_date",
        "period_start",
        "period_end",
        "period",
        "raw_pay",
        "gross_pay",
        "deferral_fraction",
        "deferral_days",
        "clawback_fraction",
        "clawback_window_days",
        "contingency",
    )


def _line_id(*parts: pl.Expr) -> pl.Expr:
    return pl.concat_str(parts, separator=":")


def _deal_lines(deal_pay: pl.LazyFrame, churn: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """Earning, deferral-release and clawback lines of commission and spiff pay."""
    with_churn = next_churn(deal_pay, "close_date", churn)
    kept = pl.col("gross_pay") * (1.0 - pl.col("deferral_fraction"))
    common = ["rep_id", "plan_id", "component_id", "deal_id"]
    earning = with_churn.select(
        *common,
        line_type=pl.lit("earning"),
        amount=kept,
        earned_date=pl.col("close_date"),
    )
    release_date = pl.col("close_date") + pl.duration(days=pl.col("deferral_days"))
    releases = (
        with_churn.filter(pl.col("deferral_fraction") > 0)
        .with_columns(release_date=release_date)
        .filter(
            (pl.col("release_date") <= as_of)
            & (pl.col("next_churn_date").is_null() | (pl.col("next_churn_date") > pl.col("release_date")))
        )
        .select(
            *common,
            line_type=pl.lit("deferral_release"),
            amount=pl.col("gross_pay") * pl.col("deferral_fraction"),
            earned_date=pl.col("release_date"),
        )
    )
    days_to_churn = (pl.col("next_churn_date") - pl.col("close_date")).dt.total_days()
    clawbacks = with_churn.filter(
        (pl.col("clawback_fraction") > 0)
        & pl.col("next_churn_date").is_not_null()
        & (days_to_churn <= pl.col("clawback_window_days"))
        & (pl.col("next_churn_date") <= as_of)
    ).select(
        *common,
        line_type=pl.lit("clawback"),
        amount=-pl.col("clawback_fraction") * kept,
        earned_date=pl.col("next_churn_date"),
    )
    lines = pl.concat([earning, releases, clawbacks])
    return lines.with_columns(
        referral_id=pl.lit(None, pl.String),
        line_id=_line_id(pl.col("line_type"), pl.col("plan_id"), pl.col("component_id"), pl.col("deal_id")),
    )


def referral_conversions(data: CompanyTables) -> pl.LazyFrame:
    """Referrals whose referred deal was won, with that deal's amount and close date; `rep_id` is the
    referring rep. The won deal is usually another rep's, so this looks across reps."""
    won = closed_won(data.deals)
    return (
        data.referrals.lazy()
        .filter(pl.col("converted_deal_id").is_not_null())
        .join(
            won.select(
                pl.col("deal_id").alias("converted_deal_id"),
                "close_date",
                pl.col("amount").alias("deal_amount"),
            ),
            on="converted_deal_id",
            how="inner",
        )
        .rename({"referring_rep_id": "rep_id"})
    )


def converted_referrals(conversions: pl.LazyFrame, data: CanonicalData, pt: PlanTables) -> pl.LazyFrame:
    """`referral_conversions` placed under the plan the referring rep was on at the won deal's close."""
    return attach_plan(conversions, "close_date", data, pt)


def referral_pay(converted: pl.LazyFrame, pt: PlanTables) -> pl.LazyFrame:
    """Referral bonuses: to the referring rep, under their plan on the referred deal's (won) close date."""
    bonuses = pt.components.lazy().filter(pl.col("kind") == "referral_bonus")
    paired = converted.join(bonuses, on="plan_id", how="inner").with_columns(
        raw_pay=pl.coalesce(pl.col("component_amount"), pl.col("rate") * pl.col("deal_amount"))
    )
    return _capped(paired, "raw_pay", ["close_date", "referral_id"])


def churned_with_owner(data: CompanyTables) -> pl.LazyFrame:
    """Churn events with the rep who owned the account then (`rep_id`): the owner of its most recent won
    deal on or before the churn date, whoever's book the churn lands in. A churn event on the day the same
    account lost a renewal deal is that loss recorded twice, and is left out here (it counts as the lost
    renewal)."""
    lost_renewal_days = (
        lost_renewals(data.deals).select("account_id", pl.col("close_date").alias("churn_date")).unique()
    )
    churned = data.churn_events.lazy().join(lost_renewal_days, on=["account_id", "churn_date"], how="anti")
    # Only the churned accounts' won deals can name an owner: the as-of join then sorts those, not every
    # won deal of the company (17M at 10M lines).
    owners = (
        closed_won(data.deals)
        .select(
            "account_id", pl.col("close_date").alias("owned_since"), pl.col("owner_rep_id").alias("rep_id")
        )
        .join(churned.select("account_id").unique(), on="account_id", how="semi")
        .sort("owned_since")
    )
    return (
        churned.sort("churn_date")
        .join_asof(
            owners,
            left_on="churn_date",
            right_on="owned_since",
            by="account_id",
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col("rep_id").is_not_null())
    )


def retention_book(
    data: CanonicalData, won: pl.LazyFrame, pt: PlanTables, churned: pl.LazyFrame
) -> pl.LazyFrame:
    """Per rep, plan and period: won renewal dollars, lost renewal dollars and churned dollars.

    Churned dollars (`churned`, from `churned_with_owner`) count against the rep who owned the account
    when it churned.
    """
    won_renewals = won.filter(pl.col("deal_type") == "renewal").select(
        *REP_PLAN_PERIOD, "period_end", "period", won_renewal=pl.col("amount"), lost=pl.lit(0.0)
    )
    lost = lost_renewals(data.deals).rename({"owner_rep_id": "rep_id"})
    lost_renewal_rows = attach_plan(lost, "close_date", data, pt).select(
        *REP_PLAN_PERIOD, "period_end", "period", won_renewal=pl.lit(0.0), lost=pl.col("amount")
    )
    churned_rows = attach_plan(churned, "churn_date", data, pt).select(
        *REP_PLAN_PERIOD,
        "period_end",
        "period",
        won_renewal=pl.lit(0.0),
        lost=pl.col("lost_amount").fill_null(0.0),
    )
    return (
        pl.concat([won_renewals, lost_renewal_rows, churned_rows])
        .group_by([*REP_PLAN_PERIOD, "period_end", "period"])
        .agg(pl.sum("won_renewal"), pl.sum("lost"))
    )


def gross_revenue_retention(won_renewal: pl.Expr, lost: pl.Expr) -> pl.Expr:
    """won ÷ (won + lost); null when the rep had nothing up for renewal."""
    denominator = won_renewal + lost
    return pl.when(denominator > 0).then(won_renewal / denominator)


def _retention_lines(book: pl.LazyFrame, pt: PlanTables, as_of: dt.date) -> pl.LazyFrame:
    bonuses = pt.components.lazy().filter(pl.col("kind") == "retention_bonus")
    grr = gross_revenue_retention(pl.col("won_renewal"), pl.col("lost"))
    return (
        book.filter(pl.col("period_end") <= as_of)
        .join(bonuses, on="plan_id", how="inner")
        .filter(grr >= pl.col("threshold"))
        .select(
            "rep_id",
            "plan_id",
            "component_id",
            line_type=pl.lit("earning"),
            amount=pl.col("component_amount"),
            earned_date=pl.col("period_end"),
            deal_id=pl.lit(None, pl.String),
            referral_id=pl.lit(None, pl.String),
            line_id=_line_id(
                pl.lit("earning"),
                pl.col("plan_id"),
                pl.col("component_id"),
                pl.col("rep_id"),
                pl.col("period"),
            ),
        )
    )


@dataclass(frozen=True)
class CrossRepFrames:
    """The inputs of a rep's pay that depend on other reps' deals, computed once over the whole company so
    that the engine can run on a batch of reps (`compute_payout(batch, as_of, cross.for_reps(ids))`).

    - `churn`: every date an account churned (`churn_dates`): a lost renewal may be another rep's deal.
    - `conversions`: won referred deals by referring `rep_id` (`referral_conversions`).
    - `churned`: churn events with the account's owner as `rep_id` (`churned_with_owner`).
    """

    churn: pl.DataFrame
    conversions: pl.DataFrame
    churned: pl.DataFrame

    def for_reps(self, in_batch: pl.Expr) -> CrossRepFrames:
        """The rep-keyed frames cut to the rows where `in_batch` (a predicate on `rep_id`) holds."""
        return CrossRepFrames(
            churn=self.churn,
            conversions=self.conversions.filter(in_batch),
            churned=self.churned.filter(in_batch),
        )


def cross_rep_frames(data: CompanyTables) -> CrossRepFrames:
    """The cross-rep frames of the whole company, from its tables in memory or scanned from files."""
    return CrossRepFrames(
        churn=churn_dates(data).collect(),
        conversions=referral_conversions(data).collect(),
        churned=churned_with_owner(data).collect(),
    )


def compute_payout(
    data: CanonicalData,
    as_of: dt.date | None = None,
    cross: CrossRepFrames | None = None,
    pt: PlanTables | None = None,
    *,
    sort_lines: bool = True,
) -> PayoutResult:
    """Run every plan's rules over the CRM tables; see `PayoutResult` for what comes back.

    `data` may hold a batch of reps only (their assignments, owned deals and referrals), with `cross`
    computed over the whole company and cut to the batch, and `as_of` given: the batch's lines are then
    exactly the whole run's lines of those reps. `pt` is `plan_tables(data.plans)` (computed when not
    given; a batch whose ids are `Categorical` passes the plan tables with theirs).

    The lines are sorted by `earned_date`, `line_id`, unless `sort_lines` is False: then they come in no
    particular order, for a caller that orders them itself or whose figures do not depend on their order
    (`compscore.scoring.shards.score_shard`; the sort was about 0.55 s of CPU of a 1.1M-line batch).
    """
    as_of = as_of or data_as_of(data)
    cross = cross or cross_rep_frames(data)
    pt = pt or plan_tables(data.plans)
    # Engines chosen per query by measurement (docs/performance.md, "Engine per query"): the as-of joins
    # and the final sort run faster on the in-memory engine, the ordered window sums on the streaming one.
    won = won_deals_under_plan(data, pt).collect(engine="in-memory")
    deal_pay = deal_component_pay(won.lazy(), pt).collect()
    churn = cross.churn.lazy()
    converted = converted_referrals(cross.conversions.lazy(), data, pt).collect()
    referral = referral_pay(converted.lazy(), pt).collect()
    referral_lines = referral.lazy().select(
        "rep_id",
        "plan_id",
        "component_id",
        line_type=pl.lit("earning"),
        amount=pl.col("gross_pay"),
        earned_date=pl.col("close_date"),
        deal_id=pl.col("converted_deal_id"),
        referral_id=pl.col("referral_id"),
        line_id=_line_id(pl.lit("earning"), pl.col("plan_id"), pl.col("component_id"), pl.col("referral_id")),
    )
    book = retention_book(data, won.lazy(), pt, cross.churned.lazy()).collect()
    lines = pl.concat(
        [
            _deal_lines(deal_pay.lazy(), churn, as_of),
            referral_lines,
            _retention_lines(book.lazy(), pt, as_of),
        ],
        how="diagonal",
    )
    lines = (
        lines.with_columns(pl.col("amount").round(2), paid_date=pl.lit(None, pl.Date))
        .filter((pl.col("amount") != 0) & (pl.col("earned_date") <= as_of))
        .select(COMMISSION_LINES.column_names)
        .with_columns(origin=pl.lit(COMPUTED))
    )
    if sort_lines:
        lines = lines.sort("earned_date", "line_id")
    lines = lines.collect(engine="in-memory")
    return PayoutResult(
        lines=lines,
        won_deals=won,
        deal_pay=deal_pay,
        retention_book=book,
        referral_pay=referral,
        converted_referrals=converted,
        unpaid_deals=_unpaid_deals(data, won),
        as_of=as_of,
    )


def _unpaid_deals(data: CanonicalData, won: pl.DataFrame) -> pl.DataFrame:
    """Won deals whose owner had no plan on the close date. `won` has at most one row per closed-won deal
    row (`attach_plan` only drops rows), so when the counts agree none is unpaid and the anti-join over
    every deal id is skipped (it cost about 7 % of a batch)."""
    closed = closed_won(data.deals)
    if closed.select(pl.len()).collect().item() == won.height:
        return closed.head(0).collect()
    paid_ids = won.select("deal_id").unique()
    return closed.join(paid_ids.lazy(), on="deal_id", how="anti").collect()


def compute_statement_lines(data: CanonicalData, as_of: dt.date | None = None) -> pl.DataFrame:
    """Every statement line the plan rules imply, in the `commission_lines` shape plus `origin`."""
    return compute_payout(data, as_of).lines
