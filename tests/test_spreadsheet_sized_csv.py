"""CSV copies of the output tables only while they fit a spreadsheet (`compscore.outputs`)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import polars as pl
import pytest

from compscore import outputs
from compscore.cli import main
from compscore.outputs import OutputError, OutputSet, write_output_set


@pytest.fixture
def three_row_spreadsheets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outputs, "SPREADSHEET_MAX_ROWS", 3)


def _rows(n: int, first: int = 0) -> pl.DataFrame:
    return pl.DataFrame({"line_id": [f"L{i}" for i in range(first, first + n)], "amount": [1.5] * n})


def test_a_table_at_the_limit_has_its_csv_and_one_row_more_has_none(tmp_path: Path, three_row_spreadsheets):
    out = tmp_path / "out"
    with OutputSet(out) as staged:
        staged.add("fits", _rows(3))
        staged.add("too_long", _rows(4))
        staged.commit()
    assert sorted(p.name for p in out.iterdir()) == ["fits.csv", "fits.parquet", "too_long.parquet"]
    assert staged.csv_left_out == ["too_long"]
    assert pl.read_parquet(out / "too_long.parquet").equals(_rows(4))


def test_the_csv_of_an_earlier_run_goes_when_the_table_outgrows_a_spreadsheet(
    tmp_path: Path, three_row_spreadsheets
):
    out = tmp_path / "out"
    write_output_set({"t": _rows(2)}, out)
    assert (out / "t.csv").is_file()
    write_output_set({"t": _rows(5)}, out)
    assert sorted(p.name for p in out.iterdir()) == ["t.parquet"]


def test_a_streamed_table_drops_its_csv_once_past_the_limit(tmp_path: Path, three_row_spreadsheets):
    out = tmp_path / "out"
    write_output_set({"t": _rows(1)}, out)
    with OutputSet(out) as staged:
        stream = staged.stream("t")
        stream.append(_rows(2))
        stream.append(_rows(2, first=2))
        stream.close(_rows(0))
        staged.commit()
    assert staged.csv_left_out == ["t"]
    assert sorted(p.name for p in out.iterdir()) == ["t.parquet"]
    assert pl.read_parquet(out / "t.parquet").equals(_rows(4))


def test_a_streamed_table_at_the_limit_keeps_every_row_in_its_csv(tmp_path: Path, three_row_spreadsheets):
    out = tmp_path / "out"
    with OutputSet(out) as staged:
        stream = staged.stream("t")
        stream.append(_rows(2))
        stream.append(_rows(1, first=2))
        stream.close(_rows(0))
        staged.commit()
    assert staged.csv_left_out == []
    assert pl.read_csv(out / "t.csv").equals(_rows(3))


def test_a_failed_commit_puts_back_the_earlier_csv(tmp_path: Path, three_row_spreadsheets, monkeypatch):
    out = tmp_path / "out"
    write_output_set({"a": _rows(1), "t": _rows(1)}, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_replace = os.replace
    failed = []

    def replace(src, dst):
        if Path(dst) == out / "t.parquet" and not failed:  # the first move onto t.parquet fails, once
            failed.append(dst)
            raise OSError(errno.EIO, "I/O error", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError):
        write_output_set({"a": _rows(1), "t": _rows(9)}, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_the_cli_says_which_tables_are_parquet_only(
    canonical_small_dir: Path, tmp_path: Path, three_row_spreadsheets, capsys
):
    out = tmp_path / "out"
    assert main(["score", "--input", str(canonical_small_dir), "--out", str(out), "--no-gx"]) == 0
    said = capsys.readouterr().out
    assert "As Parquet only, being longer than a spreadsheet opens (3 rows): " in said
    assert "pay_attribution" in said.split("As Parquet only")[1].splitlines()[0]
    assert (out / "pay_attribution.parquet").is_file() and not (out / "pay_attribution.csv").exists()
