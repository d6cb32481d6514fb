"""HubSpot deal exports map to the expected canonical rows, value for value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from compscore.adapters import import_source

HUBSPOT = Path(__file__).parent / "fixtures" / "exports" / "hubspot"
D = dt.date


def test_deals_map_value_for_value():
    result = import_source("hubspot", HUBSPOT)
    deals = result.data.deals.select(
        "deal_id", "account_id", "owner_rep_id", "deal_type", "stage", "amount", "created_date", "close_date"
    )
    assert deals.rows() == [
        ("9001", "5001", "301", "new_business", "won", 1200.5, D(2024, 1, 3), D(2024, 2, 10)),
        ("9002", "5001", "302", "expansion", "won", 1800.0, D(2024, 4, 1), D(2024, 5, 20)),
        ("9003", "5001", "301", "expansion", "lost", 2000.0, D(2024, 12, 1), D(2025, 2, 9)),
        ("9004", "5002", "302", "new_business", "open", 400.0, D(2024, 6, 1), None),
        # no company association: the deal name stands for the account; no dealtype: derived (first win)
        ("9005", "Wayne Enterprises", "301", "new_business", "won", 5000.0, D(2024, 5, 1), D(2024, 6, 15)),
    ]
    assert result.rejects.is_empty()


def test_accounts_and_reps_are_derived_without_their_exports():
    result = import_source("hubspot", HUBSPOT / "deals.csv")
    assert result.data.accounts["account_id"].to_list() == ["5001", "5002", "Wayne Enterprises"]
    assert result.data.reps["rep_id"].to_list() == ["301", "302"]
    assert any("no account export: 3 accounts" in w for w in result.warnings)
