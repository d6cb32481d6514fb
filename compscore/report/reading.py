"""The plain-language reading of a plan, generated from its plan-scores row (SPEC section 5's figures).

Thresholds on the Same-Day Index for the verdict (documented in docs/methodology.md, "The plan review
report"): above 60 the plan rewards the close over the customer, below 40 the customer over the close,
in between it weighs them about evenly (50 = same-day pay equals retention and referral pay together).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compscore.report.numbers import cents, interval, number

CLOSE_OVER_CUSTOMER = 60.0
CUSTOMER_OVER_CLOSE = 40.0


def verdict(sdi: float | None) -> str:
    if sdi is None:
        return "pays nothing variable for an added deal, renewal or referral"
    if sdi > CLOSE_OVER_CUSTOMER:
        return "rewards the close over the customer"
    if sdi < CUSTOMER_OVER_CLOSE:
        return "rewards the customer over the close"
    return "weighs the close and the customer about evenly"


def _retention_clause(m_r: float) -> str:
    if cents(m_r) == "nothing":
        return "nothing for keeping or growing a customer"
    return (
        f"{cents(m_r)} per $1 for keeping or growing a customer (renewals, expansion, and new-business pay "
        "that waits on the customer staying)"
    )


def _referral_clause(m_f: float) -> str:
    if cents(m_f) == "nothing":
        return "A referral earns nothing."
    return f"A referral that turns into a deal earns {cents(m_f)} per $1 of that deal."


def plan_reading(row: Mapping[str, Any]) -> str:
    """What a rep on the plan is paid for, in three or four sentences, from one plan-scores row.

    Needs `plan_id`, `period`, `marginal_same_day`, `marginal_retention`, `marginal_referral`,
    `same_day_index` (+ `_low`, `_high`), `same_day_multiple`; `period_complete` and `as_of` if present.
    """
    m_s, m_r, m_f = (row[c] or 0.0 for c in ("marginal_same_day", "marginal_retention", "marginal_referral"))
    sentences = [
        f"For each $1 of new business closed, a rep on {row['plan_id']} earns {cents(m_s)} that no later "
        f"event can take back, and {_retention_clause(m_r)}.",
        _referral_clause(m_f),
    ]
    sdi = row["same_day_index"]
    if sdi is None:
        sentences.append(f"In {row['period']} the plan {verdict(sdi)}.")
    else:
        band = interval(row["same_day_index_low"], row["same_day_index_high"], 0)
        sentences.append(
            f"Its Same-Day Index in {row['period']} is {number(sdi, 0)} of 100 (90 % interval {band}): "
            f"it {verdict(sdi)}."
        )
    if row.get("same_day_multiple") is not None:
        sentences.append(f"Closing $1 today pays {number(row['same_day_multiple'], 1)}× keeping $1.")
    if row.get("period_complete") is False:
        as_of = row.get("as_of")
        sentences.append(
            f"{row['period']} is still in progress (data as of {as_of}): its book is partial."
            if as_of
            else f"{row['period']} is still in progress: its book is partial."
        )
    return " ".join(sentences)
