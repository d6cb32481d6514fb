"""Scenario and rebalance tables as text for a terminal (Markdown-style, numbers rounded)."""

from __future__ import annotations

import polars as pl

MONEY_COLUMNS = ("cost",)
"""Columns in currency, shown to the cent."""


def format_table(df: pl.DataFrame, decimals: int = 4) -> str:
    """Every row of a small frame as a Markdown-style table, floats rounded to `decimals` (money to 2)."""
    floats = [c for c, t in df.schema.items() if t.is_float()]
    rounded = [pl.col(c).round(2 if c in MONEY_COLUMNS else decimals) for c in floats]
    shown = df.with_columns(pl.when(r == 0).then(0.0).otherwise(r).name.keep() for r in rounded)  # no -0.0
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=250,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        fmt_str_lengths=40,
        fmt_float="full",
    ):
        return str(shown)
