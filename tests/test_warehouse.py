"""The warehouse: Parquet + DuckDB round trip, atomic replacement, serialised writers."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from compscore import warehouse
from compscore.commands.summary import render_summary


def _frame(n: int, offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "deal_id": [f"D{i:03d}" for i in range(offset, offset + n)],
            "amount": [float(i) * 10.5 for i in range(n)],
            "close_date": [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(n)],
            "note": [None] * n,
        },
        schema={"deal_id": pl.String, "amount": pl.Float64, "close_date": pl.Date, "note": pl.String},
    )


def _duckdb_rows(root: Path, name: str) -> list[tuple]:
    with duckdb.connect(str(root / warehouse.DUCKDB_FILE), read_only=True) as con:
        return con.execute(f'select * from "{name}" order by 1').fetchall()


def _entries(root: Path) -> list[str]:
    """The warehouse folder's visible entries (hidden: the lock file and the staging folder)."""
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


def test_write_then_read_round_trips_parquet_and_duckdb(tmp_path: Path) -> None:
    df = _frame(3)
    written = warehouse.write_table(df, "deals", tmp_path)

    assert written.row_count == 3
    assert written.parquet_path == tmp_path / "deals.parquet"
    assert dict(written.schema) == dict(df.schema)
    assert warehouse.read_table("deals", tmp_path).equals(df)
    # a table write touches only Parquet: DuckDB is written by publish_database alone
    assert not (tmp_path / warehouse.DUCKDB_FILE).exists()
    assert warehouse.pending_tables(tmp_path) == ["deals"]

    [published] = warehouse.publish_database(tmp_path)
    assert (published.name, published.row_count, published.layer) == ("deals", 3, "main")
    assert _duckdb_rows(tmp_path, "deals") == [
        ("D000", 0.0, dt.date(2026, 1, 1), None),
        ("D001", 10.5, dt.date(2026, 1, 2), None),
        ("D002", 21.0, dt.date(2026, 1, 3), None),
    ]
    assert warehouse.list_tables(tmp_path) == ["deals"]
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 3}
    assert warehouse.pending_tables(tmp_path) == []
    assert warehouse.publish_database(tmp_path) == []  # nothing new: nothing loaded


def test_lazy_frames_are_streamed_and_tables_replaced(tmp_path: Path) -> None:
    warehouse.write_table(_frame(5), "deals", tmp_path)
    warehouse.publish_database(tmp_path)
    written = warehouse.write_table(_frame(2, offset=7).lazy(), "deals", tmp_path)
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 5}  # until the next publish
    warehouse.publish_database(tmp_path)

    assert written.row_count == 2
    assert warehouse.read_table("deals", tmp_path)["deal_id"].to_list() == ["D007", "D008"]
    assert [r[0] for r in _duckdb_rows(tmp_path, "deals")] == ["D007", "D008"]
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 2}
    assert _entries(tmp_path) == ["compscore.duckdb", "deals.parquet"]
    assert list((tmp_path / warehouse.STAGING_DIR).iterdir()) == []


def test_a_finished_parquet_file_is_moved_into_place_as_the_table(tmp_path: Path) -> None:
    warehouse.write_table(_frame(5), "deals", tmp_path)
    warehouse.publish_database(tmp_path)
    private = tmp_path / ".step-work"
    private.mkdir()
    finished = private / "deals.parquet"
    _frame(3, offset=20).write_parquet(finished, compression="lz4")

    written = warehouse.write_table(warehouse.ParquetFile(finished), "deals", tmp_path, layer="validated")
    warehouse.publish_database(tmp_path)

    assert not finished.exists()  # moved, not copied
    assert (written.row_count, written.schema) == (3, _frame(0).schema)
    assert warehouse.read_table("deals", tmp_path).equals(_frame(3, offset=20))
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 3}
    assert warehouse.duckdb_schemas(tmp_path)["deals"] == "validated"


def test_a_finished_file_that_is_not_parquet_is_refused_and_the_table_kept(tmp_path: Path) -> None:
    warehouse.write_table(_frame(4), "deals", tmp_path)
    warehouse.publish_database(tmp_path)
    garbage = tmp_path / "not-parquet.parquet"
    garbage.write_text("deal_id,amount\nD1,1.0\n")

    with pytest.raises(warehouse.WarehouseError, match=r"not-parquet\.parquet is not a Parquet file"):
        warehouse.write_table(warehouse.ParquetFile(garbage), "deals", tmp_path)

    assert warehouse.read_table("deals", tmp_path).equals(_frame(4))
    assert warehouse.pending_tables(tmp_path) == []
    assert _entries(tmp_path) == ["compscore.duckdb", "deals.parquet"]
    assert list((tmp_path / warehouse.STAGING_DIR).iterdir()) == []


def test_a_table_file_is_given_only_for_a_stored_plain_table(tmp_path: Path) -> None:
    warehouse.write_table(_frame(2), "deals", tmp_path)
    assert warehouse.table_file("deals", tmp_path) == tmp_path / "deals.parquet"
    with pytest.raises(warehouse.WarehouseError, match=r"table 'reps' is not in the warehouse .*materialise"):
        warehouse.table_file("reps", tmp_path)


def test_a_failed_publish_keeps_every_previous_table_and_the_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.write_table(_frame(4), "deals", tmp_path)
    warehouse.write_table(_frame(1), "reps", tmp_path)
    warehouse.publish_database(tmp_path)
    warehouse.write_table(_frame(9, offset=100), "deals", tmp_path)
    warehouse.write_table(_frame(2), "reps", tmp_path)

    real_sql = warehouse._swap_table_sql

    def fail_after_rename(name: str, schema: str = warehouse.MAIN_SCHEMA) -> list[str]:
        # reps comes second: deals is already dropped and replaced inside the transaction
        fail = ["select error('injected failure after the swap')"] if name == "reps" else []
        return [*real_sql(name, schema), *fail]

    monkeypatch.setattr(warehouse, "_swap_table_sql", fail_after_rename)
    with pytest.raises(duckdb.Error, match="injected failure"):
        warehouse.publish_database(tmp_path)

    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 4, "reps": 1}  # all or nothing
    assert warehouse.pending_tables(tmp_path) == ["deals", "reps"]
    monkeypatch.setattr(warehouse, "_swap_table_sql", real_sql)
    warehouse.publish_database(tmp_path)
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 9, "reps": 2}


def test_failure_while_writing_parquet_keeps_the_previous_table(tmp_path: Path) -> None:
    warehouse.write_table(_frame(4), "deals", tmp_path)
    warehouse.publish_database(tmp_path)
    broken = _frame(3).lazy().with_columns(pl.col("deal_id").str.to_integer())  # fails when streamed

    with pytest.raises(pl.exceptions.ComputeError):
        warehouse.write_table(broken, "deals", tmp_path)

    assert warehouse.read_table("deals", tmp_path).equals(_frame(4))
    assert warehouse.pending_tables(tmp_path) == []  # a failed write leaves no note
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 4}
    assert _entries(tmp_path) == ["compscore.duckdb", "deals.parquet"]


def test_a_table_written_again_during_a_publish_is_loaded_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.write_table(_frame(4), "deals", tmp_path)
    real_transaction = warehouse._in_transaction

    def write_meanwhile(con, statements, params):  # another step writes deals while DuckDB loads it
        warehouse.write_table(_frame(6), "deals", tmp_path)
        real_transaction(con, statements, params)

    monkeypatch.setattr(warehouse, "_in_transaction", write_meanwhile)
    warehouse.publish_database(tmp_path)
    monkeypatch.setattr(warehouse, "_in_transaction", real_transaction)

    assert warehouse.pending_tables(tmp_path) == ["deals"]  # its newer note survived the publish
    warehouse.publish_database(tmp_path)
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 6}


def test_a_noted_table_whose_file_is_gone_is_skipped(tmp_path: Path) -> None:
    warehouse.write_table(_frame(2), "deals", tmp_path)
    warehouse.write_table(_frame(3), "reps", tmp_path)
    (tmp_path / "reps.parquet").unlink()
    assert [t.name for t in warehouse.publish_database(tmp_path)] == ["deals"]
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 2}


def _write_many(root: str, worker: int) -> None:
    for i in range(5):
        warehouse.write_table(_frame(worker + 1, offset=i), f"t{worker}", root)
        warehouse.publish_database(root)


def test_parallel_processes_do_not_collide_on_the_duckdb_file(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(tmp_path), w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()

    assert [p.exitcode for p in procs] == [0, 0]
    assert warehouse.duckdb_row_counts(tmp_path) == {"t0": 1, "t1": 2}


def _lock_is_awaited(lock_file: Path) -> bool:
    """Whether a process or thread waits for a lock on `lock_file` (`/proc/locks` marks a waiter with `->`
    and names the file as `major:minor:inode`)."""
    inode = f":{lock_file.stat().st_ino}"
    return any(
        "->" in fields and any(field.endswith(inode) for field in fields)
        for fields in map(str.split, Path("/proc/locks").read_text().splitlines())
    )


@pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="needs Linux's /proc/locks to see a waiter")
def test_a_publish_reads_the_notes_only_once_it_holds_the_lock(tmp_path: Path) -> None:
    """A publish that listed the notes before another publish cleared them failed on a note that was gone
    (seen as a flaky `test_parallel_processes_do_not_collide_on_the_duckdb_file`). Here the lock is held
    while a publish waits for it and the note is cleared meanwhile, as the other publish would: the waiting
    publish must then find nothing to load."""
    warehouse.write_table(_frame(2), "deals", tmp_path)
    [note] = (tmp_path / warehouse.CATALOG_DIR).glob("*.json")
    result: list = []
    with warehouse._write_lock(tmp_path):
        waiting = threading.Thread(target=lambda: result.append(warehouse.publish_database(tmp_path)))
        waiting.start()
        deadline = time.monotonic() + 30
        while not _lock_is_awaited(tmp_path / warehouse.LOCK_FILE) and time.monotonic() < deadline:
            time.sleep(0.01)
        note.unlink()
    waiting.join(30)
    assert result == [[]]


def test_objects_round_trip_and_missing_names_are_explained(tmp_path: Path) -> None:
    warehouse.write_object({"hunter-2026": [1, 2]}, "raw_plans", tmp_path)
    assert warehouse.read_object("raw_plans", tmp_path) == {"hunter-2026": [1, 2]}

    with pytest.raises(warehouse.WarehouseError, match=r"table 'plan_scores' is not in the warehouse"):
        warehouse.read_table("plan_scores", tmp_path)
    with pytest.raises(warehouse.WarehouseError, match="invalid warehouse table name"):
        warehouse.write_table(_frame(1), "bad name; drop table x", tmp_path)


def test_relative_dirs_resolve_against_the_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warehouse.ENV_VAR, "some/where")
    assert warehouse.resolve_dir() == warehouse.REPO_ROOT / "some" / "where"
    monkeypatch.delenv(warehouse.ENV_VAR)
    assert warehouse.resolve_dir() == warehouse.REPO_ROOT / "data" / "warehouse"
    assert warehouse.resolve_dir("/abs/x") == Path("/abs/x")


def test_partitions_are_replaced_one_at_a_time(tmp_path: Path) -> None:
    warehouse.write_partition(_frame(2), "incoming_deals", "2026-01-01", tmp_path)
    warehouse.write_partition(_frame(3, offset=10), "incoming_deals", "2026-02-01", tmp_path)
    warehouse.publish_database(tmp_path)
    written = warehouse.write_partition(_frame(1, offset=20).lazy(), "incoming_deals", "2026-01-01", tmp_path)
    warehouse.publish_database(tmp_path)

    assert written.row_count == 1
    assert written.parquet_path == tmp_path / "incoming_deals" / "2026-01-01.parquet"
    assert warehouse.list_partitions("incoming_deals", tmp_path) == ["2026-01-01", "2026-02-01"]
    assert warehouse.list_tables(tmp_path) == ["incoming_deals"]
    assert warehouse.row_count("incoming_deals", tmp_path) == 4
    assert warehouse.read_table("incoming_deals", tmp_path)["deal_id"].to_list() == [
        "D020",
        "D010",
        "D011",
        "D012",
    ]
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        rows = con.execute(
            "select partition_key, count(*) from incoming_deals group by 1 order by 1"
        ).fetchall()
        first_column = con.execute("describe incoming_deals").fetchall()[0][0]
    assert rows == [("2026-01-01", 1), ("2026-02-01", 3)]
    assert first_column == "partition_key"


def test_a_partition_with_a_new_column_leaves_it_null_in_the_others(tmp_path: Path) -> None:
    warehouse.write_partition(_frame(2), "runs", "r1", tmp_path)
    warehouse.write_partition(_frame(1).with_columns(pl.lit(7).alias("added")), "runs", "r2", tmp_path)
    warehouse.publish_database(tmp_path)
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        rows = con.execute("select partition_key, deal_id, added from runs order by 1, 2").fetchall()
    assert rows == [("r1", "D000", None), ("r1", "D001", None), ("r2", "D000", 7)]


def test_summary_says_which_tables_are_not_in_duckdb_yet(tmp_path: Path) -> None:
    warehouse.write_table(_frame(2), "deals", tmp_path)
    warehouse.write_table(_frame(1), "reps", tmp_path)
    warehouse.publish_database(tmp_path)
    warehouse.write_table(_frame(3), "deals", tmp_path)
    lines = render_summary(tmp_path).splitlines()
    assert any(line.split()[:2] == ["deals", "3"] and "not loaded yet" in line for line in lines)
    assert any(line.split() == ["reps", "1", "ok"] for line in lines)


def _linked_table(root: Path, of: str, name: str, layer: str) -> None:
    """Write table `name` as a hard link of table `of`'s file (what `validated` hands over for a table of
    which nothing was rejected)."""
    link = root / f"link-of-{of}.parquet"
    os.link(warehouse.parquet_path(of, root), link)
    comments = warehouse.Comments("Deals that passed.", {"amount": "Deal value, USD."})
    warehouse.write_table(warehouse.ParquetFile(link), name, root, layer=layer, comments=comments)


def _objects(root: Path) -> dict[tuple[str, str], str]:
    """Every (schema, name) of the database with its kind, the bookkeeping table included."""
    with duckdb.connect(str(root / warehouse.DUCKDB_FILE), read_only=True) as con:
        return {
            (schema, name): kind
            for schema, name, kind in con.execute(
                "select schema_name, table_name, 'table' from duckdb_tables() "
                "union all select schema_name, view_name, 'view' from duckdb_views() where not internal"
            ).fetchall()
        }


def _layer_rows(root: Path, layer: str, name: str) -> list[tuple]:
    with duckdb.connect(str(root / warehouse.DUCKDB_FILE), read_only=True) as con:
        return con.execute(f'select * from "{layer}"."{name}" order by 1').fetchall()


def test_tables_of_one_file_are_stored_once_and_shown_under_both_names(tmp_path: Path) -> None:
    warehouse.write_partition(_frame(1), "incoming_deals", "2026-01", tmp_path)  # never shared, noted first
    raw_comments = warehouse.Comments("Deals as received.", {"amount": "As received."})
    warehouse.write_table(_frame(3), "raw_deals", tmp_path, layer="raw", comments=raw_comments)
    _linked_table(tmp_path, "raw_deals", "deals", "validated")

    published = warehouse.publish_database(tmp_path)

    assert {t.name: (t.layer, t.row_count, t.view_of) for t in published} == {
        "deals": ("validated", 3, "raw.raw_deals"),
        "incoming_deals": ("main", 1, None),
        "raw_deals": ("raw", 3, None),
    }
    deals = next(t for t in published if t.name == "deals")
    assert deals.parquet_path == tmp_path / "deals.parquet"
    assert deals.duckdb_path == tmp_path / warehouse.DUCKDB_FILE
    assert dict(deals.schema) == dict(_frame(0).schema)
    assert _objects(tmp_path) == {
        ("main", "incoming_deals"): "table",
        ("raw", "raw_deals"): "table",  # written first: loaded
        ("validated", "deals"): "view",  # the same file: a view of it
        ("main", warehouse.SHARED_FILES): "table",
    }
    assert _layer_rows(tmp_path, "validated", "deals") == _layer_rows(tmp_path, "raw", "raw_deals")
    assert len(_layer_rows(tmp_path, "validated", "deals")) == 3
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as reader:  # beside a reader
        assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 3, "incoming_deals": 1, "raw_deals": 3}
        assert warehouse.duckdb_schemas(tmp_path) == {
            "deals": "validated",
            "incoming_deals": "main",
            "raw_deals": "raw",
        }
        assert reader.execute(
            "select comment from duckdb_tables() where table_name = 'raw_deals'"
        ).fetchall() == [("Deals as received.",)]
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        shared = con.execute(f"select * from {warehouse.SHARED_FILES}").fetchall()
        view_comment = con.execute("select comment from duckdb_views() where view_name = 'deals'").fetchall()
        column_comment = con.execute(
            "select comment from duckdb_columns() where table_name = 'deals' and column_name = 'amount'"
        ).fetchall()
    assert shared == [("validated", "deals", "raw", "raw_deals")]
    summary = render_summary(tmp_path)  # the view's rows are read and found equal to its file's
    assert re.search(r"^deals +3  ok$", summary, flags=re.M) and re.search(
        r"^raw_deals +3  ok$", summary, flags=re.M
    )
    assert view_comment == [("Deals that passed.",)]
    assert column_comment == [("Deal value, USD.",)]


def test_a_view_keeps_its_rows_when_the_table_it_reads_is_replaced_alone(tmp_path: Path) -> None:
    warehouse.write_table(_frame(3), "raw_deals", tmp_path, layer="raw")
    _linked_table(tmp_path, "raw_deals", "deals", "validated")
    warehouse.write_table(_frame(2, offset=70), "raw_reps", tmp_path, layer="raw")
    _linked_table(tmp_path, "raw_reps", "reps", "validated")
    warehouse.publish_database(tmp_path)
    before = _layer_rows(tmp_path, "validated", "deals")

    warehouse.write_table(_frame(1), "accounts", tmp_path, layer="validated")  # unrelated: views stay
    warehouse.publish_database(tmp_path)
    assert _objects(tmp_path)[("validated", "deals")] == "view"

    warehouse.write_table(_frame(5, offset=50), "raw_deals", tmp_path, layer="raw")  # raw alone, new rows
    warehouse.write_table(_frame(4, offset=90), "raw_reps", tmp_path, layer="raw")
    assert [t.name for t in warehouse.publish_database(tmp_path)] == ["raw_deals", "raw_reps"]

    assert _objects(tmp_path)[("validated", "deals")] == "table"
    assert _objects(tmp_path)[("validated", "reps")] == "table"
    assert _layer_rows(tmp_path, "validated", "deals") == before
    assert warehouse.duckdb_row_counts(tmp_path) == {
        "accounts": 1,
        "deals": 3,
        "raw_deals": 5,
        "raw_reps": 4,
        "reps": 2,
    }
    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        assert con.execute(f"select count(*) from {warehouse.SHARED_FILES}").fetchone() == (0,)
        assert con.execute("select comment from duckdb_tables() where table_name = 'deals'").fetchone() == (
            "Deals that passed.",
        )
        assert con.execute(
            "select comment from duckdb_columns() where table_name = 'deals' and column_name = 'amount'"
        ).fetchone() == ("Deal value, USD.",)


def test_a_view_becomes_a_table_when_its_own_file_differs_and_a_view_again_when_shared(
    tmp_path: Path,
) -> None:
    warehouse.write_table(_frame(3), "raw_deals", tmp_path, layer="raw")
    _linked_table(tmp_path, "raw_deals", "deals", "validated")
    warehouse.publish_database(tmp_path)

    warehouse.write_table(_frame(2), "deals", tmp_path, layer="validated")  # a row rejected: its own file
    warehouse.publish_database(tmp_path)
    assert _objects(tmp_path)[("validated", "deals")] == "table"
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 2, "raw_deals": 3}

    warehouse.write_table(_frame(4, offset=10), "raw_deals", tmp_path, layer="raw")
    _linked_table(tmp_path, "raw_deals", "deals", "validated")
    warehouse.publish_database(tmp_path)
    assert _objects(tmp_path)[("validated", "deals")] == "view"
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 4, "raw_deals": 4}


def test_a_file_shared_with_a_table_published_earlier_is_loaded_as_a_table(tmp_path: Path) -> None:
    warehouse.write_table(_frame(3), "raw_deals", tmp_path, layer="raw")
    warehouse.publish_database(tmp_path)
    _linked_table(tmp_path, "raw_deals", "deals", "validated")

    warehouse.publish_database(tmp_path)

    assert _objects(tmp_path) == {("raw", "raw_deals"): "table", ("validated", "deals"): "table"}
    assert warehouse.duckdb_row_counts(tmp_path) == {"deals": 3, "raw_deals": 3}


def test_comments_name_only_the_columns_the_table_has(tmp_path: Path) -> None:
    """A description of a column the file lacks (an optional column) is not commented; a table without a
    description gets its columns' comments only."""
    comments = warehouse.Comments(None, {"amount": "Deal value, USD.", "term_months": "Optional, absent."})
    warehouse.write_table(_frame(2), "raw_deals", tmp_path, layer="raw", comments=comments)
    link = tmp_path / "link.parquet"
    os.link(warehouse.parquet_path("raw_deals", tmp_path), link)
    warehouse.write_table(
        warehouse.ParquetFile(link), "deals", tmp_path, layer="validated", comments=comments
    )

    warehouse.publish_database(tmp_path)

    with duckdb.connect(str(tmp_path / warehouse.DUCKDB_FILE), read_only=True) as con:
        found = con.execute(
            "select table_name, column_name, comment from duckdb_columns() where comment is not null "
            "order by 1, 2"
        ).fetchall()
        described = con.execute(
            "select table_name from duckdb_tables() where comment is not null "
            "union all select view_name from duckdb_views() where comment is not null and not internal"
        ).fetchall()
    assert found == [("deals", "amount", "Deal value, USD."), ("raw_deals", "amount", "Deal value, USD.")]
    assert described == [(warehouse.SHARED_FILES,)]
