"""A copy of clean canonical data with known defects of every kind, for tests and benchmarks.

Defect rows are copies of each table's first row (the "template") with one thing broken and an id
starting with `BAD-`, so every defect fails exactly the rule it is meant for. Three defects touch real
rows, on purpose, to exercise the cascade: the template deal is duplicated (both copies rejected, and the
statement lines on it follow), and the template assignment gets an overlapping twin (both rejected).
`expected_rule_counts` holds the exact rule-level counts; cascade counts depend on the data and are
asserted by the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from compscore.dataset import CanonicalData

NO_ACCOUNT, NO_REP, NO_DEAL, NO_PLAN = "NO-SUCH-ACCOUNT", "NO-SUCH-REP", "NO-SUCH-DEAL", "no-such-plan"


@dataclass
class Corrupted:
    data: CanonicalData
    expected_rule_counts: dict[tuple[str, str], int]
    """(table, rule) -> exact number of rows failing that rule as received (before the cascade)."""
    template_deal_id: str
    touched_plans: set[str]
    """Plans whose inputs the defects change; the others must score as on the clean data."""


def _variant(template: pl.DataFrame, **changes: object) -> pl.DataFrame:
    return template.with_columns(pl.lit(v, dtype=template.schema[k]).alias(k) for k, v in changes.items())


def corrupt(clean: CanonicalData) -> Corrupted:
    """Return the corrupted copy; `clean` must pass validation and have a row in every table."""
    t = dict(clean.tables)
    add = _bad_rows(t)
    tables = {name: pl.concat([t[name], *add.get(name, [])], how="vertical") for name in t}
    deal, asg, line = t["deals"].head(1), t["rep_plan_assignments"].head(1), t["commission_lines"].head(1)
    owner = deal.item(0, "owner_rep_id")
    owner_plans = t["rep_plan_assignments"].filter(pl.col("rep_id") == owner).get_column("plan_id")
    touched = {asg.item(0, "plan_id"), line.item(0, "plan_id"), *owner_plans.to_list()}
    return Corrupted(
        data=CanonicalData(
            tables=tables,
            plans=dict(clean.plans),
            given_commission_lines=clean.given_commission_lines,
            warnings=list(clean.warnings),
        ),
        expected_rule_counts=dict(EXPECTED_RULE_COUNTS),
        template_deal_id=deal.item(0, "deal_id"),
        touched_plans=touched,
    )


def _bad_rows(t: dict[str, pl.DataFrame]) -> dict[str, list[pl.DataFrame]]:
    """Per table, the rows to append: copies of its first row, each broken in one known way."""
    acc, rep, asg = t["accounts"].head(1), t["reps"].head(1), t["rep_plan_assignments"].head(1)
    deal, churn, ref, line = (
        t["deals"].head(1),
        t["churn_events"].head(1),
        t["referrals"].head(1),
        t["commission_lines"].head(1),
    )
    created, owner = deal.item(0, "created_date"), deal.item(0, "owner_rep_id")
    start = asg.item(0, "start_date")
    hire = dt.date(2020, 1, 1)
    return {
        "accounts": [
            _variant(acc, account_id="BAD-A1"),
            _variant(acc, account_id="BAD-A1"),
            _variant(acc, account_id=None),
        ],
        "reps": [
            _variant(rep, rep_id="BAD-R1", hire_date=hire, termination_date=hire - dt.timedelta(days=1)),
            _variant(rep, rep_id="BAD-R2", hire_date=hire, termination_date=None),
        ],
        "rep_plan_assignments": [
            _variant(asg, start_date=start + dt.timedelta(days=30), end_date=None),
            _variant(asg, rep_id="BAD-R2", plan_id=NO_PLAN),
        ],
        "deals": [
            deal,
            _variant(deal, deal_id="BAD-D1", amount=-100.0),
            _variant(deal, deal_id="BAD-D2", discount_pct=1.5),
            _variant(deal, deal_id="BAD-D3", close_date=created - dt.timedelta(days=1)),
            _variant(deal, deal_id="BAD-D4", account_id=NO_ACCOUNT),
            _variant(deal, deal_id="BAD-D5", owner_rep_id=NO_REP),
            _variant(deal, deal_id="BAD-D6", stage="closed"),
            _variant(deal, deal_id="BAD-D7", stage="won", close_date=None),
            _variant(deal, deal_id=None),
        ],
        "churn_events": [_variant(churn, churn_date=dt.date(2001, 1, 1), lost_amount=-1.0)],
        "referrals": [
            _variant(ref, referral_id="BAD-F1", referring_rep_id=NO_REP),
            _variant(ref, referral_id="BAD-F2", referring_rep_id=owner, converted_deal_id=NO_DEAL),
        ],
        "commission_lines": [
            _variant(line, line_id="BAD-L1", component_id="no-such-component"),
            _variant(line, line_id="BAD-L2", line_type="clawback", amount=500.0),
            _variant(line, line_id="BAD-L3", line_type="earning", amount=-10.0),
            _variant(line, line_id="BAD-L4", deal_id=NO_DEAL),
            _variant(line, line_id="BAD-L5", plan_id=NO_PLAN),
            _variant(line, line_id="BAD-L6", line_type="earning", deal_id="BAD-D1", amount=1.0),
            _variant(line, line_id="BAD-L7", deal_id=None, line_type="earning", amount=1.0),
            _variant(line, line_id="BAD-L7", deal_id=None, line_type="earning", amount=1.0),
            _variant(line, line_id="BAD-L8", line_type="bonus"),
        ],
    }


EXPECTED_RULE_COUNTS: dict[tuple[str, str], int] = {
    ("accounts", "unique_key:account_id"): 2,
    ("accounts", "not_null:account_id"): 1,
    ("reps", "date_order:hire_date<=termination_date"): 1,
    ("rep_plan_assignments", "no_overlap:rep_id"): 2,
    ("rep_plan_assignments", "foreign_key:plan_id->plans"): 1,
    ("deals", "unique_key:deal_id"): 2,
    ("deals", "range:amount"): 1,
    ("deals", "range:discount_pct"): 1,
    ("deals", "date_order:created_date<=close_date"): 1,
    ("deals", "foreign_key:account_id->accounts"): 1,
    ("deals", "foreign_key:owner_rep_id->reps"): 1,
    ("deals", "allowed_values:stage"): 1,
    ("deals", "required_unless_open:close_date"): 1,
    ("deals", "not_null:deal_id"): 1,
    ("churn_events", "range:lost_amount"): 1,
    ("referrals", "foreign_key:referring_rep_id->reps"): 1,
    ("referrals", "foreign_key:converted_deal_id->deals"): 1,
    ("commission_lines", "component_exists:component_id"): 1,
    ("commission_lines", "amount_sign:clawback<=0"): 1,
    ("commission_lines", "amount_sign:earning_deferral_release>=0"): 1,
    ("commission_lines", "foreign_key:deal_id->deals"): 1,
    ("commission_lines", "foreign_key:plan_id->plans"): 1,
    ("commission_lines", "unique_key:line_id"): 2,
    ("commission_lines", "allowed_values:line_type"): 1,
}
"""(table, rule) -> rows of the corrupted copy that the rule must reject (the rows `_bad_rows` adds)."""
