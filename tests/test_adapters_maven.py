"""The Maven CRM dataset end to end: import, validate (load the written folder), score."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from compscore.adapters import import_source
from compscore.cli import main
from compscore.loaders import load_canonical_dir

MAVEN = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "maven_crm"
pytestmark = pytest.mark.skipif(not MAVEN.is_dir(), reason=f"Maven CRM dataset not found at {MAVEN}")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("maven") / "canonical"
    assert main(["import", "--from", "maven", "--input", str(MAVEN), "--out", str(out)]) == 0
    return out


def test_counts_match_the_dataset():
    result = import_source("maven", MAVEN)
    data = result.data
    pipeline = pl.read_csv(MAVEN / "sales_pipeline.csv", infer_schema=False)
    assert data.reps.height == 35
    assert data.accounts.height == 85
    assert data.deals.filter(pl.col("stage") == "won").height == 4238
    assert data.deals.filter(pl.col("stage") == "won")["amount"].sum() == 10_005_534.0
    # every pipeline row is either a canonical deal or a reject
    rejected = result.rejects["row_key"].n_unique()
    assert data.deals.height + rejected == pipeline.height == 8800
    assert rejected == 1588  # open rows without an account (1,425) or an engage date (500), overlapping
    # first won deal per account is new business
    assert (
        data.deals.filter((pl.col("stage") == "won") & (pl.col("deal_type") == "new_business")).height == 85
    )
    assert data.rep_plan_assignments.height == 35
    assert sorted(data.plans) == ["maven-balanced", "maven-farmer", "maven-hunter"]


def test_known_defects_are_findings_not_crashes():
    result = import_source("maven", MAVEN)
    summary = result.findings.group_by("rule", "columns", "offending_values").len().sort("rule").rows()
    assert summary == [
        ("misspelt_value", "industry", "technolgy", 12),
        ("product_not_in_price_list", "product", "GTXPro", 1480),
    ]
    assert result.data.accounts.filter(pl.col("industry") == "technolgy").is_empty()
    assert result.data.accounts.filter(pl.col("industry") == "technology").height == 12
    # a lost GTXPro deal (close_value 0) is valued at GTX Pro's list price; a won one keeps its close value
    amounts = result.data.deals.filter(pl.col("deal_id").is_in(["KWVA7VR1", "Z063OYW0"])).sort("deal_id")
    assert amounts.select("deal_id", "stage", "amount").rows() == [
        ("KWVA7VR1", "lost", 4821.0),
        ("Z063OYW0", "won", 4514.0),
    ]


def test_written_folder_loads_back_without_rejects(imported):
    loaded = load_canonical_dir(imported)
    assert loaded.rejects.is_empty()
    assert loaded.data.deals.height == 7212
    assert (imported / ".import" / "findings.csv").exists()
    assert pl.read_csv(imported / ".import" / "rejects.csv").height == 1925


def test_score_the_imported_folder(imported, tmp_path, capsys):
    capsys.readouterr()
    assert main(["score", "--input", str(imported), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    scores = pl.read_parquet(tmp_path / "out" / "plan_scores.parquet")
    assert sorted(scores["plan_id"].unique()) == ["maven-balanced", "maven-farmer", "maven-hunter"]
    assert set(scores["period"]) == {"2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4"}
    assert scores["n_reps"].sum() == 35 * 4
    assert scores["same_day_index"].null_count() == 0
    assert "maven-hunter" in printed
