"""The rebalancer: the worked example on the real engine; the search's properties on a hand-priced book."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_builders import Company, D, Deal, plan

from compscore.engine.plan_tables import contingency
from compscore.plans import Plan
from compscore.scenarios.plan_edit import LEVERS, lever_value, parse_levers
from compscore.scenarios.rebalance import rebalance
from compscore.scenarios.whatif import Pooled, evaluate_plan

AS_OF = D(2026, 3, 31)
NB_AND_RENEWALS = """\
  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}
  - {id: renew, kind: commission, applies_to: [renewal], tiers: [{from: 0.0, rate: 0.02}]}
"""


def worked_company() -> Company:
    """Two reps, each with $40,000 of new business and $10,000 of renewals in 2026-Q1."""
    deals = []
    for rep in ("R1", "R2"):
        deals += [
            Deal(f"N-{rep}", rep, 40_000, D(2026, 2, 10)),
            Deal(f"R-{rep}", rep, 10_000, D(2026, 2, 11), deal_type="renewal"),
        ]
    return Company(plans=[plan(NB_AND_RENEWALS)], reps=("R1", "R2"), deals=deals)


def test_worked_example_rebalances_to_8_4_percent_on_both() -> None:
    data = worked_company().data()
    base = data.plans["p"]

    result = rebalance(
        base,
        parse_levers("new_business_rate,renewal_rate"),
        50.0,
        lambda p: evaluate_plan(data, "p", p, AS_OF).pooled(),
    )

    # Baseline cost per rep: 0.10 * 40,000 + 0.02 * 10,000 = 4,000 + 200 = 4,200 (8,400 for two reps).
    # SDI 50 needs m_S = m_R, i.e. the same rate r on both (no contingency, no quota); equal cost:
    # r * (40,000 + 10,000) = 4,200 -> r = 0.084. One lever alone cannot do it at equal cost.
    assert result.reached
    assert result.baseline.cost == pytest.approx(8_400)
    assert lever_value(result.plan, LEVERS["new_business_rate"]) == pytest.approx(0.084, abs=1e-9)
    assert lever_value(result.plan, LEVERS["renewal_rate"]) == pytest.approx(0.084, abs=1e-9)
    assert result.proposal.sdi == pytest.approx(50.0, abs=1e-6)
    assert result.proposal.cost == pytest.approx(8_400)
    assert [lv.name for lv in result.moved()] == ["new_business_rate", "renewal_rate"]


def test_one_rate_alone_cannot_keep_the_cost_and_says_how_near_it_gets() -> None:
    data = worked_company().data()

    result = rebalance(
        data.plans["p"],
        parse_levers("new_business_rate"),
        50.0,
        lambda p: evaluate_plan(data, "p", p, AS_OF).pooled(),
    )

    # Any move of the new-business rate changes the cost by 40,000 * change per rep, so the only plan at
    # equal cost is the baseline: nearest reachable SDI = 100 * 0.10 / 0.12 = 83.3.
    assert not result.reached
    assert result.nearest_sdi == pytest.approx(83.333, abs=1e-3)


NB_BOOK, RENEWAL_BOOK = 40_000.0, 10_000.0


def hand_priced(cap: float | None) -> callable:
    """The worked book priced by hand (SPEC sections 4-5, one rep, no quota): m_S = r_nb (1 − c),
    m_R = r_nb c + r_renewal; cost = min(r_nb · 40,000, cap) + r_renewal · 10,000. The cap makes the cost
    bend, as a plan's cap does."""

    def evaluate(p: Plan) -> Pooled:
        nb = lever_value(p, LEVERS["new_business_rate"])
        renewal = lever_value(p, LEVERS["renewal_rate"])
        c = contingency(p.component("nb"))
        m_s, m_r = nb * (1 - c), nb * c + renewal
        nb_pay = nb * NB_BOOK if cap is None else min(nb * NB_BOOK, cap)
        sdi = 100 * m_s / (m_s + m_r) if m_s + m_r > 0 else None
        return Pooled(m_s, m_r, 0.0, sdi, m_s / m_r if m_r else None, nb_pay + renewal * RENEWAL_BOOK, 1)

    return evaluate


rates = st.floats(0.01, 0.3)
targets = st.floats(1.0, 99.0)
caps = st.one_of(st.none(), st.floats(1_000.0, 20_000.0))
lever_sets = st.sampled_from(
    ["new_business_rate,renewal_rate", "new_business_rate,renewal_rate,clawback_fraction,deferral_fraction"]
)


def rates_plan(nb: float, renewal: float) -> Plan:
    return plan(
        f"  - {{id: nb, kind: commission, applies_to: [new_business], tiers: [{{from: 0.0, rate: {nb}}}]}}\n"
        f"  - {{id: renew, kind: commission, applies_to: [renewal], "
        f"tiers: [{{from: 0.0, rate: {renewal}}}]}}\n"
    )


@settings(max_examples=30, deadline=None)
@given(nb=rates, renewal=rates, target=targets, cap=caps, levers=lever_sets)
def test_when_reached_the_proposal_is_on_target_at_equal_cost(nb, renewal, target, cap, levers) -> None:
    evaluate = hand_priced(cap)
    base = rates_plan(nb, renewal)

    result = rebalance(base, parse_levers(levers), target, evaluate)

    if result.reached:
        proposed = evaluate(result.plan)  # re-priced from the written plan, not taken from the search
        assert abs(proposed.same_day_index - target) <= 0.5
        assert abs(proposed.cost / evaluate(base).cost - 1) <= 0.005
    else:
        assert result.nearest_sdi is not None
    # Without a cap every SDI in (0, 100) is on the equal-cost line r_nb · 40,000 + r_renewal · 10,000 = C
    # while the renewal rate that alone pays C, C / 10,000, stays within its bound of 1.
    if cap is None and evaluate(base).cost <= RENEWAL_BOOK:
        assert result.reached


@settings(max_examples=30, deadline=None)
@given(nb=rates, renewal=rates, low=targets, high=targets, cap=caps)
def test_a_lower_target_never_raises_the_new_business_rate(nb, renewal, low, high, cap) -> None:
    low, high = sorted((low, high))
    evaluate, base = hand_priced(cap), rates_plan(nb, renewal)
    assert lever_value(base, LEVERS["new_business_rate"]) == nb
    levers = parse_levers("new_business_rate,renewal_rate")
    nb_rate = LEVERS["new_business_rate"]

    at_low = rebalance(base, levers, low, evaluate)
    at_high = rebalance(base, levers, high, evaluate)

    if at_low.reached and at_high.reached:
        assert lever_value(at_low.plan, nb_rate) <= lever_value(at_high.plan, nb_rate) + 1e-9
    baseline_sdi = evaluate(base).same_day_index
    if at_low.reached and low < baseline_sdi:
        assert lever_value(at_low.plan, nb_rate) <= nb + 1e-9
