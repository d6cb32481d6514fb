"""Generate a realistic company (CRM tables, plan files, statement lines) with planted incentive effects.

The planted truth is in `compscore.generator.planted` and docs/generator.md. Progress goes to stderr, one
line per chunk; the folder gets a `.generator.json` with the arguments that regenerate it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from compscore.canonical_io import FORMATS
from compscore.generator.build import MANIFEST
from compscore.schema import PLANS_DIR, TABLES


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder to write the company into")
    parser.add_argument("--reps", type=_positive, default=300, help="sales headcount (default 300)")
    parser.add_argument("--quarters", type=_positive, default=8, help="quarters of history (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        default=dt.date(2024, 1, 1),
        help="first day of the first quarter, YYYY-MM-DD (default 2024-01-01)",
    )
    parser.add_argument(
        "--reps-per-chunk",
        type=_positive,
        default=1000,
        help="positions generated and written per chunk; part of what the seed reproduces (default 1000)",
    )
    parser.add_argument(
        "--lines",
        type=_positive,
        default=None,
        help="instead of --reps: add chunks until at least this many statement lines are written",
    )
    parser.add_argument("--format", choices=FORMATS, default="parquet", help="table file format")
    parser.add_argument(
        "--no-lines", action="store_true", help="skip statement lines (CRM tables and plans only)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace canonical files already in --out")


def _existing_outputs(out: Path) -> list[Path]:
    names = [out / f"{t.name}.{fmt}" for t in TABLES for fmt in FORMATS] + [out / MANIFEST]
    return [p for p in names if p.exists()] + sorted((out / PLANS_DIR).glob("*.yaml"))


def run(args: argparse.Namespace) -> int:
    from compscore.generator import GeneratorConfig, write_company  # not imported by other commands

    if args.lines is not None and args.no_lines:
        print("compscore generate: --lines needs statement lines; drop --no-lines", file=sys.stderr)
        return 2
    try:
        config = GeneratorConfig(
            reps=args.reps,
            quarters=args.quarters,
            seed=args.seed,
            start=args.start,
            reps_per_chunk=args.reps_per_chunk,
        )
    except ValueError as exc:
        print(f"compscore generate: {exc}", file=sys.stderr)
        return 2
    existing = _existing_outputs(args.out)
    if existing and not args.overwrite:
        print(
            f"compscore generate: {args.out} already holds {existing[0].name} and {len(existing) - 1} other "
            "canonical file(s); pass --overwrite to replace them",
            file=sys.stderr,
        )
        return 2
    for path in existing:
        path.unlink()
    summary = write_company(
        config, args.out, args.format, target_lines=args.lines, with_lines=not args.no_lines
    )
    rows = ", ".join(f"{name} {n:,}" for name, n in summary.rows.items())
    print(
        f"wrote {args.out}: {summary.config.reps:,} positions, {summary.config.quarters} quarters "
        f"to {summary.config.end_date}, {rows} ({summary.adjustment_lines} manual adjustments) "
        f"in {summary.seconds:.1f}s",
        file=sys.stderr,
    )
    return 0
