"""The output set (`compscore.outputs`) on tiny frames, with a 3-row spreadsheet limit: which files a
table gets (CSV only while it fits a spreadsheet, `SPREADSHEET_MAX_ROWS`), streamed tables, the stale CSV
copy an earlier run left, the all-or-none swap, the folder checks and the float rounding. The CLI's
messages are in tests/test_spreadsheet_sized_csv.py and the failure cases at the CLI in tests/test_faults.py;
these are the fast, hand-checked cases that mutation testing runs.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import time
from collections import namedtuple
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from compscore import outputs
from compscore.outputs import OutputError, OutputSet, check_output_dir, stable_floats, write_output_set

Usage = namedtuple("Usage", "total used free")


@pytest.fixture(autouse=True)
def three_row_spreadsheets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs, "SPREADSHEET_MAX_ROWS", 3)


def rows(n: int, first: int = 0) -> pl.DataFrame:
    return pl.DataFrame({"line_id": [f"L{i}" for i in range(first, first + n)], "amount": [1.5] * n})


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def csv_text(path: Path) -> list[str]:
    return path.read_text().splitlines()


# --- whole tables --------------------------------------------------------------------------------------


def test_a_table_that_fits_gets_both_files_and_one_row_more_parquet_only(tmp_path):
    out = tmp_path / "out"
    with OutputSet(out) as staged:
        staged.add("fits", rows(3))
        staged.add("long", rows(4))
        assert staged.csv_left_out == ["long"]
        paths = staged.commit()
    assert paths == [out / "fits.parquet", out / "fits.csv", out / "long.parquet"]
    assert names(out) == ["fits.csv", "fits.parquet", "long.parquet"]  # no staging folder left
    assert csv_text(out / "fits.csv") == ["line_id,amount", "L0,1.5", "L1,1.5", "L2,1.5"]
    assert pl.read_parquet(out / "long.parquet").equals(rows(4))


def test_values_are_rounded_and_formulas_escaped_in_the_csv_only(tmp_path):
    table = pl.DataFrame({"name": ["=1+1", "ok"], "x": [0.1 + 0.2, 1e-12], "n": [1, 2]})
    write_output_set({"t": table}, tmp_path)
    assert csv_text(tmp_path / "t.csv") == ["name,x,n", "'=1+1,0.3,1", "ok,0.0,2"]
    back = pl.read_parquet(tmp_path / "t.parquet")
    assert back["name"].to_list() == ["=1+1", "ok"] and back["x"].to_list() == [0.3, 0.0]


def test_the_csv_of_an_earlier_run_goes_when_the_table_outgrows_a_spreadsheet(tmp_path):
    write_output_set({"t": rows(2), "u": rows(1)}, tmp_path)
    (tmp_path / "notes.csv").write_text("mine")
    write_output_set({"t": rows(5), "u": rows(2)}, tmp_path)
    assert names(tmp_path) == ["notes.csv", "t.parquet", "u.csv", "u.parquet"]
    assert pl.read_parquet(tmp_path / "t.parquet").height == 5
    assert len(csv_text(tmp_path / "u.csv")) == 3


def test_a_failed_commit_puts_the_earlier_csv_and_parquet_back(tmp_path, monkeypatch):
    write_output_set({"a": rows(1), "t": rows(1)}, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_replace = os.replace

    def replace(src, dst):
        # the staged t.parquet onto the final one fails; putting the earlier one back works
        if Path(dst) == tmp_path / "t.parquet" and ".previous" not in str(src):
            raise OSError(errno.EIO, "I/O error", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError) as error:
        write_output_set({"a": rows(2), "b": rows(1), "t": rows(9)}, tmp_path)  # b is new: removed again
    assert str(error.value) == f"{tmp_path / 't.parquet'}: cannot write the outputs: I/O error"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no staging folder either


def test_a_failed_move_of_a_new_file_leaves_nothing_of_it(tmp_path, monkeypatch):
    write_output_set({"a": rows(1)}, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == tmp_path / "n.parquet":
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError) as error:
        write_output_set({"a": rows(2), "n": rows(1)}, tmp_path)
    assert str(error.value) == f"{tmp_path / 'n.parquet'}: cannot write the outputs: No space left on device"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_swap_that_cannot_put_a_file_back_keeps_the_staging_folder(tmp_path, monkeypatch):
    write_output_set({"a": rows(1), "t": rows(1)}, tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == tmp_path / "t.parquet" or ".previous" in str(src):
            raise OSError(errno.EIO, "I/O error", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError) as error:
        write_output_set({"a": rows(2), "t": rows(2)}, tmp_path)
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".compscore-staging-")]
    assert len(staging) == 1 and "a.parquet" in names(staging[0] / ".previous")
    assert str(error.value) == (
        f"{tmp_path / 't.parquet'}: cannot write the outputs: I/O error; previous files that could not be "
        f"put back are in {staging[0] / '.previous'}"
    )


def test_leaving_without_a_commit_leaves_the_previous_outputs(tmp_path):
    write_output_set({"t": rows(1)}, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RuntimeError), OutputSet(tmp_path) as staged:
        staged.add("t", rows(2))
        stream = staged.stream("s")
        stream.append(rows(1))
        staged.stream("never")  # no batch came: no Parquet file open
        raise RuntimeError("scoring failed")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_leaving_without_a_commit_waits_for_the_batch_being_written(tmp_path, monkeypatch):
    finished: list[str] = []
    escape = outputs.escape_formulas

    def slow_escape(df: pl.DataFrame) -> pl.DataFrame:
        time.sleep(0.3)
        finished.append("csv")
        return escape(df)

    monkeypatch.setattr(outputs, "escape_formulas", slow_escape)
    with pytest.raises(RuntimeError), OutputSet(tmp_path) as staged:
        staged.stream("t").append(rows(1))  # written on the stream's thread
        raise RuntimeError("scoring failed")
    assert finished == ["csv"]  # the write ended before the files were closed and the staging removed
    assert names(tmp_path) == []


# --- streamed tables -----------------------------------------------------------------------------------


def test_a_streamed_table_at_the_limit_keeps_every_row_in_one_csv_with_one_header(tmp_path):
    with OutputSet(tmp_path) as staged:
        stream = staged.stream("t")
        stream.append(rows(2))
        stream.append(rows(1, first=2))
        stream.close(rows(0))
        assert stream.rows == 3 and not stream.csv_left_out
        paths = staged.commit()
    assert paths == [tmp_path / "t.parquet", tmp_path / "t.csv"]
    assert staged.csv_left_out == []
    assert csv_text(tmp_path / "t.csv") == ["line_id,amount", "L0,1.5", "L1,1.5", "L2,1.5"]
    assert pl.read_parquet(tmp_path / "t.parquet").equals(rows(3))


def test_a_streamed_table_drops_its_csv_and_the_earlier_one_once_past_the_limit(tmp_path):
    write_output_set({"t": rows(1)}, tmp_path)
    with OutputSet(tmp_path) as staged:
        staged.add("whole", rows(1))
        stream = staged.stream("t")
        stream.append(rows(2))
        stream.append(rows(2, first=2))
        stream.append(rows(1, first=4))
        stream.close(rows(0))
        assert stream.rows == 5 and stream.csv_left_out and stream.paths == [stream.parquet_path]
        paths = staged.commit()
    assert paths == [tmp_path / "whole.parquet", tmp_path / "whole.csv", tmp_path / "t.parquet"]
    assert staged.csv_left_out == ["t"]
    assert names(tmp_path) == ["t.parquet", "whole.csv", "whole.parquet"]
    assert pl.read_parquet(tmp_path / "t.parquet").equals(rows(5))


def test_a_streamed_tables_row_groups_have_statistics_for_reps_dates_and_amounts_only(tmp_path):
    """Readers skip a batch's row groups by rep, date or amount; other text columns' statistics skip
    nothing and cost a fifth of the writer, so they are not written."""
    batch = pl.DataFrame(
        {
            "line_id": ["L1", "L2"],
            "rep_id": ["R1", "R2"],
            "channel": ["same_day", "retention"],
            "earned_date": [dt.date(2026, 1, 1), dt.date(2026, 2, 1)],
            "amount": [1.5, -2.0],
        }
    )
    with OutputSet(tmp_path) as staged:
        stream = staged.stream("t")
        stream.append(batch)
        stream.close(batch.clear())
        staged.commit()
    group = pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).statistics for i in range(group.num_columns)}
    assert {name for name, found in stats.items() if found is not None and found.has_min_max} == {
        "rep_id",
        "earned_date",
        "amount",
    }
    assert (stats["rep_id"].min, stats["rep_id"].max) == ("R1", "R2")
    assert (stats["amount"].min, stats["amount"].max) == (-2.0, 1.5)


def test_a_stream_without_a_batch_has_the_columns_and_a_header(tmp_path):
    with OutputSet(tmp_path) as staged:
        staged.stream("t").close(rows(2))
        staged.commit()
    assert csv_text(tmp_path / "t.csv") == ["line_id,amount"]
    empty = pl.read_parquet(tmp_path / "t.parquet")
    assert empty.height == 0 and empty.schema == rows(2).schema


def test_a_later_batch_is_cast_to_the_first_batchs_types_and_rounded(tmp_path):
    with OutputSet(tmp_path) as staged:
        stream = staged.stream("t")
        stream.append(pl.DataFrame({"id": ["=a"], "x": [0.1 + 0.2]}))
        stream.append(pl.DataFrame({"id": ["b"], "x": [None]}))  # a Null column
        stream.close(pl.DataFrame({"id": [], "x": []}, schema={"id": pl.String, "x": pl.Float64}))
        staged.commit()
    back = pl.read_parquet(tmp_path / "t.parquet")
    assert back.schema == pl.Schema({"id": pl.String, "x": pl.Float64})
    assert back.rows() == [("=a", 0.3), ("b", None)]
    assert csv_text(tmp_path / "t.csv") == ["id,x", "'=a,0.3", "b,"]


def test_a_failed_batch_write_is_raised_by_the_next_append_or_by_close(tmp_path):
    with OutputSet(tmp_path) as staged:
        stream = staged.stream("t")
        stream.append(rows(1))
        stream.append(pl.DataFrame({"other": [1]}))  # not the first batch's columns
        with pytest.raises(Exception, match=r"other|field|schema|column"):
            stream.append(rows(1, first=5))
    assert names(tmp_path) == []
    with OutputSet(tmp_path / "b") as staged:
        stream = staged.stream("t")
        stream.append(rows(1))
        stream.append(pl.DataFrame({"other": [1]}))
        with pytest.raises(Exception, match=r"other|field|schema|column"):
            stream.close(rows(0))
    assert names(tmp_path / "b") == []


# --- the output folder ---------------------------------------------------------------------------------


def test_the_output_folder_is_checked_before_the_work(tmp_path, monkeypatch):
    assert check_output_dir(tmp_path / "new" / "out") == tmp_path / "new" / "out"
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file: --out is not a folder"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(OutputError, match=r"cannot create the output folder: .*file is not a folder"):
        check_output_dir(tmp_path / "file" / "out")
    (tmp_path / "t.csv").mkdir()
    (tmp_path / "ok.txt").mkdir()  # not an output's suffix
    with pytest.raises(OutputError, match=r"t\.csv: in the way of an output file"):
        check_output_dir(tmp_path)
    shutil.rmtree(tmp_path / "t.csv")
    (tmp_path / "t.parquet").symlink_to(tmp_path / "file")
    with pytest.raises(OutputError, match=r"t\.parquet: in the way of an output file"):
        check_output_dir(tmp_path)
    (tmp_path / "t.parquet").unlink()
    (tmp_path / "u.parquet").write_text("an earlier output")
    assert check_output_dir(tmp_path) == tmp_path
    free = outputs.MIN_FREE_BYTES - 1
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: Usage(10**12, 0, free))
    with pytest.raises(OutputError, match=r"only 63 MB free; at least 64 MB needed"):
        check_output_dir(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: Usage(10**12, 0, free + 1))
    assert check_output_dir(tmp_path) == tmp_path


def test_an_output_folder_is_created_with_its_parents(tmp_path):
    out = tmp_path / "new" / "out"
    assert write_output_set({"t": rows(1)}, out) == [out / "t.parquet", out / "t.csv"]
    assert names(out) == ["t.csv", "t.parquet"]


def test_a_folder_that_is_not_writable_is_refused(tmp_path, monkeypatch):
    # Tests run as root, for whom every folder is writable: os.access says what a user would be told.
    monkeypatch.setattr(os, "access", lambda _path, mode: not mode & os.W_OK)
    with pytest.raises(OutputError) as error:
        check_output_dir(tmp_path / "out")
    assert str(error.value) == f"{tmp_path}: the output folder is not writable"


def test_a_folder_that_cannot_be_created_or_written_is_an_output_error(tmp_path, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise OSError(errno.EACCES, "Permission denied", str(tmp_path / "out"))

    with OutputSet(tmp_path / "out") as staged:
        shutil.rmtree(staged.staging)  # the stream's files cannot be opened
        with pytest.raises(OutputError, match=r"t\.csv: cannot write the outputs: No such file or directory"):
            staged.stream("t")
    (tmp_path / "ro").mkdir()
    staged = OutputSet(tmp_path / "ro" / "out")
    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(OutputError, match=r"out: cannot create the output folder: Permission denied"):
        staged.__enter__()


# --- stable floats -------------------------------------------------------------------------------------


def test_floats_are_rounded_to_12_significant_digits_and_noise_is_zero():
    df = pl.DataFrame(
        {"x": [1234.56789012345, 2.2e-16, -9.99e-10, 1e-9, None], "n": [1, 2, 3, 4, 5], "s": ["a"] * 5}
    )
    got = stable_floats(df)
    assert got["x"].to_list() == [1234.56789012, 0.0, 0.0, 1e-9, None]
    assert got["n"].to_list() == [1, 2, 3, 4, 5] and got.columns == ["x", "n", "s"]
    no_floats = pl.DataFrame({"n": [1]})
    assert stable_floats(no_floats) is no_floats
