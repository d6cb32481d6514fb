"""Find lever values that bring a plan to a target Same-Day Index at equal cost (SPEC section 8)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compscore.commands.arguments import add_as_of_argument
from compscore.engine.payout import data_as_of
from compscore.loaders import LoadError
from compscore.plans import PlanError, dump_plan, parse_plan
from compscore.scenarios.display import format_table
from compscore.scenarios.explain import describe, rebalance_rows, side_by_side
from compscore.scenarios.inputs import load_clean
from compscore.scenarios.plan_edit import LEVERS, SAFE_ID, LeverError, parse_levers, usable_levers
from compscore.scenarios.rebalance import RebalanceResult, rebalance
from compscore.scenarios.whatif import ScenarioError, evaluate_plan, require_plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="canonical folder: <table>.csv|parquet and plans/")
    parser.add_argument("--plan", required=True, help="the plan_id to rebalance")
    parser.add_argument("--target-sdi", required=True, type=float, help="the Same-Day Index to reach, 0-100")
    parser.add_argument(
        "--levers",
        default=None,
        help=f"comma-separated levers that may move (default: those of {','.join(LEVERS)} the plan has)",
    )
    parser.add_argument("--period", default=None, help="balance one period (e.g. 2025-Q3); default: all")
    parser.add_argument("--out", required=True, help="folder for <plan_id>.rebalanced.yaml and rebalance.csv")
    add_as_of_argument(parser)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (LoadError, PlanError, ScenarioError, LeverError) as exc:
        print(f"compscore rebalance: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    levers = parse_levers(args.levers or ",".join(LEVERS))
    if not SAFE_ID.match(args.plan):
        raise ScenarioError(f"--plan {args.plan!r} is not a plan id (letters, digits, . _ -)")
    data = load_clean(args.input)
    plan = require_plan(data, args.plan)
    if args.levers is None:
        levers, skipped = usable_levers(plan, levers)
        for reason in skipped:
            print(f"note: {reason}; left out", file=sys.stderr)
    as_of = args.as_of or data_as_of(data)
    baseline = evaluate_plan(data, args.plan, plan, as_of)
    periods = baseline.periods["period"].to_list()
    if args.period is not None and args.period not in periods:
        raise ScenarioError(f"--period {args.period!r}: plan {args.plan!r} has periods {', '.join(periods)}")
    result = rebalance(
        plan, levers, args.target_sdi, lambda p: evaluate_plan(data, args.plan, p, as_of).pooled(args.period)
    )
    if not result.reached:
        print("\n".join(describe(result)), file=sys.stderr)
        return 2
    _write(result, args.plan, args.period, Path(args.out))
    proposal = evaluate_plan(data, args.plan, result.plan, as_of)
    if args.period is not None:
        baseline, proposal = (e.for_period(args.period) for e in (baseline, proposal))
    print("\n".join(describe(result, baseline, proposal)))
    print()
    print(format_table(side_by_side(rebalance_rows(result, args.plan, args.period))))
    return 0


def _write(result: RebalanceResult, plan_id: str, period: str | None, out: Path) -> None:
    """The proposed plan file (checked to parse back) and rebalance.csv."""
    text = dump_plan(result.plan)
    path = out / f"{plan_id}.rebalanced.yaml"
    parse_plan(text, str(path))
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    rebalance_rows(result, plan_id, period).write_csv(out / "rebalance.csv")
    print(f"Wrote {path} and {out / 'rebalance.csv'}.\n")
