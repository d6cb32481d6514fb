"""`compscore.engine.plan_tables`: plans flattened to frames, and the rule expressions the engine and the
scores share (quota credit, marginal tiers, caps, contingency), against values worked out by hand from
SPEC sections 3 and 4 and docs/methodology.md ("Payout engine")."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from compscore.engine.plan_tables import (
    capped_increment,
    contingency,
    deferred_contingency,
    is_credited,
    kept_contingency,
    plan_tables,
    tiered_pay,
)
from compscore.plans import Clawback, Component, Deferral, Plan, Tier

D = dt.date

HUNTER = Plan(
    plan_id="hunter",
    name="Hunter AE",
    period="quarter",
    quota=250_000.0,
    quota_credit=("new_business", "renewal"),
    effective_start=D(2026, 1, 1),
    effective_end=D(2026, 12, 31),
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business", "expansion"),
            tiers=(Tier(0.0, 0.05), Tier(0.5, 0.10), Tier(1.0, 0.20)),
            cap=40_000.0,
            # t/H = 73/365 = 0.2; f·w/H = 0.5 × 219/365 = 0.5 × 0.6 = 0.3
            clawback=Clawback(window_days=219, fraction=0.5),
            deferral=Deferral(fraction=0.25, release_after_days=73),
        ),
        Component(
            id="qe", kind="spiff", applies_to=("new_business",), amount=1_000.0, last_days_of_period=14
        ),
        Component(id="ref", kind="referral_bonus", rate=0.05),
        Component(
            id="grr", kind="retention_bonus", metric="gross_revenue_retention", threshold=0.9, amount=5_000
        ),
    ),
)
FARMER = Plan(
    plan_id="farmer",
    name="Farmer AM",
    period="month",
    quota_credit=("expansion",),
    components=(
        Component(
            id="renew",
            kind="commission",
            applies_to=("renewal",),
            tiers=(Tier(0.0, 0.02),),
            # windows past the horizon count as H: min(730/365, 1) = 1
            clawback=Clawback(window_days=730, fraction=0.4),
            deferral=Deferral(fraction=0.5, release_after_days=730),
        ),
    ),
)


def test_plans_become_one_row_each_with_their_quota_credit_flags():
    tables = plan_tables({"hunter": HUNTER, "farmer": FARMER})
    assert tables.plans.to_dicts() == [
        {
            "plan_id": "hunter",
            "plan_name": "Hunter AE",
            "period_kind": "quarter",
            "quota": 250_000.0,
            "credits_new_business": True,
            "credits_expansion": False,
            "credits_renewal": True,
            "effective_start": D(2026, 1, 1),
            "effective_end": D(2026, 12, 31),
        },
        {
            "plan_id": "farmer",
            "plan_name": "Farmer AM",
            "period_kind": "month",
            "quota": None,
            "credits_new_business": False,
            "credits_expansion": True,
            "credits_renewal": False,
            "effective_start": None,
            "effective_end": None,
        },
    ]


def test_plan_columns_keep_their_types_when_every_plan_leaves_them_empty():
    """FARMER has no quota and no effective dates: the columns stay numbers and dates, not nulls of no
    type, so they join and compare like any plan's."""
    tables = plan_tables({"farmer": FARMER})
    assert dict(tables.plans.schema) == {
        "plan_id": pl.String,
        "plan_name": pl.String,
        "period_kind": pl.String,
        "quota": pl.Float64,
        "credits_new_business": pl.Boolean,
        "credits_expansion": pl.Boolean,
        "credits_renewal": pl.Boolean,
        "effective_start": pl.Date,
        "effective_end": pl.Date,
    }
    assert tables.plans.select("quota", "effective_start").rows() == [(None, None)]


def test_components_are_flattened_with_tiers_wide_up_to_the_longest_ladder():
    tables = plan_tables({"hunter": HUNTER, "farmer": FARMER})
    assert tables.max_tiers == 3  # hunter's nb has three tiers
    rows = {r["component_id"]: r for r in tables.components.to_dicts()}
    assert list(rows) == ["nb", "qe", "ref", "grr", "renew"]
    assert rows["nb"] == {
        "plan_id": "hunter",
        "component_id": "nb",
        "kind": "commission",
        "cap": 40_000.0,
        "component_amount": None,
        "rate": None,
        "threshold": None,
        "clawback_fraction": 0.5,
        "deferral_fraction": 0.25,
        # c = d·t/H + (1 − d)·f·w/H = 0.25 × 0.2 + 0.75 × 0.3 = 0.05 + 0.225 = 0.275
        "contingency": pytest.approx(0.275),
        "kept_contingency": pytest.approx(0.3),
        "deferred_contingency": pytest.approx(0.2),
        "last_days_of_period": None,
        "clawback_window_days": 219,
        "deferral_days": 73,
        "tier_from_0": 0.0,
        "tier_from_1": 0.5,
        "tier_from_2": 1.0,
        "tier_rate_0": 0.05,
        "tier_rate_1": 0.10,
        "tier_rate_2": 0.20,
    }
    # A component without clawback or deferral: fractions 0, days null, contingency 0; no tiers: all null.
    assert rows["qe"] == {
        "plan_id": "hunter",
        "component_id": "qe",
        "kind": "spiff",
        "cap": None,
        "component_amount": 1_000.0,
        "rate": None,
        "threshold": None,
        "clawback_fraction": 0.0,
        "deferral_fraction": 0.0,
        "contingency": 0.0,
        "kept_contingency": 0.0,
        "deferred_contingency": 0.0,
        "last_days_of_period": 14,
        "clawback_window_days": None,
        "deferral_days": None,
        **{f"tier_from_{i}": None for i in range(3)},
        **{f"tier_rate_{i}": None for i in range(3)},
    }
    assert (rows["ref"]["rate"], rows["ref"]["component_amount"]) == (0.05, None)
    assert (rows["grr"]["threshold"], rows["grr"]["component_amount"]) == (0.9, 5_000.0)
    # One tier of three: the bands past it are null. Contingency 0.5 × 1 + 0.5 × 0.4 × 1 = 0.7.
    renew = rows["renew"]
    assert [renew[f"tier_from_{i}"] for i in range(3)] == [0.0, None, None]
    assert [renew[f"tier_rate_{i}"] for i in range(3)] == [0.02, None, None]
    assert (renew["deferred_contingency"], renew["kept_contingency"]) == (1.0, 0.4)
    assert renew["contingency"] == pytest.approx(0.7)
    assert tables.components.schema["clawback_window_days"] == pl.Int64
    assert tables.components.schema["cap"] == pl.Float64


def test_applies_lists_each_component_and_deal_type_it_pays_on():
    tables = plan_tables({"hunter": HUNTER, "farmer": FARMER})
    assert tables.applies.rows() == [
        ("hunter", "nb", "new_business"),
        ("hunter", "nb", "expansion"),
        ("hunter", "qe", "new_business"),
        ("farmer", "renew", "renewal"),
    ]


def test_plans_without_tiers_still_have_one_tier_column():
    only_bonus = Plan(
        plan_id="b",
        name="b",
        period="year",
        components=(Component(id="ref", kind="referral_bonus", amount=1.0),),
    )
    tables = plan_tables({"b": only_bonus})
    assert tables.max_tiers == 1
    assert [c for c in tables.components.columns if c.startswith("tier_")] == ["tier_from_0", "tier_rate_0"]
    assert tables.applies.height == 0
    empty = plan_tables({})
    assert (empty.max_tiers, empty.plans.height, empty.components.height) == (1, 0, 0)
    assert empty.components.schema["tier_rate_0"] == pl.Float64


@pytest.mark.parametrize(
    ("component", "deferred", "kept", "total"),
    [
        (Component(id="x", kind="commission"), 0.0, 0.0, 0.0),
        # t/H = 73/365 = 0.2, no clawback: c = 0.25 × 0.2 = 0.05
        (Component(id="x", kind="commission", deferral=Deferral(0.25, 73)), 0.2, 0.0, 0.05),
        # f·w/H = 0.5 × 219/365 = 0.3, no deferral: c = 0.3
        (Component(id="x", kind="commission", clawback=Clawback(219, 0.5)), 0.0, 0.3, 0.3),
        # t = H exactly: min(1, 1) = 1
        (Component(id="x", kind="commission", deferral=Deferral(1.0, 365)), 1.0, 0.0, 1.0),
    ],
)
def test_contingency_parts(component, deferred, kept, total):
    assert deferred_contingency(component) == pytest.approx(deferred)
    assert kept_contingency(component) == pytest.approx(kept)
    assert contingency(component) == pytest.approx(total)


def test_contingency_horizon_can_be_given():
    component = Component(
        id="x",
        kind="commission",
        deferral=Deferral(0.25, 73),
        clawback=Clawback(window_days=146, fraction=0.5),
    )
    # H = 146: t/H = 0.5, f·min(w/H, 1) = 0.5 × 1 = 0.5; c = 0.25 × 0.5 + 0.75 × 0.5 = 0.5
    assert deferred_contingency(component, horizon_days=146) == pytest.approx(0.5)
    assert kept_contingency(component, horizon_days=146) == pytest.approx(0.5)
    # H = 292: t/H = 0.25, 0.5 × 146/292 = 0.25; c = 0.25 × 0.25 + 0.75 × 0.25 = 0.25
    assert contingency(component, horizon_days=292) == pytest.approx(0.25)


# --- is_credited -------------------------------------------------------------------------------------


def test_a_deal_is_credited_by_its_own_types_flag():
    frame = pl.DataFrame(
        {
            "deal_type": ["new_business", "expansion", "renewal", "new_business", "expansion", "renewal"],
            "credits_new_business": [True, False, False, False, True, True],
            "credits_expansion": [False, True, False, True, False, True],
            "credits_renewal": [False, False, True, True, True, False],
        }
    )
    credited = frame.select(credited=is_credited(pl.col("deal_type")))["credited"].to_list()
    assert credited == [True, True, True, False, False, False]


# --- tiered_pay --------------------------------------------------------------------------------------


def tiered(rows: list[dict], max_tiers: int = 3) -> list[float]:
    """`tiered_pay` over rows of start, end, quota, credited and the tier columns (default: the 5 / 10 /
    20 % ladder at 0, 50 % and 100 % of quota)."""
    ladder = {
        "tier_from_0": 0.0,
        "tier_from_1": 0.5,
        "tier_from_2": 1.0,
        "tier_rate_0": 0.05,
        "tier_rate_1": 0.10,
        "tier_rate_2": 0.20,
    }
    frame = pl.DataFrame(
        [{"quota": 100_000.0, "credited": True, **ladder, **r} for r in rows],
        schema={
            "start": pl.Float64,
            "end": pl.Float64,
            "quota": pl.Float64,
            "credited": pl.Boolean,
            **{c: pl.Float64 for c in ladder},
        },
    )
    pay = tiered_pay(pl.col("start"), pl.col("end"), pl.col("quota"), pl.col("credited"), max_tiers)
    return frame.select(pay=pay)["pay"].to_list()


def test_each_credited_dollar_is_paid_at_its_bands_rate():
    assert tiered(
        [
            {"start": 0.0, "end": 30_000.0},  # 30k × 5 % = 1,500
            {"start": 40_000.0, "end": 120_000.0},  # 10k × 5 % + 50k × 10 % + 20k × 20 % = 9,500
            {"start": 50_000.0, "end": 100_000.0},  # exactly the middle band: 50k × 10 % = 5,000
            {"start": 110_000.0, "end": 130_000.0},  # past the last boundary: 20k × 20 % = 4,000
            {"start": 70_000.0, "end": 70_000.0},  # no dollars: 0
        ]
    ) == pytest.approx([1_500.0, 9_500.0, 5_000.0, 4_000.0, 0.0])


def test_without_bands_every_dollar_pays_the_first_tier_rate():
    assert tiered(
        [
            {"start": 0.0, "end": 150_000.0, "credited": False},  # 150k × 5 % = 7,500, past quota or not
            {"start": 20_000.0, "end": 170_000.0, "quota": None},  # no quota: 150k × 5 % = 7,500
            {"start": 0.0, "end": 10_000.0, "credited": False, "tier_rate_0": None},  # no tiers: 0
        ]
    ) == pytest.approx([7_500.0, 7_500.0, 0.0])


def test_a_shorter_ladder_has_no_upper_end_on_its_last_tier():
    # Two tiers in a three-wide table: 0 → 100 % at 10 %, 100 % → ∞ at 20 %.
    two = {
        "tier_from_1": 1.0,
        "tier_rate_0": 0.10,
        "tier_rate_1": 0.20,
        "tier_from_2": None,
        "tier_rate_2": None,
    }
    # 90k → 150k: 10k × 10 % + 50k × 20 % = 11,000
    assert tiered([{"start": 90_000.0, "end": 150_000.0, **two}]) == pytest.approx([11_000.0])
    # The same ladder with max_tiers = 2 (no third column read): the same pay.
    assert tiered([{"start": 90_000.0, "end": 150_000.0, **two}], max_tiers=2) == pytest.approx([11_000.0])


# --- capped_increment --------------------------------------------------------------------------------


def test_capped_increment_pays_up_to_the_cap_and_nothing_past_it():
    frame = pl.DataFrame(
        {
            "before": [0.0, 4_000.0, 5_000.0, 6_000.0, 4_000.0],
            "increment": [2_000.0, 2_000.0, 2_000.0, 2_000.0, 2_000.0],
            "cap": [5_000.0, 5_000.0, 5_000.0, 5_000.0, None],
        }
    )
    pay = capped_increment(pl.col("before"), pl.col("increment"), pl.col("cap"))
    # in full; min(6,000, 5,000) − 4,000 = 1,000; at the cap: 0; past it: 0; no cap: in full
    assert frame.select(pay=pay)["pay"].to_list() == [2_000.0, 1_000.0, 0.0, 0.0, 2_000.0]
