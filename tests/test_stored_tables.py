"""A Parquet table file the loader would not change is used as it is stored (`stored_as_loaded`).

The oracle is `load_table`, tested by hand in test_loaders.py and test_faults.py: a file is taken as
stored exactly when `load_table` gives its rows unchanged, with no reject, and then with the same height
and warnings. Every condition is broken on its own (a column order, an extra or a missing optional column,
a dtype, a null that is rejected or filled, a number out of range) and must send the file to
`load_table`; its boundaries (a number of exactly `MAX_ABS_NUMBER`) must not. `validate_by_table` on a
folder of such files gives what the in-memory path gives (test_validate_by_table.py compares them on
generated, sample and corrupted Parquet folders); here, that it really took the files without a copy.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compscore import loaders
from compscore.errors import LoadError
from compscore.loaders import (
    StoredTable,
    TableLoad,
    load_canonical_dir,
    load_table,
    open_canonical_dir,
    stored_as_loaded,
    stored_or_loaded_tables,
)
from compscore.quality.by_table import validate_by_table
from compscore.schema import MAX_ABS_NUMBER, TABLES

ABOVE_MAX = math.nextafter(MAX_ABS_NUMBER, math.inf)


def _deals(canonical_small_dir: Path) -> pl.DataFrame:
    """The fixture's deals as the loader gives them: canonical columns and dtypes, no null to fill."""
    deals = load_table(canonical_small_dir / "deals.csv", "deals").data
    assert deals.get_column("term_months").null_count() == 0
    return deals


def _written(frame: pl.DataFrame, folder: Path, name: str = "deals") -> Path:
    path = folder / f"{name}.parquet"
    frame.write_parquet(path)
    return path


def test_a_canonical_clean_file_is_taken_as_stored(canonical_small_dir, tmp_path):
    deals = _deals(canonical_small_dir)
    path = _written(deals, tmp_path)
    stored = stored_as_loaded(path, "deals")
    assert stored == StoredTable("deals", path, deals.height, [])
    assert_frame_equal(load_table(path, "deals").data, pl.read_parquet(path))


def _set(column: str, row: int, value: object) -> pl.Expr:
    at = pl.int_range(pl.len()) == row
    value = pl.lit(value, dtype=pl.Float64 if column == "amount" else None)
    return pl.when(at).then(value).otherwise(pl.col(column)).alias(column)


CHANGED = {
    "columns in another order": lambda d: d.select(reversed(d.columns)),
    "an unknown column": lambda d: d.with_columns(pl.lit("x").alias("note")),
    "an optional column absent": lambda d: d.drop("referral_id"),
    "a whole number stored as Int32": lambda d: d.with_columns(pl.col("term_months").cast(pl.Int32)),
    "an amount stored as text": lambda d: d.with_columns(pl.col("amount").cast(pl.String)),
    "a null in a required column": lambda d: d.with_columns(_set("owner_rep_id", 1, None)),
    "a null in a required number": lambda d: d.with_columns(_set("amount", 2, None)),
    "a null in a column with a default": lambda d: d.with_columns(_set("term_months", 0, None)),
    "NaN": lambda d: d.with_columns(_set("amount", 0, float("nan"))),
    "infinity": lambda d: d.with_columns(_set("amount", 0, -math.inf)),
    "a number just above the maximum": lambda d: d.with_columns(_set("amount", 3, ABOVE_MAX)),
    "a negative number just above the maximum": lambda d: d.with_columns(_set("amount", 3, -ABOVE_MAX)),
}


@pytest.mark.parametrize("change", CHANGED, ids=list(CHANGED))
def test_a_file_the_loader_would_change_is_loaded(canonical_small_dir, tmp_path, change):
    stored = _deals(canonical_small_dir)
    path = _written(CHANGED[change](stored), tmp_path)
    assert stored_as_loaded(path, "deals") is None
    load, as_stored = load_table(path, "deals"), pl.read_parquet(path)
    same = load.data.schema == as_stored.schema and load.data.equals(as_stored)
    assert load.rejects.height > 0 or load.warnings or not same, f"{change}: the loader changed nothing"


@pytest.mark.parametrize("amount", [MAX_ABS_NUMBER, -MAX_ABS_NUMBER, 0.0])
def test_a_number_at_the_maximum_is_stored_as_it_is(canonical_small_dir, tmp_path, amount):
    path = _written(_deals(canonical_small_dir).with_columns(_set("amount", 0, amount)), tmp_path)
    assert stored_as_loaded(path, "deals") is not None
    assert load_table(path, "deals").rejects.height == 0


def test_a_null_in_an_optional_column_without_default_is_stored(canonical_small_dir, tmp_path):
    deals = _deals(canonical_small_dir)
    assert deals.get_column("referral_id").null_count() > 0
    assert stored_as_loaded(_written(deals, tmp_path), "deals") is not None


def test_warnings_are_the_loaders(canonical_small_dir, tmp_path):
    deals = _deals(canonical_small_dir)
    twins = deals.with_columns(_set("deal_id", 0, "d002"))
    for frame, expected in [(twins, "differ only by case"), (deals.clear(), "has no rows")]:
        path = _written(frame, tmp_path)
        stored = stored_as_loaded(path, "deals")
        assert stored is not None and stored.height == frame.height
        assert stored.warnings == load_table(path, "deals").warnings
        assert len(stored.warnings) == 1 and expected in stored.warnings[0]


def test_csv_and_unreadable_files_go_to_the_loader(canonical_small_copy):
    assert stored_as_loaded(canonical_small_copy / "deals.csv", "deals") is None
    (canonical_small_copy / "deals.csv").unlink()
    broken = canonical_small_copy / "deals.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert stored_as_loaded(broken, "deals") is None
    with pytest.raises(LoadError, match=r"deals\.parquet: cannot read Parquet file"):
        list(stored_or_loaded_tables(open_canonical_dir(canonical_small_copy)))


def test_a_fifo_is_never_opened(tmp_path):
    """A named pipe would block the reader until someone writes to it: it goes to the loader unopened."""
    fifo = tmp_path / "deals.parquet"
    os.mkfifo(fifo)
    answers: list[StoredTable | None] = []
    asking = threading.Thread(target=lambda: answers.append(stored_as_loaded(fifo, "deals")), daemon=True)
    asking.start()
    asking.join(timeout=10)
    if asking.is_alive():
        with open(fifo, "wb"):  # unblock the reader before failing
            pass
        pytest.fail("stored_as_loaded opened a FIFO")
    assert answers == [None]


def test_mixed_folder_yields_each_table_once_in_order(canonical_small_copy):
    deals = load_table(canonical_small_copy / "deals.csv", "deals").data
    (canonical_small_copy / "deals.csv").unlink()
    _written(deals, canonical_small_copy)
    folder = open_canonical_dir(canonical_small_copy)
    got = list(stored_or_loaded_tables(folder))
    assert [g.table for g in got] == list(folder.files)
    assert {g.table for g in got if isinstance(g, StoredTable)} == {"deals"}
    assert all(isinstance(g, TableLoad) for g in got if g.table != "deals")


def test_validation_links_a_stored_file_as_its_clean_table(canonical_small_copy, tmp_path):
    for spec in TABLES:
        csv = canonical_small_copy / f"{spec.name}.csv"
        if csv.exists():
            _written(load_table(csv, spec.name).data, canonical_small_copy, spec.name)
            csv.unlink()
    before = {p.name: p.read_bytes() for p in canonical_small_copy.glob("*.parquet")}
    result = validate_by_table(canonical_small_copy, "run-s", tmp_path / "clean")
    assert result.rejects.height == 0
    assert result.received == load_canonical_dir(canonical_small_copy).received
    for spec in TABLES:
        given = canonical_small_copy / f"{spec.name}.parquet"
        if given.exists():
            assert os.path.samefile(result.clean_files[spec.name], given), spec.name
    assert {p.name: p.read_bytes() for p in canonical_small_copy.glob("*.parquet")} == before


TWIN_IDS = {
    "upper case only": (["D1", "D2", "D3"], False, False),
    "lower case only": (["d1", "d2", "d3"], False, False),
    "both cases, no twins": (["D1", "d2", "D3"], True, False),
    "both cases, twins": (["D1", "d1", "D3"], True, True),
    "not ASCII, no twins": (["É1", "D2", "D3"], True, False),
    "not ASCII, twins": (["É1", "é1", "D3"], True, True),
    "digits only": (["1", "2", "3"], False, False),
}


@pytest.mark.parametrize("ids", TWIN_IDS, ids=list(TWIN_IDS))
def test_the_key_is_read_for_twins_only_when_ids_could_differ_by_case(
    canonical_small_dir, tmp_path, monkeypatch, ids
):
    values, read, warned = TWIN_IDS[ids]
    deals = _deals(canonical_small_dir).head(3).with_columns(pl.Series("deal_id", values))
    path = _written(deals, tmp_path)
    expected = load_table(path, "deals").warnings
    calls = []
    real = loaders._case_twins
    monkeypatch.setattr(loaders, "_case_twins", lambda *args: calls.append(args) or real(*args))
    stored = stored_as_loaded(path, "deals")
    assert stored is not None and stored.warnings == expected
    assert (len(calls) == 1) == read
    assert any("differ only by case" in w for w in expected) == warned
