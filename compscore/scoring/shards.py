"""The map side of scoring: the company cut into static shards of reps, each scored on its own.

`scoring_context` computes once what every shard shares (plan tables, cross-rep frames, the rep-period
grid); `shard_batches` cuts the sorted rep ids into `shard_count` contiguous shards; `score_shard` runs the
payout engine, books, indicator parts, attribution and reconciliation of one shard. The reduce
(`compscore.scoring.scores.combine_shards`) takes the shards' `ShardTables` and computes what crosses
shards: typical sizes Δ, marginals, bootstrap intervals and the scores. `score_company` is the same three
calls in one process; the Dagster asset makes each shard a step, so both give the same tables.

`ShardTables` travel between processes (Celery workers, Kubernetes pods) as one Parquet file per frame
and a small JSON manifest: no pickle.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TypeVar

import polars as pl

from compscore.dataset import CanonicalData, CompanyTables
from compscore.engine.payout import CrossRepFrames, PayoutResult, compute_payout, cross_rep_frames
from compscore.engine.plan_tables import PlanTables, plan_tables
from compscore.engine.reconcile import given_plan_periods, reconcile
from compscore.scoring.attribution import RealizedParts, pay_attribution, statement_lines
from compscore.scoring.batches import RepBatch, all_rep_ids, batch_data, rep_batches
from compscore.scoring.books import UNIT_KEYS, population, referrals_credited, rep_period_books
from compscore.scoring.indicators import indicator_parts

PLAN_PERIOD = ["plan_id", "period_start"]
SHARD_FORMAT = 1
"""Version of the folder layout `ShardTables.write` produces (in its manifest)."""
MANIFEST = "shard.json"


@dataclass(frozen=True)
class DealSizes:
    """The deals the typical sizes Δ are taken over, for the whole company: Δ is a median over every rep
    of a plan-period, so it is the one figure rep batches cannot compute on their own.

    - `won_deals`: `plan_id`, `period_start`, `deal_type`, `amount` of every won deal under a plan.
    - `converted_referrals`: `plan_id`, `period_start`, `deal_amount` of every converted referral.
    """

    won_deals: pl.DataFrame
    converted_referrals: pl.DataFrame

    @staticmethod
    def of(payout: PayoutResult) -> DealSizes:
        """The batch's deals, with plan and deal type as `Categorical` (kept for all batches: at 10M lines
        about 10M won deals, a quarter of the memory of the same ids as strings)."""
        categorical = [pl.col("plan_id").cast(pl.Categorical)]
        return DealSizes(
            won_deals=payout.won_deals.select(*PLAN_PERIOD, "deal_type", "amount").with_columns(
                *categorical, pl.col("deal_type").cast(pl.Categorical)
            ),
            converted_referrals=payout.converted_referrals.select(*PLAN_PERIOD, "deal_amount").with_columns(
                *categorical
            ),
        )

    @staticmethod
    def concat(parts: list[DealSizes]) -> DealSizes:
        return DealSizes(
            won_deals=pl.concat([p.won_deals for p in parts]),
            converted_referrals=pl.concat([p.converted_referrals for p in parts]),
        )


@dataclass(frozen=True)
class ScoringContext:
    """What every shard shares: computed once over the whole company (and again, identically, by each
    process that scores a shard)."""

    as_of: dt.date
    pt: PlanTables
    cross: CrossRepFrames
    grid: pl.DataFrame
    given_periods: pl.DataFrame


CONTEXT_MANIFEST = "context.json"


def write_context(context: ScoringContext, folder: Path) -> None:
    """One Parquet file per frame of `context` in `folder` (created) and `context.json` with the as-of
    date and the plan tables' tier count: a Dagster run computes the context once and its shard and
    combine steps read it, instead of each recomputing it from every validated table."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = _context_frames(context)
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet")
    manifest = {
        "format": SHARD_FORMAT,
        "as_of": context.as_of.isoformat(),
        "max_tiers": context.pt.max_tiers,
        "frames": list(frames),
    }
    (folder / CONTEXT_MANIFEST).write_text(json.dumps(manifest))


def read_context(folder: Path) -> ScoringContext:
    """The context `write_context` stored in `folder`."""
    manifest = json.loads((folder / CONTEXT_MANIFEST).read_text())
    if manifest.get("format") != SHARD_FORMAT or manifest.get("frames") != list(CONTEXT_FRAMES):
        raise ValueError(f"{folder / CONTEXT_MANIFEST}: not a scoring context of format {SHARD_FORMAT}")
    frames = {name: pl.read_parquet(folder / f"{name}.parquet", glob=False) for name in CONTEXT_FRAMES}
    return ScoringContext(
        as_of=dt.date.fromisoformat(manifest["as_of"]),
        pt=PlanTables(
            plans=frames["plans"],
            components=frames["components"],
            applies=frames["applies"],
            max_tiers=int(manifest["max_tiers"]),
        ),
        cross=CrossRepFrames(
            churn=frames["churn"], conversions=frames["conversions"], churned=frames["churned"]
        ),
        grid=frames["grid"],
        given_periods=frames["given_periods"],
    )


def _context_frames(context: ScoringContext) -> dict[str, pl.DataFrame]:
    """The context's frames by file name, in `CONTEXT_FRAMES` order."""
    pt, cross = context.pt, context.cross
    return {
        "plans": pt.plans,
        "components": pt.components,
        "applies": pt.applies,
        "churn": cross.churn,
        "conversions": cross.conversions,
        "churned": cross.churned,
        "grid": context.grid,
        "given_periods": context.given_periods,
    }


CONTEXT_FRAMES = (
    "plans",
    "components",
    "applies",
    "churn",
    "conversions",
    "churned",
    "grid",
    "given_periods",
)
"""The frames of a stored scoring context, as its manifest lists them."""


def scoring_context(data: CompanyTables, as_of: dt.date) -> ScoringContext:
    """The context of `data`, in memory or scanned from files (each query then reads its columns only)."""
    pt = plan_tables(data.plans)
    first = data.deals.lazy().select(pl.min_horizontal(pl.min("created_date"), pl.min("close_date")))
    first_day = first.collect().item() or as_of
    return ScoringContext(
        as_of=as_of,
        pt=pt,
        cross=cross_rep_frames(data),
        grid=population(data, pt, first_day, as_of),
        given_periods=given_plan_periods(data.commission_lines, data.plans),
    )


CATEGORICAL_IDS = ("rep_id", "owner_rep_id", "referring_rep_id", "plan_id")
"""The id columns a batch is scored on as `Categorical` (few distinct values, in every join, group-by and
window of the engine): whole-number keys instead of text (docs/performance.md, "Categorical ids"). Deal,
account and line ids stay text: they are millions, and the categories of a process are never freed."""

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def ids_as_categories(frame: Frame, ids: Sequence[str] = CATEGORICAL_IDS) -> Frame:
    """`frame` with those of the columns `ids` it has cast to `Categorical`."""
    names = frame.collect_schema().names()
    return frame.with_columns(pl.col(c).cast(pl.Categorical) for c in ids if c in names)


def ids_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its `CATEGORICAL_IDS` columns back to `String` (what the output tables hold)."""
    return frame.with_columns(pl.col(c).cast(pl.String) for c in CATEGORICAL_IDS if c in frame.columns)


def _batch_context(context: ScoringContext, in_batch: pl.Expr) -> ScoringContext:
    """`context` cut to a batch's reps (`in_batch`, a predicate on `rep_id`: its grid and rep-keyed cross
    frames), with the ids of its frames as `Categorical` to meet the batch's. Cut first, then cast: the
    company's grid is a million rep-periods at 10M lines, a batch's a ninth of it."""
    pt, cross = context.pt, context.cross.for_reps(in_batch)
    return ScoringContext(
        as_of=context.as_of,
        pt=PlanTables(
            plans=ids_as_categories(pt.plans),
            components=ids_as_categories(pt.components),
            applies=ids_as_categories(pt.applies),
            max_tiers=pt.max_tiers,
        ),
        cross=CrossRepFrames(
            churn=cross.churn,
            conversions=ids_as_categories(cross.conversions),
            churned=ids_as_categories(cross.churned),
        ),
        grid=ids_as_categories(context.grid.filter(in_batch)),
        given_periods=ids_as_categories(context.given_periods),
    )


def shard_batches(data: CanonicalData, shard_count: int) -> list[RepBatch]:
    """At most `shard_count` shards of the sorted rep ids, each of ceil(reps / shard_count) reps (fewer
    shards when there are fewer reps than that asks for)."""
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, got {shard_count}")
    reps = all_rep_ids(data).len()
    return list(rep_batches(data, max(1, math.ceil(reps / shard_count))))


@dataclass(frozen=True)
class ShardTables:
    """What one shard of reps contributes: unit-level frames (one row per rep-period, or per rep-period and
    component) and line-level evidence, all keyed by rep so shards never overlap. `attribution` has no rows
    when they went to an attribution sink; `earned` and `clawed` (a `RealizedParts`) keep the sums the
    realized shares need; `won_deals` and `converted_referrals` (a `DealSizes`) the deals Δ is taken over."""

    books: pl.DataFrame
    indicators: pl.DataFrame
    paid_so_far: pl.DataFrame
    won_deals: pl.DataFrame
    converted_referrals: pl.DataFrame
    attribution: pl.DataFrame | pl.LazyFrame
    earned: pl.DataFrame
    clawed: pl.DataFrame
    reconciliation: pl.DataFrame

    @property
    def sizes(self) -> DealSizes:
        return DealSizes(won_deals=self.won_deals, converted_referrals=self.converted_referrals)

    @property
    def realized(self) -> RealizedParts:
        return RealizedParts(earned=self.earned, clawed=self.clawed)

    @staticmethod
    def concat(parts: list[ShardTables]) -> ShardTables:
        """The tables of several batches of one shard, each concatenated in the order of `parts`."""
        return ShardTables(
            **{f.name: pl.concat([getattr(part, f.name) for part in parts]) for f in fields(ShardTables)}
        )

    def write(self, folder: Path) -> None:
        """One Parquet file per frame in `folder` (created), and `shard.json` naming them."""
        folder.mkdir(parents=True, exist_ok=True)
        names = [f.name for f in fields(self)]
        for name in names:
            getattr(self, name).write_parquet(folder / f"{name}.parquet")
        (folder / MANIFEST).write_text(json.dumps({"format": SHARD_FORMAT, "frames": names}))

    @staticmethod
    def read(folder: Path, *, scan_attribution: bool = False) -> ShardTables:
        """The shard `write` stored in `folder` (read without globbing: a step key such as
        `plan_scoring.score_shard[0]` in the path is a name, not a pattern). With `scan_attribution`,
        `attribution` is a lazy scan of its file (the combine step streams it to the output table)."""
        manifest = json.loads((folder / MANIFEST).read_text())
        expected = [f.name for f in fields(ShardTables)]
        if manifest.get("format") != SHARD_FORMAT or manifest.get("frames") != expected:
            raise ValueError(f"{folder / MANIFEST}: not a shard of format {SHARD_FORMAT} with {expected}")
        frames: dict[str, pl.DataFrame | pl.LazyFrame] = {}
        for name in expected:
            path = folder / f"{name}.parquet"
            lazy = scan_attribution and name == "attribution"
            frames[name] = pl.scan_parquet(path, glob=False) if lazy else pl.read_parquet(path, glob=False)
        return ShardTables(**frames)  # type: ignore[arg-type]  # only `attribution` may be lazy


BATCH_MANIFEST = "batch.json"
SHARDS_FOLDER = ".shards"
"""Under the warehouse: `.shards/<run_id>/...`, the shards of a Dagster run between its steps."""


def run_shards_folder(warehouse: Path, run_id: str) -> Path:
    """Where a Dagster run keeps its shards (a run id is a UUID; anything else is refused)."""
    if not _SAFE_RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r}: expected letters, digits and '-' only")
    return warehouse / SHARDS_FOLDER / run_id


_SAFE_RUN_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def shard_run_ids(warehouse: Path) -> list[str]:
    """The run ids that have a shard folder under the warehouse (a failed run leaves its folder)."""
    folder = warehouse / SHARDS_FOLDER
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and _SAFE_RUN_ID.fullmatch(p.name))


def write_batch(batch: RepBatch, folder: Path) -> None:
    """A shard's rep ids (`rep_ids.parquet`) and whether rows without a rep fall in it (`batch.json`);
    the row positions are not kept: the reader cuts the tables by rep id."""
    folder.mkdir(parents=True, exist_ok=True)
    batch.rep_ids.to_frame("rep_id").write_parquet(folder / "rep_ids.parquet")
    (folder / BATCH_MANIFEST).write_text(json.dumps({"format": SHARD_FORMAT, "holds_null": batch.holds_null}))


def read_batch(folder: Path) -> RepBatch:
    manifest = json.loads((folder / BATCH_MANIFEST).read_text())
    if manifest.get("format") != SHARD_FORMAT or not isinstance(manifest.get("holds_null"), bool):
        raise ValueError(f"{folder / BATCH_MANIFEST}: not a rep batch of format {SHARD_FORMAT}")
    rep_ids = pl.read_parquet(folder / "rep_ids.parquet", glob=False).to_series()
    return RepBatch(rep_ids=rep_ids, holds_null=manifest["holds_null"])


AttributionSink = Callable[[pl.DataFrame], None]
"""Takes one shard's `pay_attribution` rows (sorted by `earned_date`, `line_id` within the shard)."""


def _paid_so_far(payout: PayoutResult) -> pl.DataFrame:
    """Each rep-period's raw pay so far per component (deal and referral pay before the cap and deferral).

    Raw, as the engine's running cap counts it (`capped_increment` of a raw total): once the cap has bound,
    an added deal then pays exactly 0, where the sum of capped pays may fall a rounding error short of the
    cap and leave a 1e-12 increment (an SDI of 100 instead of null).
    """
    keys = [*UNIT_KEYS, "component_id"]
    pays = [
        payout.deal_pay.lazy().select(*keys, "raw_pay"),
        payout.referral_pay.lazy().select(*keys, "raw_pay"),
    ]
    return pl.concat(pays).group_by(keys).agg(paid_so_far=pl.sum("raw_pay")).collect()


def score_shard(
    data: CanonicalData,
    batch: RepBatch,
    context: ScoringContext,
    attribution_sink: AttributionSink | None = None,
) -> ShardTables:
    """The payout engine, books, indicator parts, attribution and reconciliation of one shard of reps.

    The batch is scored with its rep and plan ids as `Categorical` (`CATEGORICAL_IDS`); its tables come
    back with them as text."""
    part = batch_data(data, batch)
    part = replace(part, tables={name: ids_as_categories(frame) for name, frame in part.tables.items()})
    context = _batch_context(context, batch.predicate())
    # The payout's lines unsorted: the attribution sorts the statement lines, and reconciliation sums at
    # most one computed line per match key (tests/test_scoring_batches.py), so no figure depends on
    # their order.
    payout = compute_payout(part, context.as_of, context.cross, context.pt, sort_lines=False)
    books = rep_period_books(payout, context.grid, referrals_credited(part, context.pt))
    indicators = indicator_parts(part, payout.won_deals, books, UNIT_KEYS, churn=context.cross.churn)
    lines = statement_lines(part, payout, context.pt, context.given_periods)
    attribution = ids_as_text(pay_attribution(lines, data, context.pt))
    del lines
    realized = RealizedParts.of(attribution)
    if attribution_sink is not None:
        attribution_sink(attribution)
        attribution = attribution.head(0)
    if data.given_commission_lines:
        reconciliation = reconcile(part.commission_lines, payout.lines, data.plans, context.given_periods)
    else:
        reconciliation = reconcile(part.commission_lines.head(0), payout.lines.head(0), data.plans)
    sizes = DealSizes.of(payout)
    return ShardTables(
        books=ids_as_text(books),
        indicators=ids_as_text(indicators),
        paid_so_far=ids_as_text(_paid_so_far(payout)),
        won_deals=sizes.won_deals,
        converted_referrals=sizes.converted_referrals,
        attribution=attribution,
        earned=ids_as_text(realized.earned),
        clawed=ids_as_text(realized.clawed),
        reconciliation=ids_as_text(reconciliation),
    )
