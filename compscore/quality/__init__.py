"""Data quality (SPEC section 7) in plain Python on Polars: rules, quarantine, counts, blocking failures.

GX is not imported here: `compscore.quality.suites` turns the same rule catalogue into GX expectations.
"""

from compscore.quality.blocking import (
    BlockingError,
    BlockingFailure,
    Thresholds,
    load_plans_checked,
    plan_failures,
)
from compscore.quality.evaluate import RuleResult, TableCheck, check_table, received_references
from compscore.quality.rules import References, Rule, table_rules, with_flags
from compscore.quality.validate import ValidationResult, validate

__all__ = [
    "BlockingError",
    "BlockingFailure",
    "References",
    "Rule",
    "RuleResult",
    "TableCheck",
    "Thresholds",
    "ValidationResult",
    "check_table",
    "load_plans_checked",
    "plan_failures",
    "received_references",
    "table_rules",
    "validate",
    "with_flags",
]
