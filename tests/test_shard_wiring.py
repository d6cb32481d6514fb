"""The map/reduce wiring of scoring on tiny hand-built companies (`compscore.scoring.batches`: rep ids,
batches and their rows, the scoring view; `compscore.scoring.shards`: the shared context, shard batches,
one shard's tables, and the Parquet round trips between Dagster steps). The end-to-end equality of
sharded and whole scoring on generated companies is in tests/test_scoring_shards.py and
tests/test_scoring_batches.py; these are the fast, hand-checked cases that mutation testing runs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scoring_builders import Company, D, Deal, plan

from compscore.dataset import CanonicalData
from compscore.schema import conform, empty_frame
from compscore.scoring.batches import (
    RepBatch,
    all_rep_ids,
    batch_data,
    rep_batches,
    scoring_view,
)
from compscore.scoring.partitioned import partition_for_scoring, score_batches
from compscore.scoring.shards import (
    CONTEXT_FRAMES,
    ShardTables,
    read_batch,
    read_context,
    run_shards_folder,
    score_shard,
    scoring_context,
    shard_batches,
    write_batch,
    write_context,
)

Q1_END = D(2026, 3, 31)
NB_10 = "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}]}\n"
FLAT_REFERRAL = "  - {id: ref, kind: referral_bonus, amount: 500}\n"


def statement(*rows: tuple[str, str, str, str, str | None, float, dt.date]) -> pl.DataFrame:
    """commission_lines from (line_id, rep, component, line_type, deal, amount, earned_date), plan p."""
    return conform(
        pl.DataFrame(
            {
                "line_id": [r[0] for r in rows],
                "rep_id": [r[1] for r in rows],
                "plan_id": ["p"] * len(rows),
                "component_id": [r[2] for r in rows],
                "line_type": [r[3] for r in rows],
                "deal_id": [r[4] for r in rows],
                "referral_id": [None] * len(rows),
                "amount": [r[5] for r in rows],
                "earned_date": [r[6] for r in rows],
            },
            schema_overrides={"deal_id": pl.String, "referral_id": pl.String},
        ),
        "commission_lines",
    ).collect()


def five_reps() -> CanonicalData:
    """R1…R5 on plan p, one 10k deal each (D1…D5, 1–5 February); deal D0 has no owner."""
    company = Company(
        plans=[plan(NB_10)],
        reps=("R1", "R2", "R3", "R4", "R5"),
        deals=[Deal(f"D{i}", f"R{i}", 10_000, D(2026, 2, i)) for i in range(1, 6)],
    )
    data = company.data()
    orphan = data.deals.filter(pl.col("deal_id") == "D1").with_columns(
        deal_id=pl.lit("D0"), owner_rep_id=pl.lit(None, dtype=pl.String)
    )
    data.tables["deals"] = pl.concat([data.deals, orphan])
    return data


# --- batches ------------------------------------------------------------------------------------------


def test_all_rep_ids_are_the_sorted_reps_of_every_rep_keyed_table():
    data = Company(
        plans=[plan(NB_10)], reps=("R3", "R1"), deals=[Deal("D1", "R0", 1_000, D(2026, 2, 1))]
    ).data()
    data.tables["referrals"] = data.referrals.vstack(
        pl.DataFrame({"referral_id": ["F1"], "referring_rep_id": ["R9"]}).pipe(conform, "referrals").collect()
    )
    data.tables["commission_lines"] = statement(("L1", "R5", "nb", "earning", "D1", 100.0, D(2026, 2, 1)))
    # Assignments R1, R3; deal owner R0; referrer R9; statement line R5. No null, no duplicate.
    assert all_rep_ids(data).to_list() == ["R0", "R1", "R3", "R5", "R9"]


def test_batch_size_must_be_at_least_one():
    with pytest.raises(ValueError, match=r"^batch_reps must be at least 1, got 0$"):
        list(rep_batches(five_reps(), 0))


def test_a_batch_as_large_as_the_company_is_the_whole_company():
    data = five_reps()
    (batch,) = rep_batches(data, 5)
    assert (batch.rep_ids.to_list(), batch.holds_null, batch.whole, batch.rows) == (
        ["R1", "R2", "R3", "R4", "R5"],
        True,
        True,
        None,
    )
    assert batch_data(data, batch) is data


def test_batches_are_contiguous_runs_of_sorted_reps_with_their_rows():
    data = five_reps()
    batches = list(rep_batches(data, 2))
    assert [b.rep_ids.to_list() for b in batches] == [["R1", "R2"], ["R3", "R4"], ["R5"]]
    assert [(b.holds_null, b.whole) for b in batches] == [(True, False), (False, False), (False, False)]
    # Deal rows are D1…D5 then the owner-less D0 (row 5), which goes to the first batch.
    assert [b.rows["deals"].to_list() for b in batches] == [[0, 1, 5], [2, 3], [4]]
    assert [b.rows["rep_plan_assignments"].to_list() for b in batches] == [[0, 1], [2, 3], [4]]
    assert [b.rows["commission_lines"].to_list() for b in batches] == [[], [], []]
    parts = [batch_data(data, b) for b in batches]
    assert [p.deals["deal_id"].to_list() for p in parts] == [["D1", "D2", "D0"], ["D3", "D4"], ["D5"]]
    assert [p.commission_lines.height for p in parts] == [0, 0, 0]
    assert parts[2].commission_lines.schema == data.commission_lines.schema


def test_a_batch_read_back_without_row_positions_is_cut_by_rep_id():
    data = five_reps()
    data.given_commission_lines = True
    data.warnings.append("a loader warning")
    data.tables["commission_lines"] = statement(
        ("L1", "R1", "nb", "earning", "D1", 1_000.0, D(2026, 2, 1)),
        ("L2", "R4", "nb", "earning", "D4", 1_000.0, D(2026, 2, 4)),
    )
    first = RepBatch(rep_ids=pl.Series(["R1", "R2"]), holds_null=True)
    later = RepBatch(rep_ids=pl.Series(["R3", "R4"]), holds_null=False)
    part = batch_data(data, first)
    assert part.deals["deal_id"].to_list() == ["D1", "D2", "D0"]  # the owner-less deal with the first
    assert batch_data(data, later).deals["deal_id"].to_list() == ["D3", "D4"]
    assert batch_data(data, later).commission_lines["line_id"].to_list() == ["L2"]
    assert part.accounts is data.accounts  # tables not keyed by rep are shared, not copied
    assert (part.plans is data.plans, part.given_commission_lines, part.warnings) == (
        True,
        True,
        ["a loader warning"],
    )


def test_the_scoring_view_drops_only_what_scoring_never_reads():
    data = five_reps()
    data.given_commission_lines = True
    data.warnings.append("a loader warning")
    view = scoring_view(data)
    assert view.accounts.height == view.reps.height == 0
    assert view.accounts.schema == empty_frame("accounts").schema
    assert "lead_source" not in view.deals.columns and "term_months" not in view.deals.columns
    assert view.deals.height == data.deals.height
    assert "reason" not in view.churn_events.columns
    assert {"referring_account_id", "referred_account_id"}.isdisjoint(view.referrals.columns)
    assert view.rep_plan_assignments is data.rep_plan_assignments
    assert (view.plans is data.plans, view.given_commission_lines, view.warnings) == (
        True,
        True,
        ["a loader warning"],
    )
    assert data.accounts.height > 0  # the data itself is left as it was


# --- shards: context, batches, folders ---------------------------------------------------------------


def test_the_context_grid_starts_at_the_first_crm_activity():
    # D1 closes 19 January 2026 and was created 30 days before, on 20 December 2025: Q4 2025 is scored.
    data = Company(plans=[plan(NB_10)], deals=[Deal("D1", "R1", 1_000, D(2026, 1, 19))]).data()
    context = scoring_context(data, Q1_END)
    assert context.as_of == Q1_END
    assert context.grid["period_start"].to_list() == [D(2025, 10, 1), D(2026, 1, 1)]
    # A deal closed before it was created (validation rejects it; scoring alone does not): its close
    # date, 20 December 2025, is the first activity.
    backwards = data.deals.with_columns(
        created_date=pl.lit(D(2026, 1, 10)), close_date=pl.lit(D(2025, 12, 20))
    )
    data.tables["deals"] = backwards
    assert scoring_context(data, Q1_END).grid["period_start"].to_list() == [D(2025, 10, 1), D(2026, 1, 1)]
    # Without any deal, only the period holding as_of.
    empty = Company(plans=[plan(NB_10)], deals=[]).data()
    assert scoring_context(empty, Q1_END).grid["period_start"].to_list() == [D(2026, 1, 1)]


@pytest.mark.parametrize(
    ("shards", "sizes"), [(1, [5]), (2, [3, 2]), (3, [2, 2, 1]), (5, [1] * 5), (9, [1] * 5)]
)
def test_shard_batches_cut_sorted_reps_into_at_most_that_many_shards(shards, sizes):
    # ceil(5 / shards) reps a shard: 5, 3, 2, 1, and 1 (never 0) for more shards than reps.
    batches = shard_batches(five_reps(), shards)
    assert [b.rep_ids.len() for b in batches] == sizes
    assert pl.concat([b.rep_ids for b in batches]).to_list() == ["R1", "R2", "R3", "R4", "R5"]


def test_shard_count_must_be_at_least_one():
    with pytest.raises(ValueError, match=r"^shard_count must be at least 1, got 0$"):
        shard_batches(five_reps(), 0)


def test_run_shards_folder_accepts_only_plain_run_ids():
    run_id = "0b8f-" + "a" * 59  # 64 characters: letters, digits and "-"
    assert run_shards_folder(Path("/w"), run_id) == Path("/w/.shards") / run_id
    for bad in ["../escape", "a" * 65, "", "run id"]:
        with pytest.raises(ValueError, match="expected letters, digits and '-' only") as error:
            run_shards_folder(Path("/w"), bad)
        assert str(error.value) == f"run id {bad!r}: expected letters, digits and '-' only"


def test_a_rep_batch_round_trips_through_a_step_folder(tmp_path: Path):
    folder = tmp_path / "run" / "plan_scoring.score_shard[0]"  # nested, and brackets are not a glob
    batch = RepBatch(rep_ids=pl.Series(["R3", "R4"]), holds_null=False)
    write_batch(batch, folder)
    write_batch(RepBatch(rep_ids=pl.Series(["R1"]), holds_null=True), folder)  # rewritten in place
    back = read_batch(folder)
    assert (back.rep_ids.to_list(), back.holds_null) == (["R1"], True)
    assert json.loads((folder / "batch.json").read_text()) == {"format": 1, "holds_null": True}
    # The folder layout of format 1: the rep ids in a `rep_id` column.
    assert pl.read_parquet(folder / "rep_ids.parquet", glob=False).columns == ["rep_id"]


@pytest.mark.parametrize("manifest", [{"format": 2, "holds_null": True}, {"format": 1, "holds_null": "yes"}])
def test_a_folder_that_is_not_a_rep_batch_is_refused(tmp_path: Path, manifest):
    write_batch(RepBatch(rep_ids=pl.Series(["R1"]), holds_null=True), tmp_path)
    (tmp_path / "batch.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError) as error:
        read_batch(tmp_path)
    assert str(error.value) == f"{tmp_path / 'batch.json'}: not a rep batch of format 1"


# --- one shard -----------------------------------------------------------------------------------------


def cross_rep_company() -> CanonicalData:
    """R1 wins D1 (new business, 50k, account A1) and D2 (30k); the nb commission is capped at 6,000.
    R2 wins D3 (20k), which R1 referred (flat 500 to R1), and loses A1's renewal D4 on 1 March: A1
    churns 28 days after D1 closed. R1 has a given statement line in Q1; R2 has none."""
    capped = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],"
        " cap: 6000}\n"
    )
    data = Company(
        plans=[plan(capped + FLAT_REFERRAL)],
        reps=("R1", "R2"),
        deals=[
            Deal("D1", "R1", 50_000, D(2026, 2, 1), account_id="A1"),
            Deal("D2", "R1", 30_000, D(2026, 2, 2)),
            Deal("D3", "R2", 20_000, D(2026, 2, 3), referral_id="F1"),
            Deal("D4", "R2", 10_000, D(2026, 3, 1), deal_type="renewal", account_id="A1", stage="lost"),
        ],
        referrals=[("F1", "R1", "D3", "A1")],
    ).data()
    data.tables["commission_lines"] = statement(("G1", "R1", "nb", "earning", "D1", 5_000.0, D(2026, 2, 1)))
    data.given_commission_lines = True
    return data


def shards_of(data: CanonicalData, sink=None) -> list[ShardTables]:
    context = scoring_context(data, Q1_END)
    return [score_shard(data, batch, context, sink) for batch in shard_batches(data, 2)]


def test_a_shard_prices_its_reps_with_the_other_shards_rows():
    r1, r2 = shards_of(cross_rep_company())
    # R1's referral bonus is on R2's deal D3; R1's deal D1 churned through R2's lost renewal (28 days).
    earned = r1.attribution.sort("line_id").select("line_id", "amount", "origin").rows()
    assert earned == [
        ("G1", 5_000.0, "given"),  # R1's Q1 is given: the statement line, not the computed ones
    ]
    assert r1.indicators.select("early_churn_rate_num", "early_churn_rate_den").rows() == [(1.0, 2.0)]
    # Raw pay before the cap: D1 5,000 + D2 3,000 = 8,000 (the cap of 6,000 is applied when pricing).
    assert sorted(r1.paid_so_far.select("rep_id", "component_id", "paid_so_far").rows()) == [
        ("R1", "nb", 8_000.0),
        ("R1", "ref", 500.0),
    ]
    # R2 has no statement line, but Q1 is a given period (R1 has one): R2's computed pay is not used
    # and R2's computed commission on D3 is reconciled as missing from the statements.
    assert r2.attribution.height == 0
    assert r2.reconciliation.select("rep_id", "deal_id", "status", "difference").rows() == [
        ("R2", "D3", "not_in_statements", -2_000.0)
    ]


def test_a_shard_streams_its_attribution_to_the_sink_and_keeps_its_realized_sums():
    streamed: list[pl.DataFrame] = []
    data = cross_rep_company()
    data.given_commission_lines = False
    data.tables["commission_lines"] = data.commission_lines.head(0)
    r1, r2 = shards_of(data, streamed.append)
    assert [f["line_id"].to_list() for f in streamed] == [
        ["earning:p:nb:D1", "earning:p:nb:D2", "earning:p:ref:F1"],  # 1, 2 and 3 February
        ["earning:p:nb:D3"],
    ]
    assert (r1.attribution.height, r1.attribution.columns) == (0, streamed[0].columns)
    # R1's earned pay in Q1: 5,000 + 1,000 (D2 up to the 6,000 cap) + 500 referral.
    assert r1.earned.select("realized_same_day", "realized_referral").rows() == [(6_000.0, 500.0)]
    assert r2.reconciliation.height == 0  # nothing given: nothing reconciled


def test_deal_sizes_keep_plan_and_deal_type_as_categories():
    r1, _ = shards_of(cross_rep_company())
    assert dict(r1.won_deals.schema) == {
        "plan_id": pl.Categorical,
        "period_start": pl.Date,
        "deal_type": pl.Categorical,
        "amount": pl.Float64,
    }
    assert sorted(r1.won_deals.select(pl.col("deal_type").cast(pl.String), "amount").rows()) == [
        ("new_business", 30_000.0),
        ("new_business", 50_000.0),
    ]
    _, r2 = shards_of(cross_rep_company())
    assert dict(r2.converted_referrals.schema) == {
        "plan_id": pl.Categorical,
        "period_start": pl.Date,
        "deal_amount": pl.Float64,
    }


def test_a_shard_round_trips_through_a_step_folder(tmp_path: Path):
    shard, _ = shards_of(cross_rep_company())
    folder = tmp_path / "run" / "plan_scoring.score_shard[0]"
    shard.write(folder)
    shard.write(folder)  # a retried step rewrites its folder
    back = ShardTables.read(folder)
    names = [
        "books",
        "indicators",
        "paid_so_far",
        "won_deals",
        "converted_referrals",
        "attribution",
        "earned",
        "clawed",
        "reconciliation",
    ]
    assert json.loads((folder / "shard.json").read_text()) == {"format": 1, "frames": names}
    for name in names:
        assert_frame_equal(getattr(back, name), getattr(shard, name))  # every column, dtype and row


@pytest.mark.parametrize("manifest", [{"format": 2}, {"frames": ["books"]}])
def test_a_folder_that_is_not_a_shard_is_refused(tmp_path: Path, manifest):
    shard, _ = shards_of(cross_rep_company())
    shard.write(tmp_path)
    written = json.loads((tmp_path / "shard.json").read_text())
    (tmp_path / "shard.json").write_text(json.dumps(written | manifest))
    with pytest.raises(ValueError) as error:
        ShardTables.read(tmp_path)
    assert str(error.value) == (
        f"{tmp_path / 'shard.json'}: not a shard of format 1 with ['books', 'indicators', 'paid_so_far', "
        "'won_deals', 'converted_referrals', 'attribution', 'earned', 'clawed', 'reconciliation']"
    )


def test_the_scoring_context_written_and_read_back_is_the_same(tmp_path):
    """What `plan_shards` stores for the shard and combine steps (`write_context`/`read_context`)."""
    data = cross_rep_company()
    context = scoring_context(data, Q1_END)
    folder = tmp_path / "plan_scoring.score_shard[0]" / "shared_context"  # brackets: a name, not a glob
    write_context(context, folder)
    write_context(context, folder)  # a re-executed step writes its output again
    back = read_context(folder)
    assert back.as_of == Q1_END and back.pt.max_tiers == context.pt.max_tiers
    assert_frame_equal(back.pt.plans, context.pt.plans)
    assert_frame_equal(back.pt.components, context.pt.components)
    assert_frame_equal(back.pt.applies, context.pt.applies)
    assert_frame_equal(back.cross.churn, context.cross.churn)
    assert_frame_equal(back.cross.conversions, context.cross.conversions)
    assert_frame_equal(back.cross.churned, context.cross.churned)
    assert_frame_equal(back.grid, context.grid)
    assert_frame_equal(back.given_periods, context.given_periods)
    assert back.cross.churn.height and back.cross.conversions.height and back.given_periods.height
    # and the shard scored with it is the shard scored with the context computed in place
    batch = shard_batches(data, 1)[0]
    assert_frame_equal(score_shard(data, batch, back).books, score_shard(data, batch, context).books)


@pytest.mark.parametrize(
    "manifest", [{"format": 2, "frames": list(CONTEXT_FRAMES)}, {"format": 1, "frames": ["plans"]}]
)
def test_a_context_folder_of_another_format_or_frames_is_refused(tmp_path, manifest):
    (tmp_path / "context.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="not a scoring context of format 1"):
        read_context(tmp_path)


def test_a_shard_of_one_rep_batches_from_files_is_the_shard_at_once(tmp_path: Path):
    """A Dagster shard step scores its batches from the partition's files one at a time: R1's referral on
    R2's deal and R2's lost renewal of R1's account cross the batches, and every frame is still the
    one-pass shard's."""
    data = cross_rep_company()
    for name, frame in data.tables.items():
        frame.write_parquet(tmp_path / f"{name}.parquet")
    company = partition_for_scoring(tmp_path, data.plans, True, tmp_path / "work", as_of=Q1_END, batch_reps=1)
    assert [b.rep_ids.to_list() for b in company.batches] == [["R1"], ["R2"]]
    batched = score_batches(tmp_path / "work", [0, 1], data.plans, company.context)
    at_once = score_shard(data, shard_batches(data, 1)[0], scoring_context(data, Q1_END))
    for name in ("books", "indicators", "paid_so_far", "attribution", "reconciliation"):
        expected, got = getattr(at_once, name), getattr(batched, name)
        assert got.height == expected.height, name
        assert_frame_equal(
            got.sort(got.columns, nulls_last=True), expected.sort(expected.columns, nulls_last=True)
        )
    assert sorted(batched.paid_so_far["rep_id"].to_list()) == ["R1", "R1", "R2"]  # each rep once
