"""The Dagster Definitions load, and every asset is documented, grouped, owned and kinded."""

import dagster as dg
import pytest
from dagster._core.execution.api import create_execution_plan

import assets.raw
from compscore.schema import TABLES
from pipelines.definitions import build_definitions, defs, package_modules

GROUPS = {"raw", "validated", "quality", "marts", "scores", "incoming", "database"}
JOBS = ("full_refresh", "validation_only", "scoring_only", "incoming_monthly")


@pytest.fixture(scope="module")
def specs() -> list[dg.AssetSpec]:
    return list(defs.resolve_all_asset_specs())


def test_definitions_load_with_every_job() -> None:
    dg.Definitions.validate_loadable(defs)
    for name in JOBS:
        assert defs.resolve_job_def(name).name == name


def test_every_module_of_assets_is_picked_up() -> None:
    import assets

    assert assets.raw in package_modules(assets)


def test_raw_layer_has_one_asset_per_canonical_table(specs: list[dg.AssetSpec]) -> None:
    raw = {s.key.to_user_string() for s in specs if s.group_name == "raw"}
    expected = {f"raw_{t.name}" for t in TABLES} | {"raw_plans", "raw_load_rejects", "raw_source_findings"}
    assert expected <= raw
    assert len(expected) == 10  # 7 canonical tables, plans, load rejects, source findings


def test_every_asset_is_described_grouped_owned_and_kinded(specs: list[dg.AssetSpec]) -> None:
    problems = []
    for s in specs:
        name = s.key.to_user_string()
        if not (s.description and len(s.description) > 20):
            problems.append(f"{name}: no description")
        if s.group_name not in GROUPS:
            problems.append(f"{name}: group {s.group_name!r} not one of {sorted(GROUPS)}")
        if not s.owners:
            problems.append(f"{name}: no owners")
        if not s.kinds:
            problems.append(f"{name}: no kinds")
    assert problems == []


def test_raw_tables_declare_their_canonical_column_schema(specs: list[dg.AssetSpec]) -> None:
    by_name = {s.key.to_user_string(): s for s in specs}
    schema = by_name["raw_deals"].metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns] == [c.name for c in assets.raw.TABLES[3].columns]
    amount = next(c for c in schema.columns if c.name == "amount")
    assert amount.constraints.nullable is False
    assert by_name["raw_deals"].kinds == {"polars", "duckdb"}


def test_jobs_select_by_group(specs: list[dg.AssetSpec]) -> None:
    def keys(job: str) -> set[str]:
        return {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.executable_asset_keys}

    by_group: dict[str, set[str]] = {}
    for s in specs:
        by_group.setdefault(s.group_name, set()).add(s.key.to_user_string())
    assert keys("full_refresh") == {s.key.to_user_string() for s in specs} - by_group["incoming"]
    database = {"warehouse_database"}  # every job but the partitioned one ends by loading DuckDB
    assert by_group["database"] == database
    assert keys("validation_only") == by_group["raw"] | by_group["validated"] | by_group["quality"] | database
    assert keys("scoring_only") == by_group.get("marts", set()) | by_group.get("scores", set()) | database
    assert keys("incoming_monthly") == {
        "incoming_deals",
        "incoming_churn_events",
        "incoming_referrals",
        "incoming_commission_lines",
        "incoming_load_rejects",
    }


def test_jobs_with_the_raw_layer_run_both_raw_checks_and_only_the_rules_gate_validated() -> None:
    raw = {f"raw_{t.name}" for t in TABLES}

    def raw_checks(job: str) -> set[tuple[str, str]]:
        keys = defs.resolve_job_def(job).asset_layer.asset_graph.asset_check_keys
        return {(k.asset_key.to_user_string(), k.name) for k in keys if k.asset_key.to_user_string() in raw}

    both = {(asset, name) for asset in raw for name in ("quality", "expectations")}
    for job in ("full_refresh", "full_refresh_celery", "validation_only"):
        assert raw_checks(job) == both, job
    for job in ("scoring_only", "incoming_monthly", "scenarios"):
        assert raw_checks(job) == set(), job

    plan = create_execution_plan(defs.resolve_job_def("full_refresh"))
    step_keys = {s.key for s in plan.steps}
    # One step for both checks of every raw table: no per-table or per-check steps.
    assert "raw_checks" in step_keys
    assert not [k for k in step_keys if k.startswith("raw_") and k not in {"raw_checks", "raw_source"}]
    # The checks report beside validated, which is the gate: validated waits for no check step.
    assert plan.get_step_by_key("validated").get_execution_dependency_keys() == {"raw_source"}
    checks = plan.get_step_by_key("raw_checks")
    assert checks.get_execution_dependency_keys() == {"raw_source"}
    assert int(checks.tags["dagster/priority"]) < 0
    gated = {s.key for s in plan.steps if "raw_checks" in _upstream_steps(s)}
    assert gated == set()


def _upstream_steps(step) -> set[str]:
    """Keys of the steps a step of an execution plan waits for (mapped and collect steps included)."""
    if hasattr(step, "get_execution_dependency_keys"):
        return set(step.get_execution_dependency_keys())
    return set(step.get_all_dependency_keys())


def test_schedules_and_sensors_are_registered() -> None:
    assert defs.resolve_schedule_def("daily_full_refresh").job_name == "full_refresh"
    assert defs.resolve_sensor_def("incoming_drops").job_name == "incoming_monthly"
    assert defs.resolve_sensor_def("record_run_failure") is not None


def test_resources_default_to_the_sample_and_the_git_ignored_warehouse(monkeypatch) -> None:
    monkeypatch.delenv("COMPSCORE_SOURCE", raising=False)
    monkeypatch.delenv("COMPSCORE_WAREHOUSE", raising=False)
    resources = build_definitions().resources
    assert resources["source"].path == "data/sample"
    assert resources["warehouse"].path == "data/warehouse"
    assert resources["source"].directory.parts[-2:] == ("data", "sample")
