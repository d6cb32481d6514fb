"""Time `score_shard` on one batch of a generated company: wall and CPU seconds of each run, in-process.

The first call for a folder validates the company (`--input`, e.g. a `bench_score.py` cache folder) and
cuts it into batches under `--work` (kept for the next calls); then batch `--batch` is read and scored
`--runs` times. Comparing two commits: run this file with `PYTHONPATH=<worktree of the commit>` (so that
`compscore` is imported from there), alternating between the two, against the same `--work` folder (the
partition format is shared); the minimum of each is the figure (docs/performance.md, "Issue 9, session 7").

    python benchmarks/bench_batch.py --input /work/bench-cache/lines-1000000 --work /tmp/batch-1m --runs 3
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from compscore.dataset import CanonicalScans
from compscore.engine.payout import data_as_of
from compscore.plans import read_plans
from compscore.quality.by_table import validate_by_table
from compscore.schema import PLANS_DIR
from compscore.scoring.partitioned import batch_folder, partition_for_scoring, read_partitioned_batch
from compscore.scoring.shards import read_batch, score_shard, scoring_context


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, required=True, help="a canonical folder (Parquet or CSV)")
    parser.add_argument("--work", type=Path, required=True, help="where the clean tables and batches stay")
    parser.add_argument("--batch", type=int, default=0, help="the batch to score (default 0)")
    parser.add_argument("--runs", type=int, default=3, help="runs to time (default 3)")
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
    for _ in range(args.runs):
        wall, cpu = time.perf_counter(), _cpu_seconds()
        score_shard(data, batch, context)
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu_seconds() - cpu)
    print(
        f"batch {args.batch} ({batch.rep_ids.len():,} reps, {data.commission_lines.height:,} lines): "
        f"wall min {min(walls):.2f} s, CPU min {min(cpus):.2f} s over {args.runs} runs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
