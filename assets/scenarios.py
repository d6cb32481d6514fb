"""The `plan_scenarios` asset: what-if scenarios scored on their baseline plan's reps and actual books
(SPEC section 8), from `<source>/scenarios/*.yaml` and, for a try from the launchpad, one inline scenario."""

from typing import Any

import dagster as dg
import polars as pl
from dagster import AssetExecutionContext
from pydantic import Field

from assets.scoring import SCORES
from common.metadata import FINANCE, KINDS
from common.names import RAW_PLANS
from common.resources import SourceFolder
from compscore.dataset import CanonicalData
from compscore.plans import Plan, PlanError
from compscore.scenarios.columns import SCENARIO_SCORES
from compscore.scenarios.display import format_table
from compscore.scenarios.plan_edit import parse_scenario, read_scenarios
from compscore.scenarios.whatif import SCENARIO_SCORES_SCHEMA, ScenarioError, all_scenario_scores
from compscore.schema import SCENARIOS_DIR, TABLES

INLINE_FILE = "<launchpad scenario>"


class ScenarioConfig(dg.Config):
    scenario_yaml: str = Field(
        default="",
        description=(
            "Optional: one scenario inline, as YAML text: a plan file (SPEC section 3) with "
            "`scenario_of: <baseline plan_id>` and its own plan_id. Scored with the folder's scenarios."
        ),
    )


_COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(name=name, type=str(dtype), description=SCENARIO_SCORES.get(name))
        for name, dtype in SCENARIO_SCORES_SCHEMA.items()
    ]
)


_INS = {
    **{t.name: dg.AssetIn(t.name, dagster_type=pl.LazyFrame) for t in TABLES},
    RAW_PLANS: dg.AssetIn(RAW_PLANS),
}
"""The validated tables as lazy scans (the IO manager scans a `pl.LazyFrame` input): read only when there
is a scenario to score (at 10M statement lines, reading them whole took 11 s of CPU and 6.3 GiB, the
largest process of a `full_refresh`, to write an empty table), and the plans."""


@dg.asset(
    ins=_INS,
    group_name=SCORES,
    owners=FINANCE,
    kinds=KINDS,
    metadata={"dagster/column_schema": _COLUMN_SCHEMA},
    dagster_type=Any,
    # Off the critical path: with every step slot taken, the scoring steps (which the report and the
    # database wait for) start first.
    op_tags={"dagster/priority": "-1"},
)
def plan_scenarios(
    context: AssetExecutionContext,
    config: ScenarioConfig,
    source: SourceFolder,
    raw_plans: dict[str, Plan],
    **tables: pl.LazyFrame,
) -> dg.Output:
    """What-if scenarios: each scenario plan scored, period by period, on its baseline plan's reps and their
    actual books (held fixed: reps' behaviour would respond, and outcome indicators are not re-predicted),
    beside the baseline, with its cost (variable pay before clawbacks) and the change in cost. Scenario
    files: `<source>/scenarios/*.yaml`; no folder means an empty table. See docs/whatif.md."""
    try:
        scenarios = read_scenarios(source.directory / SCENARIOS_DIR)
        if config.scenario_yaml.strip():
            scenarios.append(parse_scenario(config.scenario_yaml, INLINE_FILE))
        if scenarios:
            data = CanonicalData(
                tables={name: scan.collect() for name, scan in tables.items()}, plans=raw_plans
            )
            table = all_scenario_scores(data, scenarios)
        else:
            table = pl.DataFrame(schema=SCENARIO_SCORES_SCHEMA)
    except (PlanError, ScenarioError) as exc:
        raise dg.Failure(description=f"cannot score the scenarios: {exc}") from exc
    context.log.info(f"scored {len(scenarios)} scenario(s) into {table.height} rows")
    preview = table.select(
        "scenario",
        "plan_id",
        "period",
        "n_reps",
        "same_day_index",
        "same_day_multiple",
        "cost",
        "cost_change",
    )
    return dg.Output(
        table,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(table.height),
            "scenarios": dg.MetadataValue.int(len(scenarios)),
            "scores": dg.MetadataValue.md(format_table(preview, 2) if table.height else "No scenarios."),
        },
    )
