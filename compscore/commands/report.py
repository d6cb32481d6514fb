"""Write the plan review: an offline HTML report with charts, and plan_review.xlsx beside it."""

from __future__ import annotations

import argparse
import sys

from compscore.report.files import HTML_NAME, ReportInputError, load_inputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scores",
        required=True,
        help="folder with the score tables: the --out folder of `compscore score`, or the warehouse folder",
    )
    parser.add_argument(
        "--out",
        default=None,
        help=f"the HTML file to write (default: <scores>/{HTML_NAME}); plan_review.xlsx goes beside it",
    )


def run(args: argparse.Namespace) -> int:
    try:
        inputs = load_inputs(args.scores)
    except ReportInputError as exc:
        print(f"compscore report: {exc}", file=sys.stderr)
        return 2
    out = args.out or f"{args.scores.rstrip('/')}/{HTML_NAME}"
    from compscore.report.build import write_report  # Altair and the charts: only when a report is made

    paths = write_report(inputs, out)
    print(f"Plan review report: {paths.html}")
    print(f"Plan review workbook: {paths.workbook}")
    return 0
