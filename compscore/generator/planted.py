"""The generator's planted truth: how reps respond to their plan's incentives, as numbers tests can read.

Each plan has a design Same-Day Index (its intent, computed by hand below) and two qualitative levels of
referral pay and retention pay. Behaviour follows from them by fixed linear rules, so stronger same-day pay
means more quarter-end bunching, deeper quarter-end discounts, more early churn and fewer referrals;
referral pay means more referrals; retention pay means better renewal rates. `PLANTED[plan_id]` holds the
resulting per-plan numbers, which the simulation in `company.py` draws from directly.

Design SDI, hand-computed from SPEC sections 4–5 under these assumptions: every reference deal is
$30,000 (Δ_S = Δ_R = Δ_F), the rep is below quota and below any cap, existing-customer dollars are 80 %
renewal and 20 % expansion, a 14-day spiff lands with probability 14/91, the retention bonus adds nothing
at the margin, contingency horizon H = 365 days. For example `balanced`: c = 180/365 = 0.493, so
m_S = 0.10·0.507 = 0.0507, m_R = 0.10·0.493 + 0.8·0.02 + 0.2·0.08 = 0.0813, m_F = 500/30,000 = 0.0167,
SDI = 100·0.0507/0.1487 = 34.1. `tests/test_generator.py` recomputes every value from the plan objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from compscore.generator.plans_catalog import PLAN_IDS

LAST_TENTH_DAYS = 9
"""Bunched deals close in the last 9 days of the quarter: inside "the last 10 % of the period's days"
whether a 90–92-day quarter's last tenth is counted as 9 or 10 days. Other deals close on days
0 … D−11 of a D-day quarter, so no deal falls on the ambiguous day D−10."""
UNIFORM_LAST_TENTH_SHARE = 0.10
"""The share a plan with no same-day pressure shows: what closing uniformly over the quarter gives."""
EARLY_CHURN_WINDOW_DAYS = 180


@dataclass(frozen=True)
class PlanIncentives:
    """What a plan pays for, as the generator's reps perceive it."""

    design_sdi: float
    """Same-Day Index (0–100) the plan is designed to have; see the module docstring."""
    referral_pay: float
    """0 = no referral pay, 0.3 = a small flat bonus, 1 = a referral fee of 10–20 % of first-year value."""
    retention_pay: float
    """0 = nothing for keeping customers, 1 = renewals, expansion and a retention bonus are the core pay."""


@dataclass(frozen=True)
class PlantedBehaviour:
    """Per-plan behaviour the simulation draws from; each field says its unit and what it is measured on."""

    last_tenth_nb_share: float
    """Probability (0–1) that a new-business deal closes in the last 10 % of its quarter (the last
    `LAST_TENTH_DAYS` days), by the plan of the owner at close. 0.10 = uniform timing. Because amounts do
    not depend on timing except through discount, the share of won new-business *dollars* is
    `expected_last_tenth_dollar_share(plan_id)`; SPEC's `period_end_bunching` is that share ÷ 0.10."""
    last_tenth_extra_discount_pts: float
    """Percentage points of discount added to new-business deals closed in the last tenth (SPEC's
    `period_end_discount_gap`, in points)."""
    early_churn_180d: float
    """Probability (0–1) that an account won by a new-business deal churns (a `churn_events` row) within
    180 days of that deal's close, by the plan of the closing rep."""
    referrals_per_100_accounts_q: float
    """Referrals per quarter per 100 customer accounts that were active at the start of the quarter, by the
    plan of the accounts' owner; each referral is credited to that owner."""
    renewal_win_rate: float
    """Probability (0–1) that a renewal deal is won (a lost one is churn), by the plan of its owner."""


# Linear response rules. p = design_sdi / 100 is the plan's same-day pressure.
BASE_DISCOUNT_MEAN = 2.0 / 30.0
"""Mean discount (0–1) of a new-business deal away from quarter end: Beta(2, 28)."""
BUNCHING_SLOPE = 0.30
DISCOUNT_SLOPE_PTS = 10.0
EARLY_CHURN_BASE, EARLY_CHURN_SLOPE = 0.04, 0.18
REFERRAL_BASE, REFERRAL_PER_PAY_LEVEL, REFERRAL_DAMPING = 1.5, 6.0, 0.5
RENEWAL_BASE, RENEWAL_PER_PAY_LEVEL = 0.78, 0.14

INCENTIVES: dict[str, PlanIncentives] = {
    "hunter": PlanIncentives(design_sdi=100.0, referral_pay=0.0, retention_pay=0.0),
    "legacy-capped": PlanIncentives(design_sdi=80.0, referral_pay=0.0, retention_pay=0.25),
    "deferred-nb": PlanIncentives(design_sdi=39.7, referral_pay=0.0, retention_pay=0.5),
    "balanced": PlanIncentives(design_sdi=34.1, referral_pay=0.3, retention_pay=0.5),
    "referral-led": PlanIncentives(design_sdi=20.0, referral_pay=1.0, retention_pay=0.25),
    "account-manager": PlanIncentives(design_sdi=19.5, referral_pay=0.0, retention_pay=1.0),
}

DESIGN_SDI: dict[str, float] = {plan_id: inc.design_sdi for plan_id, inc in INCENTIVES.items()}
EXPECTED_SDI_ORDER: tuple[str, ...] = tuple(sorted(DESIGN_SDI, key=DESIGN_SDI.__getitem__, reverse=True))
"""Highest design SDI first. Near ties (deferred-nb/balanced, referral-led/account-manager) may swap
with real books; the robust claims are `HIGHEST_SDI_PLAN` and `LOWEST_SDI_PLANS`."""
HIGHEST_SDI_PLAN = "hunter"
LOWEST_SDI_PLANS: frozenset[str] = frozenset({"account-manager", "referral-led"})


def behaviour_from_incentives(inc: PlanIncentives) -> PlantedBehaviour:
    """Apply the linear response rules (rounded to 4 decimals so the constants read cleanly)."""
    p = inc.design_sdi / 100.0
    return PlantedBehaviour(
        last_tenth_nb_share=round(UNIFORM_LAST_TENTH_SHARE + BUNCHING_SLOPE * p, 4),
        last_tenth_extra_discount_pts=round(DISCOUNT_SLOPE_PTS * p, 4),
        early_churn_180d=round(EARLY_CHURN_BASE + EARLY_CHURN_SLOPE * p, 4),
        referrals_per_100_accounts_q=round(
            (REFERRAL_BASE + REFERRAL_PER_PAY_LEVEL * inc.referral_pay) * (1.0 - REFERRAL_DAMPING * p), 4
        ),
        renewal_win_rate=round(RENEWAL_BASE + RENEWAL_PER_PAY_LEVEL * inc.retention_pay, 4),
    )


PLANTED: dict[str, PlantedBehaviour] = {
    plan_id: behaviour_from_incentives(INCENTIVES[plan_id]) for plan_id in PLAN_IDS
}


def expected_last_tenth_dollar_share(plan_id: str) -> float:
    """Expected share of won new-business dollars closed in the last tenth.

    Amount = list price × (1 − discount), and list prices do not depend on timing.
    """
    b = PLANTED[plan_id]
    s, late = b.last_tenth_nb_share, 1.0 - BASE_DISCOUNT_MEAN - b.last_tenth_extra_discount_pts / 100.0
    return s * late / (s * late + (1.0 - s) * (1.0 - BASE_DISCOUNT_MEAN))
