"""The formula mutants of issue 15, one at a time, against the fast hand-computed tests (a quick check).

mutmut (`scripts/mutation.sh`) mutates every operator and literal and takes hours on a shared machine; this
applies only the hand-picked mutants below (a wrong rule, boundary or constant that finance would notice),
each to a fresh `git archive` copy of HEAD, runs the fast tests with `-x` and prints which were caught. A
mutant whose code no longer matches is reported `NOT APPLIED` (update it here), never counted as caught.

    .venv/bin/python scripts/formula_mutants.py            # about a minute per mutant on 2 shared cores
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAST_TESTS = [
    "tests/test_engine_hand_lines.py",
    "tests/test_reconcile.py",
    "tests/test_scoring_rules.py",
    "tests/test_scoring_examples.py",
    "tests/test_quality_rules.py",
]
# (what the mutant does, file, original code, mutated code)
FORMULA_MUTANTS: list[tuple[str, str, str, str]] = [
    (
        "tier bands on uncredited dollars",
        "compscore/engine/plan_tables.py",
        "has_bands = credited & quota.is_not_null()",
        "has_bands = quota.is_not_null()",
    ),
    (
        "Δ_S fallback 10,000 → 20,000",
        "compscore/scoring/scores.py",
        "DEFAULT_DELTA = 10_000.0",
        "DEFAULT_DELTA = 20_000.0",
    ),
    ("bootstrap level 90 % → 80 %", "compscore/scoring/bootstrap.py", "LEVEL = 0.90", "LEVEL = 0.80"),
    ("bootstrap draws 200 → 100", "compscore/scoring/bootstrap.py", "DRAWS = 200", "DRAWS = 100"),
    ("SDI loses m_F", "compscore/scoring/marginal.py", "total = m_s + m_r + m_f", "total = m_s + m_r"),
    (
        "reconciliation sign flipped",
        "compscore/engine/reconcile.py",
        'difference=(pl.col("given_amount") - pl.col("computed_amount"))',
        'difference=(pl.col("computed_amount") - pl.col("given_amount"))',
    ),
    ("reconciliation tolerance $5", "compscore/engine/reconcile.py", "TOLERANCE = 0.005", "TOLERANCE = 5.0"),
    (
        "totals split by sign again",
        "compscore/engine/reconcile.py",
        'unexplained_total=pl.col("given_amount").filter(status == "unexplained").sum()',
        'unexplained_total=pl.col("difference").filter(pl.col("difference") > 0).sum()',
    ),
    (
        "clawback on gross",
        "compscore/engine/payout.py",
        'amount=-pl.col("clawback_fraction") * kept,',
        'amount=-pl.col("clawback_fraction") * pl.col("gross_pay"),',
    ),
    (
        "deferral min(t/H,1) cap removed",
        "compscore/engine/plan_tables.py",
        "min(component.deferral.release_after_days / horizon_days, 1.0)",
        "(component.deferral.release_after_days / horizon_days)",
    ),
    (
        "clawback min(w/H,1) cap removed",
        "compscore/engine/plan_tables.py",
        "min(component.clawback.window_days / horizon_days, 1.0)",
        "(component.clawback.window_days / horizon_days)",
    ),
    (
        "GRR threshold >= → >",
        "compscore/engine/payout.py",
        '.filter(grr >= pl.col("threshold"))',
        '.filter(grr > pl.col("threshold"))',
    ),
    (
        "confidence reps < → <=",
        "compscore/scoring/scores.py",
        '(pl.col("n_reps") < LOW_CONFIDENCE_REPS)',
        '(pl.col("n_reps") <= LOW_CONFIDENCE_REPS)',
    ),
    (
        "confidence deals 30 → 31",
        "compscore/scoring/scores.py",
        "LOW_CONFIDENCE_DEALS = 30",
        "LOW_CONFIDENCE_DEALS = 31",
    ),
    (
        "early churn <= → <",
        "compscore/scoring/indicators.py",
        'early_churn_rate_num=(pl.col("days_to_churn") <= EARLY_CHURN_DAYS)',
        'early_churn_rate_num=(pl.col("days_to_churn") < EARLY_CHURN_DAYS)',
    ),
    (
        "grr_12m <= → <",
        "compscore/scoring/indicators.py",
        '~(pl.col("days_to_churn") <= GRR_DAYS)',
        '~(pl.col("days_to_churn") < GRR_DAYS)',
    ),
    (
        "clawback window <= → <",
        "compscore/engine/payout.py",
        '& (days_to_churn <= pl.col("clawback_window_days"))',
        '& (days_to_churn < pl.col("clawback_window_days"))',
    ),
    (
        "deferral forfeit: churn on release day releases",
        "compscore/engine/payout.py",
        '(pl.col("next_churn_date") > pl.col("release_date"))',
        '(pl.col("next_churn_date") >= pl.col("release_date"))',
    ),
    (
        "spiff window > → >=",
        "compscore/engine/payout.py",
        'in_spiff_window = pl.col("close_date") > pl.col("period_end")',
        'in_spiff_window = pl.col("close_date") >= pl.col("period_end")',
    ),
    (
        "cap ignored",
        "compscore/engine/plan_tables.py",
        'limit = cap.fill_null(float("inf"))',
        'limit = pl.lit(float("inf"))',
    ),
    (
        "Δ_R/Δ_F skip the all-periods step",
        "compscore/scoring/scores.py",
        '.with_columns(pl.coalesce(c, f"{c}_plan").alias(c) for c in DELTA_COLUMNS)',
        '.with_columns(pl.coalesce(c, f"{c}_plan").alias(c) for c in DELTA_COLUMNS[:1])',
    ),
    (
        "marginal priced on capped pay again",
        "compscore/scoring/scores.py",
        'deal = payout.deal_pay.group_by(keys).agg(paid_so_far=pl.sum("raw_pay"))',
        'deal = payout.deal_pay.group_by(keys).agg(paid_so_far=pl.sum("gross_pay"))',
    ),
    (
        "pull-forward premium without − 1",
        "compscore/scoring/scores.py",
        'pl.col("pay_last_day") / pl.col("pay_first_day_next") - 1.0',
        'pl.col("pay_last_day") / pl.col("pay_first_day_next")',
    ),
    (
        "spiff probability uses last_days/period uncapped",
        "compscore/scoring/marginal.py",
        'window = pl.min_horizontal(pl.col("last_days_of_period"), pl.col("period_days"))',
        'window = pl.col("last_days_of_period")',
    ),
    (
        "contingency split (1 − c) dropped",
        "compscore/scoring/marginal.py",
        'marginal_same_day=(pl.col("nb_pay") - pl.col("nb_contingent_pay")) / pl.col("delta_same_day")',
        'marginal_same_day=pl.col("nb_pay") / pl.col("delta_same_day")',
    ),
    (
        "range rule > instead of >=",
        "compscore/quality/rules.py",
        "ok = ok & (c >= col.min_value)",
        "ok = ok & (c > col.min_value)",
    ),
    (
        "overlap: touching assignments allowed",
        "compscore/quality/rules.py",
        '(pl.col("_prev_end") >= pl.col("start_date")) | (pl.col("_end") >= pl.col("_next_start"))',
        '(pl.col("_prev_end") > pl.col("start_date")) | (pl.col("_end") > pl.col("_next_start"))',
    ),
    (
        "clawback sign rule < 0",
        "compscore/quality/rules.py",
        '((amount <= 0) | amount.is_nan() | (pl.col("line_type") != "clawback"))',
        '((amount < 0) | amount.is_nan() | (pl.col("line_type") != "clawback"))',
    ),
    (
        "renewal weight ignores expansion",
        "compscore/scoring/scores.py",
        'renewal_weight=pl.when(existing > 0).then(pl.col("renewal_dollars") / existing).otherwise(1.0)',
        "renewal_weight=pl.lit(1.0)",
    ),
]


def run_mutant(copy: Path, path: str, old: str, new: str) -> str:
    target = copy / path
    text = target.read_text()
    if text.count(old) != 1:
        return "NOT APPLIED"
    target.write_text(text.replace(old, new))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *FAST_TESTS],
            cwd=copy,
            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        target.write_text(text)
    return {0: "SURVIVED", 1: "killed"}.get(result.returncode, f"error (pytest exit {result.returncode})")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(copy)], input=archive.stdout, check=True)
        caught = 0
        for name, path, old, new in FORMULA_MUTANTS:
            started = time.monotonic()
            status = run_mutant(copy, path, old, new)
            caught += status == "killed"
            print(f"{status:12} {name} [{time.monotonic() - started:.0f} s]", flush=True)
    print(f"formula mutants caught: {caught}/{len(FORMULA_MUTANTS)}")
    return 0 if caught == len(FORMULA_MUTANTS) else 1


if __name__ == "__main__":
    sys.exit(main())
