"""One-line descriptions, with units, of the columns of every scoring output table.

They travel with the tables into the Dagster UI (column schemas) so finance can read a column where they
see it; docs/methodology.md has the formulas and decisions behind each.
"""

from __future__ import annotations

from compscore.schema import COMMISSION_LINES
from compscore.scoring.indicators import INDICATORS

_LINE = {c.name: c.description for c in COMMISSION_LINES.columns if c.description}

_PLAN_PERIOD = {
    "plan_id": "Plan id, from the plan file.",
    "plan_name": "Plan name, from the plan file.",
    "period": "Plan period: 2026-Q1, 2026-03 or 2026 (the plan's `period`).",
    "period_start": "First day of the plan period.",
}

_INDICATOR_TEXT = {
    "early_churn_rate": "Share (0-1) of the period's new-business deals whose account churned in 180 days.",
    "grr_12m": "Share (0-1) of the period's new-business $ whose account did not churn in 365 days.",
    "referrals_per_100_accounts": "Referrals credited per 100 accounts in the reps' books.",
    "period_end_bunching": "New-business dollars in the period's last 10 % of days ÷ that window's share "
    "of days (1 = even timing).",
    "period_end_discount_gap": "Mean discount in the last 10 % of days minus the rest, in points.",
}

PLAN_SCORES: dict[str, str] = {
    **_PLAN_PERIOD,
    "n_reps": "Reps assigned to the plan for at least a day of the period (count).",
    "n_deals": "Won deals the plan's reps closed in the period under the plan (count).",
    "same_day_index": "Same-Day Index, 0-100: 100 · m_S / (m_S + m_R + m_F); 100 = pays only for the close.",
    "same_day_index_low": "5th percentile of the SDI over 200 bootstrap resamples of reps.",
    "same_day_index_high": "95th percentile of the SDI over 200 bootstrap resamples of reps.",
    "same_day_multiple": "m_S ÷ m_R: closing $1 today pays this many times keeping $1.",
    "marginal_same_day": "m_S: $ of non-contingent pay per $ of added new business (mean over reps).",
    "marginal_retention": "m_R: $ of pay per $ of added renewal/expansion, plus contingent new-business pay.",
    "marginal_referral": "m_F: $ of pay per $ of a converted referral's deal (mean over reps).",
    "realized_same_day_share": "Share (0-1) of pay earned in the period that is same-day pay.",
    "realized_retention_share": "Share (0-1) of pay earned in the period that is retention pay.",
    "realized_referral_share": "Share (0-1) of pay earned in the period that is referral pay.",
    "clawed_back": "$ clawed back on deals closed in the period.",
    "clawback_rate": "clawed_back ÷ pay earned in the period.",
    "pull_forward_premium": "Pay for a Δ_S deal on the period's last day ÷ on the next one's first day − 1.",
    **{
        column: text
        for ind in INDICATORS
        for column, text in (
            (ind.name, _INDICATOR_TEXT[ind.name]),
            (f"{ind.name}_low", f"5th percentile of {ind.name} over the bootstrap."),
            (f"{ind.name}_high", f"95th percentile of {ind.name} over the bootstrap."),
        )
    },
    "confidence": "`low` below 5 reps or 30 won deals, else `normal`.",
    "data_quality_status": "ok / warn / fail by the share of the plan-period's input rows rejected.",
    "note": "Why a figure is null (immature cohort, no variable pay, ...).",
}

PAY_ATTRIBUTION: dict[str, str] = {
    **_LINE,
    "origin": "`given` (from the statement lines) or `computed` (from the plan rules).",
    "deal_period_start": "Start of the period in which the line's deal closed (clawbacks count there).",
    "component_kind": "commission, spiff, referral_bonus or retention_bonus.",
    "deal_type": "Type of the line's deal, if any.",
    "channel": "same_day, retention, referral; clawback, adjustment and unattributed are kept apart.",
    "contingency": "Share (0-1) of a new-business commission line that depends on the customer staying.",
    "same_day_amount": "$ of the line counted as same-day pay.",
    "retention_amount": "$ of the line counted as retention pay.",
    "referral_amount": "$ of the line counted as referral pay.",
    **_PLAN_PERIOD,
}

REP_PERIOD_BOOKS: dict[str, str] = {
    "rep_id": "Rep id.",
    **_PLAN_PERIOD,
    "period_end": "Last day of the plan period.",
    "n_won_deals": "Won deals closed in the period under the plan (count).",
    "won_new_business": "$ of won new business.",
    "won_expansion": "$ of won expansion.",
    "won_renewal": "$ of won renewals.",
    "lost": "$ of lost renewals plus churned annual revenue attributed to the rep.",
    "credited": "$ credited toward quota.",
    "quota": "Quota per period, $ (from the plan).",
    "attainment": "credited ÷ quota (1 = 100 %).",
    "referrals_credited": "Referrals credited to the rep in the period (count).",
    "marginal_same_day": "The rep's m_S ($ per $).",
    "marginal_retention": "The rep's m_R ($ per $).",
    "marginal_referral": "The rep's m_F ($ per $).",
}

PLAN_OUTCOMES: dict[str, str] = {
    **_PLAN_PERIOD,
    "indicator": "Indicator name; see plan_scores for its definition.",
    "value": "The indicator's value (null while immature or without data).",
    "low": "5th percentile over the bootstrap.",
    "high": "95th percentile over the bootstrap.",
    "numerator": "Sum over reps of the indicator's numerator.",
    "denominator": "Sum over reps of the indicator's denominator.",
    "mature_on": "First date on which the figure means something.",
    "note": "Why the value is null, if it is.",
}

PLAN_INCENTIVE_CURVES: dict[str, str] = {
    "plan_id": "Plan id.",
    "attainment": "Attainment (0-2, 1 = quota) at which the next dollar is priced.",
    "marginal_same_day": "m_S at that attainment ($ per $), before any cap binds.",
    "marginal_retention": "m_R at that attainment ($ per $), retention bonuses left out.",
    "marginal_referral": "m_F ($ per $).",
    "same_day_index": "SDI (0-100) at that attainment.",
}

PAY_RECONCILIATION: dict[str, str] = {
    **_LINE,
    "period": "Plan period of the earned date.",
    "status": "unexplained (given, not implied), not_in_statements (implied, not given) or amount_differs.",
    "given_amount": "$ on the given lines of this key.",
    "computed_amount": "$ the plan rules imply for this key.",
    "difference": "given − computed, $.",
    "given_line_id": "First given line id on the key.",
    "computed_line_id": "First computed line id on the key.",
}

PLAN_COMPONENT_MARGINALS: dict[str, str] = {
    "plan_id": "Plan id.",
    "component_id": "Component id, from the plan file.",
    "component_kind": "commission, spiff or referral_bonus (retention bonuses left out, as in the curves).",
    "attainment": "Attainment (0-2, 1 = quota) at which the next dollar is priced.",
    "marginal_same_day": "This component's part of m_S at that attainment ($ per $).",
    "marginal_retention": "This component's part of m_R at that attainment ($ per $).",
    "marginal_referral": "This component's part of m_F ($ per $).",
}

PERIOD_COMPLETE: dict[str, str] = {
    "period_complete": "true when the period ended before as_of; false for the period holding as_of (its "
    "book is partial) and later ones.",
}

PROVENANCE: dict[str, str] = {
    "run_id": "Id of the scoring run that wrote the row (Dagster run id, or the CLI's --run-id).",
    "scored_at": "When the run scored the data (UTC timestamp, to the second).",
    "as_of": "The date the data is known to: pay due later is not earned yet (date).",
    "source": "The canonical input folder the run read.",
}

PAY_RECONCILIATION_TOTALS: dict[str, str] = {
    "plan_id": "Plan id.",
    "period": "Plan period of the earned date.",
    "unexplained_total": "$ on given lines the plan rules do not imply (status unexplained), signed.",
    "missing_total": "$ the plan rules imply that no given line shows (status not_in_statements), signed.",
    "amount_differs_total": "given − computed, $, summed over keys on both sides (status amount_differs).",
    "n_lines": "Mismatching keys in the plan period.",
}

OUTPUT_COLUMNS: dict[str, dict[str, str]] = {
    "plan_scores": {**PLAN_SCORES, **PERIOD_COMPLETE, **PROVENANCE},
    "pay_attribution": {**PAY_ATTRIBUTION, **PROVENANCE},
    "rep_period_books": {**REP_PERIOD_BOOKS, **PERIOD_COMPLETE, **PROVENANCE},
    "plan_outcomes": {**PLAN_OUTCOMES, **PERIOD_COMPLETE, **PROVENANCE},
    "plan_incentive_curves": {**PLAN_INCENTIVE_CURVES, **PROVENANCE},
    "plan_component_marginals": {**PLAN_COMPONENT_MARGINALS, **PROVENANCE},
    "pay_reconciliation": {**PAY_RECONCILIATION, **PROVENANCE},
    "pay_reconciliation_totals": {**PAY_RECONCILIATION_TOTALS, **PROVENANCE},
}
"""Output table -> column -> description."""
