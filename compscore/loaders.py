"""Read a canonical folder (SPEC "On disk") into `CanonicalData`, keeping every bad cell accounted for.

Two kinds of problems, handled differently:

- **File-level** problems raise `LoadError` (naming the file, and the column when there is one): a file
  that cannot be read or parsed, a CSV without a header line, a missing required column, a column name
  given twice, a Parquet column whose type cannot be converted at all, a missing required table, a table
  given as both CSV and Parquet, a folder without plan files. Plan files raise `PlanError` (from
  `compscore.plans`), which names the file, line and key.
- **Cell-level** problems leave the row out and describe it in a `data_quality_rejects` row (the schema's
  `DATA_QUALITY_REJECTS`): a value of the wrong type (`type:<column>`), which includes an unparsable date
  and a non-finite number, and an empty required cell (`not_null:<column>`). A row with several problems
  gets one reject row per problem. The good rows flow on.

Decisions the SPEC leaves open:

- A CSV with a header and no rows is a valid empty table (the writer writes empty tables that way), loaded
  with a warning; whether an empty table is acceptable is for validation to decide. A CSV without even a
  header line is an error.
- CSV cells are read as text, then each column is parsed strictly: dates are ISO `YYYY-MM-DD`; numbers and
  dates may carry surrounding spaces; a whole number may be written `12.0`; empty cells are null. A row
  whose cells are all empty (a blank line) holds no data and is skipped.
- `source_line` is the 1-based line of the row in a CSV (header = line 1; quoted cells spanning several
  lines are counted), and the 1-based row number in a Parquet file.
- Unknown columns are ignored with a warning; absent optional columns are filled with their default (or
  null) with a warning; files in the folder that are not canonical tables are ignored with a warning
  (hidden files, whose name starts with `.`, are ignored silently).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.canonical_io import FORMATS
from compscore.dataset import CanonicalData
from compscore.errors import LoadError, LoadIssue
from compscore.plans import read_plans
from compscore.schema import DATA_QUALITY_REJECTS, PLANS_DIR, TABLES, Column, Table, conform, table

REJECTS_SCHEMA: pl.Schema = DATA_QUALITY_REJECTS.polars_schema
_ROW = "__row"
_LINE = "__line"
_KEY = "__key"
_MAX_EXACT_INT = 2.0**53
_DUPLICATED = re.compile(r"^(?P<base>.*)_duplicated_\d+$")


@dataclass
class TableLoad:
    """One table file read and conformed: its good rows, its rejected cells, and what to tell the user."""

    table: str
    file: Path
    data: pl.DataFrame
    """The good rows, conformed to the canonical schema."""
    rejects: pl.DataFrame
    """One row per rejected cell problem, in `DATA_QUALITY_REJECTS` shape."""
    warnings: list[str]
    received: int
    """Data rows read from the file (good and rejected; blank lines not counted)."""


@dataclass
class LoadResult:
    """A whole canonical folder: the data, every rejected row of every table, warnings, rows read."""

    data: CanonicalData
    rejects: pl.DataFrame
    warnings: list[str]
    received: dict[str, int]
    """Data rows read per canonical table; 0 for an absent optional table."""


@dataclass(frozen=True)
class _CellCheck:
    """How one canonical column is parsed from its source column, and how a bad cell is recognised."""

    column: Column
    parsed: pl.Expr
    bad_type: pl.Expr | None
    expected: str

    @property
    def parsed_name(self) -> str:
        return f"__parsed_{self.column.name}"

    @property
    def type_flag(self) -> str:
        return f"__bad_type_{self.column.name}"

    @property
    def null_flag(self) -> str:
        return f"__bad_null_{self.column.name}"

    @property
    def checks_null(self) -> bool:
        return self.column.required and self.column.default is None


def _expected(dtype: pl.DataType) -> str:
    if dtype == pl.Date:
        return "a date YYYY-MM-DD"
    if dtype == pl.Int64:
        return "a whole number"
    if dtype == pl.Float64:
        return "a finite number"
    return f"a value of type {dtype}"


def _int_from_float(f: pl.Expr) -> pl.Expr:
    """`f` as Int64 where it is an exact whole number (e.g. `12.0`), else null."""
    exact = f.is_finite() & (f == f.round(0)) & (f.abs() < _MAX_EXACT_INT)
    return pl.when(exact).then(f.cast(pl.Int64))


def _cell_check(column: Column, source: pl.DataType) -> _CellCheck:
    """Parse `column` from a source column of dtype `source`; non-strict casts find the bad cells."""
    target, raw = column.dtype, pl.col(column.name)
    expected = _expected(target)
    if source == target and target != pl.Float64:
        return _CellCheck(column, raw, None, expected)
    if source == pl.String and target != pl.String:
        stripped = raw.str.strip_chars()
        raw = pl.when(stripped != "").then(stripped)
        if target == pl.Date:
            parsed = raw.str.to_date("%Y-%m-%d", strict=False)
        elif target == pl.Int64:
            parsed = pl.coalesce(
                raw.cast(pl.Int64, strict=False), _int_from_float(raw.cast(pl.Float64, strict=False))
            )
        else:
            parsed = raw.cast(target, strict=False)
    elif target == pl.Int64 and source.is_float():
        parsed = _int_from_float(raw)
    else:
        parsed = raw.cast(target, strict=False)
    bad = raw.is_not_null() & parsed.is_null()
    if target == pl.Float64:
        bad = bad | parsed.is_finite().not_().fill_null(False)
        parsed = pl.when(parsed.is_finite()).then(parsed)
    return _CellCheck(column, parsed, bad, expected)


def _read_failure(path: Path, exc: Exception) -> LoadError:
    kind = "Parquet" if path.suffix == ".parquet" else "CSV"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return LoadError(LoadIssue(str(path), f"cannot read {kind} file: {detail}"))


def _scan(path: Path) -> pl.LazyFrame:
    """A lazy scan of a table file: CSV cells as text, Parquet with its own dtypes."""
    if not path.is_file():
        raise LoadError(LoadIssue(str(path), "file not found"))
    if path.suffix == ".parquet":
        return pl.scan_parquet(path)
    if path.suffix == ".csv":
        if path.stat().st_size == 0:
            raise LoadError(
                LoadIssue(
                    str(path), "empty file: no header line", expected="a header line naming the columns"
                )
            )
        return pl.scan_csv(path, infer_schema=False, encoding="utf8")
    raise LoadError(LoadIssue(str(path), "unknown file type", expected=" or ".join(f".{f}" for f in FORMATS)))


def _source_schema(path: Path, lf: pl.LazyFrame) -> pl.Schema:
    try:
        return lf.collect_schema()
    except pl.exceptions.NoDataError as exc:
        raise LoadError(
            LoadIssue(str(path), "empty file: no header line", expected="a header line naming the columns")
        ) from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _read_failure(path, exc) from exc


def _check_columns(spec: Table, path: Path, names: list[str], warnings: list[str]) -> None:
    """Raise on missing required or repeated columns; warn about unknown and absent optional ones."""
    issues = []
    for name in names:
        match = _DUPLICATED.match(name)
        if match and match["base"] in names:
            issues.append(
                LoadIssue(str(path), "column appears more than once in the header", column=match["base"])
            )
    expected = ", ".join(spec.column_names)
    for name in spec.required_columns:
        if name not in names:
            issues.append(
                LoadIssue(
                    str(path),
                    "required column is missing",
                    line=1 if path.suffix == ".csv" else None,
                    column=name,
                    expected=f"columns {expected}",
                )
            )
    if issues:
        raise LoadError(issues)
    unknown = [n for n in names if n not in spec.column_names]
    if unknown:
        warnings.append(
            f"{path}: ignoring unknown column(s) {', '.join(map(repr, unknown))}; "
            f"table {spec.name} has columns {expected}"
        )
    absent = [c for c in spec.columns if c.name not in names]
    if absent:
        filled = ", ".join(
            f"{c.name!r} ({'default ' + repr(c.default) if c.default is not None else 'null'})"
            for c in absent
        )
        warnings.append(f"{path}: optional column(s) absent, filled: {filled}")


def _check_casts(path: Path, source: pl.Schema, checks: list[_CellCheck]) -> None:
    """Fail early, per column, when a source dtype cannot be converted at all (e.g. a list column)."""
    issues = []
    for check in checks:
        name = check.column.name
        try:
            pl.DataFrame(schema={name: source[name]}).select(check.parsed)
        except pl.exceptions.PolarsError:
            issues.append(
                LoadIssue(
                    str(path),
                    "column has a type that cannot be converted",
                    column=name,
                    value=str(source[name]),
                    expected=check.expected,
                )
            )
    if issues:
        raise LoadError(issues)


def _line_number(is_csv: bool, text_columns: list[str]) -> pl.Expr:
    """The 1-based file line of each row (see the module notes), from the 0-based row index."""
    if not is_csv:
        return (pl.col(_ROW) + 1).cast(pl.Int64)
    if not text_columns:
        return (pl.col(_ROW) + 2).cast(pl.Int64)
    newlines = pl.sum_horizontal(
        pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in text_columns
    ).cast(pl.Int64)
    return pl.col(_ROW).cast(pl.Int64) + 2 + newlines.cum_sum() - newlines


def _row_key(spec: Table, names: list[str]) -> pl.Expr:
    """`col=value` of the table's key columns, joined by `, `, from the values as written."""
    key_columns = spec.key or tuple(spec.required_columns)
    parts = []
    for i, name in enumerate(key_columns):
        value = pl.col(name).cast(pl.String).fill_null("<null>") if name in names else pl.lit("<absent>")
        parts += [pl.lit(f"{', ' if i else ''}{name}="), value]
    return pl.concat_str(parts)


def _rejects(spec: Table, path: Path, bad_rows: pl.DataFrame, checks: list[_CellCheck]) -> pl.DataFrame:
    """One `DATA_QUALITY_REJECTS` row per flagged cell problem, ordered by line."""

    def rows(flag: str, rule: str, column: str, offending: pl.Expr, detail: str) -> pl.DataFrame:
        return bad_rows.filter(pl.col(flag)).select(
            source_table=pl.lit(spec.name, pl.String),
            source_file=pl.lit(str(path), pl.String),
            source_line=pl.col(_LINE),
            row_key=pl.col(_KEY),
            rule=pl.lit(rule, pl.String),
            columns=pl.lit(column, pl.String),
            offending_values=offending,
            detail=pl.lit(detail, pl.String),
            run_id=pl.lit(None, pl.String),
        )

    frames = [pl.DataFrame(schema=REJECTS_SCHEMA)]
    for check in checks:
        name = check.column.name
        if check.bad_type is not None:
            frames.append(
                rows(
                    check.type_flag,
                    f"type:{name}",
                    name,
                    pl.col(name).cast(pl.String),
                    f"{name} must be {check.expected}",
                )
            )
        if check.checks_null:
            frames.append(
                rows(
                    check.null_flag,
                    f"not_null:{name}",
                    name,
                    pl.lit(None, pl.String),
                    f"{name} is required and must not be empty",
                )
            )
    return pl.concat(frames).sort("source_line", maintain_order=True)


def load_table(path: str | Path, table_name: str) -> TableLoad:
    """Read one canonical table file (`.csv` or `.parquet`) with the schema's dtypes, never inferred.

    Raises `LoadError` for file-level problems; bad cells become reject rows (see the module notes).
    """
    spec, path = table(table_name), Path(path)
    is_csv = path.suffix == ".csv"
    lf = _scan(path)
    source = _source_schema(path, lf)
    names = list(source.names())
    warnings: list[str] = []
    _check_columns(spec, path, names, warnings)
    checks = [_cell_check(c, source[c.name]) for c in spec.columns if c.name in names]
    _check_casts(path, source, checks)

    frame = lf.with_row_index(_ROW)
    if is_csv and names:
        frame = frame.filter(~pl.all_horizontal(pl.col(n).is_null() for n in names))
    text_columns = [n for n in names if source[n] == pl.String]
    frame = frame.with_columns(
        *[c.parsed.alias(c.parsed_name) for c in checks],
        _line_number(is_csv, text_columns).alias(_LINE),
    )
    flags = []
    for c in checks:
        if c.bad_type is not None:
            flags.append(c.bad_type.alias(c.type_flag))
        if c.checks_null:
            null = pl.col(c.parsed_name).is_null()
            flags.append((null & ~c.bad_type if c.bad_type is not None else null).alias(c.null_flag))
    frame = frame.with_columns(flags)
    any_bad = pl.any_horizontal(pl.col(f.meta.output_name()) for f in flags) if flags else pl.lit(False)
    good = conform(
        frame.filter(~any_bad).select(pl.col(c.parsed_name).alias(c.column.name) for c in checks), spec.name
    )
    bad = frame.filter(any_bad).with_columns(_row_key(spec, names).alias(_KEY))
    try:
        good_df, bad_df = pl.collect_all([good, bad])
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _read_failure(path, exc) from exc

    rejects = _rejects(spec, path, bad_df, checks)
    received = good_df.height + bad_df.height
    if received == 0:
        warnings.append(f"{path}: table {spec.name} has no rows")
    if bad_df.height:
        warnings.append(
            f"{path}: {bad_df.height} of {received} row(s) rejected ({rejects.height} problem(s)); "
            "see data_quality_rejects"
        )
    return TableLoad(spec.name, path, good_df, rejects, warnings, received)


def _table_files(directory: Path) -> tuple[dict[str, Path], list[LoadIssue]]:
    """The file of each canonical table present, and the issues: missing required tables, doubles."""
    found: dict[str, Path] = {}
    issues = []
    for spec in TABLES:
        candidates = [directory / f"{spec.name}.{fmt}" for fmt in FORMATS]
        present = [p for p in candidates if p.is_file()]
        if len(present) > 1:
            issues.append(
                LoadIssue(
                    str(directory),
                    f"table {spec.name} is given twice: {' and '.join(str(p) for p in present)}",
                    expected="exactly one file per table",
                )
            )
        elif present:
            found[spec.name] = present[0]
        elif not spec.optional:
            issues.append(
                LoadIssue(
                    str(directory),
                    f"required table {spec.name} is missing",
                    expected=" or ".join(p.name for p in candidates),
                )
            )
    return found, issues


def _unknown_file_warnings(directory: Path) -> list[str]:
    known = {f"{spec.name}.{fmt}" for spec in TABLES for fmt in FORMATS} | {PLANS_DIR}
    table_names = {spec.name for spec in TABLES}
    warnings = []
    for entry in sorted(directory.iterdir()):
        if entry.name in known or entry.name.startswith("."):
            continue
        hint = ""
        if entry.name.split(".")[0] in table_names:
            stem = entry.name.split(".")[0]
            hint = f" (table {stem} is read only from {stem}.csv or {stem}.parquet)"
        warnings.append(f"{entry}: not a canonical table file; ignored{hint}")
    return warnings


def load_canonical_dir(directory: str | Path) -> LoadResult:
    """Read a canonical folder: every table file (`<table>.csv` or `.parquet`) and `plans/*.yaml`.

    Raises `LoadError` listing every folder- and file-level problem, or `PlanError` for bad plan files.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise LoadError(
            LoadIssue(str(directory), "not a folder", expected="a folder of <table>.csv|parquet and plans/")
        )
    found, issues = _table_files(directory)
    plans_dir = directory / PLANS_DIR
    if not plans_dir.is_dir() or not [*plans_dir.glob("*.yaml"), *plans_dir.glob("*.yml")]:
        issues.append(
            LoadIssue(str(plans_dir), "no plan files", expected=f"{PLANS_DIR}/<plan_id>.yaml files")
        )
    if issues:
        raise LoadError(issues)
    warnings = _unknown_file_warnings(directory)
    plans = read_plans(plans_dir)

    loads: dict[str, TableLoad] = {}
    for name, path in found.items():
        try:
            loads[name] = load_table(path, name)
        except LoadError as exc:
            issues.extend(exc.issues)
    if issues:
        raise LoadError(issues)

    for load in loads.values():
        warnings.extend(load.warnings)
    data = CanonicalData(
        tables={name: load.data for name, load in loads.items()},
        plans=plans,
        given_commission_lines="commission_lines" in loads,
        warnings=list(warnings),
    )
    rejects = pl.concat([pl.DataFrame(schema=REJECTS_SCHEMA), *(load.rejects for load in loads.values())])
    received = {spec.name: loads[spec.name].received if spec.name in loads else 0 for spec in TABLES}
    return LoadResult(data, rejects, warnings, received)
