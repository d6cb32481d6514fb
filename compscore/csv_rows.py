"""Read a CSV file strictly: every cell as text, and every row with the wrong number of fields set aside.

Polars (and most readers) fill a short row's missing cells with nulls, so a row that lost its last field,
or half of a row split by an unquoted line break, would load as a row with empty cells. Here each record
must have exactly as many fields as the header; a record that does not is returned as a `ShapeProblem`
(its line, its field count and its text) for the caller to reject, and the good rows flow on.

pyarrow's CSV reader does the parsing (quoted cells may span lines); it reports the line of a bad record
only when it reads on one thread, so a file is read in parallel first and read again on one thread only
when it holds a bad record.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

MAX_SHOWN_CHARS = 200
"""A rejected record's text is cut to this many characters in messages and reject rows."""


@dataclass(frozen=True)
class ShapeProblem:
    """A record whose field count differs from the header's."""

    line: int | None
    """1-based line where the record starts (header = line 1)."""
    fields: int
    expected: int
    text: str

    @property
    def detail(self) -> str:
        kind = "short" if self.fields < self.expected else "long"
        return f"{kind} row: {self.fields} fields, expected {self.expected}"

    @property
    def physical_lines(self) -> int:
        return self.text.count("\n") + 1


@dataclass(frozen=True)
class StrictCsv:
    data: pl.DataFrame
    """The records of the right shape, every cell text or null (blank lines kept as all-null rows)."""
    problems: list[ShapeProblem]


def header_names(path: Path) -> list[str]:
    """The header's column names; a name given twice gets Polars' `<name>_duplicated_<n>` suffix."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        names = next(csv.reader(fh), [])
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            out.append(f"{name}_duplicated_{seen[name] - 1}")
            seen[name] += 1
        else:
            out.append(name)
            seen[name] = 1
    return out


def read_strict_csv(path: Path) -> StrictCsv:
    """Every well-shaped record of `path` as text columns, and every badly shaped one as a problem."""
    names = header_names(path)
    table, problems = _read(path, names, use_threads=True)
    if problems:
        table, problems = _read(path, names, use_threads=False)
    data = pl.from_arrow(table)
    assert isinstance(data, pl.DataFrame)
    return StrictCsv(data, problems)


def _read(path: Path, names: list[str], use_threads: bool) -> tuple[pa.Table, list[ShapeProblem]]:
    problems: list[ShapeProblem] = []

    def set_aside(row: pa_csv.InvalidRow) -> str:
        problems.append(
            ShapeProblem(row.number, row.actual_columns, row.expected_columns, row.text[:MAX_SHOWN_CHARS])
        )
        return "skip"

    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(use_threads=use_threads, skip_rows=1, column_names=names),
        parse_options=pa_csv.ParseOptions(
            newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=set_aside
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    return table, problems


def shift_for_skipped(provisional: pl.Series, problems: list[ShapeProblem]) -> pl.Series:
    """The real line of each kept row, from its line counted as if the skipped records were not there.

    A skipped record that starts at line L, with the records skipped before it taking S lines, sits where
    a kept row would have provisional line L - S; every kept row at or after that point moves down by the
    record's lines.
    """
    located = sorted((p for p in problems if p.line is not None), key=lambda p: p.line or 0)
    if not located:
        return provisional
    positions, shifts, taken = [], [0], 0
    for problem in located:
        positions.append((problem.line or 0) - taken)
        taken += problem.physical_lines
        shifts.append(taken)
    index = pl.Series(positions, dtype=pl.Int64).search_sorted(provisional, side="right")
    return pl.Series(shifts, dtype=pl.Int64).gather(index) + provisional
