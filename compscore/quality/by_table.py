"""Validate a canonical folder holding at most one table whole at a time: `validate_by_table`.

It gives what `load_canonical_dir` + `validate` + `data_quality_status` give (same rejects in the same
order, counts, rule results, blocking failures, status, warnings; the same clean rows in the same order),
but the clean tables are written to `clean_dir/<table>.parquet` instead of returned, so a company whose
tables do not fit in memory together can still be validated. The work, in three passes:

1. Load: each table is read with `load_table` (the loader's own checks and rejects) and written as read
   to a spill file (Parquet, LZ4: cheaper to write and read than zstd) in a private folder under
   `clean_dir`; then it is released. A Parquet file the loader would give unchanged (canonical columns
   and dtypes, no cell it rejects or fills: `stored_as_loaded`) is not read: it is linked as its own
   spill file (a byte copy where the file system has no links); at 10M statement lines reading and
   writing the three large tables again took about 12 s of the run. Absent optional tables get an empty
   spill file, as `CanonicalData` gives them empty frames. ROW_INDEX (a row's position) is not stored:
   every read of a spill file adds it (`row_index_name`), so a table without a rejected row is already
   its clean file and is moved there, not rewritten.
2. Check: each table is checked against the key columns of the tables it refers to, read from their
   spill files by projection: the referenced values are the rows the loader produced, exactly what
   `received_references` gives `validate`. The table is read a few columns at a time (`check_scan`:
   the row rules in one streaming pass, each flag rule on its own columns, the failing rows at the end).
   With `on_table_checked`, the check also keeps every row's flag columns and names the spill file, and
   the callback sees it (the GX suites read the file a chunk at a time beside those flags). Until session
   10 a callback made pass 2 read each table whole: at 30M lines with GX that was a peak of 19.5 GiB.
3. Cascade, status and clean tables, from lazy scans of the spill files that read only the columns each
   step needs: the cascade reads ROW_INDEX, keys and foreign keys; the status the few columns it counts;
   the clean tables stream from spill file to output file. The spill folder is deleted at the end, also
   when loading fails.

Memory at the peak: one table as the loader produces it (pass 1: the deals at company scale, the peak
of the whole validation), or in pass 2 the largest flag rule's columns plus the key column it refers to
(with `on_table_checked`, also every row's flag columns: booleans).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from compscore.dataset import CanonicalData
from compscore.loaders import (
    REJECTS_SCHEMA,
    CanonicalFolder,
    StoredTable,
    open_canonical_dir,
    stored_or_loaded_tables,
)
from compscore.plans import Plan
from compscore.quality.blocking import (
    DEFAULT_THRESHOLDS,
    BlockingFailure,
    Thresholds,
    schema_failures,
)
from compscore.quality.evaluate import (
    RuleResult,
    TableCheck,
    check_scan,
    references_of,
    reject_rows,
)
from compscore.quality.rules import ROW_INDEX, References
from compscore.quality.status import STATUS_INPUTS, status_input, status_of_inputs
from compscore.quality.validate import (
    Verdicts,
    cascade,
    count_frame,
    loader_counts,
    loader_reject_frames,
    nonempty_required,
    plans_blocking,
    rejected_by_rules,
)
from compscore.schema import TABLES, Table, conform, empty_frame, table

TableChecked = Callable[[Table, TableCheck], None]
"""Called once per table with its check: the rules' results, every row's flag columns (`flags`) and the file
the table was read from (`source`, in the same row order), which exists until the call returns; a reader
that needs it later keeps its own link to it."""

_SPILL_PREFIX = ".spill-"
SPILL_COMPRESSION = "lz4"
"""Spill files are written LZ4-compressed: at 5.5M deals (3M lines) a write takes 3.5 s of CPU instead of
5.4 s (zstd, Polars' default) and a whole read 0.6 s instead of 1.0-1.7 s, for a file 1.8x as large.
Still Parquet, so a spill file without rejected rows is moved as the clean file as it is. Dagster's raw
layer is written so too when it reads a table (`assets/raw.py`; a source file it takes as it is keeps its own
codec): its files become `validate_tables`' spill files, linked."""


@dataclass
class TableByTableValidation(Verdicts):
    """What `validate_by_table` found; the clean tables are files (`clean_files`), not frames.

    Has what the run report reads (`compscore.quality.report.ReportedValidation`)."""

    run_id: str
    clean_dir: Path
    clean_files: dict[str, Path]
    """Canonical table -> `clean_dir/<table>.parquet`: the rows that passed, conformed to the schema."""
    rejects: pl.DataFrame
    """DATA_QUALITY_REJECTS rows: the loader's, then the rules', then the cascade's (as `validate`)."""
    counts: pl.DataFrame
    """One row per table: received, passed, rejected (and by whom); received = passed + rejected."""
    rule_results: list[RuleResult]
    blocking: list[BlockingFailure]
    status: pl.DataFrame
    """`data_quality_status`: one row per plan × period with any input."""
    warnings: list[str]
    """The loader's warnings (folder, then each table's)."""
    plans: dict[str, Plan]
    given_commission_lines: bool
    received: dict[str, int]
    """Data rows read per canonical table by the loader (good and rejected); 0 for an absent table."""

    def read_clean(self) -> CanonicalData:
        """The clean tables read back whole, as `validate` returns them in `ValidationResult.clean`."""
        return CanonicalData(
            tables={name: pl.read_parquet(path) for name, path in self.clean_files.items()},
            plans=dict(self.plans),
            given_commission_lines=self.given_commission_lines,
            warnings=list(self.warnings),
        )


@dataclass
class _Loaded:
    """Pass 1's yield: where each table was spilled and what the loader said; no table data."""

    spills: dict[str, Path]
    heights: dict[str, int]
    """Rows that reached validation (the loader's good rows) per table."""
    broken: set[str]
    """Tables whose schema is broken: no rule runs on them, nothing refers into them, every row rejected."""
    loader_rejects: pl.DataFrame
    warnings: list[str]
    received: dict[str, int]


@dataclass
class _Checked:
    """Pass 2's yield for one table: what is kept once the table is released."""

    rejects: pl.DataFrame
    rejected: pl.Series
    results: list[RuleResult]
    blocking: list[BlockingFailure]


def validate_by_table(
    directory: str | Path,
    run_id: str,
    clean_dir: str | Path,
    *,
    on_table_checked: TableChecked | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    previous_counts: Mapping[str, int] | None = None,
    sample_size: int = 5,
) -> TableByTableValidation:
    """Load and validate the canonical folder `directory` one table at a time; write the clean tables to
    `clean_dir/<table>.parquet` (created if needed; files of earlier runs there are replaced).

    Raises what `load_canonical_dir` raises (`LoadError`, `PlanError`); blocking failures are returned,
    not raised (`raise_if_blocking`). `previous_counts`, `thresholds` and `sample_size` are those of
    `validate`; `thresholds` also decides the status. `on_table_checked(spec, check)` is called once per
    canonical table, in `TABLES` order, e.g. to run the table's GX suite (`suites.run_suite(check)` when
    `check.schema_ok`) while the table is in memory.
    """
    folder = open_canonical_dir(directory)
    with _spill_folder(clean_dir) as spill_dir:
        loaded = _load_and_spill(folder, spill_dir)
        return _validate_spilled(
            loaded,
            folder.plans,
            folder.given_commission_lines,
            run_id,
            Path(clean_dir),
            on_table_checked=on_table_checked,
            thresholds=thresholds,
            previous_counts=previous_counts,
            sample_size=sample_size,
        )


def validate_tables(
    tables: Mapping[str, pl.LazyFrame | Path],
    plans: dict[str, Plan],
    loader_rejects: pl.DataFrame,
    run_id: str,
    clean_dir: str | Path,
    *,
    given_commission_lines: bool,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    previous_counts: Mapping[str, int] | None = None,
    sample_size: int = 5,
) -> TableByTableValidation:
    """`validate_by_table` of tables already read by the loader (a Dagster run's raw layer: every
    canonical table as a lazy scan or as its conformed Parquet file, and the loader's rejects), instead of
    a folder to read: each scan is streamed to a spill file (never held whole), each file is taken as its
    own spill file (`link_or_copy`: linked, never written), then validated as `validate_by_table`
    validates. The result's `received` counts the rows that reached validation plus the loader's rejected
    rows."""
    with _spill_folder(clean_dir) as spill_dir:
        loaded = _Loaded({}, {}, set(), loader_rejects, [], {})
        for spec in TABLES:
            path = spill_dir / f"{spec.name}.parquet"
            given = tables[spec.name]
            if isinstance(given, Path):
                link_or_copy(given, path)
            else:
                given.sink_parquet(path, compression=SPILL_COMPRESSION)
            _note_spill(spec.name, path, pl.scan_parquet(path).head(0).collect(), _rows(path), loaded)
        by_loader = loader_counts(loader_rejects)
        loaded.received = {n: loaded.heights[n] + by_loader.get(n, 0) for n in loaded.heights}
        return _validate_spilled(
            loaded,
            plans,
            given_commission_lines,
            run_id,
            Path(clean_dir),
            thresholds=thresholds,
            previous_counts=previous_counts,
            sample_size=sample_size,
        )


def link_or_copy(source: Path, target: Path) -> None:
    """`source` as `target` too: a hard link (no row read or written; at 10M statement lines the raw
    layer's copy as spill files cost about 20 s of CPU), or a byte copy where the file system has no
    links. Neither changes `source`: a spill file is only read, moved (the clean table when no row is
    rejected) or deleted, and the warehouse replaces a table's file by renaming a new one over it, never in
    place, so a link keeps the rows it was made on."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


@contextmanager
def _spill_folder(clean_dir: str | Path) -> Iterator[Path]:
    """A private spill folder under `clean_dir` (created), deleted on the way out, also on an error."""
    clean_dir = Path(clean_dir)
    clean_dir.mkdir(parents=True, exist_ok=True)
    spill_dir = Path(tempfile.mkdtemp(prefix=_SPILL_PREFIX, dir=clean_dir))
    try:
        yield spill_dir
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


def _validate_spilled(
    loaded: _Loaded,
    plans: dict[str, Plan],
    given_commission_lines: bool,
    run_id: str,
    clean_dir: Path,
    *,
    on_table_checked: TableChecked | None = None,
    thresholds: Thresholds,
    previous_counts: Mapping[str, int] | None,
    sample_size: int,
) -> TableByTableValidation:
    """Passes 2 and 3 over the spilled tables: check each, cascade, status, clean tables."""
    checked = {
        spec.name: _check_spilled(
            spec,
            loaded,
            plans,
            given_commission_lines,
            run_id,
            on_table_checked,
            thresholds=thresholds,
            previous_count=(previous_counts or {}).get(spec.name),
            sample_size=sample_size,
        )
        for spec in TABLES
    }
    scans = {name: _scan(path) for name, path in loaded.spills.items()}
    rejected = {name: c.rejected for name, c in checked.items()}
    by_rules = {name: s.len() for name, s in rejected.items()}
    cascaded, cascade_frames = cascade(scans, rejected, loaded.broken, run_id)
    status = status_of_inputs(
        plans,
        {name: status_input(scans[name], name, rejected[name]) for name in STATUS_INPUTS},
        thresholds,
    )
    clean_files = {spec.name: _write_clean(spec, loaded, rejected[spec.name], clean_dir) for spec in TABLES}
    return TableByTableValidation(
        run_id=run_id,
        clean_dir=clean_dir,
        clean_files=clean_files,
        rejects=pl.concat(
            [
                *loader_reject_frames(loaded.loader_rejects, run_id),
                *(c.rejects for c in checked.values()),
                *cascade_frames,
            ],
            how="vertical",
        ),
        counts=count_frame(
            loaded.heights,
            {name: _rows(path) for name, path in clean_files.items()},
            loader_counts(loaded.loader_rejects),
            by_rules,
            {name: s.len() for name, s in cascaded.items()},
        ),
        rule_results=[r for c in checked.values() for r in c.results],
        blocking=[*plans_blocking(plans), *(f for c in checked.values() for f in c.blocking)],
        status=status,
        warnings=loaded.warnings,
        plans=plans,
        given_commission_lines=given_commission_lines,
        received=loaded.received,
    )


def _load_and_spill(folder: CanonicalFolder, spill_dir: Path) -> _Loaded:
    """Pass 1: read each table, write its good rows to `spill_dir`, keep only the rest."""
    loaded = _Loaded({}, {}, set(), pl.DataFrame(schema=REJECTS_SCHEMA), list(folder.warnings), {})
    rejects = [loaded.loader_rejects]
    for load in stored_or_loaded_tables(folder):
        if isinstance(load, StoredTable):
            _spill_stored(load, spill_dir, loaded)
            loaded.received[load.table] = load.height
        else:
            _spill(load.table, load.data, spill_dir, loaded)
            rejects.append(load.rejects)
            loaded.received[load.table] = load.received
        loaded.warnings.extend(load.warnings)
        del load
    for spec in TABLES:
        if spec.name not in loaded.spills:
            _spill(spec.name, empty_frame(spec.name), spill_dir, loaded)
            loaded.received[spec.name] = 0
    loaded.received = {spec.name: loaded.received[spec.name] for spec in TABLES}
    loaded.loader_rejects = pl.concat(rejects)
    return loaded


def _spill(name: str, data: pl.DataFrame, spill_dir: Path, loaded: _Loaded) -> None:
    """Write one table as received and note it (`_note_spill`)."""
    path = spill_dir / f"{name}.parquet"
    data.write_parquet(path, compression=SPILL_COMPRESSION)
    _note_spill(name, path, data, data.height, loaded)


def _spill_stored(stored: StoredTable, spill_dir: Path, loaded: _Loaded) -> None:
    """A table file the loader would not change, as its own spill file (`link_or_copy`: linked, not read),
    noted (`_note_spill`; its columns are the canonical ones, which `stored_as_loaded` checked)."""
    path = spill_dir / f"{stored.table}.parquet"
    link_or_copy(stored.file, path)
    _note_spill(stored.table, path, empty_frame(stored.table), stored.height, loaded)


def _note_spill(name: str, path: Path, data: pl.DataFrame, height: int, loaded: _Loaded) -> None:
    """Note a spilled table's file, its height and whether its schema is broken (`data`: the table, or
    only its columns: the schema is what is judged)."""
    loaded.spills[name] = path
    loaded.heights[name] = height
    if schema_failures(table(name), data):
        loaded.broken.add(name)


def _references(spec: Table, loaded: _Loaded, plans: Mapping[str, Plan]) -> References:
    """The key columns `spec`'s foreign keys point at, read from the spill files (only those columns), as
    `received_references` gives them (`references_of`)."""
    scans = {name: pl.scan_parquet(path) for name, path in loaded.spills.items()}
    return references_of(spec, scans, loaded.broken, plans)


def _check_spilled(
    spec: Table,
    loaded: _Loaded,
    plans: Mapping[str, Plan],
    given_commission_lines: bool,
    run_id: str,
    on_table_checked: TableChecked | None,
    *,
    thresholds: Thresholds,
    previous_count: int | None,
    sample_size: int,
) -> _Checked:
    """Pass 2 for one table: check it and hand the check on; keep rejects and verdicts.

    The table is read a few columns at a time (`check_scan`), which lowers the peak; for a callback the
    check also keeps every row's flag columns and names the spill file, from which a GX suite reads the
    table's other columns a chunk at a time (`suites.run_suite`)."""
    refs = _references(spec, loaded, plans)
    spill = loaded.spills[spec.name]
    check = check_scan(
        spec,
        _scan(spill),
        refs,
        nonempty_required=nonempty_required(spec, given_commission_lines),
        previous_count=previous_count,
        thresholds=thresholds,
        sample_size=sample_size,
        keep_flags=on_table_checked is not None,
    )
    if on_table_checked is not None:
        check.source = spill
        on_table_checked(spec, check)
    del refs
    return _Checked(reject_rows(spec, check, run_id), rejected_by_rules(check), check.results, check.blocking)


def _scan(spill: Path) -> pl.LazyFrame:
    """A spill file with its ROW_INDEX column, as `with_row_index` gives it."""
    return pl.scan_parquet(spill, row_index_name=ROW_INDEX)


def _write_clean(spec: Table, loaded: _Loaded, rejected: pl.Series, clean_dir: Path) -> Path:
    """The table's surviving rows, conformed, as `clean_dir/<table>.parquet` (empty when broken): the
    spill file itself when no row was rejected (the loader's rows are conformed), else streamed from it."""
    path = clean_dir / f"{spec.name}.parquet"
    spill = loaded.spills[spec.name]
    if spec.name in loaded.broken:
        empty_frame(spec.name).write_parquet(path)
    elif rejected.len() == 0:
        spill.replace(path)
    else:
        survivors = _scan(spill).filter(~pl.col(ROW_INDEX).is_in(rejected.implode())).drop(ROW_INDEX)
        conform(survivors, spec.name).sink_parquet(path)
    return path


def _rows(path: Path) -> int:
    """Rows of a Parquet file, from its metadata."""
    return pl.scan_parquet(path).select(pl.len()).collect().item()
