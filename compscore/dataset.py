"""The in-memory form of one company's canonical data: its CRM and commission tables and its plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from compscore.plans import Plan
from compscore.schema import TABLES, empty_frame


@dataclass
class CanonicalData:
    """All canonical tables (SPEC section 2) conformed to the schema, plus the parsed plans.

    `tables` holds every table of `compscore.schema.TABLES`; an optional table that the source lacks is
    present with zero rows, and `given_commission_lines` says whether statement lines came with the data.
    """

    tables: dict[str, pl.DataFrame]
    plans: dict[str, Plan]
    given_commission_lines: bool = False
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for spec in TABLES:
            self.tables.setdefault(spec.name, empty_frame(spec.name))

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]

    @property
    def accounts(self) -> pl.DataFrame:
        return self.tables["accounts"]

    @property
    def reps(self) -> pl.DataFrame:
        return self.tables["reps"]

    @property
    def rep_plan_assignments(self) -> pl.DataFrame:
        return self.tables["rep_plan_assignments"]

    @property
    def deals(self) -> pl.DataFrame:
        return self.tables["deals"]

    @property
    def churn_events(self) -> pl.DataFrame:
        return self.tables["churn_events"]

    @property
    def referrals(self) -> pl.DataFrame:
        return self.tables["referrals"]

    @property
    def commission_lines(self) -> pl.DataFrame:
        return self.tables["commission_lines"]


@dataclass(frozen=True)
class CanonicalScans:
    """The canonical tables as lazy frames (scans of Parquet files, or `CanonicalData`'s tables made
    lazy), plus the parsed plans: what computes the company-wide parts of scoring (the scoring context)
    from files without holding the tables, each query reading only the columns it selects."""

    tables: dict[str, pl.LazyFrame]
    plans: dict[str, Plan]
    given_commission_lines: bool = False

    @staticmethod
    def of(data: CanonicalData) -> CanonicalScans:
        return CanonicalScans(
            tables={name: frame.lazy() for name, frame in data.tables.items()},
            plans=data.plans,
            given_commission_lines=data.given_commission_lines,
        )

    @staticmethod
    def scan(folder: Path, plans: dict[str, Plan], given_commission_lines: bool) -> CanonicalScans:
        """`folder/<table>.parquet` of every table of `TABLES` (conformed to the schema), scanned."""
        tables = {spec.name: pl.scan_parquet(folder / f"{spec.name}.parquet", glob=False) for spec in TABLES}
        return CanonicalScans(tables=tables, plans=plans, given_commission_lines=given_commission_lines)

    def __getitem__(self, name: str) -> pl.LazyFrame:
        return self.tables[name]

    @property
    def rep_plan_assignments(self) -> pl.LazyFrame:
        return self.tables["rep_plan_assignments"]

    @property
    def deals(self) -> pl.LazyFrame:
        return self.tables["deals"]

    @property
    def churn_events(self) -> pl.LazyFrame:
        return self.tables["churn_events"]

    @property
    def referrals(self) -> pl.LazyFrame:
        return self.tables["referrals"]

    @property
    def commission_lines(self) -> pl.LazyFrame:
        return self.tables["commission_lines"]


CompanyTables = CanonicalData | CanonicalScans
"""The whole company's tables, in memory or scanned: what the company-wide parts of scoring (as-of date,
rep ids, scoring context) take; they work on both through lazy queries."""
