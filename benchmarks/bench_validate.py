"""Validation time and peak memory on a synthetic deals table of 1M and 10M rows.

For each size, two fresh processes run the same work on the same Parquet file: the Polars rules
(flags, per-rule failures) and then the deals GX suite, once on the whole table in memory (`whole`) and
once in chunks of `--chunk-rows` (`chunked`, what the asset checks and `compscore score` do). Each prints
its wall and CPU times (CPU = process time, all threads: steadier than wall time on a shared machine) and
its peak resident memory (ru_maxrss), so the two can be compared; `--repeat` runs the pair again:

    python benchmarks/bench_validate.py              # 1M and 10M rows
    python benchmarks/bench_validate.py --rows 10000000 --repeat 3
    python benchmarks/bench_validate.py --rows 1000000 --chunk-rows 250000

About 1 % of the rows carry a defect (negative amount, discount above 1, close before created, unknown
account), so every rule has failures to count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from compscore.quality.suites import DEFAULT_CHUNK_ROWS
from compscore.schema import conform

ACCOUNTS, REPS = 200_000, 2_000


def make_deals(rows: int, seed: int = 7) -> pl.DataFrame:
    """A deals table of `rows` rows with ~1 % defects; vectorised, seconds for 10M rows."""
    i = pl.int_range(0, rows, eager=True)
    rng = (i * 2654435761 + seed) % 1_000_003
    created = pl.lit(dt.date(2026, 1, 1)) + pl.duration(days=rng % 300)
    frame = pl.DataFrame({"i": i, "r": rng}).select(
        deal_id=pl.format("D{}", pl.col("i")),
        account_id=pl.when(pl.col("r") % 100 == 3)
        .then(pl.lit("GHOST"))
        .otherwise(pl.format("A{}", pl.col("r") % ACCOUNTS)),
        owner_rep_id=pl.format("R{}", pl.col("r") % REPS),
        deal_type=pl.lit(["new_business", "expansion", "renewal"]).list.get(pl.col("r") % 3),
        stage=pl.lit(["open", "won", "lost"]).list.get(pl.col("r") % 3),
        amount=pl.when(pl.col("r") % 100 == 1).then(-1.0).otherwise((pl.col("r") % 90_000 + 1_000) * 1.0),
        term_months=pl.lit(12, pl.Int64),
        discount_pct=pl.when(pl.col("r") % 100 == 2).then(1.5).otherwise((pl.col("r") % 30) / 100),
        created_date=created.cast(pl.Date),
        close_date=pl.when(pl.col("r") % 3 == 0)
        .then(None)
        .when(pl.col("r") % 100 == 4)
        .then((created - pl.duration(days=5)).cast(pl.Date))
        .otherwise((created + pl.duration(days=30)).cast(pl.Date)),
        lead_source=pl.lit("inbound"),
        referral_id=pl.lit(None, pl.String),
    )
    return conform(frame, "deals").collect()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(path: Path, mode: str, chunk_rows: int) -> dict[str, float]:
    """One measured run in this (fresh) process."""
    from compscore.quality import References, check_table
    from compscore.schema import DEALS

    t0 = time.perf_counter()
    import great_expectations  # noqa: F401  (import cost measured apart from validation)

    t_import = time.perf_counter() - t0
    base_mb = peak_mb()
    from compscore.quality.suites import run_suite

    deals = pl.read_parquet(path)
    t1, c1 = time.perf_counter(), time.process_time()
    refs = References(
        keys={
            "accounts.account_id": pl.format("A{}", pl.int_range(0, ACCOUNTS, eager=True)),
            "reps.rep_id": pl.format("R{}", pl.int_range(0, REPS, eager=True)),
            "referrals.referral_id": pl.Series([], dtype=pl.String),
        },
        plans={},
    )
    check = check_table(DEALS, deals, refs, nonempty_required=True)
    t2, c2 = time.perf_counter(), time.process_time()
    outcomes = run_suite(check, chunk_rows=deals.height if mode == "whole" else chunk_rows)
    t3, c3 = time.perf_counter(), time.process_time()
    failing = {o.rule: o.unexpected_count for o in outcomes if o.unexpected_count}
    polars_failing = {r.rule: r.unexpected_count for r in check.results if r.unexpected_count}
    return {
        "rows": deals.height,
        "import_gx_s": round(t_import, 2),
        "polars_rules_s": round(t2 - t1, 2),
        "gx_s": round(t3 - t2, 2),
        "validation_s": round(t3 - t1, 2),
        "gx_cpu_s": round(c3 - c2, 2),
        "validation_cpu_s": round(c3 - c1, 2),
        "peak_mb": round(peak_mb()),
        "peak_after_import_mb": round(base_mb),
        "gx_equals_polars": failing == polars_failing,
    }


def measure(path: Path, mode: str, chunk_rows: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", str(path), "--mode", mode, "--chunk-rows", str(chunk_rows)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    parser.add_argument("--repeat", type=int, default=1, help="measure each size this many times")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["whole", "chunked"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.mode, args.chunk_rows)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_validate_") as tmp:
        print(
            f"{'rows':>10} {'mode':>8} {'polars s':>9} {'GX s':>7} {'total s':>8} "
            f"{'GX cpu':>7} {'cpu s':>7} {'peak MB':>8} agree"
        )
        for rows in args.rows:
            path = Path(tmp) / f"deals_{rows}.parquet"
            make_deals(rows).write_parquet(path)
            for _ in range(args.repeat):
                report(rows, {mode: measure(path, mode, args.chunk_rows) for mode in ("whole", "chunked")})
            print(f"(chunks of {args.chunk_rows} rows)")


def report(rows: int, results: dict[str, dict[str, float]]) -> None:
    for mode, r in results.items():
        times = f"{r['polars_rules_s']:>9} {r['gx_s']:>7} {r['validation_s']:>8}"
        cpu = f"{r['gx_cpu_s']:>7} {r['validation_cpu_s']:>7}"
        print(f"{rows:>10} {mode:>8} {times} {cpu} {r['peak_mb']:>8} {r['gx_equals_polars']}")
    chunked, whole = results["chunked"], results["whole"]
    wall = chunked["validation_s"] / whole["validation_s"]
    cpu = chunked["validation_cpu_s"] / whole["validation_cpu_s"]
    print(f"{rows:>10} chunked/whole ratio: wall {wall:.2f}, CPU {cpu:.2f}", flush=True)


if __name__ == "__main__":
    main()
