"""Operating parameters of the simulated company: the parts of the model that are not planted effects.

These set the company's size and rhythm (headcount mix, pipeline, win rates, deal sizes, turnover). The
effects that later scores must find are in `planted.py`; nothing here varies with a plan's incentives
except where noted (new-business volume and starting book follow the role a plan is written for).
"""

from __future__ import annotations

from compscore.generator.planted import INCENTIVES

HEADCOUNT_MIX: dict[str, float] = {
    "hunter": 0.20,
    "balanced": 0.20,
    "account-manager": 0.15,
    "deferred-nb": 0.15,
    "referral-led": 0.15,
    "legacy-capped": 0.15,
}
"""Share of sales positions starting the timeline on each plan."""

NB_OPPORTUNITIES_PER_QUARTER: dict[str, float] = {
    "hunter": 14.0,
    "balanced": 11.0,
    "account-manager": 3.0,
    "deferred-nb": 11.0,
    "referral-led": 8.0,
    "legacy-capped": 11.0,
}
"""Mean outbound new-business opportunities closed (won or lost) per position per quarter (Poisson)."""

INITIAL_BOOK_ACCOUNTS: dict[str, float] = {
    "hunter": 6.0,
    "balanced": 15.0,
    "account-manager": 60.0,
    "deferred-nb": 12.0,
    "referral-led": 18.0,
    "legacy-capped": 15.0,
}
"""Mean customer accounts a position owns when the timeline starts (Poisson), by its first plan."""

EXPANSION_PROB_PER_QUARTER: dict[str, float] = {
    plan_id: 0.03 + 0.05 * inc.retention_pay for plan_id, inc in INCENTIVES.items()
}
"""Chance per quarter that a customer at least 90 days old gets an expansion opportunity."""

WIN_RATE_OUTBOUND = 0.35
WIN_RATE_REFERRED = 0.50
WIN_RATE_EXPANSION = 0.70
REFERRAL_OPPORTUNITY_SHARE = 0.80
"""Share of referrals that become a referred account with a new-business opportunity next quarter."""
OPEN_PIPELINE_PER_POSITION = 4.0
"""Mean open new-business opportunities per position at the end of the timeline (Poisson)."""

NB_LIST_PRICE_MEDIAN, NB_LIST_PRICE_SIGMA = 30_000.0, 0.6
"""Log-normal list price of a new-business deal (first-year value before discount)."""
BOOK_ARR_MEDIAN, BOOK_ARR_SIGMA = 25_000.0, 0.7
RENEWAL_UPLIFT_MAX = 0.06
EXPANSION_SHARE_RANGE = (0.10, 0.35)
"""An expansion adds this fraction (uniform) of the account's current annual value."""
TWO_YEAR_TERM_SHARE = 0.15

REP_ATTRITION_PER_QUARTER = 0.05
"""Chance per quarter that a rep leaves; the position is refilled the next day under the same plan."""
PLAN_SWITCH_PER_QUARTER = 0.04
LEGACY_SWITCH_PER_QUARTER = 0.10
LEGACY_PLAN = "legacy-capped"
"""Being phased out: its positions switch away faster and nobody switches onto it."""

BACKGROUND_CHURN_PER_QUARTER = 0.01
"""Mid-term churn of customers older than 200 days (outside any early-churn window)."""

TEAM_SIZE = 10
REGIONS: tuple[str, ...] = ("NA East", "NA West", "EMEA", "APAC", "LATAM")
INDUSTRIES: tuple[str, ...] = (
    "Software",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Financial Services",
    "Logistics",
    "Education",
    "Media",
)
LEAD_SOURCES: tuple[str, ...] = ("outbound", "inbound", "event", "partner")
REFERRAL_LEAD_SOURCE = "referral"
EARLY_CHURN_REASONS: tuple[str, ...] = ("poor fit", "failed onboarding", "oversold", "budget cut")
BACKGROUND_CHURN_REASONS: tuple[str, ...] = ("budget cut", "switched to competitor", "acquired", "closed")
FIRST_NAMES: tuple[str, ...] = (
    "Ada", "Ben", "Carla", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jon",
    "Kira", "Luis", "Maya", "Nico", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Novak",
)  # fmt: skip
NAME_WORDS: tuple[str, ...] = (
    "Apex", "Blue", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris", "Juniper",
    "Keystone", "Lumen", "Maple", "Northwind", "Orbit", "Pioneer", "Quartz", "Ridge", "Summit", "Tidal",
)  # fmt: skip
NAME_SUFFIXES: tuple[str, ...] = ("Labs", "Systems", "Group", "Health", "Logistics", "Foods", "Media", "Co")
