"""Small hand-made companies for payout and scoring tests: a few reps and deals, one plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from compscore.dataset import CanonicalData
from compscore.plans import Plan, parse_plan
from compscore.schema import conform

D = dt.date
Q1_START = D(2026, 1, 1)


@dataclass
class Deal:
    deal_id: str
    rep_id: str
    amount: float
    close_date: dt.date
    deal_type: str = "new_business"
    account_id: str | None = None
    stage: str = "won"
    discount_pct: float | None = None
    referral_id: str | None = None


@dataclass
class Company:
    plans: Sequence[Plan]
    deals: Sequence[Deal]
    reps: Sequence[str] = ("R1",)
    churn: Sequence[tuple[str, dt.date, float]] = ()
    referrals: Sequence[tuple[str, str, str, str]] = ()
    """(referral_id, referring_rep_id, converted_deal_id, referring_account_id)"""
    assignments: dict[str, str] = field(default_factory=dict)
    """rep_id -> plan_id; default: every rep on the first plan."""

    def data(self) -> CanonicalData:
        plan_of = {r: self.assignments.get(r, self.plans[0].plan_id) for r in self.reps}
        accounts = sorted(
            {d.account_id or f"A-{d.deal_id}" for d in self.deals} | {r[3] for r in self.referrals}
        )
        deals = pl.DataFrame(
            {
                "deal_id": [d.deal_id for d in self.deals],
                "account_id": [d.account_id or f"A-{d.deal_id}" for d in self.deals],
                "owner_rep_id": [d.rep_id for d in self.deals],
                "deal_type": [d.deal_type for d in self.deals],
                "stage": [d.stage for d in self.deals],
                "amount": [float(d.amount) for d in self.deals],
                "discount_pct": [d.discount_pct for d in self.deals],
                "created_date": [d.close_date - dt.timedelta(days=30) for d in self.deals],
                "close_date": [d.close_date for d in self.deals],
                "referral_id": [d.referral_id for d in self.deals],
            },
            schema_overrides={"discount_pct": pl.Float64, "referral_id": pl.String},
        )
        tables = {
            "accounts": pl.DataFrame({"account_id": accounts}),
            "reps": pl.DataFrame({"rep_id": list(self.reps)}),
            "rep_plan_assignments": pl.DataFrame(
                {
                    "rep_id": list(self.reps),
                    "plan_id": [plan_of[r] for r in self.reps],
                    "start_date": [D(2025, 1, 1)] * len(self.reps),
                }
            ),
            "deals": deals,
            "churn_events": pl.DataFrame(
                {
                    "account_id": [c[0] for c in self.churn],
                    "churn_date": [c[1] for c in self.churn],
                    "lost_amount": [float(c[2]) for c in self.churn],
                },
                schema={"account_id": pl.String, "churn_date": pl.Date, "lost_amount": pl.Float64},
            ),
            "referrals": pl.DataFrame(
                {
                    "referral_id": [r[0] for r in self.referrals],
                    "referring_rep_id": [r[1] for r in self.referrals],
                    "converted_deal_id": [r[2] for r in self.referrals],
                    "referring_account_id": [r[3] for r in self.referrals],
                    "referral_date": [Q1_START] * len(self.referrals),
                },
                schema={
                    "referral_id": pl.String,
                    "referring_rep_id": pl.String,
                    "converted_deal_id": pl.String,
                    "referring_account_id": pl.String,
                    "referral_date": pl.Date,
                },
            ),
        }
        conformed = {name: conform(df, name).collect() for name, df in tables.items()}
        return CanonicalData(tables=conformed, plans={p.plan_id: p for p in self.plans})


def plan(yaml_components: str, *, plan_id: str = "p", quota: float | None = None, extra: str = "") -> Plan:
    """A quarterly plan from the YAML text of its components list."""
    quota_line = f"quota: {quota}\nquota_credit: [new_business]\n" if quota else ""
    return parse_plan(
        f"plan_id: {plan_id}\nname: {plan_id}\nperiod: quarter\n{quota_line}{extra}"
        f"components:\n{yaml_components}"
    )
