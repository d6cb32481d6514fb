"""The six comp plans of the generated company, each plausible on its own and clearly different in design.

Rates follow common practice: new-business commission 8–12 % of first-year value (lower for account
managers), renewals about 2 % (unpaid on the hunter plan, as in about a fifth of companies), expansion
about 8 %, clawback windows of 90–180 days, referral fees of 10–20 % of the referred first-year value,
accelerators of 1.5–2x above quota. Every plan is quarterly and has no effective dates, so it applies over
the whole generated timeline. `planted.DESIGN_SDI` records the Same-Day Index each one is designed to have.
"""

from __future__ import annotations

from compscore.plans import Clawback, Component, Deferral, Plan, Tier

HUNTER = Plan(
    plan_id="hunter",
    name="Hunter AE: new logos, accelerated, quarter-end spiff",
    period="quarter",
    quota=150_000.0,
    quota_credit=("new_business",),
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business",),
            tiers=(Tier(0.0, 0.10), Tier(1.0, 0.18)),
        ),
        Component(
            id="qe-spiff", kind="spiff", applies_to=("new_business",), amount=1500.0, last_days_of_period=14
        ),
    ),
)

BALANCED = Plan(
    plan_id="balanced",
    name="Balanced AE: new business with 180-day clawback, renewals and expansion",
    period="quarter",
    quota=150_000.0,
    quota_credit=("new_business",),
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business",),
            tiers=(Tier(0.0, 0.10), Tier(1.0, 0.15)),
            clawback=Clawback(window_days=180, fraction=1.0),
        ),
        Component(id="renew", kind="commission", applies_to=("renewal",), tiers=(Tier(0.0, 0.02),)),
        Component(id="expand", kind="commission", applies_to=("expansion",), tiers=(Tier(0.0, 0.08),)),
        Component(id="ref", kind="referral_bonus", amount=500.0),
    ),
)

ACCOUNT_MANAGER = Plan(
    plan_id="account-manager",
    name="Account manager: renewals, expansion and a retention bonus",
    period="quarter",
    quota=300_000.0,
    quota_credit=("renewal", "expansion"),
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business",),
            tiers=(Tier(0.0, 0.03),),
            clawback=Clawback(window_days=180, fraction=1.0),
        ),
        Component(id="renew", kind="commission", applies_to=("renewal",), tiers=(Tier(0.0, 0.04),)),
        Component(id="expand", kind="commission", applies_to=("expansion",), tiers=(Tier(0.0, 0.08),)),
        Component(
            id="grr-bonus",
            kind="retention_bonus",
            metric="gross_revenue_retention",
            threshold=0.9,
            amount=3000.0,
        ),
    ),
)

DEFERRED_NB = Plan(
    plan_id="deferred-nb",
    name="Deferred AE: half of new-business pay held for a year",
    period="quarter",
    quota=150_000.0,
    quota_credit=("new_business",),
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business",),
            tiers=(Tier(0.0, 0.10), Tier(1.0, 0.15)),
            deferral=Deferral(fraction=0.5, release_after_days=365),
        ),
        Component(id="renew", kind="commission", applies_to=("renewal",), tiers=(Tier(0.0, 0.02),)),
        Component(id="expand", kind="commission", applies_to=("expansion",), tiers=(Tier(0.0, 0.05),)),
    ),
)

REFERRAL_LED = Plan(
    plan_id="referral-led",
    name="Referral-led AE: 15 % referral fee, modest new business with 90-day clawback",
    period="quarter",
    quota=120_000.0,
    quota_credit=("new_business",),
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business",),
            tiers=(Tier(0.0, 0.06),),
            clawback=Clawback(window_days=90, fraction=1.0),
        ),
        Component(id="renew", kind="commission", applies_to=("renewal",), tiers=(Tier(0.0, 0.02),)),
        Component(id="ref", kind="referral_bonus", rate=0.15),
    ),
)

LEGACY_CAPPED = Plan(
    plan_id="legacy-capped",
    name="Legacy AE: flat 8 % new business capped per quarter, 2 % renewals",
    period="quarter",
    components=(
        Component(
            id="nb",
            kind="commission",
            applies_to=("new_business",),
            tiers=(Tier(0.0, 0.08),),
            cap=12_000.0,
        ),
        Component(
            id="renew", kind="commission", applies_to=("renewal", "expansion"), tiers=(Tier(0.0, 0.02),)
        ),
    ),
)

PLANS: tuple[Plan, ...] = (HUNTER, BALANCED, ACCOUNT_MANAGER, DEFERRED_NB, REFERRAL_LED, LEGACY_CAPPED)
"""The catalog, in a fixed order: a plan's position here is its integer code inside the generator."""
PLAN_IDS: tuple[str, ...] = tuple(p.plan_id for p in PLANS)
PLANS_BY_ID: dict[str, Plan] = {p.plan_id: p for p in PLANS}
