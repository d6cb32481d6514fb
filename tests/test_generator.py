"""The company generator: plans, planted truth, SPEC section 2 rules on generated data, determinism,
chunked streaming, the `generate` command, and the bundled sample (regeneration and planted effects)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compscore.cli import main
from compscore.dataset import CanonicalData
from compscore.engine.payout import compute_payout
from compscore.generator import GeneratorConfig, generate_company, write_company
from compscore.generator.build import MANIFEST
from compscore.generator.lines import ADJUSTMENT_LINE_PREFIX
from compscore.generator.plans_catalog import PLAN_IDS, PLANS, PLANS_BY_ID
from compscore.generator.planted import (
    DESIGN_SDI,
    EXPECTED_SDI_ORDER,
    HIGHEST_SDI_PLAN,
    LOWEST_SDI_PLANS,
    PLANTED,
    expected_last_tenth_dollar_share,
)
from compscore.loaders import load_canonical_dir
from compscore.plans import Plan, read_plans, write_plans
from compscore.schema import ADJUSTMENT_COMPONENT, TABLES

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data" / "sample"
SMALL = GeneratorConfig(reps=90, quarters=6, seed=11, reps_per_chunk=40)
"""Three chunks (40, 40, 10 positions): small enough for seconds, large enough for every event kind."""


@pytest.fixture(scope="module")
def small() -> CanonicalData:
    return generate_company(SMALL)


@pytest.fixture(scope="module")
def sample() -> CanonicalData:
    return load_canonical_dir(SAMPLE).data


# Plans and the design intent -------------------------------------------------------------------------


def test_six_quarterly_plans_round_trip_through_plan_files(tmp_path: Path) -> None:
    assert PLAN_IDS == (
        "hunter",
        "balanced",
        "account-manager",
        "deferred-nb",
        "referral-led",
        "legacy-capped",
    )
    write_plans(PLANS, tmp_path)
    assert read_plans(tmp_path) == PLANS_BY_ID
    assert {p.period for p in PLANS} == {"quarter"}


def _design_sdi(plan: Plan) -> float:
    """SDI under planted.py's stated assumptions: Δ = 30,000, below quota and cap, 80/20 renewal/expansion."""
    delta, spiff_chance, horizon = 30_000.0, 14 / 91, 365.0
    m_s = m_r = m_f = 0.0
    for c in plan.components:
        if c.kind == "commission":
            rate = c.tiers[0].rate
            if "new_business" in c.applies_to:
                d, t = (c.deferral.fraction, c.deferral.release_after_days) if c.deferral else (0.0, 0)
                f, w = (c.clawback.fraction, c.clawback.window_days) if c.clawback else (0.0, 0)
                contingency = d * min(t / horizon, 1) + (1 - d) * f * min(w / horizon, 1)
                m_s += rate * (1 - contingency)
                m_r += rate * contingency
            m_r += rate * (0.8 * ("renewal" in c.applies_to) + 0.2 * ("expansion" in c.applies_to))
        elif c.kind == "spiff":
            m_s += c.amount / delta * spiff_chance
        elif c.kind == "referral_bonus":
            m_f += c.rate if c.rate is not None else c.amount / delta
    return 100 * m_s / (m_s + m_r + m_f)


def test_design_sdi_is_what_the_plans_imply() -> None:
    for plan in PLANS:
        assert round(_design_sdi(plan), 1) == DESIGN_SDI[plan.plan_id], plan.plan_id
    assert EXPECTED_SDI_ORDER[0] == HIGHEST_SDI_PLAN == "hunter"
    assert set(EXPECTED_SDI_ORDER[-2:]) == LOWEST_SDI_PLANS == {"account-manager", "referral-led"}


def test_planted_behaviour_follows_incentives() -> None:
    hunter = PLANTED["hunter"]
    assert (
        hunter.last_tenth_nb_share,
        hunter.last_tenth_extra_discount_pts,
        hunter.early_churn_180d,
        hunter.referrals_per_100_accounts_q,
        hunter.renewal_win_rate,
    ) == (0.40, 10.0, 0.22, 0.75, 0.78)
    by_sdi = [PLANTED[p] for p in EXPECTED_SDI_ORDER]
    for field in ("last_tenth_nb_share", "last_tenth_extra_discount_pts", "early_churn_180d"):
        values = [getattr(b, field) for b in by_sdi]
        assert values == sorted(values, reverse=True), field
    assert max(PLANTED, key=lambda p: PLANTED[p].referrals_per_100_accounts_q) == "referral-led"
    assert max(PLANTED, key=lambda p: PLANTED[p].renewal_win_rate) == "account-manager"
    assert round(expected_last_tenth_dollar_share("hunter"), 4) == 0.3731


# SPEC section 2 on generated data --------------------------------------------------------------------


def test_every_table_has_the_canonical_schema(small: CanonicalData) -> None:
    for spec in TABLES:
        assert small[spec.name].schema == spec.polars_schema, spec.name
        assert small[spec.name].height > 0, spec.name


def test_keys_required_columns_allowed_values_and_ranges(small: CanonicalData) -> None:
    for spec in TABLES:
        df = small[spec.name]
        if spec.key:
            assert df.select(spec.key).is_duplicated().sum() == 0, spec.name
        for col in spec.columns:
            if col.required:
                assert df[col.name].null_count() == 0, (spec.name, col.name)
            if col.allowed:
                assert set(df[col.name].drop_nulls().unique()) <= set(col.allowed), (spec.name, col.name)
            values = df[col.name].drop_nulls()
            if col.min_value is not None:
                assert values.min() >= col.min_value, (spec.name, col.name)
            if col.max_value is not None:
                assert values.max() <= col.max_value, (spec.name, col.name)
        for order in spec.date_orders:
            assert df.filter(pl.col(order.later) < pl.col(order.earlier)).height == 0, (spec.name, order)
    deals = small.deals
    assert deals.filter((pl.col("stage") != "open") & pl.col("close_date").is_null()).height == 0
    assert deals.filter((pl.col("stage") == "open") & pl.col("close_date").is_not_null()).height == 0
    assert set(deals["stage"]) == {"open", "won", "lost"}
    assert set(deals["deal_type"]) == {"new_business", "expansion", "renewal"}


def test_foreign_keys_hold(small: CanonicalData) -> None:
    for spec in TABLES:
        for col, fk in spec.foreign_keys():
            values = small[spec.name][col.name].drop_nulls().unique()
            known = set(small.plans) if fk.ref_table == "plans" else set(small[fk.ref_table][fk.ref_column])
            missing = set(values) - known
            assert not missing, f"{spec.name}.{col.name}: {sorted(missing)[:3]}"


def test_assignments_never_overlap_and_cover_every_deal_owner(small: CanonicalData) -> None:
    a = small.rep_plan_assignments.sort("rep_id", "start_date")
    gaps = a.with_columns(prev_end=pl.col("end_date").shift(1).over("rep_id")).filter(
        pl.col("prev_end").is_not_null() & (pl.col("start_date") <= pl.col("prev_end"))
    )
    assert gaps.height == 0
    assert a.filter(pl.col("end_date").is_null()).select("rep_id").is_duplicated().sum() == 0
    # Reps switch plans: some rep has two assignments with different plans.
    switched = a.group_by("rep_id").agg(pl.col("plan_id").n_unique()).filter(pl.col("plan_id") > 1)
    assert switched.height > 0
    # Every won deal's owner is on a plan on the close date (the engine pays every one of them).
    assert compute_payout(small, SMALL.end_date).unpaid_deals.height == 0
    # Employment: assignments lie within hire and termination dates; leavers exist.
    reps = small.reps
    assert reps["termination_date"].null_count() < reps.height
    joined = a.join(reps, on="rep_id")
    assert joined.filter(pl.col("start_date") < pl.col("hire_date")).height == 0
    assert (
        joined.filter(
            pl.col("termination_date").is_not_null()
            & (pl.col("end_date").is_null() | (pl.col("end_date") > pl.col("termination_date")))
        ).height
        == 0
    )


def test_referrals_link_to_their_converted_deals(small: CanonicalData) -> None:
    converted = small.referrals.filter(pl.col("converted_deal_id").is_not_null()).join(
        small.deals, left_on="converted_deal_id", right_on="deal_id"
    )
    assert converted.height > 0
    assert (converted["referral_id"] == converted["referral_id_right"]).all()
    assert (converted["referred_account_id"] == converted["account_id"]).all()
    assert set(converted["stage"]) == {"won"}
    assert set(converted["deal_type"]) == {"new_business"}
    assert set(converted["lead_source"]) == {"referral"}
    assert (converted["created_date"] >= converted["referral_date"]).all()
    # A referral counts for its rep only while the rep owns a customer; referring accounts existed then.
    refs = small.referrals.join(small.accounts, left_on="referring_account_id", right_on="account_id")
    assert (refs["created_date"] < refs["referral_date"]).all()


def test_churn_lost_renewals_and_early_churn_exist(small: CanonicalData) -> None:
    lost_renewals = small.deals.filter((pl.col("deal_type") == "renewal") & (pl.col("stage") == "lost"))
    assert lost_renewals.height > 0
    churned_twice = lost_renewals.join(small.churn_events, on="account_id")
    assert churned_twice.height == 0, "a lost renewal is churn already; no second churn event"
    assert small.churn_events["churn_date"].max() <= SMALL.end_date
    assert small.deals["close_date"].max() <= SMALL.end_date


def test_statement_lines_are_the_engines_plus_marked_adjustments(small: CanonicalData) -> None:
    lines = small.commission_lines
    adjustments = lines.filter(pl.col("line_type") == "adjustment")
    assert adjustments.height > 0
    assert (adjustments["component_id"] == ADJUSTMENT_COMPONENT).all()
    assert adjustments["line_id"].str.starts_with(ADJUSTMENT_LINE_PREFIX).all()
    assert adjustments["amount"].min() < 0 < adjustments["amount"].max()
    engine = lines.filter(pl.col("line_type") != "adjustment")
    crm_only = CanonicalData(
        tables={n: small[n] for n in small.tables if n != "commission_lines"}, plans=small.plans
    )
    expected = compute_payout(crm_only, SMALL.end_date).lines.drop("origin")
    assert_frame_equal(
        engine.drop("paid_date").sort("line_id"),
        expected.drop("paid_date").sort("line_id"),
        check_row_order=True,
    )
    assert set(engine["line_type"]) == {"earning", "clawback", "deferral_release"}
    negative = lines.filter(pl.col("amount") < 0)
    assert set(negative["line_type"]) <= {"clawback", "adjustment"}
    paid = lines.filter(pl.col("paid_date").is_not_null())
    assert (paid["paid_date"] > paid["earned_date"]).all()
    assert paid["paid_date"].max() <= SMALL.end_date


# Determinism and chunking ----------------------------------------------------------------------------


def _assert_same_company(left: CanonicalData, right: CanonicalData) -> None:
    for spec in TABLES:
        assert_frame_equal(left[spec.name], right[spec.name], check_row_order=True)


def test_same_seed_same_company_other_seed_other_company(small: CanonicalData) -> None:
    _assert_same_company(small, generate_company(SMALL))
    other = generate_company(dataclasses.replace(SMALL, seed=12))
    assert not other.deals.equals(small.deals)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_streamed_files_equal_the_in_memory_company(small: CanonicalData, tmp_path: Path, fmt: str) -> None:
    summary = write_company(SMALL, tmp_path, fmt, show_progress=False)
    assert summary.chunks == 3
    loaded = load_canonical_dir(tmp_path)
    assert loaded.rejects.height == 0
    _assert_same_company(small, loaded.data)
    assert loaded.data.plans == small.plans


def test_lines_target_adds_full_chunks_until_reached(tmp_path: Path) -> None:
    config = GeneratorConfig(reps=1, quarters=4, seed=3, reps_per_chunk=20)
    one_chunk = write_company(config, tmp_path / "one", "parquet", target_lines=1, show_progress=False)
    target = one_chunk.rows["commission_lines"] + 1
    summary = write_company(config, tmp_path / "two", "parquet", target_lines=target, show_progress=False)
    assert summary.chunks == 2
    assert summary.config.reps == 40
    assert summary.rows["commission_lines"] >= target
    manifest = json.loads((tmp_path / "two" / MANIFEST).read_text())
    assert manifest["arguments"]["reps"] == 40


def test_generate_command_writes_progress_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["generate", "--out", str(tmp_path), "--reps", "12", "--quarters", "2", "--format", "csv"]
    assert main([*args, "--reps-per-chunk", "5"]) == 0
    err = capsys.readouterr().err
    assert "chunk 3/3: 12 positions" in err
    assert (tmp_path / "deals.csv").is_file() and (tmp_path / "plans" / "hunter.yaml").is_file()
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "--format", "parquet", "--overwrite"]) == 0
    assert not (tmp_path / "deals.csv").exists() and (tmp_path / "deals.parquet").is_file()


# The bundled sample ----------------------------------------------------------------------------------


def test_sample_is_small_and_long_enough(sample: CanonicalData) -> None:
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 5 * 1024 * 1024
    assert 200 <= sample.reps.height <= 900
    quarters = sample.deals["close_date"].dt.truncate("3mo").n_unique()
    assert quarters >= 8
    assert sample.given_commission_lines


def test_sample_regenerates_to_the_same_content(sample: CanonicalData, tmp_path: Path) -> None:
    manifest = json.loads((SAMPLE / MANIFEST).read_text())
    args = manifest["arguments"]
    config = GeneratorConfig(
        reps=args["reps"],
        quarters=args["quarters"],
        seed=args["seed"],
        start=dt.date.fromisoformat(args["start"]),
        reps_per_chunk=args["reps_per_chunk"],
    )
    write_company(config, tmp_path, args["format"], show_progress=False)
    hint = f"regenerate the sample: {manifest['command'].replace('DIR', 'data/sample')} --overwrite"
    regenerated = load_canonical_dir(tmp_path).data
    for spec in TABLES:
        assert regenerated[spec.name].equals(sample[spec.name]), f"{spec.name} differs; {hint}"
    for plan_file in (SAMPLE / "plans").glob("*.yaml"):
        assert plan_file.read_text() == (tmp_path / "plans" / plan_file.name).read_text(), hint
    assert json.loads((tmp_path / MANIFEST).read_text()) == manifest, hint


def _under_plan(data: CanonicalData, df: pl.DataFrame, rep: str, day: str) -> pl.DataFrame:
    return df.join(data.rep_plan_assignments, left_on=rep, right_on="rep_id").filter(
        (pl.col(day) >= pl.col("start_date")) & (pl.col(day) <= pl.col("end_date").fill_null(dt.date.max))
    )


def test_planted_effects_are_visible_in_the_sample(sample: CanonicalData) -> None:
    """Raw-data estimates land near the planted values, and the plan contrasts point the planted way."""
    won_nb = sample.deals.filter((pl.col("deal_type") == "new_business") & (pl.col("stage") == "won"))
    quarter = pl.col("close_date").dt.truncate("3mo")
    days = (quarter.dt.offset_by("3mo") - quarter).dt.total_days()
    late = (pl.col("close_date") - quarter).dt.total_days() >= 0.9 * days
    timing = (
        _under_plan(sample, won_nb, "owner_rep_id", "close_date")
        .with_columns(late=late)
        .group_by("plan_id")
        .agg(
            share=(pl.col("amount") * pl.col("late")).sum() / pl.col("amount").sum(),
            gap=100
            * (
                pl.col("discount_pct").filter("late").mean()
                - pl.col("discount_pct").filter(~pl.col("late")).mean()
            ),
        )
    )
    share = dict(timing.select("plan_id", "share").iter_rows())
    gap = dict(timing.select("plan_id", "gap").iter_rows())
    for plan_id in PLAN_IDS:
        assert abs(share[plan_id] - expected_last_tenth_dollar_share(plan_id)) < 0.05, plan_id
        assert abs(gap[plan_id] - PLANTED[plan_id].last_tenth_extra_discount_pts) < 1.5, plan_id
    assert share["hunter"] > 2 * share["referral-led"] and share["hunter"] > 2 * share["account-manager"]

    end = sample.deals["close_date"].max()
    mature = won_nb.filter(pl.col("close_date") <= end - dt.timedelta(days=180))
    early = (
        _under_plan(sample, mature, "owner_rep_id", "close_date")
        .join(sample.churn_events, on="account_id", how="left")
        .group_by("plan_id")
        .agg(
            rate=((pl.col("churn_date") - pl.col("close_date")).dt.total_days() <= 180)
            .fill_null(False)
            .mean()
        )
    )
    early_rate = dict(early.iter_rows())
    assert early_rate["hunter"] > 2 * early_rate["referral-led"]
    assert abs(early_rate["hunter"] - PLANTED["hunter"].early_churn_180d) < 0.04

    renewals = sample.deals.filter((pl.col("deal_type") == "renewal") & (pl.col("stage") != "open"))
    renewal_rate = dict(
        _under_plan(sample, renewals, "owner_rep_id", "close_date")
        .group_by("plan_id")
        .agg((pl.col("stage") == "won").mean())
        .iter_rows()
    )
    for plan_id in PLAN_IDS:
        assert abs(renewal_rate[plan_id] - PLANTED[plan_id].renewal_win_rate) < 0.04, plan_id
    assert renewal_rate["account-manager"] > renewal_rate["hunter"] + 0.08

    referrals = _under_plan(sample, sample.referrals, "referring_rep_id", "referral_date")
    per_plan = dict(referrals.group_by("plan_id").len().iter_rows())
    assert per_plan["referral-led"] > 3 * per_plan["hunter"]
    assert per_plan["referral-led"] == max(per_plan.values())
