"""Incremental reads: the pure merge by key and watermark, and the real PostgreSQL server (load, change,
delete, load again: the result equals a full reload)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import postgres_database
import pytest

from compscore.adapters import MappingError, SyncOptions, import_source
from compscore.adapters.incremental import (
    SALESFORCE_RULE,
    SyncRule,
    canonical_rule,
    checked_watermark,
    merge_changes,
    parse_sync_rules,
    watermark_of,
)
from compscore.adapters.postgres import write_tables
from compscore.cli import main
from compscore.loaders import load_canonical_dir

CANONICAL = Path(__file__).parent / "fixtures" / "canonical_small"
database_url = postgres_database.database_url
T = dt.datetime


def test_merge_keeps_the_latest_version_and_drops_deleted_rows() -> None:
    previous = pl.DataFrame(
        {
            "Id": ["A", "B", "C"],
            "Amount": [1.0, 2.0, 3.0],
            "IsDeleted": [False] * 3,
            "SystemModstamp": [T(2026, 1, 1)] * 3,
        }
    )
    changes = pl.DataFrame(
        {
            "Id": ["D", "A", "B", "D"],
            "Amount": [40.0, 10.0, 2.0, 41.0],
            "IsDeleted": [False, False, True, False],
            "SystemModstamp": [T(2026, 2, 1), T(2026, 2, 1), T(2026, 2, 2), T(2026, 2, 3)],
        }
    )
    merged = merge_changes(previous, changes, SALESFORCE_RULE)
    # A: its change wins; B: deleted; C: untouched; D: of two versions the later (2026-02-03) wins
    assert merged.select("Id", "Amount").rows() == [("A", 10.0), ("C", 3.0), ("D", 41.0)]
    assert watermark_of(changes, SALESFORCE_RULE, "2026-01-01T00:00:00") == "2026-02-03T00:00:00"


def test_soft_delete_column_and_case_insensitive_names() -> None:
    rule = canonical_rule(("deal_id",))
    previous = pl.DataFrame(
        {"DEAL_ID": ["D1", "D2"], "amount": [1.0, 2.0], "UPDATED_AT": [T(2026, 1, 1)] * 2}
    )
    changes = pl.DataFrame(
        {"DEAL_ID": ["D2"], "amount": [2.0], "UPDATED_AT": [T(2026, 3, 1)], "DELETED_AT": [T(2026, 3, 1)]}
    )
    assert merge_changes(previous, changes, rule)["DEAL_ID"].to_list() == ["D1"]


def test_watermark_never_moves_back_and_is_kept_without_changes() -> None:
    rule = SyncRule(key=("id",), modified=("updated_at",))
    empty = pl.DataFrame(
        {"id": [], "updated_at": []}, schema={"id": pl.String, "updated_at": pl.Datetime("us")}
    )
    assert watermark_of(empty, rule, "2026-05-01T00:00:00") == "2026-05-01T00:00:00"
    older = pl.DataFrame({"id": ["x"], "updated_at": [T(2026, 4, 1)]})
    assert watermark_of(older, rule, "2026-05-01T00:00:00") == "2026-05-01T00:00:00"
    no_column = pl.DataFrame({"id": ["x"]})
    assert watermark_of(no_column, rule, None) is None


def test_a_watermark_that_is_not_a_timestamp_is_refused() -> None:
    assert checked_watermark(" 2026-05-01T10:00:00+00:00") == "2026-05-01T10:00:00+00:00"
    with pytest.raises(ValueError):
        checked_watermark("2026-05-01' OR '1'='1")


def test_sync_config_names_the_bad_table_and_refuses_aliases() -> None:
    rules = parse_sync_rules(
        "tables:\n  Opportunity: {key: [sfid], modified: systemmodstamp, deleted_flag: isdeleted}\n"
    )
    assert rules["opportunity"] == SyncRule(("sfid",), ("systemmodstamp",), ("isdeleted",), ())
    with pytest.raises(MappingError, match=r"sync.yaml:3: tables.deals"):
        parse_sync_rules(
            "tables:\n  accounts: {key: account_id}\n  deals: {modified: updated_at}\n", "sync.yaml"
        )
    with pytest.raises(MappingError, match="aliases"):
        parse_sync_rules("base: &b {key: id}\ntables: {deals: *b}\n")


def _sync(state: Path, full: bool = False) -> SyncOptions:
    return SyncOptions(state, full_reload=full)


def _load(url: str, state: Path, full: bool = False):
    return import_source("postgres", url, plans_dir=CANONICAL / "plans", sync=_sync(state, full))


def test_canonical_replica_changed_and_deleted_rows_equal_a_full_reload(
    database_url: str, tmp_path: Path
) -> None:
    write_tables(load_canonical_dir(CANONICAL).data, database_url)
    postgres_database.execute(
        database_url,
        "ALTER TABLE deals ADD COLUMN updated_at timestamptz NOT NULL DEFAULT '2026-06-01T00:00:00+00'",
        "ALTER TABLE deals ADD COLUMN deleted_at timestamptz",
    )
    state = tmp_path / "state"
    first = _load(database_url, state)
    assert {s.table: s.mode for s in first.syncs}["deals"] == "full"
    assert first.watermarks["deals"] == "2026-06-01T00:00:00+00:00"
    assert first.data.deals.height == 8

    postgres_database.execute(
        database_url,
        "UPDATE deals SET amount = 45000, updated_at = '2026-06-02T09:00:00+00' WHERE deal_id = 'D001'",
        "UPDATE deals SET deleted_at = '2026-06-02T10:00:00+00', updated_at = '2026-06-02T10:00:00+00' "
        "WHERE deal_id = 'D004'",
        "INSERT INTO deals (deal_id, account_id, owner_rep_id, deal_type, stage, amount, created_date, "
        "updated_at) "
        "VALUES ('D009', 'A002', 'R02', 'expansion', 'open', 5000, '2026-06-01', '2026-06-02T11:00:00+00')",
    )
    second = _load(database_url, state)
    deals_sync = next(s for s in second.syncs if s.table == "deals")
    # rows at or after 2026-06-01T00:00 are read again: all 8 old rows carry it, plus the new D009
    assert (deals_sync.mode, deals_sync.rows_read, deals_sync.rows_deleted) == ("incremental", 9, 1)
    assert second.watermarks["deals"] == "2026-06-02T11:00:00+00:00"
    third = _load(database_url, state)
    assert next(s for s in third.syncs if s.table == "deals").rows_read == 1  # D009, at the watermark

    reloaded = _load(database_url, tmp_path / "fresh")
    assert next(s for s in reloaded.syncs if s.table == "deals").mode == "full"
    for name, frame in reloaded.data.tables.items():
        assert second.data.tables[name].equals(frame), name
        assert third.data.tables[name].equals(frame), name
    deals = dict(second.data.deals.select("deal_id", "amount").iter_rows())
    assert deals["D001"] == 45000 and "D004" not in deals and deals["D009"] == 5000


def test_synced_salesforce_objects_update_and_delete_by_systemmodstamp(
    database_url: str, tmp_path: Path
) -> None:
    opportunities = pl.DataFrame(
        {
            "Id": ["006A0000001AaAaIAK", "006A0000001BbBbIAK", "006A0000001CcCcIAK"],
            "AccountId": ["001A0000006Vm9rIAC"] * 3,
            "OwnerId": ["005A0000001aBcDIAU"] * 3,
            "Type": ["New Customer", "Existing Customer - Upgrade", "Renewal"],
            "StageName": ["Closed Won", "Prospecting", "Prospecting"],
            "IsClosed": [True, False, False],
            "IsWon": [True, False, False],
            "Amount": [100.0, 200.0, 300.0],
            "CloseDate": [dt.date(2026, 1, 10), dt.date(2026, 2, 10), dt.date(2026, 3, 10)],
            "CreatedDate": [T(2026, 1, 1)] * 3,
            "IsDeleted": [False] * 3,
            "SystemModstamp": [T(2026, 1, 5, 12, 0, 0, 123456)] * 3,
        }
    )
    opportunities.write_database('public."Opportunity"', database_url, engine="adbc")
    state = tmp_path / "state"
    first = import_source("postgres", database_url, layout="salesforce", sync=_sync(state))
    assert first.data.deals.height == 3
    postgres_database.execute(
        database_url,
        'UPDATE "Opportunity" SET "StageName" = \'Closed Won\', "IsClosed" = true, "IsWon" = true, '
        "\"SystemModstamp\" = '2026-02-11 08:00:00' WHERE \"Id\" = '006A0000001BbBbIAK'",
        'UPDATE "Opportunity" SET "IsDeleted" = true, "SystemModstamp" = \'2026-02-12 08:00:00\' '
        "WHERE \"Id\" = '006A0000001CcCcIAK'",
    )
    second = import_source("postgres", database_url, layout="salesforce", sync=_sync(state))
    [sync] = second.syncs
    # the two changed rows, and AaAa again: its SystemModstamp is the watermark itself (read with >=)
    assert (sync.table, sync.mode, sync.rows_read, sync.rows_deleted) == ("Opportunity", "incremental", 3, 1)
    full = import_source("postgres", database_url, layout="salesforce", sync=_sync(state, full=True))
    assert full.syncs[0].mode == "full"
    assert second.data.deals.equals(full.data.deals)
    assert second.data.deals.select("deal_id", "stage").rows() == [
        ("006A0000001AaAaIAK", "won"),
        ("006A0000001BbBbIAK", "won"),
    ]


def test_cli_reads_incrementally_with_a_sync_state_folder(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tables(load_canonical_dir(CANONICAL).data, database_url)
    postgres_database.execute(
        database_url,
        "ALTER TABLE deals ADD COLUMN updated_at timestamp NOT NULL DEFAULT '2026-06-01 00:00:00'",
    )
    monkeypatch.setenv("COMPSCORE_TEST_PG", database_url)
    state = tmp_path / "state"
    args = ["import", "--from", "postgres", "--url-env", "COMPSCORE_TEST_PG", "--out", str(tmp_path / "out")]
    args += ["--plans", str(CANONICAL / "plans"), "--sync-state", str(state)]
    assert main(args) == 0
    assert "deals: full read, 8 row(s) read" in capsys.readouterr().out
    assert json.loads((state / "watermarks.json").read_text())["deals"] == "2026-06-01T00:00:00"
    assert main(args) == 0
    assert "deals: incremental read, 8 row(s) read" in capsys.readouterr().out
    assert main([*args, "--full-reload"]) == 0
    assert "deals: full read" in capsys.readouterr().out
