"""Edits of the CSV fixture tables that tests corrupt on purpose (a copy of `canonical_small`)."""

from __future__ import annotations

from pathlib import Path


def set_cell(path: Path, key: str, column: str, value: str) -> None:
    """Set one cell of a CSV fixture table, in the row whose first cell is `key`."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(",")
        if cells[0] == key:
            cells[header.index(column)] = value
            lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
