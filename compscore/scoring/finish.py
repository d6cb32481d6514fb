"""The last step of a scoring run, shared by the CLI (`score_folder`) and the Dagster asset: the score tables
as they are written, with the per-component marginals, float residue rounded off and provenance added."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import polars as pl

from compscore.engine.plan_tables import plan_tables
from compscore.plans import Plan
from compscore.provenance import Provenance, with_provenance
from compscore.scoring.components import component_marginals_of
from compscore.scoring.scores import ScoreTables

COMPONENT_MARGINALS = "plan_component_marginals"
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
STORED_DECIMALS = 10
"""Figures are stored rounded to 10 decimals: far below a cent or a basis point, and it turns the
floating-point residue of a difference of equal numbers (2.2e-16 where the exact value is 0) into 0."""


def without_float_noise(df: Frame) -> Frame:
    """Every float column rounded to `STORED_DECIMALS`, with -0.0 written as 0.0."""
    floats = [c for c, t in df.collect_schema().items() if t.is_float()]
    if not floats:
        return df
    rounded = pl.col(floats).round(STORED_DECIMALS)
    return df.with_columns(pl.when(rounded == 0).then(0.0).otherwise(rounded).name.keep())


def finished_score_tables(
    scores: ScoreTables, plans: Mapping[str, Plan], provenance: Provenance
) -> dict[str, pl.DataFrame]:
    """Every score table to write, by name: `scores.outputs()` plus `plan_component_marginals` (priced
    on the deals the run placed under `plans`)."""
    components = component_marginals_of(plan_tables(plans), scores.deal_sizes)
    tables = {**scores.outputs(), COMPONENT_MARGINALS: components}
    return with_provenance({name: without_float_noise(df) for name, df in tables.items()}, provenance)


def finished_batch(name: str, batch: pl.DataFrame, provenance: Provenance) -> pl.DataFrame:
    """One batch of a table streamed as it is scored (`pay_attribution`), finished as
    `finished_score_tables` finishes a whole table: residue rounded off, provenance added."""
    return with_provenance({name: without_float_noise(batch)}, provenance)[name]
