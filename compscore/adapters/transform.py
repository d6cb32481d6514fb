"""Apply a table mapping to an export file: vectorised parsing, and every bad cell reported with its line.

Each column rule becomes a Polars expression for the value plus one for "the cell had text but it did not
parse / map"; the second is used only to collect issues. Nothing loops over rows.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import polars as pl

from compscore.adapters.errors import SourceIssue
from compscore.adapters.mapping import ColumnRule, SourceMapping, TableMapping
from compscore.adapters.readers import LINE, ExportFile
from compscore.schema import table as table_spec

MAX_LISTED_ROWS = 10
"""Bad cells listed per column before the rest are summarised as a count."""

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_FORMAT_PATTERNS = {
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%m": r"\d{1,2}",
    "%d": r"\d{1,2}",
    "%H": r"\d{1,2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%.f": r"(?:\.\d+)?",
    "%z": r"(?:Z|[+-]\d{2}:?\d{2})?",
    "%b": r"[A-Za-z]{3}",
    "%p": r"(?:AM|PM|am|pm)",
    "%I": r"\d{1,2}",
}
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%z")


@dataclass
class MappedTable:
    frame: pl.DataFrame
    """Canonical columns the mapping fills (derived ones null), plus `__line`."""
    file: str
    issues: list[SourceIssue]
    derived: tuple[ColumnRule, ...]
    blank_derived: dict[str, pl.Series]
    """For `if_blank: <derivation>` rules: a boolean mask of rows whose cell was empty."""


def salesforce_id18(expr: pl.Expr) -> pl.Expr:
    """Turn 15-character (case-sensitive) Salesforce ids into their 18-character form; others unchanged.

    The 3-character suffix encodes, for each 5-character chunk, which positions are upper-case letters,
    so `001A0000006Vm9r` becomes `001A0000006Vm9rIAC` and matches the id a data export writes.
    """
    suffix = []
    for chunk in range(3):
        bits = pl.sum_horizontal(
            expr.str.slice(chunk * 5 + i, 1).str.contains("^[A-Z]$").cast(pl.Int32) * (1 << i)
            for i in range(5)
        )
        suffix.append(bits.replace_strict(dict(enumerate(_SF_SUFFIX)), return_dtype=pl.String))
    return pl.when(expr.str.len_chars() == 15).then(pl.concat_str([expr, *suffix])).otherwise(expr)


def _format_regex(fmt: str) -> str:
    out, i = [], 0
    while i < len(fmt):
        for directive, pattern in _FORMAT_PATTERNS.items():
            if fmt.startswith(directive, i):
                out.append(pattern)
                i += len(directive)
                break
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "^" + "".join(out) + "$"


def parse_date(expr: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    """First format whose shape matches wins; a 2-digit year never passes as a 4-digit one."""
    candidates = []
    for fmt in formats:
        if any(d in fmt for d in _TIME_DIRECTIVES):
            parsed = expr.str.strptime(pl.Datetime("us"), fmt, strict=False)
            if "%z" in fmt:
                parsed = parsed.dt.convert_time_zone("UTC")
            parsed = parsed.dt.date()
        else:
            parsed = expr.str.strptime(pl.Date, fmt, strict=False)
        candidates.append(pl.when(expr.str.contains(_format_regex(fmt))).then(parsed))
    return pl.coalesce(candidates)


_MONTH = r"^(\d{4})-(\d{1,2})$"
_QUARTER_FIRST = r"^Q([1-4])[ \-/]*(\d{4})$"
_YEAR_FIRST = r"^(\d{4})[ \-/]*Q([1-4])$"
_MONTH_NAME = r"^[A-Z]{3,9}[ \-]+\d{4}$"
_YEAR = r"^(?:FY)?[ ]?(\d{4})$"
PERIOD_LABELS = ("2026-01", "Jan 2026", "January 2026", "Q1-2026", "Q1 2026", "2026-Q1", "2026", "FY2026")
"""The period label shapes `parse_period` reads (case-insensitive), besides the mapping's date formats."""


def parse_period(expr: pl.Expr, formats: tuple[str, ...], at_end: bool = True) -> pl.Expr:
    """A period label (`2026-01`, `Jan 2026`, `Q1-2026`, `2026-Q1`, `2026`, `FY2026`) -> its last day
    (`at_end`) or first day; a plain date in one of `formats` stays that date; anything else -> null."""
    text = expr.str.strip_chars().str.to_uppercase()

    def group(pattern: str, index: int) -> pl.Expr:
        return text.str.extract(pattern, index).cast(pl.Int32, strict=False)

    dated = pl.lit("1 ") + text.str.replace(r"[ \-]+", " ")
    by_name = pl.coalesce(dated.str.strptime(pl.Date, fmt, strict=False) for fmt in ("%d %b %Y", "%d %B %Y"))
    by_name = pl.when(text.str.contains(_MONTH_NAME)).then(by_name)
    year = pl.coalesce(
        group(_MONTH, 1), group(_QUARTER_FIRST, 2), group(_YEAR_FIRST, 1), by_name.dt.year(), group(_YEAR, 1)
    )
    quarter = pl.coalesce(group(_QUARTER_FIRST, 1), group(_YEAR_FIRST, 2))
    first_month = pl.coalesce(
        group(_MONTH, 2), quarter * 3 - 2, by_name.dt.month().cast(pl.Int32), group(_YEAR, 1) * 0 + 1
    )
    months = pl.when(quarter.is_not_null()).then(3).when(group(_YEAR, 1).is_not_null()).then(12).otherwise(1)
    valid = pl.when(first_month.is_between(1, 12)).then(first_month)
    start = pl.date(year, valid, 1)
    end = pl.date(year, valid + months - 1, 1).dt.month_end()
    return pl.coalesce(end if at_end else start, parse_date(expr, formats))


def parse_money(expr: pl.Expr) -> pl.Expr:
    """`$1,234.50`, `USD 1,234.50`, `1234.5`, `(120.00)` (negative) -> float; anything else -> null."""
    digits = expr.str.replace_all(r"[^0-9.\-()]", "")
    signed = (
        pl.when(digits.str.starts_with("(") & digits.str.ends_with(")"))
        .then(pl.lit("-") + digits.str.strip_chars("()"))
        .otherwise(digits)
    )
    return pl.when(expr.str.contains(r"\d")).then(signed.cast(pl.Float64, strict=False))


def parse_bool(expr: pl.Expr) -> pl.Expr:
    low = expr.str.to_lowercase()
    return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)


def _map_values(expr: pl.Expr, rule: ColumnRule) -> pl.Expr:
    mapped = expr.str.to_lowercase().replace_strict(
        dict(rule.value_map), default=rule.default, return_dtype=pl.String
    )
    return pl.coalesce(mapped, expr) if rule.unmapped == "keep" else mapped


def _find(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name.casefold() in columns:
            return columns[name.casefold()]
    return None


class _Builder:
    def __init__(self, export: ExportFile, tm: TableMapping, mapping: SourceMapping):
        self.export, self.tm, self.mapping = export, tm, mapping
        self.df = export.frame
        self.by_fold = {c.casefold(): c for c in self.df.columns if c != LINE}
        self.issues: list[SourceIssue] = []
        self.blank_masks: dict[str, pl.Expr] = {}

    def missing_column(self, rule: ColumnRule, names: tuple[str, ...]) -> None:
        alias = f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
        self.issues.append(
            SourceIssue(
                self.export.name,
                1,
                names[0],
                None,
                f"required column is missing{alias}: it fills {self.tm.table}.{rule.target}; "
                f"the header has {', '.join(self.by_fold.values())}",
            )
        )

    def source_expr(self, rule: ColumnRule) -> tuple[pl.Expr | None, str | None]:
        primary = _find(self.by_fold, rule.columns)
        present = [c for c in [primary, *(_find(self.by_fold, (f,)) for f in rule.fallback)] if c]
        if not present:
            if not rule.optional:
                self.missing_column(rule, rule.columns)
            return None, None
        expr = pl.col(present[0]) if len(present) == 1 else pl.coalesce([pl.col(c) for c in present])
        return expr, primary or present[0]

    def report(self, bad: pl.Expr, raw: pl.Expr, column: str, expected: str, by_value: bool) -> None:
        rows = self.df.select(LINE, raw.alias("value"), bad.alias("bad")).filter(pl.col("bad"))
        if rows.is_empty():
            return
        if by_value:
            for value, first, count in (
                rows.group_by("value", maintain_order=True).agg(pl.col(LINE).min(), pl.len()).iter_rows()
            ):
                more = f" ({count} rows, first at line {first})" if count > 1 else ""
                self.issues.append(SourceIssue(self.export.name, first, column, value, expected + more))
            return
        for line, value, _ in rows.head(MAX_LISTED_ROWS).iter_rows():
            self.issues.append(SourceIssue(self.export.name, line, column, value, expected))
        if rows.height > MAX_LISTED_ROWS:
            self.issues.append(
                SourceIssue(
                    self.export.name,
                    None,
                    column,
                    None,
                    f"{rows.height - MAX_LISTED_ROWS} more rows like the above ({expected})",
                )
            )

    def stage(self, rule: ColumnRule) -> pl.Expr:
        flags = []
        for flag, outcome in ((rule.won_flag, "won"), (rule.closed_flag, "lost")):
            name = _find(self.by_fold, (flag,)) if flag else None
            if name is None:
                continue
            value = parse_bool(pl.col(name))
            self.report(
                value.is_null() & pl.col(name).is_not_null(), pl.col(name), name, _BOOL_EXPECTED, True
            )
            flags.append((value, outcome))
        column = _find(self.by_fold, rule.columns) if rule.columns else None
        raw = pl.col(column) if column is not None else None
        if raw is None and not flags:
            names = tuple(f for f in (*rule.columns, rule.won_flag, rule.closed_flag) if f)
            self.missing_column(rule, names)
            return pl.lit(None, dtype=pl.String)
        out: pl.Expr = pl.lit(rule.default, dtype=pl.String)
        if raw is not None:
            mapped = _map_values(raw, rule)
            decided = pl.any_horizontal(v.fill_null(False) for v, _ in flags) if flags else pl.lit(False)
            self.report(
                raw.is_not_null() & mapped.is_null() & ~decided,
                raw,
                column,
                self.unmapped_text(rule),
                by_value=True,
            )
            out = mapped.fill_null(pl.lit(rule.default, dtype=pl.String))
        for value, outcome in reversed(flags):
            out = pl.when(value.fill_null(False)).then(pl.lit(outcome)).otherwise(out)
        return out

    def unmapped_text(self, rule: ColumnRule) -> str:
        return (
            f"value not in the mapping for {self.tm.table}.{rule.target} "
            f"(add it under tables.{self.tm.table}.columns.{rule.target}.map in {self.mapping.file}; "
            f"mapped values: {', '.join(sorted(rule.value_map)) or 'none'})"
        )

    def column(self, rule: ColumnRule) -> pl.Expr:
        dtype = table_spec(self.tm.table).column(rule.target).dtype
        if rule.constant is not None:
            return pl.lit(rule.constant).cast(dtype)
        if rule.type == "stage":
            return self.stage(rule)
        if rule.derive is not None and not rule.columns:
            return pl.lit(None, dtype=dtype)
        if rule.derive is not None:
            rule = dataclasses.replace(rule, optional=True)  # the derivation fills what the column lacks
        raw, column = self.source_expr(rule)
        if rule.if_blank in _DERIVATIONS:
            self.blank_masks[rule.target] = raw.is_null() if raw is not None else pl.lit(True)
        if raw is None:
            return pl.lit(None, dtype=dtype)
        value: pl.Expr
        expected = ""
        if rule.type == "id":
            value = salesforce_id18(raw) if self.mapping.id_style == "salesforce" else raw
        elif rule.type == "date":
            value = parse_date(raw, self.mapping.date_formats)
            expected = f"expected a date in one of the formats {list(self.mapping.date_formats)}"
        elif rule.type in ("money", "number"):
            value = parse_money(raw)
            expected = "expected a number such as 1234.50 or $1,234.50"
        elif rule.type == "integer":
            value = parse_money(raw).cast(pl.Int64, strict=False)
            expected = "expected a whole number"
        elif rule.type == "period":
            value = parse_period(raw, self.mapping.date_formats, self.mapping.commission.period_date == "end")
            expected = (
                f"expected a period label such as {', '.join(PERIOD_LABELS)} or a date in one of the "
                f"formats {list(self.mapping.date_formats)}"
            )
        elif rule.type == "bool":
            value = parse_bool(raw)
            expected = _BOOL_EXPECTED
        elif rule.type == "category":
            value = _map_values(raw, rule)
            expected = self.unmapped_text(rule)
        else:
            value = raw
        if expected:
            self.report(
                raw.is_not_null() & value.is_null(), raw, column, expected, by_value=rule.type == "category"
            )
        if rule.if_blank is not None and rule.if_blank not in _DERIVATIONS:
            value = pl.when(raw.is_null()).then(pl.lit(rule.if_blank)).otherwise(value)
        return value.cast(dtype, strict=False)

    def build(self) -> MappedTable:
        exprs = [pl.col(LINE), *(self.column(rule).alias(rule.target) for rule in self.tm.columns)]
        frame = self.df.select(exprs)
        blank_derived = {
            target: self.df.select(mask.alias(target)).to_series()
            for target, mask in self.blank_masks.items()
        }
        derived = tuple(r for r in self.tm.columns if r.derive is not None)
        return MappedTable(frame, self.export.name, self.issues, derived, blank_derived)


_BOOL_EXPECTED = f"expected one of {', '.join(_TRUE)} or {', '.join(_FALSE)} (any case, e.g. TRUE/FALSE)"
_DERIVATIONS = ("account_history",)


def map_table(export: ExportFile, tm: TableMapping, mapping: SourceMapping) -> MappedTable:
    """Build the canonical columns of `tm.table` from one export; issues are collected, not raised."""
    return _Builder(export, tm, mapping).build()
