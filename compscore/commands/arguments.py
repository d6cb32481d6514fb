"""Arguments that more than one `compscore` subcommand takes, defined once."""

from __future__ import annotations

import argparse
import datetime as dt

from compscore.quality.date_window import EARLIEST_DATE, LATEST_DATE


def as_of_date(text: str) -> dt.date:
    """An `--as-of` date inside the plausible window of every date (compscore.quality.date_window)."""
    try:
        date = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc
    if not EARLIEST_DATE <= date <= LATEST_DATE:
        raise argparse.ArgumentTypeError(f"{text} is outside {EARLIEST_DATE} .. {LATEST_DATE}")
    return date


def add_as_of_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        type=as_of_date,
        default=None,
        help="score as known on this date, YYYY-MM-DD (default: the latest date in the CRM data)",
    )
