"""Simulate one independent slice (chunk) of the company: its positions, reps, accounts and CRM events.

A chunk is a block of sales positions grouped in teams. Everything a chunk's reps touch (their accounts,
deals, referrals, churn) stays inside the chunk, so chunks are generated, written and freed one at a time.
The simulation steps through quarters (a loop over quarters, vectorised over positions and accounts):
renewals, expansions, referrals, background churn, then new business with the plan-driven timing,
discount and early churn of `planted.PLANTED`.

Days are integer days since 1970-01-01 (Polars' Date representation); `NEVER` marks "no such day".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from compscore.generator import model
from compscore.generator.plans_catalog import PLAN_IDS
from compscore.generator.planted import EARLY_CHURN_WINDOW_DAYS, LAST_TENTH_DAYS, PLANTED
from compscore.schema import conform

NEVER = np.iinfo(np.int32).max
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class GeneratorConfig:
    """What determines a generated company: same config, same content."""

    reps: int = 300
    """Sales headcount (positions). Leavers are replaced, so the reps table has more rows than this."""
    quarters: int = 8
    seed: int = 7
    start: dt.date = dt.date(2024, 1, 1)
    """First day of the first quarter (a calendar quarter start)."""
    reps_per_chunk: int = 1000
    """Positions per independently seeded chunk; part of the content's identity."""

    def __post_init__(self) -> None:
        if self.reps < 1 or self.quarters < 1 or self.reps_per_chunk < 1:
            raise ValueError("reps, quarters and reps_per_chunk must be at least 1")
        if self.start.day != 1 or self.start.month not in (1, 4, 7, 10):
            raise ValueError(f"start must be the first day of a calendar quarter, got {self.start}")

    @property
    def n_chunks(self) -> int:
        return -(-self.reps // self.reps_per_chunk)

    def chunk_positions(self, chunk: int) -> int:
        """Positions in chunk `chunk` (the last chunk takes the remainder; beyond `reps`, full chunks)."""
        if chunk < self.n_chunks - 1 or self.reps % self.reps_per_chunk == 0 or chunk >= self.n_chunks:
            return self.reps_per_chunk
        return self.reps % self.reps_per_chunk

    def quarter_starts(self) -> np.ndarray:
        """Day numbers of the first day of each quarter, plus the day after the last quarter."""
        out = []
        for q in range(self.quarters + 1):
            months = self.start.month - 1 + 3 * q
            out.append((dt.date(self.start.year + months // 12, months % 12 + 1, 1) - EPOCH).days)
        return np.asarray(out, dtype=np.int64)

    @property
    def end_date(self) -> dt.date:
        return EPOCH + dt.timedelta(days=int(self.quarter_starts()[-1]) - 1)


_PLAN_INDEX = {plan_id: i for i, plan_id in enumerate(PLAN_IDS)}


def _per_plan(values: dict[str, float]) -> np.ndarray:
    """A per-plan parameter as an array indexed by plan code (position in `PLAN_IDS`)."""
    return np.asarray([values[p] for p in PLAN_IDS], dtype=np.float64)


_LAST_TENTH_SHARE = _per_plan({p: b.last_tenth_nb_share for p, b in PLANTED.items()})
_EXTRA_DISCOUNT = _per_plan({p: b.last_tenth_extra_discount_pts / 100.0 for p, b in PLANTED.items()})
_EARLY_CHURN = _per_plan({p: b.early_churn_180d for p, b in PLANTED.items()})
_REFERRAL_RATE = _per_plan({p: b.referrals_per_100_accounts_q / 100.0 for p, b in PLANTED.items()})
_RENEWAL_RATE = _per_plan({p: b.renewal_win_rate for p, b in PLANTED.items()})
_NB_OPPS = _per_plan(model.NB_OPPORTUNITIES_PER_QUARTER)
_INITIAL_BOOK = _per_plan(model.INITIAL_BOOK_ACCOUNTS)
_EXPANSION = _per_plan(model.EXPANSION_PROB_PER_QUARTER)
_MIX = _per_plan(model.HEADCOUNT_MIX)
_LEGACY = _PLAN_INDEX[model.LEGACY_PLAN]
_SWITCH_TARGETS = np.asarray([i for i in range(len(PLAN_IDS)) if i != _LEGACY])
_SWITCH_PROB = np.where(
    np.arange(len(PLAN_IDS)) == _LEGACY, model.LEGACY_SWITCH_PER_QUARTER, model.PLAN_SWITCH_PER_QUARTER
)


class _Columns:
    """Accumulates one table's column arrays over the quarter loop."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, **columns: np.ndarray) -> None:
        for name, values in columns.items():
            self.parts.setdefault(name, []).append(np.asarray(values))

    def get(self, name: str) -> np.ndarray:
        return np.concatenate(self.parts[name]) if name in self.parts else np.empty(0, dtype=np.int64)


@dataclass
class _Staff:
    """Who holds each position when: plans by quarter, the rep before/after a mid-quarter departure."""

    plan: np.ndarray  # [P, Q] plan code
    leaves: np.ndarray  # [P, Q] bool: the position's rep leaves during the quarter
    change_day: np.ndarray  # [P, Q] termination day of the leaver (NEVER if none)
    rep_before: np.ndarray  # [P, Q] rep index holding the position at quarter start
    rep_after: np.ndarray  # [P, Q] rep index from the day after the change
    hire_day: np.ndarray  # [R]
    term_day: np.ndarray  # [R] NEVER while employed
    rep_position: np.ndarray  # [R]

    def owner(self, pos: np.ndarray, q: int, day: np.ndarray) -> np.ndarray:
        after = self.leaves[pos, q] & (day > self.change_day[pos, q])
        return np.where(after, self.rep_after[pos, q], self.rep_before[pos, q])


def _simulate_staff(rng: np.random.Generator, n_pos: int, qs: np.ndarray) -> _Staff:
    n_q = len(qs) - 1
    plan = np.empty((n_pos, n_q), dtype=np.int64)
    plan[:, 0] = rng.choice(len(PLAN_IDS), size=n_pos, p=_MIX / _MIX.sum())
    target_slot = np.full(len(PLAN_IDS), -1)
    target_slot[_SWITCH_TARGETS] = np.arange(len(_SWITCH_TARGETS))
    for q in range(1, n_q):
        prev = plan[:, q - 1]
        switch = rng.random(n_pos) < _SWITCH_PROB[prev]
        slot = target_slot[prev]
        other = rng.integers(0, len(_SWITCH_TARGETS) - 1, n_pos)
        any_target = rng.integers(0, len(_SWITCH_TARGETS), n_pos)
        new_slot = np.where(slot >= 0, other + (other >= slot), any_target)
        plan[:, q] = np.where(switch, _SWITCH_TARGETS[new_slot], prev)

    q_len = np.diff(qs)
    leaves = rng.random((n_pos, n_q)) < model.REP_ATTRITION_PER_QUARTER
    # Termination on quarter day 0 … len-2, so the successor (hired the next day) starts in the quarter.
    offset = (rng.random((n_pos, n_q)) * (q_len - 1)).astype(np.int64)
    change_day = np.where(leaves, qs[:-1] + offset, NEVER)
    reps_per_pos = 1 + leaves.sum(axis=1)
    first_rep = np.concatenate([[0], np.cumsum(reps_per_pos)[:-1]])
    cum = leaves.cumsum(axis=1)
    rep_after = first_rep[:, None] + cum
    rep_before = rep_after - leaves
    n_reps = int(reps_per_pos.sum())
    hire_day = np.empty(n_reps, dtype=np.int64)
    hire_day[first_rep] = qs[0] - rng.integers(30, 1500, n_pos)
    hire_day[rep_after[leaves]] = change_day[leaves] + 1
    term_day = np.full(n_reps, NEVER, dtype=np.int64)
    term_day[rep_before[leaves]] = change_day[leaves]
    return _Staff(
        plan=plan,
        leaves=leaves,
        change_day=change_day,
        rep_before=rep_before,
        rep_after=rep_after,
        hire_day=hire_day,
        term_day=term_day,
        rep_position=np.repeat(np.arange(n_pos), reps_per_pos),
    )


class _Accounts:
    """Growing per-account state: owner position, customer since, death (churn) day, value, renewal day."""

    def __init__(self) -> None:
        self.pos = np.empty(0, dtype=np.int64)
        self.created = np.empty(0, dtype=np.int64)
        self.since = np.empty(0, dtype=np.int64)
        self.death = np.empty(0, dtype=np.int64)
        self.value = np.empty(0, dtype=np.float64)
        self.renewal = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.pos)

    def add(self, pos: np.ndarray, created: np.ndarray) -> np.ndarray:
        """Add prospects (not yet customers); return their indexes."""
        n = len(pos)
        idx = np.arange(len(self), len(self) + n)
        self.pos = np.concatenate([self.pos, pos])
        self.created = np.concatenate([self.created, created])
        self.since = np.concatenate([self.since, np.full(n, NEVER)])
        self.death = np.concatenate([self.death, np.full(n, NEVER)])
        self.value = np.concatenate([self.value, np.zeros(n)])
        self.renewal = np.concatenate([self.renewal, np.full(n, NEVER)])
        return idx


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.round(rng.lognormal(np.log(median), sigma, n), 2)


@dataclass
class _Quarter:
    index: int
    first: int
    last: int
    days: int
    plan: np.ndarray  # [P] plan code of each position this quarter


@dataclass
class _Referred:
    """Referrals that became opportunities, waiting for next quarter's new-business step."""

    pos: np.ndarray
    referral: np.ndarray
    account: np.ndarray
    day: np.ndarray

    @classmethod
    def none(cls) -> _Referred:
        empty = np.empty(0, dtype=np.int64)
        return cls(empty, empty, empty, empty)


class _Simulation:
    """One chunk's state while stepping through quarters; each step appends rows to the event tables."""

    def __init__(self, config: GeneratorConfig, chunk: int) -> None:
        self.rng = np.random.default_rng([config.seed, chunk])
        self.qs = config.quarter_starts()
        self.end_day = int(self.qs[-1]) - 1
        self.n_pos = config.chunk_positions(chunk)
        self.staff = _simulate_staff(self.rng, self.n_pos, self.qs)
        self.acc = _Accounts()
        self.deals, self.referrals, self.conversions, self.churn = (
            _Columns(),
            _Columns(),
            _Columns(),
            _Columns(),
        )
        self.n_deals = 0
        self.n_referrals = 0

    def quarter(self, q: int) -> _Quarter:
        first, nxt = int(self.qs[q]), int(self.qs[q + 1])
        return _Quarter(q, first, nxt - 1, nxt - first, self.staff.plan[:, q])

    def add_deals(
        self,
        q: int,
        account: np.ndarray,
        owner_day: np.ndarray,
        deal_type: int,
        won: np.ndarray,
        amount: np.ndarray,
        discount: np.ndarray,
        created: np.ndarray,
        close: np.ndarray,
        term: np.ndarray | int = 12,
        lead: np.ndarray | int = -1,
        referral: np.ndarray | int = -1,
    ) -> np.ndarray:
        """Append deals owned by whoever holds the account's position on `owner_day`; return their ids."""
        n = len(account)
        ids = np.arange(self.n_deals, self.n_deals + n)
        self.n_deals += n
        self.deals.add(
            deal=ids,
            account=account,
            owner=self.staff.owner(self.acc.pos[account], q, owner_day),
            deal_type=np.full(n, deal_type),
            won=won,
            amount=amount,
            term=np.broadcast_to(term, n),
            discount=discount,
            created=created,
            close=close,
            lead=np.broadcast_to(lead, n),
            referral=np.broadcast_to(referral, n),
        )
        return ids

    def starting_book(self) -> None:
        """Customers won before the timeline, renewing on their anniversaries."""
        rng, acc = self.rng, self.acc
        counts = rng.poisson(_INITIAL_BOOK[self.staff.plan[:, 0]])
        pos = np.repeat(np.arange(self.n_pos), counts)
        book = acc.add(pos, self.qs[0] - rng.integers(1, 3 * 365, len(pos)))
        acc.since[book] = acc.created[book]
        acc.value[book] = _lognormal(rng, model.BOOK_ARR_MEDIAN, model.BOOK_ARR_SIGMA, len(book))
        years_to_start = -(-(self.qs[0] - acc.created[book]) // 365)
        acc.renewal[book] = acc.created[book] + 365 * years_to_start

    def renewals(self, qt: _Quarter) -> None:
        """Renewals due this quarter: won (value carries on, due again in a year) or lost (churn at close)."""
        rng, acc = self.rng, self.acc
        due = np.flatnonzero((acc.renewal >= qt.first) & (acc.renewal <= qt.last) & (acc.death > acc.renewal))
        n = len(due)
        close = acc.renewal[due]
        won = rng.random(n) < _RENEWAL_RATE[qt.plan[acc.pos[due]]]
        amount = np.round(acc.value[due] * (1.0 + rng.uniform(0.0, model.RENEWAL_UPLIFT_MAX, n)), 2)
        discount = rng.beta(1.0, 49.0, n)
        created = close - rng.integers(20, 61, n)
        self.add_deals(qt.index, due, close, 2, won, amount, discount, created, close)
        acc.value[due[won]] = amount[won]
        acc.renewal[due[won]] += 365
        acc.death[due[~won]] = close[~won]
        acc.renewal[due[~won]] = NEVER

    def expansions(self, qt: _Quarter) -> None:
        """Expansion opportunities for customers at least 90 days old that stay through the quarter."""
        rng, acc = self.rng, self.acc
        cand = np.flatnonzero((acc.since <= qt.first - 90) & (acc.death > qt.last))
        cand = cand[rng.random(len(cand)) < _EXPANSION[qt.plan[acc.pos[cand]]]]
        n = len(cand)
        close = qt.first + rng.integers(0, qt.days, n)
        won = rng.random(n) < model.WIN_RATE_EXPANSION
        amount = np.round(acc.value[cand] * rng.uniform(*model.EXPANSION_SHARE_RANGE, n), 2)
        discount = rng.beta(1.0, 30.0, n)
        created = close - rng.integers(14, 61, n)
        self.add_deals(qt.index, cand, close, 1, won, amount, discount, created, close)
        acc.value[cand[won]] += amount[won]

    def referrals_made(self, qt: _Quarter) -> _Referred:
        """Referrals from customers active at quarter start, credited to the account's owner that day."""
        rng, acc = self.rng, self.acc
        cand = np.flatnonzero((acc.since < qt.first) & (acc.death > qt.first))
        cand = cand[rng.random(len(cand)) < _REFERRAL_RATE[qt.plan[acc.pos[cand]]]]
        n = len(cand)
        until = np.minimum(acc.death[cand], qt.last + 1)
        day = qt.first + (rng.random(n) * (until - qt.first)).astype(np.int64)
        ids = np.arange(self.n_referrals, self.n_referrals + n)
        self.n_referrals += n
        with_opp = rng.random(n) < model.REFERRAL_OPPORTUNITY_SHARE
        referred = np.full(n, -1)
        referred[with_opp] = acc.add(acc.pos[cand[with_opp]], day[with_opp])
        owner = self.staff.owner(acc.pos[cand], qt.index, day)
        self.referrals.add(ref=ids, account=cand, rep=owner, referred=referred, day=day)
        return _Referred(acc.pos[cand[with_opp]], ids[with_opp], referred[with_opp], day[with_opp])

    def background_churn(self, qt: _Quarter) -> None:
        """Mid-term churn of customers well past any early-churn window and not renewing this quarter."""
        rng, acc = self.rng, self.acc
        old = (acc.since <= qt.first - 200) & (acc.death > qt.last) & (acc.renewal > qt.last)
        cand = np.flatnonzero(old)
        cand = cand[rng.random(len(cand)) < model.BACKGROUND_CHURN_PER_QUARTER]
        day = qt.first + rng.integers(0, qt.days, len(cand))
        acc.death[cand] = day
        acc.renewal[cand] = NEVER
        reason = rng.integers(0, len(model.BACKGROUND_CHURN_REASONS), len(cand))
        self.churn.add(account=cand, day=day, lost=acc.value[cand], reason=reason)

    def new_business(self, qt: _Quarter, referred: _Referred) -> None:
        """Outbound opportunities plus last quarter's referred ones, timed and discounted by the plan."""
        rng, acc = self.rng, self.acc
        out_pos = np.repeat(np.arange(self.n_pos), rng.poisson(_NB_OPPS[qt.plan]))
        n_out = len(out_pos)
        out_lag = rng.integers(20, 121, n_out)
        account = np.concatenate([acc.add(out_pos, np.zeros(n_out, dtype=np.int64)), referred.account])
        n = len(account)
        is_ref = np.arange(n) >= n_out
        code = qt.plan[acc.pos[account]]
        bunched = rng.random(n) < _LAST_TENTH_SHARE[code]
        late = qt.days - LAST_TENTH_DAYS + rng.integers(0, LAST_TENTH_DAYS, n)
        close = qt.first + np.where(bunched, late, rng.integers(0, qt.days - 10, n))
        discount = np.clip(rng.beta(2.0, 28.0, n) + bunched * _EXTRA_DISCOUNT[code], 0.0, 0.6)
        list_price = _lognormal(rng, model.NB_LIST_PRICE_MEDIAN, model.NB_LIST_PRICE_SIGMA, n)
        amount = np.round(list_price * (1.0 - discount), 2)
        won = rng.random(n) < np.where(is_ref, model.WIN_RATE_REFERRED, model.WIN_RATE_OUTBOUND)
        term = np.where(rng.random(n) < model.TWO_YEAR_TERM_SHARE, 24, 12)
        referred_created = np.minimum(referred.day + rng.integers(0, 15, n - n_out), close[n_out:])
        created = np.concatenate([close[:n_out] - out_lag, referred_created])
        acc.created[account[:n_out]] = created[:n_out]
        lead = np.where(is_ref, len(model.LEAD_SOURCES), rng.integers(0, len(model.LEAD_SOURCES), n))
        referral = np.concatenate([np.full(n_out, -1), referred.referral])
        ids = self.add_deals(
            qt.index, account, close, 0, won, amount, discount, created, close, term, lead, referral
        )
        self.conversions.add(ref=referral[is_ref & won], deal=ids[is_ref & won])

        new = account[won]
        acc.since[new] = close[won]
        acc.value[new] = amount[won]
        acc.renewal[new] = close[won] + 365 * term[won] // 12
        early = rng.random(len(new)) < _EARLY_CHURN[code[won]]
        churn_day = close[won] + rng.integers(14, EARLY_CHURN_WINDOW_DAYS, len(new))
        acc.death[new[early]] = churn_day[early]
        seen = early & (churn_day <= self.end_day)
        reason = 100 + rng.integers(0, len(model.EARLY_CHURN_REASONS), int(seen.sum()))
        self.churn.add(account=new[seen], day=churn_day[seen], lost=amount[won][seen], reason=reason)

    def open_pipeline(self, referred: _Referred) -> None:
        """Open new-business opportunities at the end: the last referred ones and some outbound ones."""
        rng, acc, end = self.rng, self.acc, self.end_day
        out_pos = np.repeat(np.arange(self.n_pos), rng.poisson(model.OPEN_PIPELINE_PER_POSITION, self.n_pos))
        out_created = end - rng.integers(0, 60, len(out_pos))
        account = np.concatenate([acc.add(out_pos, out_created), referred.account])
        n = len(account)
        created = np.concatenate(
            [out_created, np.minimum(referred.day + rng.integers(0, 15, len(referred.day)), end)]
        )
        is_ref = np.arange(n) >= len(out_pos)
        lead = np.where(is_ref, len(model.LEAD_SOURCES), rng.integers(0, len(model.LEAD_SOURCES), n))
        referral = np.concatenate([np.full(len(out_pos), -1), referred.referral])
        amount = _lognormal(rng, model.NB_LIST_PRICE_MEDIAN, model.NB_LIST_PRICE_SIGMA, n)
        no_close = np.full(n, NEVER)
        self.add_deals(
            len(self.qs) - 2,
            account,
            np.full(n, end),
            0,
            np.zeros(n, dtype=bool),
            amount,
            np.full(n, np.nan),
            created,
            no_close,
            12,
            lead,
            referral,
        )


def simulate_chunk(config: GeneratorConfig, chunk: int) -> dict[str, pl.DataFrame]:
    """The CRM tables of one chunk, conformed to the canonical schema (ids carry the chunk number)."""
    sim = _Simulation(config, chunk)
    sim.starting_book()
    referred = _Referred.none()
    for q in range(config.quarters):
        qt = sim.quarter(q)
        sim.renewals(qt)
        sim.expansions(qt)
        made = sim.referrals_made(qt)
        sim.background_churn(qt)
        sim.new_business(qt, referred)
        referred = made
    sim.open_pipeline(referred)
    return _frames(config, chunk, sim)


def _id(col: str, prefix: str, chunk: int, width: int = 7) -> pl.Expr:
    """`<prefix><chunk>-<n>` for index column `col`; null where the index is negative."""
    text = pl.concat_str(pl.lit(f"{prefix}{chunk:05d}-"), pl.col(col).cast(pl.String).str.zfill(width))
    return pl.when(pl.col(col) >= 0).then(text)


def _date(col: str) -> pl.Expr:
    return pl.when(pl.col(col) != NEVER).then(pl.col(col).cast(pl.Int32).cast(pl.Date))


def _label(col: str, labels: tuple[str, ...] | dict[int, str]) -> pl.Expr:
    mapping = dict(enumerate(labels)) if isinstance(labels, tuple) else labels
    return pl.col(col).replace_strict(mapping, return_dtype=pl.String, default=None)


def _assignments(chunk: int, staff: _Staff, qs: np.ndarray) -> pl.DataFrame:
    """Non-overlapping plan assignments: each rep's days in the timeline, split where the plan changes."""
    n_pos, n_q = staff.plan.shape
    q_start = np.broadcast_to(qs[:-1], (n_pos, n_q))
    q_end = np.broadcast_to(qs[1:] - 1, (n_pos, n_q))
    lv = staff.leaves
    cells = pl.DataFrame(
        {
            "rep": np.concatenate([staff.rep_before.ravel(), staff.rep_after[lv]]),
            "plan": np.concatenate([staff.plan.ravel(), staff.plan[lv]]),
            "start": np.concatenate([q_start.ravel(), staff.change_day[lv] + 1]),
            "end": np.concatenate([np.where(lv, staff.change_day, q_end).ravel(), q_end[lv]]),
        }
    ).sort("rep", "start")
    runs = (
        cells.with_columns(
            run=(pl.col("plan") != pl.col("plan").shift(1)).fill_null(True).cum_sum().over("rep")
        )
        .group_by("rep", "run", maintain_order=True)
        .agg(pl.col("plan").first(), pl.col("start").min(), pl.col("end").max())
        .with_columns(end=pl.when(pl.col("end") < int(qs[-1]) - 1).then(pl.col("end")).otherwise(NEVER))
    )
    return runs.select(
        rep_id=_id("rep", "R", chunk, 6),
        plan_id=_label("plan", PLAN_IDS),
        start_date=_date("start"),
        end_date=_date("end"),
    )


def _frames(config: GeneratorConfig, chunk: int, sim: _Simulation) -> dict[str, pl.DataFrame]:
    """Turn the simulation's index arrays into the canonical tables, with readable ids and labels.

    The reps draw their names before the accounts draw theirs, from one random stream: keep that order.
    """
    teams_per_chunk = -(-config.reps_per_chunk // model.TEAM_SIZE)
    pos_team = np.arange(sim.n_pos) // model.TEAM_SIZE
    pos_region = sim.rng.integers(0, len(model.REGIONS), int(pos_team[-1]) + 1)[pos_team]
    reps = _reps_frame(sim, chunk, chunk * teams_per_chunk + pos_team, pos_region)
    accounts = _accounts_frame(sim, chunk, pos_region)
    frames = {
        "accounts": accounts,
        "reps": reps,
        "rep_plan_assignments": _assignments(chunk, sim.staff, sim.qs),
        "deals": _deals_frame(sim.deals, chunk),
        "churn_events": _churn_frame(sim.churn, chunk),
        "referrals": _referrals_frame(sim.referrals, sim.conversions, chunk),
    }
    return {name: conform(df, name).collect() for name, df in frames.items()}


def _reps_frame(sim: _Simulation, chunk: int, seat_team: np.ndarray, seat_region: np.ndarray) -> pl.DataFrame:
    """The reps table; `seat_team` and `seat_region` give each seat's team number and region index."""
    rng, staff = sim.rng, sim.staff
    n_reps = len(staff.hire_day)
    region = _label("region", model.REGIONS)
    return pl.DataFrame(
        {
            "rep": np.arange(n_reps),
            "first": rng.integers(0, len(model.FIRST_NAMES), n_reps),
            "last": rng.integers(0, len(model.LAST_NAMES), n_reps),
            "team": seat_team[staff.rep_position],
            "region": seat_region[staff.rep_position],
            "hire": staff.hire_day,
            "term": staff.term_day,
        }
    ).select(
        rep_id=_id("rep", "R", chunk, 6),
        rep_name=pl.concat_str(
            _label("first", model.FIRST_NAMES), _label("last", model.LAST_NAMES), separator=" "
        ),
        team=pl.concat_str(pl.lit("Team "), pl.col("team").cast(pl.String).str.zfill(4)),
        region=region,
        hire_date=_date("hire"),
        termination_date=_date("term"),
    )


def _accounts_frame(sim: _Simulation, chunk: int, seat_region: np.ndarray) -> pl.DataFrame:
    """The accounts table; an account is in the region of its owner's seat (`seat_region`, by seat index)."""
    rng, acc = sim.rng, sim.acc
    region = _label("region", model.REGIONS)
    return pl.DataFrame(
        {
            "acct": np.arange(len(acc)),
            "a": rng.integers(0, len(model.NAME_WORDS), len(acc)),
            "b": rng.integers(0, len(model.NAME_SUFFIXES), len(acc)),
            "industry": rng.integers(0, len(model.INDUSTRIES), len(acc)),
            "region": seat_region[acc.pos],
            "created": acc.created,
        }
    ).select(
        account_id=_id("acct", "A", chunk),
        account_name=pl.concat_str(
            _label("a", model.NAME_WORDS), _label("b", model.NAME_SUFFIXES), separator=" "
        ),
        industry=_label("industry", model.INDUSTRIES),
        region=region,
        created_date=_date("created"),
    )


def _deals_frame(deals: _Columns, chunk: int) -> pl.DataFrame:
    """The deals table: open deals have no close day, won and lost ones do."""
    close = deals.get("close")
    stage = np.where(deals.get("won"), 1, np.where(close == NEVER, 0, 2))
    return pl.DataFrame(
        {
            "deal": deals.get("deal"),
            "acct": deals.get("account"),
            "owner": deals.get("owner"),
            "type": deals.get("deal_type"),
            "stage": stage,
            "amount": deals.get("amount").astype(np.float64),
            "term": deals.get("term").astype(np.int64),
            "discount": np.round(deals.get("discount").astype(np.float64), 4),
            "created": deals.get("created"),
            "close": close,
            "lead": deals.get("lead"),
            "ref": deals.get("referral"),
        },
        nan_to_null=True,
    ).select(
        deal_id=_id("deal", "D", chunk),
        account_id=_id("acct", "A", chunk),
        owner_rep_id=_id("owner", "R", chunk, 6),
        deal_type=_label("type", ("new_business", "expansion", "renewal")),
        stage=_label("stage", ("open", "won", "lost")),
        amount=pl.col("amount"),
        term_months=pl.col("term"),
        discount_pct=pl.col("discount"),
        created_date=_date("created"),
        close_date=_date("close"),
        lead_source=_label("lead", (*model.LEAD_SOURCES, model.REFERRAL_LEAD_SOURCE)),
        referral_id=_id("ref", "F", chunk),
    )


def _referrals_frame(referrals: _Columns, conversions: _Columns, chunk: int) -> pl.DataFrame:
    """The referrals table, with the deal each converted referral became."""
    converted = pl.DataFrame({"ref": conversions.get("ref"), "deal": conversions.get("deal")})
    return (
        pl.DataFrame(
            {
                "ref": referrals.get("ref"),
                "acct": referrals.get("account"),
                "rep": referrals.get("rep"),
                "referred": referrals.get("referred"),
                "day": referrals.get("day"),
            }
        )
        .join(converted, on="ref", how="left")
        .with_columns(pl.col("deal").fill_null(-1))
        .select(
            referral_id=_id("ref", "F", chunk),
            referring_account_id=_id("acct", "A", chunk),
            referring_rep_id=_id("rep", "R", chunk, 6),
            referred_account_id=_id("referred", "A", chunk),
            referral_date=_date("day"),
            converted_deal_id=_id("deal", "D", chunk),
        )
    )


def _churn_frame(churn: _Columns, chunk: int) -> pl.DataFrame:
    """The churn events, by day and account; reason codes from 100 are early-churn reasons."""
    reasons = {
        **dict(enumerate(model.BACKGROUND_CHURN_REASONS)),
        **{100 + i: r for i, r in enumerate(model.EARLY_CHURN_REASONS)},
    }
    return (
        pl.DataFrame(
            {
                "acct": churn.get("account"),
                "day": churn.get("day"),
                "lost": churn.get("lost").astype(np.float64),
                "reason": churn.get("reason"),
            }
        )
        .sort("day", "acct")
        .select(
            account_id=_id("acct", "A", chunk),
            churn_date=_date("day"),
            lost_amount=pl.col("lost"),
            reason=_label("reason", reasons),
        )
    )
