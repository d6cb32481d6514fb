"""The plan review as an Excel workbook: one sheet per headline table, units in the header, number
formats, frozen header and key columns, and every text cell written as text (never as a formula: a plan
name starting with `=`, `+`, `-` or `@` stays that text).

Numbers are written as they are in the score tables (a share 0.45 is the number 0.45, shown as 45.0 %),
so the workbook holds the same numbers as `plan_scores`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from compscore.report.files import ReportInputs
from compscore.report.prepare import scenario_comparison

_UNITS: tuple[tuple[str, str, str], ...] = (
    # (column name pattern, unit shown in the header, Excel number format)
    (r"^same_day_index", "0-100", "0.0"),
    (r"^same_day_multiple$", "×", "0.00"),
    (r"^marginal_", "$ per $", "0.0000"),
    (r"(_share|^clawback_rate|^early_churn_rate|^grr_12m|^cost_change)", "%", "0.0%"),
    (r"^pull_forward_premium$", "%", "0.0%"),
    (r"^(clawed_back|cost)$", "$", "#,##0"),
    (r"^referrals_per_100_accounts", "per 100 accounts", "0.00"),
    (r"^period_end_bunching", "× even timing", "0.00"),
    (r"^period_end_discount_gap", "points", "0.0"),
    (r"^(n_reps|n_deals)$", "count", "#,##0"),
    (r"^attainment$", "% of quota", "0%"),
    (r"^(low|high|value|numerator|denominator)$", "see indicator", "0.0000"),
)
KEY_COLUMNS = 2
"""Frozen columns: the plan id and the period (or the first two columns of a sheet)."""
MAX_COLUMN_WIDTH = 40


def unit_and_format(column: str) -> tuple[str | None, str | None]:
    for pattern, unit, number_format in _UNITS:
        if re.search(pattern, column):
            return unit, number_format
    return None, None


def _sheets(inputs: ReportInputs) -> dict[str, pl.DataFrame]:
    sheets = {
        "Plan scores": inputs.plan_scores,
        "Outcomes": inputs.plan_outcomes,
        "Incentive curves": inputs.plan_incentive_curves,
        "Components": inputs.plan_component_marginals,
        "Cost": inputs.plan_cost.sort("plan_id", "period"),
    }
    if inputs.scenario_scores is not None and inputs.scenario_scores.height:
        sheets["Scenarios"] = scenario_comparison(inputs.plan_scores, inputs.scenario_scores)
    return sheets


def write_workbook(inputs: ReportInputs, path: str | Path) -> Path:
    """Write `plan_review.xlsx` (replaced only once fully written)."""
    final = Path(path)
    partial = final.with_name(f".{final.stem}.partial.xlsx")
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with xlsxwriter.Workbook(partial, options) as book:
        header = book.add_format({"bold": True, "bg_color": "#F4F6F7", "text_wrap": True, "valign": "top"})
        formats = {"date": book.add_format({"num_format": "yyyy-mm-dd"}), "datetime": book.add_format(
            {"num_format": "yyyy-mm-dd hh:mm:ss"})}  # fmt: skip
        for name, df in _sheets(inputs).items():
            sheet = book.add_worksheet(name)
            _write_sheet(book, sheet, df, header, formats)
    partial.replace(final)
    return final


def _write_sheet(book, sheet: Worksheet, df: pl.DataFrame, header, formats: dict) -> None:
    for col, (name, dtype) in enumerate(df.schema.items()):
        unit, number_format = unit_and_format(name)
        sheet.write_string(0, col, f"{name} ({unit})" if unit else name, header)
        cell_format = None
        if dtype == pl.Date:
            cell_format = formats["date"]
        elif isinstance(dtype, pl.Datetime):
            cell_format = formats["datetime"]
        elif number_format and dtype.is_numeric():
            cell_format = formats.setdefault(number_format, book.add_format({"num_format": number_format}))
        width = min(max(len(name) + 2, 12), MAX_COLUMN_WIDTH)
        sheet.set_column(col, col, width, cell_format)
        _write_column(sheet, col, df[name], dtype, cell_format)
    sheet.freeze_panes(1, min(KEY_COLUMNS, df.width))
    sheet.autofilter(0, 0, max(df.height, 1), max(df.width - 1, 0))


def _write_column(sheet: Worksheet, col: int, values: pl.Series, dtype: pl.DataType, cell_format) -> None:
    for row, value in enumerate(values.to_list(), start=1):
        if value is None:
            sheet.write_blank(row, col, None, cell_format)
        elif isinstance(value, bool):
            sheet.write_boolean(row, col, value)
        elif isinstance(value, dt.datetime):
            sheet.write_datetime(row, col, value.replace(tzinfo=None), cell_format)
        elif isinstance(value, dt.date):
            sheet.write_datetime(row, col, value, cell_format)
        elif isinstance(value, int | float):
            sheet.write_number(row, col, value, cell_format)
        else:
            sheet.write_string(row, col, str(value))
