"""Plan rules (SPEC section 3): the example parses to the expected model, the writer round-trips, and every
kind of bad plan is rejected with a message naming the file, the line and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from compscore.plans import (
    Clawback,
    Component,
    Deferral,
    Plan,
    PlanError,
    Tier,
    dump_plan,
    parse_plan,
    read_plans,
    write_plans,
)

SPEC_EXAMPLE = """\
plan_id: hunter-2026
name: Hunter AE 2026
effective: {start: 2026-01-01, end: 2026-12-31}
period: quarter                 # month | quarter | year: quota and payout period
quota: 250000                   # per period, in credited dollars
quota_credit: [new_business]    # deal types that count toward quota attainment
components:
  - id: nb
    kind: commission            # commission | spiff | referral_bonus | retention_bonus
    applies_to: [new_business]  # deal types
    tiers:                      # marginal rates by period attainment (like tax brackets)
      - {from: 0.0, rate: 0.10}
      - {from: 1.0, rate: 0.15}
    cap: null                   # max pay from this component per period
    clawback: {window_days: 180, fraction: 1.0}          # optional
    deferral: {fraction: 0.5, release_after_days: 365}   # optional; released only if account active
  - {id: renew, kind: commission, applies_to: [renewal, expansion], tiers: [{from: 0.0, rate: 0.02}]}
  - {id: ref, kind: referral_bonus, amount: 500}         # or rate: 0.05 of the referred deal's amount
  - {id: qe, kind: spiff, applies_to: [new_business], amount: 1000, last_days_of_period: 14}
  - {id: grr, kind: retention_bonus, metric: gross_revenue_retention, threshold: 0.9, amount: 5000}
"""

SPEC_PLAN = Plan(
    plan_id="hunter-2026",
    name="Hunter AE 2026",
    period="quarter",
    quota=250000.0,
    quota_credit=("new_business",),
    effective_start=dt.date(2026, 1, 1),
    effective_end=dt.date(2026, 12, 31),
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business",),
            tiers=(Tier(0.0, 0.10), Tier(1.0, 0.15)),
            cap=None,
            clawback=Clawback(window_days=180, fraction=1.0),
            deferral=Deferral(fraction=0.5, release_after_days=365),
        ),
        Component(
            id="renew", kind="commission", applies_to=("renewal", "expansion"), tiers=(Tier(0.0, 0.02),)
        ),
        Component(id="ref", kind="referral_bonus", amount=500.0),
        Component(id="qe", kind="spiff", applies_to=("new_business",), amount=1000.0, last_days_of_period=14),
        Component(
            id="grr", kind="retention_bonus", metric="gross_revenue_retention", threshold=0.9, amount=5000.0
        ),
    ),
)

MINIMAL = """\
plan_id: p1
period: month
components:
  - id: nb
    kind: commission
    applies_to: [new_business]
    tiers:
      - {from: 0.0, rate: 0.1}
      - {from: 1.0, rate: 0.2}
"""


def _error(text: str, file: str = "plan.yaml") -> str:
    with pytest.raises(PlanError) as err:
        parse_plan(text, file)
    return str(err.value)


# --- the model ----------------------------------------------------------------------------------------


def test_spec_example_parses_to_the_expected_model():
    plan = parse_plan(SPEC_EXAMPLE, "hunter.yaml")

    assert plan == SPEC_PLAN
    assert plan.source == "hunter.yaml"
    assert plan.component_ids == ("nb", "renew", "ref", "qe", "grr")
    assert plan.component("qe").last_days_of_period == 14


def test_defaults_name_clawback_fraction_and_metric():
    plan = parse_plan(
        "plan_id: p\nperiod: year\ncomponents:\n"
        "  - {id: c, kind: commission, applies_to: [renewal], tiers: [{from: 0, rate: 0.1}],"
        " clawback: {window_days: 90}}\n"
        "  - {id: g, kind: retention_bonus, threshold: 0.8, amount: 10}\n"
    )

    assert plan.name == "p"
    assert plan.quota is None and plan.quota_credit == ()
    assert plan.component("c").clawback == Clawback(window_days=90, fraction=1.0)
    assert plan.component("g").metric == "gross_revenue_retention"


def test_dump_then_parse_round_trips_the_spec_example():
    text = dump_plan(SPEC_PLAN)

    assert parse_plan(text) == SPEC_PLAN
    assert parse_plan(dump_plan(parse_plan(text))) == SPEC_PLAN


def test_dump_then_parse_round_trips_referral_rate_caps_and_open_effective_end():
    plan = Plan(
        plan_id="farmer",
        name="Farmer: renewals & referrals",
        period="month",
        effective_start=dt.date(2026, 7, 1),
        components=(
            Component(id="ref", kind="referral_bonus", rate=0.05, cap=2500.0),
            Component(
                id="qe",
                kind="spiff",
                applies_to=("expansion", "renewal"),
                amount=250.0,
                last_days_of_period=3,
                cap=1000.0,
            ),
        ),
    )

    assert parse_plan(dump_plan(plan)) == plan


def test_write_plans_then_read_plans_gives_the_same_plans(tmp_path):
    other = parse_plan(MINIMAL)

    paths = write_plans([SPEC_PLAN, other], tmp_path)

    assert [p.name for p in paths] == ["hunter-2026.yaml", "p1.yaml"]
    assert read_plans(tmp_path) == {"hunter-2026": SPEC_PLAN, "p1": other}


# --- rejections, each located -------------------------------------------------------------------------


def test_invalid_yaml_is_rejected_with_its_line():
    text = MINIMAL.replace("applies_to: [new_business]", "applies_to: [new_business")

    assert _error(text) == "plan.yaml:7: <yaml>: invalid YAML: expected ',' or ']', but got ':'"


def test_unknown_top_level_key():
    text = MINIMAL.replace("period: month", "period: month\nbonus_pool: 1000")

    assert _error(text) == (
        "plan.yaml:3: bonus_pool: unknown key; allowed keys: components, effective, name, period, "
        "plan_id, quota, quota_credit"
    )


def test_unknown_component_key():
    text = MINIMAL.replace("    kind: commission", "    kind: commission\n    accelerator: 2")

    assert _error(text) == (
        "plan.yaml:6: components[0].accelerator: unknown key; allowed keys: applies_to, cap, clawback, "
        "deferral, id, kind, tiers"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL.replace("{from: 1.0, rate: 0.2}", "{from: 0.0, rate: 0.2}"),
            "plan.yaml:9: components[0].tiers[1].from: tiers overlap: from 0.0 does not start above the "
            "previous tier's from 0.0",
        ),
        (
            MINIMAL + "      - {from: 1.0, rate: 0.3}\n",
            "plan.yaml:10: components[0].tiers[2].from: tiers overlap: from 1.0 does not start above the "
            "previous tier's from 1.0",
        ),
        (
            MINIMAL + "      - {from: 0.5, rate: 0.3}\n",
            "plan.yaml:10: components[0].tiers[2].from: tiers overlap: from 0.5 does not start above the "
            "previous tier's from 1.0",
        ),
    ],
    ids=["both-from-zero", "repeated-from", "decreasing"],
)
def test_overlapping_or_decreasing_tiers(text, expected):
    assert _error(text) == expected


def test_first_tier_must_start_at_zero():
    text = MINIMAL.replace("{from: 0.0, rate: 0.1}", "{from: 0.2, rate: 0.1}")

    assert _error(text) == "plan.yaml:8: components[0].tiers[0].from: the first tier must start at 0.0"


@pytest.mark.parametrize("rate", ["1.5", "-0.1"])
def test_tier_rate_outside_zero_one(rate):
    text = MINIMAL.replace("rate: 0.2", f"rate: {rate}")

    assert _error(text) == f"plan.yaml:9: components[0].tiers[1].rate: {float(rate)!r} is outside [0.0, 1.0]"


def test_referral_rate_outside_zero_one():
    text = "plan_id: p\nperiod: month\ncomponents:\n  - {id: ref, kind: referral_bonus, rate: 5}\n"

    assert _error(text) == "plan.yaml:4: components[0].rate: 5 is outside [0.0, 1.0]"


def test_unknown_deal_type_in_applies_to_and_quota_credit():
    text = MINIMAL.replace("[new_business]", "[new_business, upsell]").replace(
        "period: month", "period: month\nquota_credit: [new_logo]"
    )

    assert _error(text).splitlines() == [
        "plan.yaml:3: quota_credit[0]: unknown deal type 'new_logo'; "
        "expected one of ['new_business', 'expansion', 'renewal']",
        "plan.yaml:7: components[0].applies_to[1]: unknown deal type 'upsell'; "
        "expected one of ['new_business', 'expansion', 'renewal']",
    ]


def test_unknown_component_kind():
    text = MINIMAL.replace("kind: commission", "kind: bonus")

    assert _error(text) == (
        "plan.yaml:5: components[0].kind: unknown component kind 'bonus'; "
        "expected one of ['commission', 'spiff', 'referral_bonus', 'retention_bonus']"
    )


def test_unknown_period():
    assert _error(MINIMAL.replace("period: month", "period: week")) == (
        "plan.yaml:2: period: unknown period 'week'; expected one of ['month', 'quarter', 'year']"
    )


def test_missing_required_top_level_keys():
    text = MINIMAL.replace("plan_id: p1\n", "").replace("period: month\n", "")

    assert _error(text).splitlines() == [
        "plan.yaml:1: plan_id: required key is missing",
        "plan.yaml:1: period: required key is missing",
    ]


def test_missing_required_component_keys():
    text = "plan_id: p\nperiod: month\ncomponents:\n  - {id: q, kind: spiff, applies_to: [renewal]}\n"

    assert _error(text).splitlines() == [
        "plan.yaml:4: components[0].amount: a spiff component needs `amount`",
        "plan.yaml:4: components[0].last_days_of_period: a spiff component needs `last_days_of_period`",
    ]


def test_referral_bonus_needs_exactly_one_of_amount_or_rate():
    text = "plan_id: p\nperiod: month\ncomponents:\n  - {id: r, kind: referral_bonus, amount: 5, rate: 0.1}\n"

    assert _error(text) == (
        "plan.yaml:4: components[0]: a referral_bonus needs exactly one of `amount` (flat) or `rate`"
    )


def test_duplicate_component_id():
    text = MINIMAL + "  - {id: nb, kind: referral_bonus, amount: 100}\n"

    assert _error(text) == "plan.yaml:10: components[1].id: duplicate component id 'nb'"


def test_reserved_adjustment_component_id():
    text = MINIMAL.replace("id: nb", "id: adjustment")

    assert _error(text) == (
        "plan.yaml:4: components[0].id: `adjustment` is reserved for manual adjustment lines"
    )


def test_effective_end_before_start():
    text = MINIMAL.replace("period: month", "period: month\neffective: {start: 2026-12-31, end: 2026-01-01}")

    assert _error(text) == "plan.yaml:3: effective.end: end 2026-01-01 is before start 2026-12-31"


def test_every_issue_of_a_file_is_reported_at_once():
    text = MINIMAL.replace("period: month", "period: week").replace("rate: 0.2", "rate: 2")

    assert len(_error(text).splitlines()) == 2


def test_two_files_with_the_same_plan_id(tmp_path):
    (tmp_path / "a.yaml").write_text(MINIMAL)
    (tmp_path / "b.yaml").write_text("# copy\n" + MINIMAL.replace("rate: 0.2", "rate: 0.25"))

    with pytest.raises(PlanError) as err:
        read_plans(tmp_path)

    assert str(err.value) == (
        f"{tmp_path / 'b.yaml'}:2: plan_id: plan_id 'p1' is already defined in {tmp_path / 'a.yaml'}"
    )


def test_read_plans_reports_the_issues_of_every_file(tmp_path):
    (tmp_path / "a.yaml").write_text(MINIMAL.replace("period: month", "period: week"))
    (tmp_path / "b.yml").write_text("plan_id: [\n")

    with pytest.raises(PlanError) as err:
        read_plans(tmp_path)

    assert [(Path(i.file).name, i.key) for i in err.value.issues] == [
        ("a.yaml", "period"),
        ("b.yml", "<yaml>"),
    ]


# --- regressions: bugs found in compscore/plans.py by these tests, fixed in 11e621f ---------------------


def test_tier_issues_point_at_the_right_tier_after_a_bad_rate():
    text = (
        MINIMAL.replace("{from: 0.0, rate: 0.1}", "{from: 0.0, rate: 2.0}")
        + "      - {from: 0.5, rate: 0.3}\n"
    )

    assert _error(text).splitlines() == [
        "plan.yaml:8: components[0].tiers[0].rate: 2.0 is outside [0.0, 1.0]",
        "plan.yaml:10: components[0].tiers[2].from: tiers overlap: from 0.5 does not start above the "
        "previous tier's from 1.0",
    ]


def test_effective_timestamp_is_rejected_with_a_location():
    text = MINIMAL.replace(
        "period: month", "period: month\neffective: {start: 2026-01-01 10:00:00, end: 2026-12-31}"
    )

    assert _error(text) == "plan.yaml:3: effective.start: expected a date YYYY-MM-DD, got 2026-01-01 10:00:00"


def test_duplicate_key_is_rejected():
    text = MINIMAL.replace("period: month", "period: month\nquota: 1000\nquota: 2000")

    _error(text)
