"""PostgreSQL round trip: canonical tables and a synced Salesforce schema, in a database made per test."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import postgres_database

from compscore.adapters import import_source
from compscore.adapters.postgres import write_tables
from compscore.cli import main
from compscore.loaders import load_canonical_dir
from compscore.provenance import PROVENANCE_COLUMNS

FIXTURES = Path(__file__).parent / "fixtures"
CANONICAL = FIXTURES / "canonical_small"
SF = FIXTURES / "exports" / "salesforce"
database_url = postgres_database.database_url


def test_canonical_tables_round_trip_equal_to_the_file_source(database_url):
    files = load_canonical_dir(CANONICAL).data
    write_tables(files, database_url)
    result = import_source("postgres", database_url, plans_dir=CANONICAL / "plans")
    for name, frame in files.tables.items():
        assert result.data.tables[name].equals(frame), name
    assert result.data.given_commission_lines
    assert result.rejects.is_empty()


def test_cli_postgres_import_scores_equal_to_the_file_run(database_url, tmp_path, monkeypatch):
    write_tables(load_canonical_dir(CANONICAL).data, database_url)
    monkeypatch.setenv("COMPSCORE_TEST_PG", database_url)
    out = tmp_path / "from_pg"
    args = ["import", "--from", "postgres", "--url-env", "COMPSCORE_TEST_PG", "--out", str(out)]
    assert main([*args, "--plans", str(CANONICAL / "plans")]) == 0
    assert main(["score", "--input", str(out), "--out", str(tmp_path / "pg_scores")]) == 0
    assert main(["score", "--input", str(CANONICAL), "--out", str(tmp_path / "file_scores")]) == 0
    # Provenance names each run (id, time, source folder): everything else must match.
    from_pg = pl.read_parquet(tmp_path / "pg_scores" / "plan_scores.parquet").drop(PROVENANCE_COLUMNS)
    from_files = pl.read_parquet(tmp_path / "file_scores" / "plan_scores.parquet").drop(PROVENANCE_COLUMNS)
    assert from_pg.height > 0
    assert from_pg.equals(from_files)


def test_synced_salesforce_schema_maps_like_the_export_files(database_url):
    from_files = import_source("salesforce", SF).data
    deals = from_files.deals
    type_labels = {
        "new_business": "New Customer",
        "expansion": "Existing Customer - Upgrade",
        "renewal": "Renewal",
    }
    opportunity = deals.join(
        from_files.referrals.select(pl.col("converted_deal_id").alias("deal_id"), "referring_account_id"),
        on="deal_id",
        how="left",
    ).select(
        pl.col("deal_id").alias("Id"),
        pl.col("account_id").alias("AccountId"),
        pl.col("owner_rep_id").alias("OwnerId"),
        pl.col("deal_type").replace_strict(type_labels).alias("Type"),
        pl.col("lead_source").alias("LeadSource"),
        pl.col("stage")
        .replace_strict({"won": "Closed Won", "lost": "Closed Lost", "open": "Proposal"})
        .alias("StageName"),
        (pl.col("stage") != "open").alias("IsClosed"),
        (pl.col("stage") == "won").alias("IsWon"),
        pl.col("amount").alias("Amount"),
        pl.col("close_date").alias("CloseDate"),
        pl.col("created_date").cast(pl.Datetime("us")).alias("CreatedDate"),
        pl.col("referring_account_id").alias("Referring_Account__c"),
    )
    opportunity.write_database('public."Opportunity"', database_url, engine="adbc")
    accounts = from_files.accounts.select(
        pl.col("account_id").alias("Id"),
        pl.col("account_name").alias("Name"),
        pl.col("industry").alias("Industry"),
        pl.col("region").alias("BillingCountry"),
        pl.col("created_date").alias("CreatedDate"),
    )
    accounts.write_database('public."Account"', database_url, engine="adbc")
    result = import_source("postgres", database_url, layout="salesforce")
    assert result.data.deals.equals(deals)
    assert result.data.accounts.equals(from_files.accounts)
    assert result.data.referrals.equals(from_files.referrals)
    # no User table: reps come from the deals' owners
    assert sorted(result.data.reps["rep_id"]) == sorted(from_files.reps["rep_id"])
