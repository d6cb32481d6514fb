"""Score scenario plans on a baseline plan's reps and actual books (SPEC section 8), with their cost."""

from __future__ import annotations

import argparse
import sys

from compscore.commands.arguments import add_as_of_argument
from compscore.loaders import LoadError
from compscore.outputs import write_output_set
from compscore.plans import PlanError
from compscore.scenarios.display import format_table
from compscore.scenarios.inputs import load_clean
from compscore.scenarios.plan_edit import read_scenario
from compscore.scenarios.whatif import ScenarioError, scenario_scores

TABLE = "scenario_scores"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="canonical folder: <table>.csv|parquet and plans/")
    parser.add_argument("--plan", required=True, help="the baseline plan_id whose reps and books are used")
    parser.add_argument(
        "--scenario",
        required=True,
        action="append",
        help="a scenario file (a plan file with `scenario_of: <plan_id>`); repeat for more",
    )
    parser.add_argument("--out", required=True, help="folder for scenario_scores.csv and .parquet")
    add_as_of_argument(parser)


def run(args: argparse.Namespace) -> int:
    try:
        scenarios = [read_scenario(path) for path in args.scenario]
        data = load_clean(args.input)
        table = scenario_scores(data, args.plan, scenarios, args.as_of)
    except (LoadError, PlanError, ScenarioError) as exc:
        print(f"compscore whatif: {exc}", file=sys.stderr)
        return 2
    write_output_set({TABLE: table}, args.out)
    print(
        f"Scored {len(scenarios)} scenario(s) of {args.plan} on its reps' actual books; wrote {TABLE} to "
        f"{args.out} as Parquet and CSV. cost = variable pay before clawbacks; cost_change vs baseline.\n"
    )
    print(format_table(table.drop("period_start")))
    return 0
