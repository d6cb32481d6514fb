"""Time `score_shard` on one batch of a generated company: wall and CPU seconds of each run, in-process.

The first call for a folder validates the company (`--input`, e.g. a `bench_score.py` cache folder) and
cuts it into batches under `--work` (kept for the next calls); then batch `--batch` is read and scored
`--runs` times. Comparing two commits: run this file with `PYTHONPATH=<worktree of the commit>` (so that
`compscore` is imported from there), alternating between the two, against the same `--work` folder (the
partition format is shared); the minimum of each is the figure (docs/performance.md, "Issue 9, session 7").

    python benchmarks/bench_batch.py --input /work/bench-cache/lines-1000000 --work /tmp/batch-1m --runs 3

`--by-query` also prints the wall seconds of every Polars `collect` of the timed runs, summed by the two
innermost `compscore` call sites and divided by the runs (where a batch's time goes, docs/performance.md,
"Issue 9, session 12"). `--attribution-write` also times, once, each step by which `compscore score`
writes the batch's attribution rows (`compscore.scoring.finish.finished_batch`,
`compscore.outputs.stable_floats`, Arrow conversion, Arrow's Parquet writer, the CSV copy), on the
writer thread's work as `compscore.outputs.TableStream` does it.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from compscore.dataset import CanonicalScans
from compscore.engine.payout import data_as_of
from compscore.outputs import stable_floats, streamed_parquet_writer
from compscore.plans import read_plans
from compscore.provenance import Provenance
from compscore.quality.by_table import validate_by_table
from compscore.schema import PLANS_DIR
from compscore.scoring.finish import finished_batch
from compscore.scoring.partitioned import batch_folder, partition_for_scoring, read_partitioned_batch
from compscore.scoring.shards import read_batch, score_shard, scoring_context
from compscore.spreadsheet import escape_formulas


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def _collects_by_call_site() -> Iterator[dict[str, float]]:
    """Wall seconds of every `LazyFrame.collect` while inside, by its two innermost `compscore` frames."""
    seconds: dict[str, float] = defaultdict(float)
    collect = pl.LazyFrame.collect

    def timed(frame: pl.LazyFrame, *args, **kwargs):
        start = time.perf_counter()
        result = collect(frame, *args, **kwargs)
        ours = [f for f in traceback.extract_stack()[:-1] if "/compscore/" in f.filename]
        seconds[" < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(ours[-2:]))] += (
            time.perf_counter() - start
        )
        return result

    pl.LazyFrame.collect = timed  # type: ignore[method-assign]
    try:
        yield seconds
    finally:
        pl.LazyFrame.collect = collect  # type: ignore[method-assign]


def _timed(name: str, step: Callable[[], object]) -> object:
    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = step()
    print(f"  {name}: wall {time.perf_counter() - wall:.3f} s, CPU {_cpu_seconds() - cpu:.3f} s")
    return result


def _time_attribution_write(attribution: pl.DataFrame, as_of) -> None:
    provenance = Provenance.now("bench-batch", as_of, "bench-batch")
    print(f"writing the attribution's {attribution.height:,} rows as `compscore score` does:")
    finished = _timed("finished_batch", lambda: finished_batch("pay_attribution", attribution, provenance))
    stable = _timed("stable_floats", lambda: stable_floats(finished))
    arrow = _timed("to_arrow", stable.to_arrow)
    with tempfile.TemporaryDirectory() as folder:

        def parquet() -> None:
            with streamed_parquet_writer(Path(folder) / "a.parquet", stable, arrow.schema) as writer:
                writer.write_table(arrow)

        _timed("Parquet (Arrow's writer)", parquet)
        _timed(
            "CSV copy (escape_formulas, write_csv)",
            lambda: escape_formulas(stable).write_csv(Path(folder) / "a.csv"),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, required=True, help="a canonical folder (Parquet or CSV)")
    parser.add_argument("--work", type=Path, required=True, help="where the clean tables and batches stay")
    parser.add_argument("--batch", type=int, default=0, help="the batch to score (default 0)")
    parser.add_argument("--runs", type=int, default=3, help="runs to time (default 3)")
    parser.add_argument("--by-query", action="store_true", help="also time every collect by call site")
    parser.add_argument(
        "--attribution-write", action="store_true", help="also time the writing of the attribution rows"
    )
    args = parser.parse_args(argv)

    plans = read_plans(args.input / PLANS_DIR)
    clean, batches = args.work / "clean", args.work / "batches"
    if not (batches / "partition.json").is_file():
        validation = validate_by_table(args.input, "bench-batch", clean)
        partition_for_scoring(validation.clean_dir, plans, validation.given_commission_lines, batches)
    data = read_partitioned_batch(batches, args.batch, plans)
    scans = CanonicalScans.scan(clean, plans, data.given_commission_lines)
    context = scoring_context(scans, data_as_of(scans))
    batch = read_batch(batch_folder(batches, args.batch))
    walls, cpus = [], []
    with _collects_by_call_site() if args.by_query else _no_timing() as by_call_site:
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), _cpu_seconds()
            tables = score_shard(data, batch, context)
            walls.append(time.perf_counter() - wall)
            cpus.append(_cpu_seconds() - cpu)
    print(
        f"batch {args.batch} ({batch.rep_ids.len():,} reps, {data.commission_lines.height:,} lines): "
        f"wall min {min(walls):.2f} s, CPU min {min(cpus):.2f} s over {args.runs} runs"
    )
    if args.by_query:
        print(f"wall seconds a run in each collect, by call site (mean of {args.runs} runs):")
        for site, seconds in sorted(by_call_site.items(), key=lambda item: -item[1]):
            print(f"  {seconds / args.runs:7.3f}  {site}")
    if args.attribution_write:
        _time_attribution_write(tables.attribution, context.as_of)
    return 0


@contextmanager
def _no_timing() -> Iterator[dict[str, float]]:
    yield {}


if __name__ == "__main__":
    raise SystemExit(main())
