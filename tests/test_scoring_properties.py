"""Properties of the Same-Day Index and the payout engine over generated plans and books (hypothesis).

Each SDI property scores a base plan and a changed plan on the SAME book in one `score_company` call:
the book is copied once per plan, with the copy's reps, deals, accounts and referrals renamed, and each
copy's reps are assigned to their own plan. Plan populations are then identical, so the per plan-period
Δ_S, Δ_R and Δ_F are too, and only the rules differ.

Where the issue's wording is wider than what SPEC section 4 implies, the property is narrowed and the
reason is written at the test (see `test_short_deferral_on_long_clawback_lowers_contingency`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scoring_builders import Company, D, Deal

from compscore.engine.payout import compute_payout
from compscore.engine.plan_tables import contingency, plan_tables
from compscore.plans import Clawback, Component, Deferral, Plan, Tier, dump_plan, parse_plan
from compscore.scoring.attribution import pay_attribution, statement_lines
from compscore.scoring.scores import score_company

SETTINGS = settings()
"""The loaded profile's (tests/conftest.py): derandomised, no deadline, 25 examples."""
BOOK_START = D(2026, 1, 1)
BOOK_DAYS = 181  # Q1 and Q2 2026
AS_OF = D(2026, 6, 30)
LATE_AS_OF = D(2028, 12, 31)  # after every deferral release (at most 540 days after a Q2 close)
NB, RENEW, SPIFF, REF, GRR = "nb", "renew", "spiff", "ref", "grr"
REL = 1e-9


# --- plans -----------------------------------------------------------------------------------------

rates = st.floats(min_value=0.0, max_value=0.3, allow_nan=False).map(lambda r: round(r, 4))
positive_rates = st.floats(min_value=0.001, max_value=0.3).map(lambda r: round(r, 4))
amounts = st.integers(min_value=100, max_value=10_000).map(float)
fractions = st.floats(min_value=0.05, max_value=1.0).map(lambda f: round(f, 3))
days = st.integers(min_value=1, max_value=540)


@st.composite
def tiers(draw) -> tuple[Tier, ...]:
    bounds = draw(st.lists(st.sampled_from([0.5, 0.8, 1.0, 1.2, 1.5]), max_size=2, unique=True))
    froms = [0.0, *sorted(bounds)]
    return tuple(Tier(f, draw(rates)) for f in froms)


@st.composite
def plans(draw, plan_id: str = "base") -> Plan:
    """A quarterly plan: tiered new-business commission, then any of the other component kinds."""
    nb = Component(
        id=NB,
        kind="commission",
        applies_to=("new_business",),
        tiers=draw(tiers()),
        cap=draw(st.none() | st.integers(1_000, 50_000).map(float)),
        clawback=draw(st.none() | st.builds(Clawback, days, fractions)),
        deferral=draw(st.none() | st.builds(Deferral, fractions, days)),
    )
    components = [nb]
    if draw(st.booleans()):
        applies = draw(st.sampled_from([("renewal",), ("expansion",), ("renewal", "expansion")]))
        components.append(
            Component(id=RENEW, kind="commission", applies_to=applies, tiers=(Tier(0.0, draw(rates)),))
        )
    if draw(st.booleans()):
        components.append(_spiff(SPIFF, draw(amounts), draw(st.integers(1, 30))))
    if draw(st.booleans()):
        flat = draw(st.booleans())
        components.append(
            Component(
                id=REF,
                kind="referral_bonus",
                amount=draw(amounts) if flat else None,
                rate=None if flat else draw(positive_rates),
            )
        )
    if draw(st.booleans()):
        threshold = draw(st.floats(min_value=0.5, max_value=1.0).map(lambda t: round(t, 2)))
        components.append(
            Component(
                id=GRR,
                kind="retention_bonus",
                metric="gross_revenue_retention",
                threshold=threshold,
                amount=draw(amounts),
            )
        )
    quota = draw(st.none() | st.integers(20_000, 300_000).map(float))
    built = Plan(
        plan_id=plan_id,
        name=plan_id,
        period="quarter",
        components=tuple(components),
        quota=quota,
        quota_credit=("new_business",) if quota else (),
    )
    assert parse_plan(dump_plan(built)) == built  # every generated plan is one a user could write
    return built


def _spiff(component_id: str, amount: float, last_days: int) -> Component:
    return Component(
        id=component_id,
        kind="spiff",
        applies_to=("new_business",),
        amount=amount,
        last_days_of_period=last_days,
    )


def _replace_component(plan: Plan, component_id: str, change: Callable[[Component], Component]) -> Plan:
    return dataclasses.replace(
        plan, components=tuple(change(c) if c.id == component_id else c for c in plan.components)
    )


def _without_nb_cap_and_contingency(plan: Plan) -> Plan:
    return _replace_component(
        plan, NB, lambda c: dataclasses.replace(c, cap=None, clawback=None, deferral=None)
    )


def _scaled(plan: Plan, k: float) -> Plan:
    """Every rate and every money amount (spiffs, flat bonuses, retention bonuses, caps) times k."""

    def scale(c: Component) -> Component:
        return dataclasses.replace(
            c,
            tiers=tuple(Tier(t.from_attainment, t.rate * k) for t in c.tiers),
            cap=None if c.cap is None else c.cap * k,
            amount=None if c.amount is None else c.amount * k,
            rate=None if c.rate is None else c.rate * k,
        )

    return dataclasses.replace(plan, components=tuple(scale(c) for c in plan.components))


# --- books -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Book:
    reps: tuple[str, ...]
    deals: tuple[Deal, ...]
    churn: tuple[tuple[str, dt.date, float], ...] = ()
    referrals: tuple[tuple[str, str, str, str], ...] = ()

    def renamed(self, tag: str) -> Book:
        """The same book with every rep, deal, account and referral id suffixed by `tag`."""

        def n(x: str | None) -> str | None:
            return None if x is None else f"{x}~{tag}"

        return Book(
            reps=tuple(n(r) for r in self.reps),
            deals=tuple(
                dataclasses.replace(
                    d,
                    deal_id=n(d.deal_id),
                    rep_id=n(d.rep_id),
                    account_id=n(d.account_id),
                    referral_id=n(d.referral_id),
                )
                for d in self.deals
            ),
            churn=tuple((n(a), day, lost) for a, day, lost in self.churn),
            referrals=tuple((n(f), n(r), n(d), n(a)) for f, r, d, a in self.referrals),
        )


@st.composite
def books(draw, *, with_churn: bool = True) -> Book:
    """1–3 reps, 1–8 deals of every type over Q1–Q2 2026 on a pool of 4 accounts, maybe a churn and a
    referral; without churn, no lost renewals either (a lost renewal is a churn, SPEC section 2)."""
    reps = tuple(f"R{i}" for i in range(1, draw(st.integers(1, 3)) + 1))
    deal_rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(reps),
                st.sampled_from(["new_business", "new_business", "renewal", "expansion"]),
                st.integers(1_000, 200_000).map(float),
                st.integers(0, BOOK_DAYS - 1),
                st.integers(0, 3),
                st.booleans() if with_churn else st.just(False),
            ),
            min_size=1,
            max_size=8,
        )
    )
    deals = [
        Deal(
            f"D{i}",
            rep,
            amount,
            BOOK_START + dt.timedelta(days=day),
            deal_type=deal_type,
            account_id=f"A{account}",
            stage="lost" if lost and deal_type == "renewal" else "won",
        )
        for i, (rep, deal_type, amount, day, account, lost) in enumerate(deal_rows)
    ]
    churn = ()
    if with_churn and draw(st.booleans()):
        account = draw(st.sampled_from(sorted({d.account_id for d in deals})))
        churn = ((account, BOOK_START + dt.timedelta(days=draw(st.integers(0, 300))), draw(amounts)),)
    referrals = ()
    won_nb = [i for i, d in enumerate(deals) if d.stage == "won" and d.deal_type == "new_business"]
    if won_nb and draw(st.booleans()):
        i = draw(st.sampled_from(won_nb))
        deals[i] = dataclasses.replace(deals[i], referral_id="F1", account_id="A-referred")
        referrals = (("F1", draw(st.sampled_from(reps)), deals[i].deal_id, "A0"),)
    return Book(reps=reps, deals=tuple(deals), churn=churn, referrals=referrals)


def company(book_plans: list[tuple[Book, Plan]]) -> Company:
    """One company in which each (book, plan) pair's reps are on that plan."""
    reps, deals, churn, referrals, assignments = [], [], [], [], {}
    for book, p in book_plans:
        reps += book.reps
        deals += book.deals
        churn += book.churn
        referrals += book.referrals
        assignments.update({r: p.plan_id for r in book.reps})
    return Company(
        plans=[p for _, p in book_plans],
        deals=deals,
        reps=tuple(reps),
        churn=churn,
        referrals=referrals,
        assignments=assignments,
    )


def sdi_by_period(book: Book, *plans_: Plan, as_of: dt.date = AS_OF) -> list[dict[str, float | None]]:
    """Score each plan on its own copy of `book`; per plan, {period: same_day_index}."""
    variants = [(book.renamed(str(i)), dataclasses.replace(p, plan_id=f"v{i}")) for i, p in enumerate(plans_)]
    scores = score_company(company(variants).data(), as_of=as_of).plan_scores
    out = []
    for i in range(len(plans_)):
        rows = scores.filter(pl.col("plan_id") == f"v{i}")
        out.append(dict(zip(rows["period"], rows["same_day_index"], strict=True)))
    assert len({frozenset(o) for o in out}) == 1, "every copy of the book must be scored in the same periods"
    return out


def assert_not_above(changed: dict, base: dict) -> None:
    for period, before in base.items():
        after = changed[period]
        if before is not None and after is not None:
            assert after <= before + REL * max(1.0, abs(before)), (period, before, after)


# --- SDI properties ----------------------------------------------------------------------------------


@SETTINGS
@given(plans(), books())
def test_sdi_is_between_0_and_100(p: Plan, book: Book):
    (sdi,) = sdi_by_period(book, p)
    assert sdi, "the book's periods are scored"
    for value in sdi.values():
        assert value is None or 0.0 <= value <= 100.0


@SETTINGS
@given(plans(), books())
def test_sdi_interval_contains_the_point_estimate(p: Plan, book: Book):
    scores = score_company(company([(book, p)]).data(), as_of=AS_OF).plan_scores
    for row in scores.iter_rows(named=True):
        sdi, low, high = row["same_day_index"], row["same_day_index_low"], row["same_day_index_high"]
        if sdi is None:
            continue
        assert low is not None and high is not None, row["period"]
        assert low - REL <= sdi <= high + REL, (row["period"], low, sdi, high)


@st.composite
def more_contingent(draw, nb: Component) -> Component:
    """The new-business component with a clawback added, lengthened or raised, or a deferral added or
    lengthened. A deferral is only added where there is no clawback: see the test below for why."""
    choices = ["add_or_raise_clawback", "lengthen_deferral"]
    if nb.deferral is None and nb.clawback is None:
        choices.append("add_deferral")
    match draw(st.sampled_from(choices)):
        case "add_or_raise_clawback":
            old = nb.clawback or Clawback(0, 0.0)
            window = old.window_days + draw(st.integers(0, 400))
            fraction = draw(st.floats(min_value=old.fraction, max_value=1.0))
            assume(window > old.window_days or fraction > old.fraction)
            return dataclasses.replace(nb, clawback=Clawback(window, fraction))
        case "lengthen_deferral":
            assume(nb.deferral is not None)
            longer = nb.deferral.release_after_days + draw(st.integers(1, 400))
            return dataclasses.replace(nb, deferral=Deferral(nb.deferral.fraction, longer))
        case _:
            return dataclasses.replace(nb, deferral=draw(st.builds(Deferral, fractions, days)))


@SETTINGS
@given(plans(), books(), st.data())
def test_more_contingent_new_business_pay_never_raises_sdi(p: Plan, book: Book, data):
    changed_nb = data.draw(more_contingent(p.component(NB)))
    assert contingency(changed_nb) >= contingency(p.component(NB))
    changed = _replace_component(p, NB, lambda _: changed_nb)
    base, after = sdi_by_period(book, p, changed)
    assert_not_above(after, base)


def test_short_deferral_on_long_clawback_lowers_contingency():
    """Why the property above adds a deferral only where there is no clawback.

    SPEC section 4's c = d·min(t/H, 1) + (1 − d)·f·min(w/H, 1) counts the deferred share only through
    the deferral: the engine claws back `fraction` of the kept (non-deferred) pay only, and a released
    deferral is never clawed back. So a short deferral on top of a full-year clawback makes new-business
    pay LESS contingent and raises SDI, against the issue's "adding a deferral never raises SDI".
    """
    clawback_only = Component(
        id=NB,
        kind="commission",
        applies_to=("new_business",),
        tiers=(Tier(0.0, 0.1),),
        clawback=Clawback(365, 1.0),
    )
    both = dataclasses.replace(clawback_only, deferral=Deferral(0.5, 30))
    assert contingency(clawback_only) == pytest.approx(1.0)
    assert contingency(both) == pytest.approx(0.5 * 30 / 365 + 0.5)
    renew = Component(id=RENEW, kind="commission", applies_to=("renewal",), tiers=(Tier(0.0, 0.02),))
    book = Book(reps=("R1",), deals=(Deal("D1", "R1", 50_000, D(2026, 2, 10), account_id="A1"),))
    base, after = sdi_by_period(
        book,
        Plan("a", "a", "quarter", (clawback_only, renew)),
        Plan("b", "b", "quarter", (both, renew)),
    )
    # m_S: 0 → 0.1·(1 − c); m_R: 0.02 + 0.1·c.
    c = 0.5 * 30 / 365 + 0.5
    assert base["2026-Q1"] == pytest.approx(0.0)
    assert after["2026-Q1"] == pytest.approx(100 * 0.1 * (1 - c) / 0.12)


@SETTINGS
@given(plans(), books(), positive_rates)
def test_raising_the_renewal_rate_never_raises_sdi(p: Plan, book: Book, extra: float):
    """A renewal component is added at `extra` when the plan has none; none of them is capped."""
    if RENEW in p.component_ids:
        changed = _replace_component(
            p, RENEW, lambda c: dataclasses.replace(c, tiers=(Tier(0.0, c.tiers[0].rate + extra),))
        )
    else:
        renew = Component(
            id=RENEW, kind="commission", applies_to=("renewal", "expansion"), tiers=(Tier(0.0, extra),)
        )
        changed = dataclasses.replace(p, components=(*p.components, renew))
    base, after = sdi_by_period(book, p, changed)
    assert_not_above(after, base)


@SETTINGS
@given(plans(), books(), amounts, st.integers(1, 30))
def test_adding_a_spiff_never_lowers_sdi(p: Plan, book: Book, amount: float, last_days: int):
    changed = dataclasses.replace(p, components=(*p.components, _spiff("spiff2", amount, last_days)))
    base, after = sdi_by_period(book, p, changed)
    assert_not_above(base, after)


@SETTINGS
@given(plans(), books(), st.floats(min_value=1.01, max_value=3.0), st.integers(0, 2))
def test_raising_the_new_business_rate_never_lowers_sdi(p: Plan, book: Book, factor: float, tier: int):
    """One tier's rate is multiplied by `factor` (from 0: set to 0.05).

    Only on an uncapped component without clawback or deferral: a cap makes the marginal pay fall as
    the rate rises (the cap binds sooner), and with contingency c the added pay goes (1 − c) to m_S and
    c to m_R, which lowers SDI whenever 1 − c < SDI / 100 (e.g. a big spiff beside a clawed-back
    commission). Both follow from SPEC sections 3–5.
    """
    base_plan = _without_nb_cap_and_contingency(p)
    nb = base_plan.component(NB)
    i = tier % len(nb.tiers)
    raised = nb.tiers[i].rate * factor if nb.tiers[i].rate > 0 else 0.05
    new_tiers = tuple(Tier(t.from_attainment, raised if j == i else t.rate) for j, t in enumerate(nb.tiers))
    changed = _replace_component(base_plan, NB, lambda c: dataclasses.replace(c, tiers=new_tiers))
    base, after = sdi_by_period(book, base_plan, changed)
    assert_not_above(base, after)


@SETTINGS
@given(plans(), books(), st.floats(min_value=0.1, max_value=3.0))
def test_scaling_every_rate_and_amount_leaves_sdi_unchanged(p: Plan, book: Book, k: float):
    base, after = sdi_by_period(book, p, _scaled(p, k))
    assert base.keys() == after.keys()
    for period, before in base.items():
        if before is None:
            assert after[period] is None
        else:
            assert after[period] == pytest.approx(before, rel=REL, abs=REL)


# --- payout totals -----------------------------------------------------------------------------------


def _quarter(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3


def _tiered(credited: float, quota: float | None, tiers_: tuple[Tier, ...]) -> float:
    """Reference marginal tiered pay for `credited` dollars from zero (SPEC section 3)."""
    if quota is None:
        return tiers_[0].rate * credited
    bounds = [t.from_attainment * quota for t in tiers_] + [float("inf")]
    return sum(t.rate * max(0.0, min(credited, bounds[i + 1]) - bounds[i]) for i, t in enumerate(tiers_))


@SETTINGS
@given(plans(), books(with_churn=False))
def test_payout_total_equals_the_sum_of_its_lines(p: Plan, book: Book):
    """With no churn and every deferral released, each component's earning and release lines add up to
    its gross pay (per deal, per referral, per rep-period for retention bonuses), to the cent; the
    new-business gross follows the tiers and the cap; and every earned line's channel split adds up."""
    data = company([(book, p)]).data()
    payout = compute_payout(data, LATE_AS_OF)
    lines = payout.lines
    assert set(lines["line_type"]) <= {"earning", "deferral_release"}
    line_totals = lines.group_by("component_id").agg(pl.sum("amount"), n=pl.len())
    gross = pl.concat(
        [
            payout.deal_pay.select("component_id", "gross_pay"),
            payout.referral_pay.select("component_id", "gross_pay"),
        ]
    )
    expected = dict(gross.group_by("component_id").agg(pl.sum("gross_pay")).iter_rows())

    # Retention bonuses, by hand: GRR is 1 for every rep-period with a won renewal (no losses, no churn).
    renewing = {(d.rep_id, _quarter(d.close_date)) for d in book.deals if d.deal_type == "renewal"}
    if GRR in p.component_ids:
        expected[GRR] = p.component(GRR).amount * len(renewing)

    # New business, by hand: per rep-quarter, the tiers over all credited dollars, then the cap.
    nb = p.component(NB)
    credited: dict[tuple, float] = defaultdict(float)
    for d in book.deals:
        if d.deal_type == "new_business":
            credited[(d.rep_id, _quarter(d.close_date))] += d.amount
    nb_gross = sum(min(_tiered(c, p.quota, nb.tiers), nb.cap or float("inf")) for c in credited.values())
    assert expected.get(NB, 0.0) == pytest.approx(nb_gross, rel=1e-9, abs=1e-6)

    for component_id, total, n in line_totals.iter_rows():
        assert total == pytest.approx(expected.pop(component_id), abs=0.005 * n + 1e-6), component_id
    assert all(abs(v) < 0.005 for v in expected.values()), f"components with pay but no lines: {expected}"

    pt = plan_tables(data.plans)
    attribution = pay_attribution(statement_lines(data, payout, pt), data, pt)
    assert attribution.height == lines.height
    split = attribution["same_day_amount"] + attribution["retention_amount"] + attribution["referral_amount"]
    assert split.to_list() == pytest.approx(attribution["amount"].to_list(), rel=1e-12, abs=1e-9)
