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
- Every CSV record must have as many fields as the header: a short or long record (a lost field, an
  unquoted line break splitting a row) is rejected whole with rule `row_shape` ("short row: 7 fields,
  expected 8"), see `compscore.csv_rows`. A table path that is not a regular file (a directory, a FIFO,
  a symlink loop) is a file-level error saying so; it is never opened.
- Numbers must be finite and at most `MAX_ABS_NUMBER` (1e12) in magnitude, else a type reject.
- A timezone-aware Parquet timestamp in a date column is taken as its local (wall-clock) date in its own
  zone, with a warning naming file and column; a naive one as its date.
- CSV cells are read as text, then each column is parsed strictly: dates are ISO `YYYY-MM-DD`; numbers and
  dates may carry surrounding spaces; a whole number may be written `12.0`; empty cells are null. A row
  whose cells are all empty (a blank line) holds no data and is skipped.
- Parquet columns already of the canonical dtype are taken as they are (only required columns are checked
  for nulls, and floats for NaN/infinity); other dtypes are cast: Int32 -> Int64, a whole float -> Int64,
  a datetime -> its date, text -> parsed as in a CSV. A value that does not convert is a type reject.
  A Parquet file that needs none of this (`stored_as_loaded`) can be used as it is stored, unread, by a
  caller that needs its rows on disk (`stored_or_loaded_tables`).
- `source_line` is the 1-based line of the row in a CSV (header = line 1; quoted cells spanning several
  lines are counted), and the 1-based row number in a Parquet file.
- Ids are compared exactly (case-sensitively); key values of one table that differ only by case (`D1`,
  `d1`) stay different rows, with a warning naming a few of them.
- Unknown columns are ignored with a warning; absent optional columns are filled with their default (or
  null) with a warning; files in the folder that are not canonical tables are ignored with a warning
  (hidden files, whose name starts with `.`, are ignored silently).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from compscore.canonical_io import FORMATS
from compscore.csv_rows import MAX_SHOWN_CHARS, ShapeProblem, read_strict_csv, record_lines
from compscore.dataset import CanonicalData
from compscore.errors import LoadError, LoadIssue
from compscore.plans import Plan, read_plans
from compscore.safe_paths import not_regular_file, present
from compscore.schema import (
    DATA_QUALITY_REJECTS,
    INCOMING_DIR,
    MAX_ABS_NUMBER,
    MAX_ABS_NUMBER_TEXT,
    PLANS_DIR,
    SCENARIOS_DIR,
    TABLES,
    Table,
    conform,
    table,
)

REJECTS_SCHEMA: pl.Schema = DATA_QUALITY_REJECTS.polars_schema
_ROW = "__row"
_LINE = "__line"
_KEY = "__key"
_MAX_EXACT_INT = 2.0**53
_DUPLICATED = re.compile(r"^(?P<base>.*)_duplicated_\d+$")


@dataclass(frozen=True)
class StoredTable:
    """A Parquet table file that `load_table` would return unchanged: read nothing but what proved it
    (`stored_as_loaded`), so that a caller that only needs its rows on disk can use the file itself."""

    table: str
    file: Path
    height: int
    warnings: list[str]


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
class _Flag:
    """A boolean column over the rows marking one rule's failures, and how to report them."""

    name: str
    rule: str
    column: str
    offending: pl.Expr
    detail: str


def _expected(dtype: pl.DataType) -> str:
    if dtype == pl.Date:
        return "a date YYYY-MM-DD"
    if dtype == pl.Int64:
        return "a whole number"
    if dtype == pl.Float64:
        return f"a finite number of magnitude at most {MAX_ABS_NUMBER_TEXT}"
    return f"a value of type {dtype}"


def _int_from_float(f: pl.Series) -> pl.Series:
    """`f` as Int64 where it is an exact whole number (e.g. `12.0`), else null."""
    exact = f.is_finite() & (f == f.round(0)) & (f.abs() < _MAX_EXACT_INT)
    return pl.select(pl.when(exact).then(f.cast(pl.Int64, strict=False))).to_series().alias(f.name)


def _parse_text(text: pl.Series, target: pl.DataType) -> pl.Series:
    """Text cells as `target`; null where a cell does not parse."""
    if target == pl.Date:
        return text.str.to_date("%Y-%m-%d", strict=False)
    if target == pl.Int64:
        ints = text.cast(pl.Int64, strict=False)
        if (ints.is_null() & text.is_not_null()).any():
            ints = ints.fill_null(_int_from_float(text.cast(pl.Float64, strict=False)))
        return ints
    return text.cast(target, strict=False)


def _convert(source: pl.Series, target: pl.DataType) -> tuple[pl.Series, pl.Series | None]:
    """`source` as `target`, and a mask of the present values that could not be converted (None: none can
    fail). Text gets a second chance without surrounding spaces, only for the cells that failed, so the
    common clean file is parsed once; a cell of spaces only is null."""
    if source.dtype == target and target != pl.Float64:
        return source, None
    if source.dtype == pl.String and target != pl.String:
        parsed = _parse_text(source, target)
        bad = source.is_not_null() & parsed.is_null()
        if bad.any():
            rows = bad.arg_true()
            stripped = source.gather(rows).str.strip_chars()
            stripped = pl.select(pl.when(stripped != "").then(stripped)).to_series()
            retried = _parse_text(stripped, target)
            parsed = parsed.scatter(rows, retried)
            bad = bad.scatter(rows, stripped.is_not_null() & retried.is_null())
    elif target == pl.Int64 and source.dtype.is_float():
        parsed = _int_from_float(source)
        bad = source.is_not_null() & parsed.is_null()
    else:
        parsed = source.cast(target, strict=False)
        bad = source.is_not_null() & parsed.is_null()
    if target == pl.Float64:
        not_finite = (~parsed.is_finite() | (parsed.abs() > MAX_ABS_NUMBER)).fill_null(False)
        if not_finite.any():
            bad = bad | not_finite
            parsed = pl.select(pl.when(~not_finite).then(parsed)).to_series()
    return parsed, bad


def _read_failure(path: Path, exc: Exception) -> LoadError:
    kind = "Parquet" if path.suffix == ".parquet" else "CSV"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return LoadError(LoadIssue(str(path), f"cannot read {kind} file: {detail}"))


def _no_header(path: Path) -> LoadError:
    return LoadError(
        LoadIssue(str(path), "empty file: no header line", expected="a header line naming the columns")
    )


def _read(path: Path) -> tuple[pl.DataFrame, list[ShapeProblem]]:
    """A table file as read: CSV cells as text (never inferred), Parquet with its own dtypes; and the CSV
    records with the wrong number of fields, set aside (see `compscore.csv_rows`)."""
    if (why := not_regular_file(path)) is not None:
        raise LoadError(LoadIssue(str(path), why))
    if path.suffix not in {f".{fmt}" for fmt in FORMATS}:
        raise LoadError(
            LoadIssue(str(path), "unknown file type", expected=" or ".join(f".{f}" for f in FORMATS))
        )
    try:
        if path.suffix == ".parquet":
            return pl.read_parquet(path), []
        if path.stat().st_size == 0:
            raise _no_header(path)
        strict = read_strict_csv(path)
        return strict.data, strict.problems
    except pl.exceptions.NoDataError as exc:
        raise _no_header(path) from exc
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError, UnicodeDecodeError) as exc:
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


def _newline_count(path: Path) -> tuple[int, bool]:
    """How many `\\n` a file holds, and whether it ends with one; read in chunks to keep memory flat."""
    count, last = 0, b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            count, last = count + chunk.count(b"\n"), chunk[-1:]
    return count, last == b"\n"


def _record_lines(
    path: Path, read: pl.DataFrame, text_columns: list[str], skipped: list[ShapeProblem]
) -> tuple[pl.Series, list[int | None]]:
    """The 1-based file line of each row read (by its 0-based index) and of each record `skipped` for its
    shape (see the module notes).

    When the file holds one line per record plus the header, a record's line is its position + 2;
    otherwise some quoted cells span lines, and each record is shifted by the line breaks inside the cells
    of the records before it.
    """
    if path.suffix != ".csv":
        return pl.int_range(1, read.height + 1, dtype=pl.Int64, eager=True), []
    newlines, ends_with_newline = _newline_count(path)
    lines = newlines + (0 if ends_with_newline else 1)
    if lines == read.height + len(skipped) + 1 or not text_columns:
        inside = pl.repeat(0, read.height, dtype=pl.Int64, eager=True)
    else:
        inside = read.select(
            pl.sum_horizontal(
                pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in text_columns
            )
        ).to_series()
    return record_lines(inside, skipped)


def _row_key(spec: Table, names: list[str]) -> pl.Expr:
    """`col=value` of the table's key columns, joined by `, `, from the values as written."""
    key_columns = spec.key or tuple(spec.required_columns)
    parts = []
    for i, name in enumerate(key_columns):
        value = pl.col(name).cast(pl.String).fill_null("<null>") if name in names else pl.lit("<absent>")
        parts += [pl.lit(f"{', ' if i else ''}{name}="), value]
    return pl.concat_str(parts)


def _shape_rejects(
    spec: Table, path: Path, problems: list[ShapeProblem], lines: list[int | None]
) -> pl.DataFrame:
    """One `DATA_QUALITY_REJECTS` row per record with the wrong number of fields (rule `row_shape`)."""
    n = len(problems)
    return pl.DataFrame(
        {
            "source_table": [spec.name] * n,
            "source_file": [str(path)] * n,
            "source_line": lines,
            "row_key": [f"<unparsed row at line {line}>" for line in lines],
            "rule": ["row_shape"] * n,
            "columns": [None] * n,
            "offending_values": [p.text[:MAX_SHOWN_CHARS] for p in problems],
            "detail": [p.detail for p in problems],
            "run_id": [None] * n,
        },
        schema=REJECTS_SCHEMA,
    )


def _as_wall_clock(source: pl.Series, target: pl.DataType, path: Path, warnings: list[str]) -> pl.Series:
    """A timezone-aware timestamp column meant as a date, as its wall-clock time in its own zone.

    The date a CRM shows is the local one: a deal closed at 20:00 in New York on 31 January closed on
    31 January, not on 1 February (its UTC date). Said once per column, as a warning naming file and column.
    """
    zone = getattr(source.dtype, "time_zone", None)
    if target != pl.Date or not isinstance(source.dtype, pl.Datetime) or zone is None:
        return source
    warnings.append(
        f"{path}: column {source.name!r} holds timestamps with time zone {zone}; "
        "each is taken as its local date in that zone"
    )
    return source.dt.replace_time_zone(None)


def _has_case_twins(ids: pl.Series) -> bool:
    """True when two of `ids` differ only by case. ASCII ids can only when one holds an upper-case letter
    and another a lower-case one, which quick scans rule out for most exports (generated and most CRM ids
    have one case) without a copy of the ids: first whether any id is not ASCII (more bytes than
    characters), then whether any holds a lower-case letter, then an upper-case one, each scan only when
    the one before did not decide (at 18M deal ids: 0.6 s instead of 1.4 s for all three scans).
    Otherwise (`_has_folded_twins`) by the hashes of the ids folded to lower case."""
    found = ids.to_frame("id").lazy()
    non_ascii, *letters = _twin_signs("id")
    if found.select(non_ascii).collect().item():
        return _has_folded_twins(ids)
    for case in letters:
        if not found.select(case).collect().item():
            return False
    return _has_folded_twins(ids)


def _twin_signs(column: str) -> list[pl.Expr]:
    """Whether any id of `column` is not ASCII, whether any holds a lower-case letter, whether any holds
    an upper-case one (`_twins_possible` says what they mean). The letters are looked for as literal
    substrings (Aho-Corasick), not with the regex `[a-z]`: at 18M deal ids both scans took 0.9 s of CPU
    instead of 1.2-1.4 s."""
    text = pl.col(column).str
    return [
        (text.len_bytes() != text.len_chars()).any().alias("non_ascii"),
        text.contains_any(list(string.ascii_lowercase)).any().alias("lower"),
        text.contains_any(list(string.ascii_uppercase)).any().alias("upper"),
    ]


def _twins_possible(non_ascii: bool, lower: bool, upper: bool) -> bool:
    """Whether ids with these signs (`_twin_signs`) can differ only by case."""
    return non_ascii or (lower and upper)


def _has_folded_twins(ids: pl.Series) -> bool:
    """True when fewer of `ids` are distinct once folded to lower case. Two such ids have the same folded
    hash, so only the ids whose folded hash repeats (none, for most exports; an exact duplicate, a hash
    collision) are counted with and without case. Sorting the 64-bit hashes, computed by the streaming
    engine without a folded copy of the ids, is several times cheaper than counting the distinct texts
    twice (3M statement-line ids, which mix cases: 0.3 s instead of 3.7 s)."""
    folded_hash = pl.col("id").str.to_lowercase().hash()
    hashes = ids.to_frame("id").lazy().select(folded_hash).collect(engine="streaming").to_series()
    ordered = hashes.sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    if repeated.len() == 0:
        return False
    candidates = ids.filter(hashes.is_in(repeated.implode())).to_frame("id")
    exact, folded = candidates.select(
        pl.col("id").n_unique(), pl.col("id").str.to_lowercase().n_unique().alias("folded")
    ).row(0)
    return folded < exact


def _case_twins(spec: Table, path: Path, good: pl.DataFrame) -> str | None:
    """A warning when ids of the table's (single, text) key differ only by case, e.g. `D1` and `d1`.

    Ids are compared exactly, as every source system does, so such rows stay two rows; but a CRM export
    that changed case is a likely cause, so the user is told which ids to check.
    """
    if len(spec.key) != 1 or good.schema.get(spec.key[0]) != pl.String:
        return None
    if not _has_case_twins(good.get_column(spec.key[0])):
        return None
    ids = good.get_column(spec.key[0]).drop_nulls().unique()
    folded = ids.str.to_lowercase()
    twins = ids.filter(folded.is_duplicated()).sort().head(6).to_list()
    return (
        f"{path}: {spec.key[0]} values differ only by case (e.g. {', '.join(map(repr, twins))}); "
        "ids are compared exactly, so they are kept as different rows"
    )


def _rejects(spec: Table, path: Path, bad_rows: pl.DataFrame, flags: list[_Flag]) -> pl.DataFrame:
    """One `DATA_QUALITY_REJECTS` row per flagged cell problem, ordered by line."""
    frames = [pl.DataFrame(schema=REJECTS_SCHEMA)]
    for flag in flags:
        frames.append(
            bad_rows.filter(pl.col(flag.name)).select(
                source_table=pl.lit(spec.name, pl.String),
                source_file=pl.lit(str(path), pl.String),
                source_line=pl.col(_LINE),
                row_key=pl.col(_KEY),
                rule=pl.lit(flag.rule, pl.String),
                columns=pl.lit(flag.column, pl.String),
                offending_values=flag.offending,
                detail=pl.lit(flag.detail, pl.String),
                run_id=pl.lit(None, pl.String),
            )
        )
    return pl.concat(frames).sort("source_line", maintain_order=True)


def load_table(path: str | Path, table_name: str) -> TableLoad:
    """Read one canonical table file (`.csv` or `.parquet`) with the schema's dtypes, never inferred.

    Raises `LoadError` for file-level problems; bad cells become reject rows (see the module notes).
    """
    spec, path = table(table_name), Path(path)
    is_csv = path.suffix == ".csv"
    raw, misshapen = _read(path)
    names = raw.columns
    warnings: list[str] = []
    _check_columns(spec, path, names, warnings)

    raw = raw.with_row_index(_ROW)
    read = raw
    if is_csv and names:
        blank = raw.select(pl.all_horizontal(pl.col(n).is_null() for n in names)).to_series()
        if blank.any():
            raw = raw.filter(~blank)

    parsed, masks, flags = _parse_columns(spec, path, raw, names, warnings)

    is_bad = (
        pl.DataFrame(list(masks.values())).select(pl.any_horizontal(pl.all())).to_series()
        if masks
        else pl.select(pl.repeat(False, raw.height, dtype=pl.Boolean)).to_series()
    )
    n_bad = int(is_bad.sum())
    parsed_df = pl.DataFrame(list(parsed.values()))
    # A clean table (the common case) is conformed in place: its columns are not copied, which at 18M
    # deals is a whole table less at the load's peak.
    good_df = conform(parsed_df.filter(~is_bad) if n_bad else parsed_df, spec.name).collect(
        engine="in-memory"
    )
    del parsed_df
    rejects = pl.DataFrame(schema=REJECTS_SCHEMA)
    if n_bad or misshapen:
        text_columns = [n for n in names if raw.schema[n] == pl.String]
        read_lines, skipped_lines = _record_lines(path, read, text_columns, misshapen)
    if n_bad:
        bad_rows = (
            raw.with_columns(
                read_lines.gather(raw.get_column(_ROW)).alias(_LINE),
                *masks.values(),
            )
            .filter(is_bad)
            .with_columns(_row_key(spec, names).alias(_KEY))
        )
        rejects = _rejects(spec, path, bad_rows, flags)
    if misshapen:
        rejects = pl.concat([rejects, _shape_rejects(spec, path, misshapen, skipped_lines)]).sort(
            "source_line", maintain_order=True
        )
        n_bad += len(misshapen)
    received = good_df.height + n_bad
    if (twins := _case_twins(spec, path, good_df)) is not None:
        warnings.append(twins)
    if received == 0:
        warnings.append(f"{path}: table {spec.name} has no rows")
    if n_bad:
        warnings.append(
            f"{path}: {n_bad} of {received} row(s) rejected ({rejects.height} problem(s)); "
            "see data_quality_rejects"
        )
    return TableLoad(spec.name, path, good_df, rejects, warnings, received)


def stored_as_loaded(path: str | Path, table_name: str) -> StoredTable | None:
    """The Parquet file `path` as a `StoredTable` when `load_table` would give its rows unchanged, without
    reading it whole; None otherwise (then `load_table` reads it and says why).

    That is when the file holds exactly the table's columns, in schema order, each of its canonical dtype
    (nothing to convert, warn about or fill in), and no cell `load_table` rejects or changes: no null in a
    required column without a default, no non-finite or too large number (`MAX_ABS_NUMBER`), and no null
    in a column with a default (which `conform` would fill). One streaming pass counts those cells and
    looks for signs of ids that differ only by case (`_twin_signs`); only when it finds them is the key
    column read for the case-twin warning, as `load_table` gives it. At 18M deals this costs about a
    second, where reading the file whole and writing it again cost about seven."""
    spec, path = table(table_name), Path(path)
    if path.suffix != ".parquet" or not_regular_file(path) is not None:
        return None
    try:
        schema = pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError):
        return None
    if list(schema.items()) != [(c.name, c.dtype) for c in spec.columns]:
        return None
    changed = [pl.col(c.name).is_null() for c in spec.columns if c.required or c.default is not None]
    changed += [
        (~pl.col(c.name).is_finite() | (pl.col(c.name).abs() > MAX_ABS_NUMBER)).fill_null(False)
        for c in spec.columns
        if c.dtype == pl.Float64
    ]
    text_key = len(spec.key) == 1 and schema[spec.key[0]] == pl.String
    signs = _twin_signs(spec.key[0]) if text_key else []
    scan = pl.scan_parquet(path)
    # `changed` is never empty: every table has a required column.
    counted = scan.select(pl.len(), pl.any_horizontal(changed).sum(), *signs)
    height, changed_rows, *found = counted.collect(engine="streaming").row(0)
    if changed_rows:
        return None
    warnings = []
    if found and _twins_possible(*found):
        keys = scan.select(spec.key).collect(engine="streaming")
        if (twins := _case_twins(spec, path, keys)) is not None:
            warnings.append(twins)
    if height == 0:
        warnings.append(f"{path}: table {spec.name} has no rows")
    return StoredTable(spec.name, path, height, warnings)


def largest_row_group(path: str | Path) -> int:
    """Rows of the largest row group of the Parquet file `path` (0 when it has none), from its footer."""
    metadata = pq.read_metadata(path)
    return max((metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)), default=0)


def _parse_columns(
    spec: Table, path: Path, raw: pl.DataFrame, names: list[str], warnings: list[str]
) -> tuple[dict[str, pl.Series], dict[str, pl.Series], list[_Flag]]:
    """Each schema column of the file converted to its dtype, plus a mask and a flag per kind of bad cell
    (wrong type; required but empty). Raises `LoadError` when a whole column cannot be converted; a
    timezone-aware date column is read as wall-clock dates, with a warning in `warnings`."""
    parsed: dict[str, pl.Series] = {}
    masks: dict[str, pl.Series] = {}
    flags: list[_Flag] = []
    issues = []
    for column in spec.columns:
        if column.name not in names:
            continue
        name, source = column.name, _as_wall_clock(raw[column.name], column.dtype, path, warnings)
        try:
            value, bad_type = _convert(source, column.dtype)
        except pl.exceptions.PolarsError:
            issues.append(
                LoadIssue(
                    str(path),
                    "column has a type that cannot be converted",
                    column=name,
                    value=str(source.dtype),
                    expected=_expected(column.dtype),
                )
            )
            continue
        parsed[name] = value.alias(name)
        if bad_type is not None:
            flag = _Flag(
                f"__type_{name}",
                f"type:{name}",
                name,
                pl.col(name).cast(pl.String),
                f"{name} must be {_expected(column.dtype)}",
            )
            masks[flag.name] = bad_type.alias(flag.name)
            flags.append(flag)
        if column.required and column.default is None:
            flag = _Flag(
                f"__null_{name}",
                f"not_null:{name}",
                name,
                pl.lit(None, pl.String),
                f"{name} is required and must not be empty",
            )
            missing = value.is_null()
            masks[flag.name] = (missing & ~bad_type if bad_type is not None else missing).alias(flag.name)
            flags.append(flag)
    if issues:
        raise LoadError(issues)
    return parsed, masks, flags


def _table_files(
    directory: Path, may_be_absent: Collection[str] = ()
) -> tuple[dict[str, Path], list[LoadIssue]]:
    """The file of each canonical table present, and the issues: missing required tables, doubles."""
    found: dict[str, Path] = {}
    issues = []
    for spec in TABLES:
        candidates = [directory / f"{spec.name}.{fmt}" for fmt in FORMATS]
        given = [p for p in candidates if present(p)]
        if len(given) > 1:
            issues.append(
                LoadIssue(
                    str(directory),
                    f"table {spec.name} is given twice: {' and '.join(str(p) for p in given)}",
                    expected="exactly one file per table",
                )
            )
        elif given:
            found[spec.name] = given[0]
        elif not spec.optional and spec.name not in may_be_absent:
            issues.append(
                LoadIssue(
                    str(directory),
                    f"required table {spec.name} is missing",
                    expected=" or ".join(p.name for p in candidates),
                )
            )
    return found, issues


def _unknown_file_warnings(directory: Path) -> list[str]:
    """A warning per file the loader will not read; hidden files and READMEs are expected and pass."""
    folders = {PLANS_DIR, INCOMING_DIR, SCENARIOS_DIR}
    known = {f"{spec.name}.{fmt}" for spec in TABLES for fmt in FORMATS} | folders
    table_names = {spec.name for spec in TABLES}
    warnings = []
    for entry in sorted(directory.iterdir()):
        if entry.name in known or entry.name.startswith(".") or entry.name.upper().startswith("README"):
            continue
        hint = ""
        if entry.name.split(".")[0] in table_names:
            stem = entry.name.split(".")[0]
            hint = f" (table {stem} is read only from {stem}.csv or {stem}.parquet)"
        warnings.append(f"{entry}: not a canonical table file; ignored{hint}")
    return warnings


@dataclass
class CanonicalFolder:
    """A canonical folder checked at folder level, its tables not read yet: the file of each table present,
    the parsed plans and the folder's own warnings (files that are not canonical tables)."""

    directory: Path
    files: dict[str, Path]
    """Canonical table -> its file, in `TABLES` order; absent optional tables are not in it."""
    plans: dict[str, Plan]
    warnings: list[str]

    @property
    def given_commission_lines(self) -> bool:
        return "commission_lines" in self.files


def open_canonical_dir(directory: str | Path, may_be_absent: Collection[str] = ()) -> CanonicalFolder:
    """The folder-level part of `load_canonical_dir`: which table files there are, and the plans.

    Raises `LoadError` for a folder that is not one, missing required tables, tables given twice or no
    plan files (every one of them at once), or `PlanError` for bad plan files.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise LoadError(
            LoadIssue(str(directory), "not a folder", expected="a folder of <table>.csv|parquet and plans/")
        )
    found, issues = _table_files(directory, may_be_absent)
    plans_dir = directory / PLANS_DIR
    if not plans_dir.is_dir() or not [*plans_dir.glob("*.yaml"), *plans_dir.glob("*.yml")]:
        issues.append(
            LoadIssue(str(plans_dir), "no plan files", expected=f"{PLANS_DIR}/<plan_id>.yaml files")
        )
    if issues:
        raise LoadError(issues)
    warnings = _unknown_file_warnings(directory)
    return CanonicalFolder(directory, found, read_plans(plans_dir), warnings)


def load_tables(folder: CanonicalFolder) -> Iterator[TableLoad]:
    """Each table file of `folder` read with `load_table`, one at a time, in `TABLES` order.

    A file-level problem does not stop the reading: the other tables are still read (and yielded), and one
    `LoadError` listing the problems of every file is raised after the last, so the user sees them all.
    """
    return _each_table(folder, load_table)


def stored_or_loaded_tables(folder: CanonicalFolder) -> Iterator[StoredTable | TableLoad]:
    """`load_tables`, except that a Parquet file `load_table` would give unchanged is not read: it comes
    as a `StoredTable` (`stored_as_loaded`), for a caller that needs the rows on disk, not in memory."""
    return _each_table(folder, _stored_or_loaded)


def _stored_or_loaded(path: Path, table_name: str) -> StoredTable | TableLoad:
    return stored_as_loaded(path, table_name) or load_table(path, table_name)


_Read = TypeVar("_Read", TableLoad, StoredTable | TableLoad)


def _each_table(folder: CanonicalFolder, read: Callable[[Path, str], _Read]) -> Iterator[_Read]:
    """`read` of each table file of `folder`, as `load_tables` describes."""
    issues: list[LoadIssue] = []
    for name, path in folder.files.items():
        try:
            load = read(path, name)
        except LoadError as exc:
            issues.extend(exc.issues)
            continue
        yield load
        del load  # released before the next table is read, if the caller let go of it too
    if issues:
        raise LoadError(issues)


def load_canonical_dir(directory: str | Path, may_be_absent: Collection[str] = ()) -> LoadResult:
    """Read a canonical folder: every table file (`<table>.csv` or `.parquet`) and `plans/*.yaml`.

    Tables named in `may_be_absent` are treated as optional for this read (absent: zero rows), for callers
    that get them elsewhere, e.g. the monthly drops of the event tables (`assets/raw.py`).

    Raises `LoadError` listing every folder- and file-level problem, or `PlanError` for bad plan files.
    """
    folder = open_canonical_dir(directory, may_be_absent)
    loads = {load.table: load for load in load_tables(folder)}
    warnings = [*folder.warnings, *(w for load in loads.values() for w in load.warnings)]
    data = CanonicalData(
        tables={name: load.data for name, load in loads.items()},
        plans=folder.plans,
        given_commission_lines=folder.given_commission_lines,
        warnings=list(warnings),
    )
    rejects = pl.concat([pl.DataFrame(schema=REJECTS_SCHEMA), *(load.rejects for load in loads.values())])
    received = {spec.name: loads[spec.name].received if spec.name in loads else 0 for spec in TABLES}
    return LoadResult(data, rejects, warnings, received)
