"""The warehouse: one Parquet file per table plus one embedded DuckDB database with the same tables.

Layout of a warehouse folder:

    <root>/<name>.parquet       one file per table (what the pipeline reads back)
    <root>/compscore.duckdb     one table per Parquet file, for finance's SQL tools, in the schema of its
                                layer (`raw`, `validated`, `quality`, `marts`, `scores`, `incoming`), with
                                table and column comments
    <root>/objects/<name>.json  outputs that are not tables (e.g. the parsed plans), as tagged JSON
                                (`compscore.stored_objects`); never pickle, which would run code on read
    <root>/.staging/            temporary files of writes in progress

Writes are atomic: a table is written to a temporary Parquet file and moved over the old one with
`os.replace`, so a write that fails at any point leaves the previous Parquet file as it was.

The DuckDB database is written by one call only, `publish_database`, never by the table writes: each write
leaves a note in `<root>/.catalog/` (the table's layer, comments and views), and `publish_database` loads
every noted table from its Parquet file(s) into DuckDB in one transaction, then clears the notes it
loaded. Tables of one publish that are one file (hard links) are loaded once: the others are views of it
(`SHARED_FILES`). So steps running in parallel, on several machines, only ever write Parquet files; DuckDB (a
single-writer file) is written by the one step at the end of a job (`assets/database.py`), and finance
never sees half a run. The publish holds an exclusive lock on `<root>/.compscore.duckdb.lock`; if another
program (say a `duckdb` shell) holds the database, it retries for `LOCK_TIMEOUT_S` seconds and then fails
with a clear message, leaving the notes for the next publish.

A table written with a `layer` lives in the DuckDB schema of that name only (a table of the same name left
in `main` by an older layout is dropped); without one it lives in `main`. `write_run` keeps every run of a
table (one partition per run id) and two views on it: `<layer>.<name>_history` (every run) and
`<layer>.latest_<name>` (the last run by `scored_at`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from compscore import stored_objects

DUCKDB_FILE = "compscore.duckdb"
LOCK_FILE = ".compscore.duckdb.lock"
OBJECTS_DIR = "objects"
OBJECT_SUFFIX = ".json"
STAGING_DIR = ".staging"
CATALOG_DIR = ".catalog"
LOCK_TIMEOUT_S = 60.0
ENV_VAR = "COMPSCORE_WAREHOUSE"
DEFAULT_DIR = "data/warehouse"
REPO_ROOT = Path(__file__).resolve().parents[1]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARTITION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class WrittenTable:
    """What `write_table` wrote: where, how many rows, with which columns."""

    name: str
    parquet_path: Path
    duckdb_path: Path
    row_count: int
    schema: pl.Schema
    layer: str = "main"
    """The DuckDB schema holding the table."""
    view_of: str | None = None
    """`<layer>.<name>` of the table this one is a view of in DuckDB (one file, stored once), if it is."""


class WarehouseError(RuntimeError):
    """A warehouse read or write that cannot be done, with the path and the reason."""


MAIN_SCHEMA = "main"


@dataclass(frozen=True)
class Comments:
    """What finance reads in their SQL tool: a table's description and its columns' (`COMMENT ON`)."""

    table: str | None = None
    columns: dict[str, str] | None = None


def resolve_dir(path: str | Path | None = None) -> Path:
    """The warehouse folder: `path`, else $COMPSCORE_WAREHOUSE, else data/warehouse; relative to the repo."""
    chosen = Path(path if path is not None else os.environ.get(ENV_VAR) or DEFAULT_DIR).expanduser()
    return chosen if chosen.is_absolute() else REPO_ROOT / chosen


def parquet_path(name: str, root: str | Path | None = None) -> Path:
    return resolve_dir(root) / f"{_checked(name)}.parquet"


def duckdb_path(root: str | Path | None = None) -> Path:
    return resolve_dir(root) / DUCKDB_FILE


@dataclass(frozen=True)
class ParquetFile:
    """A finished Parquet file to become a table's file as it is: `write_table` moves it into place instead
    of reading and encoding its rows again. For a step that has already written the table to a private
    folder of the warehouse (`raw_source`'s spill files, `validated`'s clean tables): at 10M statement
    lines that second write was about 20 s of CPU per layer. The file is moved, so it must be the
    caller's to give away; on the warehouse's file system the move is a rename."""

    path: Path


def write_table(
    df: pl.DataFrame | pl.LazyFrame | ParquetFile,
    name: str,
    root: str | Path | None = None,
    *,
    layer: str | None = None,
    comments: Comments | None = None,
) -> WrittenTable:
    """Atomically replace table `name`'s Parquet file with `df`; DuckDB table `<layer>.<name>` follows at
    the next `publish_database`.

    A LazyFrame is streamed to disk with `sink_parquet`, so it is never collected in memory here; a
    `ParquetFile` is moved into place (its rows and schema are then read from its footer, which also
    refuses a file that is not Parquet).
    """
    folder = _folder(root)
    final = parquet_path(name, folder)
    tmp = _staging_file(folder, name, "parquet")
    schema_name = _checked(layer or MAIN_SCHEMA)
    try:
        rows, schema = _stage(df, tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _note_for_database(folder, CatalogNote(name, schema_name, False, comments))
    return WrittenTable(name, final, folder / DUCKDB_FILE, rows, schema, schema_name)


def write_partition(
    df: pl.DataFrame | pl.LazyFrame,
    name: str,
    partition: str,
    root: str | Path | None = None,
    *,
    layer: str | None = None,
    comments: Comments | None = None,
    views: list[str] | None = None,
) -> WrittenTable:
    """Atomically replace one partition of table `name`: its rows go to `<root>/<name>/<partition>.parquet`.

    At the next `publish_database`, DuckDB table `<layer>.name` is rebuilt from every stored partition, with
    the key in its first column `partition_key` (a column some partitions lack is null in those), and
    `views` (statements run after the table) are made again.
    """
    folder = _folder(root)
    final = partition_path(name, partition, folder)
    final.parent.mkdir(exist_ok=True)
    tmp = _staging_file(folder, f"{name}.{_checked_partition(partition)}", "parquet")
    schema_name = _checked(layer or MAIN_SCHEMA)
    try:
        rows, schema = _stage(df, tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _note_for_database(folder, CatalogNote(name, schema_name, True, comments, views or []))
    return WrittenTable(name, final, folder / DUCKDB_FILE, rows, schema, schema_name)


def partition_path(name: str, partition: str, root: str | Path | None = None) -> Path:
    return resolve_dir(root) / _checked(name) / f"{_checked_partition(partition)}.parquet"


def list_partitions(name: str, root: str | Path | None = None) -> list[str]:
    """The stored partition keys of a partitioned table, sorted."""
    folder = resolve_dir(root) / _checked(name)
    return sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []


def scan_partitions(
    name: str, partitions: list[str] | None = None, root: str | Path | None = None
) -> pl.LazyFrame:
    """The rows of the given partitions (all stored ones when None) of a partitioned table."""
    keys = list_partitions(name, root) if partitions is None else partitions
    paths = [partition_path(name, k, root) for k in keys]
    missing = [str(p) for p in paths if not p.exists()]
    if missing or not paths:
        raise WarehouseError(
            f"partitioned table {name!r} has no stored partition "
            f"{', '.join(missing) if missing else '(none at all)'}; materialise it first"
        )
    return pl.scan_parquet(paths)


def read_table(name: str, root: str | Path | None = None) -> pl.DataFrame:
    return scan_table(name, root).collect()


def scan_table(name: str, root: str | Path | None = None) -> pl.LazyFrame:
    """A table's rows; for a partitioned table, all its stored partitions."""
    path = parquet_path(name, root)
    if path.exists():
        return pl.scan_parquet(path)
    if list_partitions(name, root):
        return scan_partitions(name, None, root)
    raise WarehouseError(
        f"table {name!r} is not in the warehouse {path.parent} (no {path.name}); materialise its asset first"
    )


def table_file(name: str, root: str | Path | None = None) -> Path:
    """A plain table's Parquet file, for a reader that takes files (never to write to: the warehouse
    replaces it by renaming a new file over it)."""
    path = parquet_path(name, root)
    if not path.is_file():
        raise WarehouseError(
            f"table {name!r} is not in the warehouse {path.parent} (no {path.name}); "
            "materialise its asset first"
        )
    return path


def has_table(name: str, root: str | Path | None = None) -> bool:
    return parquet_path(name, root).exists() or bool(list_partitions(name, root))


def list_tables(root: str | Path | None = None) -> list[str]:
    """Names of the tables in the warehouse folder (partitioned ones included), sorted."""
    folder = resolve_dir(root)
    if not folder.is_dir():
        return []
    plain = {p.stem for p in folder.glob("*.parquet") if not p.name.startswith(".")}
    partitioned = {
        p.name
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name != OBJECTS_DIR and any(p.glob("*.parquet"))
    }
    return sorted(plain | partitioned)


def list_objects(root: str | Path | None = None) -> list[str]:
    """Names of the stored non-table outputs, sorted."""
    folder = resolve_dir(root) / OBJECTS_DIR
    return sorted(p.stem for p in folder.glob(f"*{OBJECT_SUFFIX}")) if folder.is_dir() else []


def row_count(name: str, root: str | Path | None = None) -> int:
    """Rows of a table, read from the Parquet footers (all partitions of a partitioned table)."""
    path = parquet_path(name, root)
    if path.exists():
        return pq.ParquetFile(path).metadata.num_rows
    return sum(
        pq.ParquetFile(partition_path(name, k, root)).metadata.num_rows for k in list_partitions(name, root)
    )


def duckdb_row_counts(root: str | Path | None = None) -> dict[str, int]:
    """Rows per table (by table name, whatever its schema) as DuckDB sees them (read-only connection), a
    table stored as a view of the same rows (`SHARED_FILES`) included; empty when there is no database."""
    path = duckdb_path(root)
    if not path.exists():
        return {}
    with _connect(path, read_only=True) as con:
        return {
            table: con.execute(f"select count(*) from {_quoted(schema)}.{_quoted(table)}").fetchone()[0]
            for schema, table in published_tables(con)
        }


def duckdb_schemas(root: str | Path | None = None) -> dict[str, str]:
    """The DuckDB schema of every table, by table name; empty when there is no database."""
    path = duckdb_path(root)
    if not path.exists():
        return {}
    with _connect(path, read_only=True) as con:
        return {table: schema for schema, table in published_tables(con)}


def published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, name) of every warehouse table in the database: its tables but the bookkeeping table of
    `SHARED_FILES`, and the views that stand for a table of the same file."""
    catalog = _Catalog.read(con)
    bookkeeping = (MAIN_SCHEMA, SHARED_FILES)
    return [key for key, kind in catalog.kinds.items() if kind == "table" and key != bookkeeping] + list(
        catalog.shared
    )


def write_run(
    df: pl.DataFrame,
    name: str,
    run_id: str,
    root: str | Path | None = None,
    *,
    layer: str,
    comments: Comments | None = None,
) -> WrittenTable:
    """Keep this run's rows of table `name` beside every earlier run's (idempotent for the same run id).

    The rows are partition `run_id` of table `<name>_runs`; the views `<layer>.<name>_history` (every run,
    without the partition key) and `<layer>.latest_<name>` (the rows of the run with the latest
    `scored_at`) are made again at each `publish_database`. `df` needs `run_id` and `scored_at` columns. A
    run with a column earlier runs lacked adds it (null for them).
    """
    runs = f"{_checked(name)}_runs"
    schema = _quoted(_checked(layer))
    history = f"{schema}.{_quoted(f'{name}_history')}"
    views = [
        f"create or replace view {history} as select * exclude (partition_key) from {schema}.{_quoted(runs)}",
        f"create or replace view {schema}.{_quoted(f'latest_{name}')} as select * from {history} "
        f"where run_id = (select run_id from {history} order by scored_at desc, run_id desc limit 1)",
    ]
    if comments is not None and comments.table:
        views += [
            f"comment on view {history} is {_literal(comments.table + ' Every run, keyed by run_id.')}",
            f"comment on view {schema}.{_quoted(f'latest_{name}')} is "
            f"{_literal(comments.table + ' The latest run only (by scored_at).')}",
        ]
    return write_partition(df, runs, run_id, root, layer=layer, comments=comments, views=views)


@dataclass(frozen=True)
class CatalogNote:
    """A table written since the last `publish_database`: what DuckDB needs to load it."""

    name: str
    layer: str
    partitioned: bool
    comments: Comments | None = None
    views: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        doc = asdict(self) | {"written": uuid.uuid4().hex}  # every write's note differs (see publish)
        return json.dumps(doc, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CatalogNote:
        doc = json.loads(text)
        comments = Comments(**doc["comments"]) if doc["comments"] is not None else None
        return cls(
            _checked(doc["name"]), _checked(doc["layer"]), bool(doc["partitioned"]), comments, doc["views"]
        )


def _note_for_database(folder: Path, note: CatalogNote) -> None:
    """Leave the note for the next publish (atomically, after the Parquet file is in place)."""
    notes = folder / CATALOG_DIR
    notes.mkdir(exist_ok=True)
    tmp = _staging_file(folder, note.name, "json")
    tmp.write_text(note.to_json(), encoding="utf-8")
    os.replace(tmp, notes / f"{note.name}.json")


def pending_tables(root: str | Path | None = None) -> list[str]:
    """Tables written since the last `publish_database`, sorted."""
    notes = resolve_dir(root) / CATALOG_DIR
    return sorted(p.stem for p in notes.glob("*.json")) if notes.is_dir() else []


def publish_database(root: str | Path | None = None) -> list[WrittenTable]:
    """Load every table written since the last publish into `compscore.duckdb`, in one transaction: a plain
    table from its Parquet file, a partitioned one rebuilt from all its partition files, each with its
    comments and views. Tables of this publish whose Parquet file is one file (hard links: the validated
    layer's table is the raw layer's file when validation rejected none of its rows) are stored once: the
    first written is loaded, the others are views of it under their own names (`SHARED_FILES`). The notes
    loaded are cleared after the commit, unless a newer write replaced one meanwhile (that table is loaded
    again next time). Returns the tables loaded (the views included), sorted by name.

    The notes are read under the warehouse's write lock: another process's publish clears the notes it
    loaded, and a note listed before that publish would be gone (or loaded twice) after it."""
    folder = _folder(root)
    with _write_lock(folder):
        read = [
            (path, path.read_text(encoding="utf-8")) for path in sorted((folder / CATALOG_DIR).glob("*.json"))
        ]
        loads = _same_file_as([load for path, text in read if (load := _pending_load(folder, path, text))])
        if loads:
            with _connect(folder / DUCKDB_FILE, read_only=False) as con:
                # Rows are not kept in file order (SQL tables have none; query with ORDER BY): loading then
                # runs in parallel and commits faster (8.4 → 4.9 s for the tables of a 1M-line company).
                con.execute("set preserve_insertion_order = false")
                catalog = _Catalog.read(con)
                orphaned = {
                    view: _view_comments(con, *view) for view in _views_losing_their_table(loads, catalog)
                }
                statements, params = _publish_sql(loads, catalog, orphaned)
                _in_transaction(con, statements, params)
        for path, text in read:
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                path.unlink()
    return [load.written(folder) for load in loads]


SHARED_FILES = "__compscore_shared_files"
"""Table in DuckDB's `main` schema naming each view that stands for a table of the same rows: a table
whose Parquet file was, when published, another table's (`publish_database`). A publish that replaces
the table read by such a view, and not the view's own table, first turns the view into a table of the rows
it showed, so what finance sees of a layer never changes without its own load."""


@dataclass(frozen=True)
class _Load:
    """One pending table: its note, its files, their columns and rows, and (for a table stored once for
    two names) the table of the same file that DuckDB holds."""

    note: CatalogNote
    files: list[Path]
    schema: pl.Schema
    rows: int
    written_at_ns: int
    same_file_as: CatalogNote | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.note.layer, self.note.name)

    def written(self, folder: Path) -> WrittenTable:
        holder = self.same_file_as
        return WrittenTable(
            self.note.name,
            self.files[0],
            folder / DUCKDB_FILE,
            self.rows,
            self.schema,
            self.note.layer,
            None if holder is None else f"{holder.layer}.{holder.name}",
        )


def _pending_load(folder: Path, note_path: Path, text: str) -> _Load | None:
    note = CatalogNote.from_json(text)
    files = _stored_files(folder, note)
    if not files:
        return None  # the table's files were removed since: nothing to load
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return _Load(note, files, _union_schema(files), rows, note_path.stat().st_mtime_ns)


def _same_file_as(loads: list[_Load]) -> list[_Load]:
    """`loads`, each plain table whose file is also an earlier-written one's marked as that table's view."""
    first_of_file: dict[tuple[int, int], CatalogNote] = {}
    marked: dict[int, _Load] = {}
    for index, load in sorted(enumerate(loads), key=lambda item: (item[1].written_at_ns, item[1].note.name)):
        if load.note.partitioned:
            continue
        stat = load.files[0].stat()
        holder = first_of_file.setdefault((stat.st_dev, stat.st_ino), load.note)
        if holder is not load.note:
            marked[index] = replace(load, same_file_as=holder)
    return [marked.get(index, load) for index, load in enumerate(loads)]


@dataclass(frozen=True)
class _Catalog:
    """What the database holds before a publish: each object's kind (`table` or `view`) by (schema, name),
    and the views of `SHARED_FILES` with the table each reads."""

    kinds: dict[tuple[str, str], str]
    shared: dict[tuple[str, str], tuple[str, str]]

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> _Catalog:
        kinds = {
            (schema, name): kind
            for schema, name, kind in con.execute(
                "select schema_name, table_name, 'table' from duckdb_tables() where not internal "
                "union all select schema_name, view_name, 'view' from duckdb_views() where not internal"
            ).fetchall()
        }
        if (MAIN_SCHEMA, SHARED_FILES) not in kinds:
            return cls(kinds, {})
        rows = con.execute(
            f"select view_schema, view_name, table_schema, table_name from {_quoted(SHARED_FILES)}"
        ).fetchall()
        # a view dropped by hand since is no longer one of them
        shared = {(row[0], row[1]): (row[2], row[3]) for row in rows if kinds.get((row[0], row[1])) == "view"}
        return cls(kinds, shared)


def _view_comments(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> Comments:
    where = "where schema_name = ? and {} = ?"
    [(table,)] = con.execute(
        f"select comment from duckdb_views() {where.format('view_name')}", [schema, name]
    ).fetchall()
    columns = con.execute(
        f"select column_name, comment from duckdb_columns() {where.format('table_name')} "
        "and comment is not null",
        [schema, name],
    ).fetchall()
    return Comments(table, dict(columns))


def _views_losing_their_table(loads: list[_Load], catalog: _Catalog) -> list[tuple[str, str]]:
    """The views of `SHARED_FILES` whose table this publish replaces and whose own table it does not load,
    sorted: they must become tables of the rows they show before their table goes."""
    loaded = {load.key for load in loads}
    return sorted(view for view, table in catalog.shared.items() if table in loaded and view not in loaded)


def _publish_sql(
    loads: list[_Load], catalog: _Catalog, orphaned: dict[tuple[str, str], Comments]
) -> tuple[list[str], list[str]]:
    """The publish's statements and their parameters (the files read), in order: the `orphaned` views
    (`_views_losing_their_table`, with their comments) made tables; every table loaded; the views of this
    publish's shared files made."""
    statements: list[str] = []
    bookkept = (MAIN_SCHEMA, SHARED_FILES) in catalog.kinds or any(load.same_file_as for load in loads)
    if bookkept:
        statements += _shared_files_table_sql()
    for view, comments in orphaned.items():
        statements += _view_made_table_sql(*view, comments)
    params: list[str] = []
    for load in loads:
        note = load.note
        if bookkept:
            statements.append(_unshared_sql(*load.key))
        if catalog.kinds.get(load.key) == "view":
            statements.append(f"drop view {_quoted(note.layer)}.{_quoted(note.name)}")
        if load.same_file_as is not None:
            continue
        build = _partitioned_table_sql if note.partitioned else _swap_table_sql
        statements += build(note.name, note.layer)
        statements += _comment_sql(note.layer, note.name, note.comments, load.schema)
        statements += note.views
        params.append(str(load.files[0].parent / "*.parquet") if note.partitioned else str(load.files[0]))
    for load in loads:
        if load.same_file_as is not None:
            statements += _shared_view_sql(load, load.same_file_as)
    return statements, params


def _shared_files_table_sql() -> list[str]:
    return [
        f"create table if not exists {_quoted(SHARED_FILES)} (view_schema varchar, view_name varchar, "
        "table_schema varchar, table_name varchar)",
        f"comment on table {_quoted(SHARED_FILES)} is {_literal(_SHARED_FILES_COMMENT)}",
    ]


def _unshared_sql(schema: str, name: str) -> str:
    return (
        f"delete from {_quoted(SHARED_FILES)} where view_schema = {_literal(schema)} "
        f"and view_name = {_literal(name)}"
    )


_SHARED_FILES_COMMENT = (
    "Views standing for a table of the same rows, stored once: when published, the view's table and the "
    "table it reads had one Parquet file (a validated table of which validation rejected no row is the raw "
    "table's file)."
)


def _shared_view_sql(load: _Load, holder: CatalogNote) -> list[str]:
    """Statements making `load`'s table a view of `holder`'s table (loaded in the same publish)."""
    note = load.note
    view = f"{_quoted(note.layer)}.{_quoted(note.name)}"
    return [
        f"create schema if not exists {_quoted(note.layer)}",
        f"drop table if exists {view}",  # a view of the name was dropped before (`_publish_sql`)
        f"create view {view} as select * from {_quoted(holder.layer)}.{_quoted(holder.name)}",
        f"insert into {_quoted(SHARED_FILES)} values ({_literal(note.layer)}, {_literal(note.name)}, "
        f"{_literal(holder.layer)}, {_literal(holder.name)})",
        *_comment_sql(note.layer, note.name, note.comments, load.schema),
        *note.views,
    ]


def _view_made_table_sql(schema: str, name: str, comments: Comments) -> list[str]:
    """Statements replacing view `schema.name` by a table of the rows it shows now, with its comments."""
    view = f"{_quoted(schema)}.{_quoted(name)}"
    staging = f"{_quoted(schema)}.{_quoted(f'__staging_{name}_{uuid.uuid4().hex[:8]}')}"
    return [
        f"create table {staging} as select * from {view}",
        f"drop view {view}",
        f"alter table {staging} rename to {_quoted(name)}",
        _unshared_sql(schema, name),
        *_comment_sql(schema, name, comments, None),
    ]


def _stored_files(folder: Path, note: CatalogNote) -> list[Path]:
    if note.partitioned:
        return sorted((folder / note.name).glob("*.parquet"))
    path = parquet_path(note.name, folder)
    return [path] if path.is_file() else []


def _union_schema(files: list[Path]) -> pl.Schema:
    """Every column of the files (a partitioned table's partitions may differ), first file's order first."""
    columns: dict[str, pl.DataType] = {}
    for path in files:
        for column, dtype in pl.read_parquet_schema(path).items():
            columns.setdefault(column, dtype)
    return pl.Schema(columns)


def write_object(obj: Any, name: str, root: str | Path | None = None) -> Path:
    """Atomically store an output that is not a table as JSON in `<root>/objects/<name>.json`."""
    folder = resolve_dir(root) / OBJECTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{_checked(name)}{OBJECT_SUFFIX}"
    tmp = _staging_file(resolve_dir(root), name, "json")
    try:
        text = json.dumps(stored_objects.encode(obj), sort_keys=True, allow_nan=False)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, final)
    except (TypeError, ValueError) as exc:
        raise WarehouseError(f"cannot store object {name!r} as JSON: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return final


def read_object(name: str, root: str | Path | None = None) -> Any:
    """The object stored under `name`; read as data (JSON, plans re-validated), never executed."""
    path = resolve_dir(root) / OBJECTS_DIR / f"{_checked(name)}{OBJECT_SUFFIX}"
    if not path.exists():
        raise WarehouseError(f"object {name!r} is not in the warehouse ({path} is missing)")
    try:
        return stored_objects.decode(json.loads(path.read_text(encoding="utf-8")), str(path))
    except ValueError as exc:
        raise WarehouseError(f"cannot read object {name!r}: {exc}") from exc


def _stage(df: pl.DataFrame | pl.LazyFrame | ParquetFile, tmp: Path) -> tuple[int, pl.Schema]:
    """Write `df` to the staging file (a `ParquetFile` is moved there); return its row count and schema."""
    if isinstance(df, ParquetFile):
        shutil.move(df.path, tmp)
        try:
            return pq.ParquetFile(tmp).metadata.num_rows, pl.Schema(pl.read_parquet_schema(tmp))
        except (pa.ArrowException, pl.exceptions.PolarsError) as exc:
            raise WarehouseError(f"{df.path} is not a Parquet file: {exc}") from exc
    if isinstance(df, pl.LazyFrame):
        df.sink_parquet(tmp)
    else:
        df.write_parquet(tmp)
    return pq.ParquetFile(tmp).metadata.num_rows, pl.Schema(pl.read_parquet_schema(tmp))


def _swap_table_sql(name: str, schema: str = MAIN_SCHEMA) -> list[str]:
    """Statements replacing table `schema.name` by the staged Parquet file (parameter 1): build, drop,
    rename; a table of that name left in `main` by the layout before schemas is dropped."""
    staging = f"{_quoted(schema)}.{_quoted(f'__staging_{name}_{uuid.uuid4().hex[:8]}')}"
    return [
        f"create schema if not exists {_quoted(schema)}",
        f"create table {staging} as select * from read_parquet(?)",
        f"drop table if exists {_quoted(schema)}.{_quoted(name)}",
        *([f"drop table if exists main.{_quoted(name)}"] if schema != MAIN_SCHEMA else []),
        f"alter table {staging} rename to {_quoted(name)}",
    ]


def _partitioned_table_sql(name: str, schema: str = MAIN_SCHEMA) -> list[str]:
    """Statements rebuilding table `schema.name` from every partition file (parameter 1, a glob), with the
    partition key (the file's name) first; partitions are matched by column name."""
    staging = f"{_quoted(schema)}.{_quoted(f'__staging_{name}_{uuid.uuid4().hex[:8]}')}"
    key = r"regexp_extract(filename, '([^/\\]+)\.parquet$', 1)"
    return [
        f"create schema if not exists {_quoted(schema)}",
        f"create table {staging} as select {key}::varchar as partition_key, * exclude (filename) "
        "from read_parquet(?, filename = true, union_by_name = true) order by partition_key",
        f"drop table if exists {_quoted(schema)}.{_quoted(name)}",
        *([f"drop table if exists main.{_quoted(name)}"] if schema != MAIN_SCHEMA else []),
        f"alter table {staging} rename to {_quoted(name)}",
    ]


def _comment_sql(schema: str, name: str, comments: Comments | None, written: pl.Schema | None) -> list[str]:
    """`COMMENT ON` statements for the table (or view: DuckDB's `COMMENT ON TABLE` takes both) and those of
    its columns that have a description (of the columns `written`, or all when None)."""
    if comments is None:
        return []
    table = f"{_quoted(schema)}.{_quoted(name)}"
    statements = [f"comment on table {table} is {_literal(comments.table)}"] if comments.table else []
    for column, text in (comments.columns or {}).items():
        if written is None or column in written:
            statements.append(f"comment on column {table}.{_quoted(column)} is {_literal(text)}")
    return statements


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _in_transaction(con: duckdb.DuckDBPyConnection, statements: list[str], params: list[str]) -> None:
    """Run the statements in one transaction, handing each as many of `params` as it has `?`s."""
    con.execute("begin transaction")
    try:
        for sql in statements:
            n = sql.count("?")
            con.execute(sql, params[:n])
            params = params[n:]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


@contextmanager
def _write_lock(folder: Path) -> Iterator[None]:
    """Exclusive inter-process lock serialising this warehouse's DuckDB writers."""
    with (folder / LOCK_FILE).open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _connect(path: Path, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database, retrying while another process holds DuckDB's file lock."""
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise WarehouseError(
                    f"cannot open {path} ({'read' if read_only else 'write'}): {exc}. Another program "
                    f"(a duckdb shell?) may be holding it; close it and run again."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        yield con
    finally:
        con.close()


def _staging_file(folder: Path, name: str, suffix: str) -> Path:
    """A fresh temporary path in `<root>/.staging/`, on the same file system as the final file.

    A failed streaming write can leave its file behind (Polars may create it after raising), so
    temporary files live apart from the tables and a failed write removes what it can.
    """
    staging = folder / STAGING_DIR
    staging.mkdir(parents=True, exist_ok=True)
    return staging / f"{name}.{os.getpid()}.{uuid.uuid4().hex}.{suffix}"


def _folder(root: str | Path | None) -> Path:
    folder = resolve_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _checked_partition(partition: str) -> str:
    if not _PARTITION.match(partition):
        raise WarehouseError(f"invalid partition key {partition!r}: use letters, digits, '-' and '_'")
    return partition


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise WarehouseError(f"invalid warehouse table name {name!r}: use letters, digits and underscores")
    return name


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
