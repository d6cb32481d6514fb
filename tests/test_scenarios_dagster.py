"""The `plan_scenarios` asset and the `scenarios` job, materialised in-process on the small fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from common.resources import SourceFolder, Warehouse
from compscore import warehouse
from compscore.scenarios.whatif import SCENARIO_SCORES_SCHEMA
from pipelines.definitions import build_definitions

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "canonical_small"
FOLDER_SCENARIO = """\
scenario_of: hunter-2026
plan_id: hunter-no-spiff
period: quarter
components:
  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}
"""
INLINE_SCENARIO = FOLDER_SCENARIO.replace("hunter-no-spiff", "hunter-inline").replace("0.10", "0.12")


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.Definitions, Path, Path]:
    """A source folder with one scenario file, validated once into a warehouse."""
    root = tmp_path_factory.mktemp("scenarios")
    source, wh = root / "source", root / "wh"
    shutil.copytree(FIXTURE, source)
    (source / "scenarios").mkdir()
    (source / "scenarios" / "hunter-no-spiff.yaml").write_text(FOLDER_SCENARIO)
    defs = build_definitions(SourceFolder(path=str(source)), Warehouse(path=str(wh)))
    assert defs.resolve_job_def("validation_only").execute_in_process().success
    return defs, source, wh


def _materialisation(result: dg.ExecuteInProcessResult) -> dg.AssetMaterialization:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("plan_scenarios")
    ]
    return event.materialization


def test_scenarios_job_scores_folder_and_inline_scenarios(validated) -> None:
    defs, _, wh = validated
    config = {"ops": {"plan_scenarios": {"config": {"scenario_yaml": INLINE_SCENARIO}}}}

    result = defs.resolve_job_def("scenarios").execute_in_process(run_config=config)

    assert result.success
    table = warehouse.read_table("plan_scenarios", wh)
    assert list(table.columns) == list(SCENARIO_SCORES_SCHEMA)
    # hunter-2026 has reps in four quarters: baseline + two scenarios = 12 rows.
    assert table.height == 12
    assert set(table["scenario"]) == {"baseline", "hunter-no-spiff", "hunter-inline"}
    q1 = {r["scenario"]: r["cost"] for r in table.filter(table["period"] == "2026-Q1").to_dicts()}
    # R01's $100,000 of Q1 new business: 10 % = 10,000 and 12 % = 12,000 (the baseline adds a 1,000 spiff).
    assert q1 == pytest.approx({"baseline": 11_000, "hunter-no-spiff": 10_000, "hunter-inline": 12_000})
    metadata = _materialisation(result).metadata
    assert metadata["dagster/row_count"].value == 12
    assert "hunter-inline" in metadata["scores"].value


def test_a_bad_inline_scenario_fails_the_run_naming_the_key(validated) -> None:
    defs, _, _ = validated
    config = {"ops": {"plan_scenarios": {"config": {"scenario_yaml": INLINE_SCENARIO + "bonus: 1\n"}}}}

    with pytest.raises(dg.Failure, match=r"<launchpad scenario>:6: bonus: unknown key"):
        defs.resolve_job_def("scenarios").execute_in_process(run_config=config)


def test_no_scenarios_folder_is_an_empty_table(validated, tmp_path: Path) -> None:
    _, source, wh = validated
    bare = tmp_path / "bare"
    shutil.copytree(source, bare, ignore=shutil.ignore_patterns("scenarios"))
    defs = build_definitions(SourceFolder(path=str(bare)), Warehouse(path=str(wh)))

    result = defs.resolve_job_def("scenarios").execute_in_process()

    assert result.success
    assert warehouse.read_table("plan_scenarios", wh).height == 0
    assert _materialisation(result).metadata["dagster/row_count"].value == 0


def test_without_scenarios_no_validated_table_is_read(validated, tmp_path: Path) -> None:
    """The validated tables come in as scans, read only to score a scenario: with none, a deals file that
    cannot be read stops nothing (at 10M statement lines reading them took 11 s of CPU and 6.3 GiB)."""
    _, source, wh = validated
    bare, unreadable = tmp_path / "bare", tmp_path / "wh"
    shutil.copytree(source, bare, ignore=shutil.ignore_patterns("scenarios"))
    shutil.copytree(wh, unreadable)
    (unreadable / "deals.parquet").write_bytes(b"not a parquet file")
    job = build_definitions(SourceFolder(path=str(bare)), Warehouse(path=str(unreadable))).resolve_job_def(
        "scenarios"
    )

    assert job.execute_in_process().success
    assert warehouse.read_table("plan_scenarios", unreadable).height == 0
    (bare / "scenarios").mkdir()
    (bare / "scenarios" / "hunter-no-spiff.yaml").write_text(FOLDER_SCENARIO)
    with pytest.raises(pl.exceptions.ComputeError, match="PAR1"):  # a scenario reads the tables
        job.execute_in_process()
