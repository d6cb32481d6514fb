"""Scoring from the clean tables on disk, a batch of reps at a time, so that memory follows the batch.

`score_company` takes every clean table in memory (about 5 GiB at 10M statement lines) and cuts batches
out of it. Here validation has written the clean tables to a folder (`<clean_dir>/<table>.parquet`):
`partition_for_scoring` computes the scoring context from lazy scans of those files (each query reads
its columns only) and streams each rep-keyed table once to the batches' files
`<work_dir>/batch-<n>/<table>.arrow` (the deals after a narrow look at the ids the lines name);
`score_partitioned` then reads one batch at a time and runs the same `score_shard` and `combine_shards`
as `score_company`, so the tables are the same. Each batch folder also holds the batch's rep ids
(`write_batch`), so that a Dagster shard step scores its run of batches (`shard_batch_numbers`,
`score_batches`) from the folder alone.

A batch's deals file holds its reps' deals and, besides them, the other reps' deals that its statement
lines name (the converted deal of a referral it is paid for, the deal of a given line): the attribution
looks a line's deal up in the whole deals table, and those are the only deals of other reps it can meet.
`batch_data` keeps a batch's own deals (by owner) for everything else.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
from polars.io.partition import FileProviderArgs

from compscore.dataset import CanonicalData, CanonicalScans
from compscore.engine.payout import data_as_of
from compscore.plans import Plan
from compscore.schema import empty_frame
from compscore.scoring.batches import (
    DEFAULT_BATCH_REPS,
    NOT_READ_BY_SCORING,
    REP_COLUMN,
    RepBatch,
    all_rep_ids,
    cut_rep_ids,
)
from compscore.scoring.bootstrap import WeightSource, rep_weights
from compscore.scoring.scores import ScoreTables, combine_shards
from compscore.scoring.shards import (
    AttributionSink,
    ScoringContext,
    ShardTables,
    read_batch,
    score_shard,
    scoring_context,
    write_batch,
)

SHARED_TABLES = ("churn_events",)
"""Tables not cut by rep that scoring reads: written once to the work folder, shared by every batch."""
BATCH_FOLDER_PREFIX = "batch-"
PARTITION_MANIFEST = "partition.json"
PARTITION_FORMAT = 1
WORK_SUFFIX = ".arrow"
"""The work files are Arrow IPC, LZ4-compressed (`WORK_COMPRESSION`): written once and read once. At 3M
lines Parquet with lz4 cost about 2.7 s CPU more to write the deals and lines than IPC. Uncompressed IPC
(chosen until session 11) was then cheaper still, but at 10M lines its 2.5 GiB of deals took 7.7-8.4 s to
write against 4.3-4.5 s for 0.56 GiB with LZ4, which costs 0.5 s more to read back and 0.45 s less to
delete; see docs/performance.md."""
WORK_COMPRESSION = "lz4"
_BATCH_FOLDER = re.compile(rf"{BATCH_FOLDER_PREFIX}[0-9]+")
_BATCH = "__batch"
_NEEDED_BY = "__needed_by_batch"
_HASH = "__deal_hash"


@dataclass(frozen=True)
class PartitionedCompany:
    """A company cut into batches of reps on disk: `batches[n]`'s rows are in `work_dir/batch-<n>/`,
    the shared tables in `work_dir`; `context` is the whole company's scoring context."""

    work_dir: Path
    plans: dict[str, Plan]
    given_commission_lines: bool
    context: ScoringContext
    batches: tuple[RepBatch, ...]
    in_place: CanonicalScans | None = None
    """The clean tables, when the company is one batch that was not cut (`partition_scans` with
    `one_batch_in_place`): that batch is read from them, and its folder holds only its rep ids."""

    def batch_folder(self, number: int) -> Path:
        return batch_folder(self.work_dir, number)

    def shared_tables(self) -> dict[str, pl.DataFrame]:
        return _shared_tables(self.work_dir)

    def batch_data(self, number: int, shared: dict[str, pl.DataFrame]) -> CanonicalData:
        """Batch `number`'s tables read from its folder (or, left in place, from the clean tables), with
        the `shared` tables (`shared_tables`)."""
        if self.in_place is not None:
            tables = {
                table: self.in_place[table].select(scoring_columns(table)).collect() for table in REP_COLUMN
            }
            return CanonicalData({**tables, **shared}, self.plans, self.given_commission_lines)
        return _batch_data(self.work_dir, number, self.plans, self.given_commission_lines, shared)

    def remove(self) -> None:
        remove_partitions(self.work_dir)


def batch_folder(work_dir: Path, number: int) -> Path:
    return work_dir / f"{BATCH_FOLDER_PREFIX}{number}"


def work_file(folder: Path, table: str) -> Path:
    return folder / f"{table}{WORK_SUFFIX}"


def scoring_columns(table: str) -> list[str]:
    """The columns of `table` that scoring reads (`NOT_READ_BY_SCORING` left out), in schema order."""
    dropped = NOT_READ_BY_SCORING.get(table) or ()
    return [c for c in empty_frame(table).columns if c not in dropped]


def _read_work_file(path: Path) -> pl.DataFrame:
    """A work file read whole: through a scan, which at 3M lines spent half the system time of
    `pl.read_ipc` (its memory map's page faults) on the same files."""
    return pl.scan_ipc(path, glob=False).collect()


def _read_or_empty(path: Path, table: str) -> pl.DataFrame:
    if path.exists():
        return _read_work_file(path)
    return empty_frame(table).select(scoring_columns(table))


def remove_partitions(work_dir: Path) -> None:
    """Remove what `partition_for_scoring` writes in `work_dir` (its batch folders and shared tables),
    nothing else."""
    if not work_dir.is_dir():
        return
    for path in work_dir.iterdir():
        if path.is_dir() and _BATCH_FOLDER.fullmatch(path.name):
            shutil.rmtree(path)
    for table in SHARED_TABLES:
        work_file(work_dir, table).unlink(missing_ok=True)
    (work_dir / PARTITION_MANIFEST).unlink(missing_ok=True)


def partition_for_scoring(
    clean_dir: str | Path,
    plans: dict[str, Plan],
    given_commission_lines: bool,
    work_dir: str | Path,
    *,
    as_of: dt.date | None = None,
    batch_reps: int = DEFAULT_BATCH_REPS,
    on_context: Callable[[ScoringContext], None] | None = None,
    one_batch_in_place: bool = False,
) -> PartitionedCompany:
    """The clean tables of `clean_dir` (`<table>.parquet` for every table of `compscore.schema.TABLES`)
    cut into batches of at most `batch_reps` reps under `work_dir` (see `partition_scans`)."""
    scans = CanonicalScans.scan(Path(clean_dir), plans, given_commission_lines)
    return partition_scans(
        scans,
        work_dir,
        as_of=as_of,
        batch_reps=batch_reps,
        on_context=on_context,
        one_batch_in_place=one_batch_in_place,
    )


def partition_scans(
    scans: CanonicalScans,
    work_dir: str | Path,
    *,
    as_of: dt.date | None = None,
    batch_reps: int = DEFAULT_BATCH_REPS,
    on_context: Callable[[ScoringContext], None] | None = None,
    one_batch_in_place: bool = False,
    balanced_over: int | None = None,
) -> PartitionedCompany:
    """The clean tables `scans` cut into batches of at most `batch_reps` reps under `work_dir` (created;
    what an earlier call left there is removed first), with the scoring context as of `as_of` (by default
    `data_as_of` the data). With `balanced_over` (a number of shards), the batches are those of
    `balanced_batch_reps` for that many shards (equal sizes, a multiple of it, at most `batch_reps` reps;
    the rep ids are read once for both). `on_context`, if given, gets the context as soon as it is
    computed, before the tables are cut (to start work that needs only the context beside the cutting). With
    `one_batch_in_place`, a company of one batch is not cut: its batch is read from `scans` (whose files
    must then stay until it is scored), where cutting only copied every table (at 1M statement lines
    about a second); a reader of the folder alone (a Dagster shard step) needs it cut.

    Batches are cut from the sorted rep ids as `rep_batches` cuts them; rows without a rep go to batch 0.
    No table is held whole: the context's queries read their columns from the files, and each table is
    streamed once to its batch files. `work_dir/partition.json` records what a reader of one batch needs
    besides its files (`read_partitioned_batch`).
    """
    work_dir = Path(work_dir)
    ids = all_rep_ids(scans)
    if balanced_over is not None:
        batch_reps = balanced_batch_reps(ids.len(), balanced_over, batch_reps)
    batches = cut_rep_ids(ids, batch_reps)
    firsts = _first_rep_ids(batches)
    del ids
    context = scoring_context(scans, as_of or data_as_of(scans))
    if on_context is not None:
        on_context(context)
    remove_partitions(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    for table in SHARED_TABLES:
        scans[table].select(scoring_columns(table)).sink_ipc(
            work_file(work_dir, table), compression=WORK_COMPRESSION
        )
    for number, batch in enumerate(batches):
        write_batch(batch, batch_folder(work_dir, number))
    in_place = one_batch_in_place and len(batches) == 1
    for table in () if in_place else REP_COLUMN:
        rows = _deals_by_batch(scans, firsts) if table == "deals" else _table_by_batch(scans, table, firsts)
        _write_by_batch(rows, work_dir, table)
    manifest = {"format": PARTITION_FORMAT, "given_commission_lines": scans.given_commission_lines}
    (work_dir / PARTITION_MANIFEST).write_text(json.dumps(manifest))
    return PartitionedCompany(
        work_dir=work_dir,
        plans=scans.plans,
        given_commission_lines=scans.given_commission_lines,
        context=context,
        batches=tuple(batches),
        in_place=scans if in_place else None,
    )


def read_partitioned_batch(work_dir: Path, number: int, plans: dict[str, Plan]) -> CanonicalData:
    """Batch `number` of the company `partition_scans` wrote in `work_dir`, as a `CanonicalData` to score
    (a process that scores one batch, such as a Dagster shard step, has only the folder)."""
    return _batch_data(work_dir, number, plans, _given_lines_of(work_dir), _shared_tables(work_dir))


def _given_lines_of(work_dir: Path) -> bool:
    """Whether the partitioned company has given statement lines, from its `partition.json`."""
    path = work_dir / PARTITION_MANIFEST
    manifest = json.loads(path.read_text())
    given = manifest.get("given_commission_lines")
    if manifest.get("format") != PARTITION_FORMAT or not isinstance(given, bool):
        raise ValueError(f"{path}: not a partitioned company of format {PARTITION_FORMAT}")
    return given


def balanced_batch_reps(rep_count: int, shard_count: int, most: int = DEFAULT_BATCH_REPS) -> int:
    """The batch size that cuts `rep_count` reps into batches of at most `most` reps, as few as can be,
    their count a multiple of `shard_count` and their sizes within one rep of each other: so that every
    shard (`shard_batch_numbers`) gets as many batches of the same size, and the shard steps, which run
    side by side, end together. (At 10M statement lines, 177,708 reps in batches of 20,000 were 9 batches,
    5 and 4 to the two shards: the combine step waited 9 s for the first; in 10 batches of 17,771 they
    are 5 and 5.) At least 1."""
    if shard_count < 1 or most < 1:
        raise ValueError(f"shard_count and most must be at least 1, got {shard_count} and {most}")
    per_shard = max(1, math.ceil(rep_count / (shard_count * most)))
    return max(1, math.ceil(rep_count / (shard_count * per_shard)))


def shard_batch_numbers(batch_count: int, shard_count: int) -> list[list[int]]:
    """The batch numbers of each of at most `shard_count` shards: consecutive runs of
    ceil(batch_count / shard_count) batches (fewer shards when there are fewer batches)."""
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, got {shard_count}")
    per_shard = max(1, math.ceil(batch_count / shard_count))
    firsts = range(0, batch_count, per_shard)
    return [list(range(first, min(first + per_shard, batch_count))) for first in firsts]


SHARD_BATCHES_MANIFEST = "shard_batches.json"


@dataclass(frozen=True)
class ShardBatches:
    """The numbers of the batches one shard step scores (`shard_batch_numbers`), as it is passed between
    Dagster steps: `write` stores it as JSON in a folder, `read` reads it back (no pickle)."""

    numbers: tuple[int, ...]

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {"format": PARTITION_FORMAT, "batches": list(self.numbers)}
        (folder / SHARD_BATCHES_MANIFEST).write_text(json.dumps(manifest))

    @staticmethod
    def read(folder: Path) -> ShardBatches:
        path = folder / SHARD_BATCHES_MANIFEST
        manifest = json.loads(path.read_text())
        numbers = manifest.get("batches")
        well_formed = isinstance(numbers, list) and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers
        )
        if manifest.get("format") != PARTITION_FORMAT or not well_formed or not numbers:
            raise ValueError(f"{path}: not a shard's batch numbers of format {PARTITION_FORMAT}")
        return ShardBatches(tuple(numbers))


def score_batches(
    work_dir: Path, numbers: list[int], plans: dict[str, Plan], context: ScoringContext
) -> ShardTables:
    """`score_shard` of batches `numbers` of the company `partition_scans` wrote in `work_dir`, one batch
    read and scored at a time, their tables concatenated in order: a Dagster shard step's work, whose
    memory then follows one batch, as `score_partitioned`'s does."""
    if not numbers:
        raise ValueError(f"{work_dir}: a shard needs at least one batch")
    given, shared = _given_lines_of(work_dir), _shared_tables(work_dir)
    parts = []
    for number in numbers:
        data = _batch_data(work_dir, number, plans, given, shared)
        parts.append(score_shard(data, read_batch(batch_folder(work_dir, number)), context))
        del data
    return ShardTables.concat(parts)


def _shared_tables(work_dir: Path) -> dict[str, pl.DataFrame]:
    return {table: _read_work_file(work_file(work_dir, table)) for table in SHARED_TABLES}


def _batch_data(
    work_dir: Path, number: int, plans: dict[str, Plan], given: bool, shared: dict[str, pl.DataFrame]
) -> CanonicalData:
    """Batch `number`'s rep-keyed tables read from its folder (a table it has no row of is empty), with
    the `shared` tables; the tables scoring does not read are empty, as in `scoring_view`."""
    folder = batch_folder(work_dir, number)
    tables = {table: _read_or_empty(work_file(folder, table), table) for table in REP_COLUMN}
    return CanonicalData(tables={**tables, **shared}, plans=plans, given_commission_lines=given)


@contextmanager
def partitioned_for_scoring(
    clean_dir: str | Path,
    plans: dict[str, Plan],
    given_commission_lines: bool,
    work_dir: str | Path,
    *,
    as_of: dt.date | None = None,
    batch_reps: int = DEFAULT_BATCH_REPS,
    on_context: Callable[[ScoringContext], None] | None = None,
    one_batch_in_place: bool = False,
) -> Iterator[PartitionedCompany]:
    """`partition_for_scoring`, with its files removed from `work_dir` on leaving (also on an error)."""
    try:
        yield partition_for_scoring(
            clean_dir,
            plans,
            given_commission_lines,
            work_dir,
            as_of=as_of,
            batch_reps=batch_reps,
            on_context=on_context,
            one_batch_in_place=one_batch_in_place,
        )
    finally:
        remove_partitions(Path(work_dir))


def _first_rep_ids(batches: list[RepBatch]) -> pl.Series:
    """The first (smallest) rep id of every batch but the first, in order."""
    return pl.Series("rep_id", [batch.rep_ids[0] for batch in batches[1:]], dtype=pl.String)


def _batch_of(column: str, firsts: pl.Series) -> pl.Expr:
    """The number of the batch of the rep in `column` (UInt32; 0 for a null rep): how many batches after
    the first start at or before it (`firsts`, `_first_rep_ids`). Every rep the rep-keyed tables name is
    in a batch, so this is its batch in `rep_batch_numbers`; a binary search over a few sorted ids, where
    a join on the rep→batch map cost 0.4 to 0.8 s CPU more for the 5.5M deals at 3M lines.

    The search runs on each chunk of rows as it streams (`map_batches`, elementwise): written as
    `pl.lit(firsts).search_sorted(...)`, the streaming engine could not run it and took the whole table
    into memory first (sinking the 30M statement lines to their batches peaked at 5.55 GiB, against 1.12
    GiB now; docs/performance.md, session 17). A sum of comparisons with each first id also streams, but
    costs a comparison per batch for every row."""
    rep = pl.col(column)
    found = rep.map_batches(
        lambda reps: firsts.search_sorted(reps, side="right").cast(pl.UInt32),
        return_dtype=pl.UInt32,
        is_elementwise=True,
    )
    return pl.when(rep.is_not_null()).then(found).otherwise(0).cast(pl.UInt32)


def _with_batch(frame: pl.LazyFrame, column: str, firsts: pl.Series, name: str = _BATCH) -> pl.LazyFrame:
    """`frame` with the batch of the rep in `column` as `name` (`_batch_of`)."""
    return frame.with_columns(_batch_of(column, firsts).alias(name))


def _table_by_batch(scans: CanonicalScans, table: str, firsts: pl.Series) -> pl.LazyFrame:
    """`table`'s columns that scoring reads, and the batch of each row."""
    return _with_batch(scans[table].select(scoring_columns(table)), REP_COLUMN[table], firsts)


def _named_deals(scans: CanonicalScans) -> pl.LazyFrame:
    """`deal_id` and `referring_rep_id` of every deal a rep's statement lines can name: the converted deal
    of its referrals (its referral bonuses) and, when statement lines are given, the deal of its given
    lines. Its computed deal lines name its own deals."""
    named = [scans.referrals.select(pl.col("converted_deal_id").alias("deal_id"), "referring_rep_id")]
    if scans.given_commission_lines:
        lines = scans.commission_lines.select("deal_id", pl.col("rep_id").alias("referring_rep_id"))
        named.append(lines)
    return pl.concat(named).drop_nulls("deal_id")


def _hashed_batch(frame: pl.LazyFrame, column: str, firsts: pl.Series, name: str) -> pl.LazyFrame:
    """`_HASH` (of `deal_id`) and the batch of the rep in `column` as `name`: a join on numeric keys,
    where the string join of millions of deal ids costs three times as much."""
    return frame.select(pl.col("deal_id").hash().alias(_HASH), _batch_of(column, firsts).alias(name))


def _foreign_deals(scans: CanonicalScans, firsts: pl.Series) -> pl.DataFrame:
    """`deal_id` and the batch (`_BATCH`) of every deal a batch's lines name (`_named_deals`) and the batch
    does not own, a row per such deal and batch.

    The candidates are found on hashes of the ids (`_hashed_batch`); they are few (none on generated
    companies, a few thousand lines name another rep's deal, mostly of the same batch), and the exact
    answer is then computed on the ids of the candidates' rows only. Equal ids have equal hashes, so no
    foreign deal is missed; a collision only adds a candidate, which the exact join drops. The candidates'
    join streams, with the deals streamed past the named ids (the fewer): at 30M statement lines (54.7M
    deals, 32M named ids) 15.8 s and 2.20 GiB, where the in-memory join of the named ids against the deals
    took 18.1 s and 3.52 GiB (docs/performance.md, session 17)."""
    named = _hashed_batch(_named_deals(scans), "referring_rep_id", firsts, _NEEDED_BY)
    candidates = (
        _hashed_batch(scans.deals, "owner_rep_id", firsts, _BATCH)
        .join(named, on=_HASH, how="inner")
        .filter(pl.col(_NEEDED_BY) != pl.col(_BATCH))
        .select(_HASH)
        .unique()
        .collect(engine="streaming")
    )
    if candidates.height == 0:  # the common case: no line names another batch's deal
        return pl.DataFrame(schema={"deal_id": pl.String, _BATCH: pl.UInt32})
    among = pl.col("deal_id").hash().is_in(candidates[_HASH].implode())
    needed = _with_batch(_named_deals(scans).filter(among), "referring_rep_id", firsts, _NEEDED_BY)
    owners = _with_batch(scans.deals.select("deal_id", "owner_rep_id").filter(among), "owner_rep_id", firsts)
    return (
        needed.select("deal_id", _NEEDED_BY)
        .unique()
        .join(owners.select("deal_id", _BATCH), on="deal_id", how="inner")
        .filter(pl.col(_NEEDED_BY) != pl.col(_BATCH))
        .select("deal_id", pl.col(_NEEDED_BY).alias(_BATCH))
        .collect()
    )


def _deals_by_batch(scans: CanonicalScans, firsts: pl.Series) -> pl.LazyFrame:
    """Each batch's own deals (by owner), then the other reps' deals its lines need, each under the
    batch that needs it (`_foreign_deals`).

    The foreign deals' rows are filtered in the scan before the join: joined on the whole scan, all the
    deals were read into the join (at 3M lines in batches of 2,000 reps, a peak of 1.22 GiB for the
    step against 1.09 GiB). The join keeps the scan's order, so that two cuts of the same company give
    each batch its rows in the same order (without it they came in no fixed order). The foreign rows
    (a few) are collected before they join the stream of the batch's own deals: left lazy, the join made
    the sink take the whole deals table into memory (at 10M statement lines 2.96 GiB against 1.25 GiB,
    the same time)."""
    foreign = _foreign_deals(scans, firsts)
    if foreign.height == 0:
        return _table_by_batch(scans, "deals", firsts)
    rows = (
        scans.deals.select(scoring_columns("deals"))
        .filter(pl.col("deal_id").is_in(foreign["deal_id"].implode()))
        .join(foreign.lazy(), on="deal_id", how="inner", maintain_order="left")
        .collect()
    )
    return pl.concat([_table_by_batch(scans, "deals", firsts), rows.lazy()])


def _write_by_batch(rows: pl.LazyFrame, work_dir: Path, table: str) -> None:
    """Stream `rows` to `work_dir/batch-<n>/<table>.arrow` by their batch number (no file for a batch
    without rows)."""

    def path_of(args: FileProviderArgs) -> str:
        if args.index_in_partition:
            raise RuntimeError(f"{table}: a batch's rows were split over several files")
        return f"{BATCH_FOLDER_PREFIX}{args.partition_keys[_BATCH][0]}/{table}{WORK_SUFFIX}"

    partitions = pl.PartitionBy(
        work_dir, key=_BATCH, include_key=False, file_path_provider=path_of, approximate_bytes_per_file=None
    )
    rows.sink_ipc(partitions, compression=WORK_COMPRESSION, mkdir=True)


def score_partitioned(
    company: PartitionedCompany,
    *,
    data_quality_status: pl.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
    attribution_sink: AttributionSink | None = None,
    weights_of: WeightSource = rep_weights,
) -> ScoreTables:
    """`score_company` of the partitioned company: each batch read from its files and scored by
    `score_shard` (only the shards' tables are kept between batches), then `combine_shards` (given
    `weights_of`). Other arguments as `score_company`'s."""
    say = progress or (lambda _message: None)
    shared = company.shared_tables()
    parts = []
    count = len(company.batches)
    for number, batch in enumerate(company.batches):
        say(f"scoring batch {number + 1}/{count} ({batch.rep_ids.len():,} reps)")
        data = company.batch_data(number, shared)
        parts.append(score_shard(data, batch, company.context, attribution_sink))
        del data
    say("marginal pay, bootstrap intervals and plan scores")
    result = combine_shards(parts, company.context, data_quality_status, weights_of)
    return replace(result, attribution_streamed=attribution_sink is not None)
