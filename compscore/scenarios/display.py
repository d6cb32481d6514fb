"""Scenario and rebalance tables as text for a terminal (Markdown-style, numbers rounded)."""

from __future__ import annotations

import polars as pl


def format_table(df: pl.DataFrame, decimals: int = 4) -> str:
    """Every row of a small frame as a Markdown-style table, floats rounded to `decimals`."""
    floats = [c for c, t in df.schema.items() if t.is_float()]
    rounded = pl.col(floats).round(decimals)
    shown = df.with_columns(pl.when(rounded == 0).then(0.0).otherwise(rounded).name.keep())  # no "-0.0"
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=250,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        fmt_str_lengths=40,
        float_precision=decimals,
    ):
        return str(shown)
