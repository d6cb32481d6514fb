"""Scoring partitioned on disk gives the tables of `score_company` on the same clean data.

The oracle is the in-memory `score_company` (tested against hand-computed cases elsewhere). The clean data
is a validated generated company written to a folder as Parquet, as validation writes it; the company has
referral bonuses on other reps' deals, so some batch's lines need deals of another batch.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from compscore.dataset import CanonicalData, CanonicalScans
from compscore.engine.payout import data_as_of
from compscore.generator import GeneratorConfig, generate_company
from compscore.quality import validate
from compscore.scoring.batches import RepBatch, all_rep_ids, batch_data
from compscore.scoring.partitioned import (
    PartitionedCompany,
    partition_for_scoring,
    partitioned_for_scoring,
    read_partitioned_batch,
    score_batches,
    score_partitioned,
    shard_batch_numbers,
)
from compscore.scoring.scores import score_company
from compscore.scoring.shards import (
    CONTEXT_FRAMES,
    CONTEXT_MANIFEST,
    score_shard,
    scoring_context,
    write_context,
)

AS_OF = dt.date(2025, 6, 30)


def _clean(with_lines: bool) -> CanonicalData:
    data = generate_company(GeneratorConfig(reps=60, quarters=6, seed=5, reps_per_chunk=30), with_lines)
    result = validate(_referred_deals_to_other_reps(data), "partitioned")
    assert not result.blocking
    return result.clean


def _referred_deals_to_other_reps(data: CanonicalData) -> CanonicalData:
    """Every other referred deal owned by the rep half the sorted rep ids away from its referring rep.

    The generator gives a referred deal to the referring rep, so a referral bonus never names another rep's
    deal; here half of them name the deal of a rep in another batch (for batches smaller than half the reps).
    """
    reps = data.reps["rep_id"].sort()
    shifted = pl.DataFrame(
        {"referring_rep_id": reps, "new_owner": reps.shift(-(reps.len() // 2)).fill_null(reps)}
    )
    new_owner = (
        data.referrals.filter(pl.col("converted_deal_id").is_not_null())
        .join(shifted, on="referring_rep_id")
        .filter(pl.int_range(pl.len()) % 2 == 0)
        .select(pl.col("converted_deal_id").alias("deal_id"), "new_owner")
    )
    deals = (
        data.deals.join(new_owner, on="deal_id", how="left", maintain_order="left")
        .with_columns(owner_rep_id=pl.coalesce("new_owner", "owner_rep_id"))
        .drop("new_owner")
    )
    return CanonicalData(
        tables={**data.tables, "deals": deals},
        plans=data.plans,
        given_commission_lines=data.given_commission_lines,
    )


@pytest.fixture(scope="module", params=[True, False], ids=["given-lines", "computed-lines"])
def clean(request) -> CanonicalData:
    return _clean(request.param)


@pytest.fixture(scope="module")
def clean_dir(clean, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clean")
    for name, frame in clean.tables.items():
        frame.write_parquet(folder / f"{name}.parquet")
    return folder


def _partition(clean: CanonicalData, clean_dir: Path, work_dir: Path, batch_reps: int) -> PartitionedCompany:
    return partition_for_scoring(
        clean_dir, clean.plans, clean.given_commission_lines, work_dir, batch_reps=batch_reps
    )


def _assert_same_tables(expected: dict[str, pl.DataFrame], got: dict[str, pl.DataFrame]) -> None:
    """Equal after sorting by every column; float sums may differ in the last bits (summation order)."""
    assert expected.keys() == got.keys()
    for name, want in expected.items():
        have = got[name]
        assert have.height == want.height, name
        assert_frame_equal(
            have.sort(have.columns, nulls_last=True),
            want.sort(want.columns, nulls_last=True),
            rel_tol=1e-9,
            abs_tol=1e-12,
        )


def test_the_context_scanned_from_the_files_is_the_context_in_memory(clean, clean_dir, tmp_path):
    scanned = CanonicalScans.scan(clean_dir, clean.plans, clean.given_commission_lines)
    assert data_as_of(scanned) == data_as_of(clean)
    assert all_rep_ids(scanned).equals(all_rep_ids(clean))
    write_context(scoring_context(scanned, AS_OF), tmp_path / "scanned")
    write_context(scoring_context(clean, AS_OF), tmp_path / "in_memory")
    assert (tmp_path / "scanned" / CONTEXT_MANIFEST).read_text() == (
        tmp_path / "in_memory" / CONTEXT_MANIFEST
    ).read_text()
    for name in CONTEXT_FRAMES:
        got, expected = (
            pl.read_parquet(tmp_path / side / f"{name}.parquet") for side in ("scanned", "in_memory")
        )
        # Some frames come from `unique()`, whose order is not fixed: compared as sets of rows.
        assert_frame_equal(got.sort(got.columns), expected.sort(expected.columns), check_exact=True)


def test_the_company_has_both_kinds_of_statement_lines(clean):
    assert (
        clean.commission_lines.height > 0
        if clean.given_commission_lines
        else clean.commission_lines.is_empty()
    )


@pytest.mark.parametrize("batch_reps", [7, 50, 10_000])
def test_partitioned_scores_are_the_in_memory_scores(clean, clean_dir, tmp_path, batch_reps):
    company = _partition(clean, clean_dir, tmp_path, batch_reps)
    assert len(company.batches) == -(-all_rep_ids(clean).len() // batch_reps)
    assert not any(batch.whole or batch.rows for batch in company.batches)
    got = score_partitioned(company)
    expected = score_company(clean, batch_reps=batch_reps)
    assert got.as_of == expected.as_of
    _assert_same_tables(expected.outputs(), got.outputs())


@pytest.mark.parametrize("batch_reps", [7, 10_000])
def test_one_batch_left_in_place_scores_as_if_cut(clean, clean_dir, tmp_path, batch_reps):
    """A company of one batch is not cut when asked so: its batch is the clean tables, no batch file is
    written, and the scores are those of the cut company; a company of several batches is cut anyway."""
    kept = partition_for_scoring(
        clean_dir,
        clean.plans,
        clean.given_commission_lines,
        tmp_path / "kept",
        batch_reps=batch_reps,
        one_batch_in_place=True,
    )
    cut = _partition(clean, clean_dir, tmp_path / "cut", batch_reps)
    one = len(cut.batches) == 1
    assert (kept.in_place is not None) == one and cut.in_place is None
    written = sorted(p.name for p in kept.batch_folder(0).iterdir())
    tables_written = [name for name in written if name.endswith(".arrow")]
    assert tables_written == ([] if one else sorted(p.name for p in cut.batch_folder(0).glob("*.arrow")))
    for number in range(len(cut.batches)):
        shared = cut.shared_tables()
        for table, frame in cut.batch_data(number, shared).tables.items():
            assert_frame_equal(kept.batch_data(number, shared).tables[table], frame)
    assert_frame_equal(score_partitioned(kept).plan_scores, score_partitioned(cut).plan_scores)


def test_cutting_the_same_company_again_gives_every_batch_the_same_rows_in_the_same_order(
    clean, clean_dir, tmp_path
):
    """Float sums over a batch's rows depend on their order: a cut must not reorder them from run to run
    (the foreign deals once came in no fixed order)."""
    cuts = [_partition(clean, clean_dir, tmp_path / str(n), 7) for n in range(4)]
    first = cuts[0]
    for again in cuts[1:]:
        for number in range(len(first.batches)):
            expected = first.batch_data(number, first.shared_tables()).tables
            for table, frame in again.batch_data(number, again.shared_tables()).tables.items():
                assert_frame_equal(frame, expected[table])


def test_as_of_and_quality_status_are_passed_through(clean, clean_dir, tmp_path):
    periods = score_company(clean, as_of=AS_OF).plan_scores.select("plan_id", "period")
    status = periods.head(3).with_columns(data_quality_status=pl.lit("warn"))
    company = partition_for_scoring(
        clean_dir, clean.plans, clean.given_commission_lines, tmp_path, as_of=AS_OF, batch_reps=30
    )
    got = score_partitioned(company, data_quality_status=status)
    expected = score_company(clean, as_of=AS_OF, batch_reps=30, data_quality_status=status)
    assert got.as_of == AS_OF
    assert (got.plan_scores["data_quality_status"] == "warn").sum() == 3
    _assert_same_tables(expected.outputs(), got.outputs())


def test_attribution_goes_to_the_sink_batch_by_batch(clean, clean_dir, tmp_path):
    company = _partition(clean, clean_dir, tmp_path, 20)
    batches: list[pl.DataFrame] = []
    messages: list[str] = []
    got = score_partitioned(company, attribution_sink=batches.append, progress=messages.append)
    assert got.attribution_streamed and "pay_attribution" not in got.outputs()
    assert len(batches) == len(company.batches) and messages[0].startswith("scoring batch 1/")
    expected = score_company(clean, batch_reps=20)
    _assert_same_tables({"a": expected.pay_attribution}, {"a": pl.concat(batches)})


def _batch_of_rep(company: PartitionedCompany) -> pl.DataFrame:
    return pl.concat(
        [
            batch.rep_ids.to_frame("rep_id").with_columns(batch=pl.lit(n))
            for n, batch in enumerate(company.batches)
        ]
    )


def test_referral_bonuses_on_another_batchs_deals_find_their_deal(clean, clean_dir, tmp_path):
    company = _partition(clean, clean_dir, tmp_path, 7)
    attribution = score_partitioned(company).pay_attribution
    assert isinstance(attribution, pl.DataFrame)
    batch_of = _batch_of_rep(company)
    owners = clean.deals.select("deal_id", "owner_rep_id")
    foreign = (
        attribution.filter(pl.col("component_kind") == "referral_bonus")
        .join(owners, on="deal_id")
        .join(batch_of, on="rep_id")
        .join(batch_of.rename({"rep_id": "owner_rep_id", "batch": "owner_batch"}), on="owner_rep_id")
        .filter(pl.col("batch") != pl.col("owner_batch"))
    )
    assert foreign.height > 0
    assert foreign["deal_type"].null_count() == 0
    assert (foreign["channel"] == "referral").all()


def test_each_batch_holds_its_own_deals_and_only_the_foreign_deals_its_lines_name(clean, clean_dir, tmp_path):
    company = _partition(clean, clean_dir, tmp_path, 7)
    shared = company.shared_tables()
    seen_foreign = 0
    for number, batch in enumerate(company.batches):
        data = company.batch_data(number, shared)
        in_batch = batch.predicate
        own = clean.deals.filter(in_batch("owner_rep_id"))
        named = [clean.referrals.filter(in_batch("referring_rep_id"))["converted_deal_id"]]
        if clean.given_commission_lines:
            named.append(clean.commission_lines.filter(in_batch("rep_id"))["deal_id"])
        needed = clean.deals.filter(
            pl.col("deal_id").is_in(pl.concat(named).drop_nulls().implode()) & ~in_batch("owner_rep_id")
        )
        assert sorted(data.deals["deal_id"]) == sorted([*own["deal_id"], *needed["deal_id"]])
        seen_foreign += needed.height
        # Scoring keeps the batch's own deals: the foreign ones only reach the attribution's deal lookup.
        kept = batch_data(data, batch).deals
        assert_frame_equal(kept, own.select(kept.columns))
        for table in ("rep_plan_assignments", "referrals", "commission_lines"):
            assert_frame_equal(batch_data(data, batch)[table], data[table])
    assert seen_foreign > 0


def test_every_rep_keyed_row_is_in_exactly_one_batch(clean, clean_dir, tmp_path):
    company = _partition(clean, clean_dir, tmp_path, 7)
    shared = company.shared_tables()
    parts = [batch_data(company.batch_data(n, shared), b) for n, b in enumerate(company.batches)]
    for table in ("rep_plan_assignments", "deals", "referrals", "commission_lines"):
        got = pl.concat([part[table] for part in parts])
        expected = clean[table].select(got.columns)
        assert_frame_equal(got.sort(got.columns), expected.sort(expected.columns))


def test_the_work_folder_is_emptied_after_use_and_before_a_new_partition(clean, clean_dir, tmp_path):
    stale = tmp_path / "batch-99"
    stale.mkdir()
    (stale / "deals.parquet").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("not the partition's")
    (tmp_path / "batch-notes").mkdir()
    with partitioned_for_scoring(
        clean_dir, clean.plans, clean.given_commission_lines, tmp_path, batch_reps=40
    ) as company:
        assert not stale.exists()
        folders = {f"batch-{n}" for n in range(len(company.batches))}
        expected = {"notes.txt", "batch-notes", "churn_events.arrow", "partition.json", *folders}
        assert {p.name for p in tmp_path.iterdir()} == expected
        score_partitioned(company)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch-notes", "notes.txt"]


def test_batch_size_must_be_positive(clean, clean_dir, tmp_path):
    with pytest.raises(ValueError, match="batch_reps must be at least 1"):
        _partition(clean, clean_dir, tmp_path, 0)


def test_one_batch_read_from_the_folder_alone_is_the_batch_of_the_company(clean, clean_dir, tmp_path):
    """A Dagster shard step has only the partition's folder: what it reads equals the company's batch,
    the given-lines flag included (a batch without lines still belongs to a company with given lines)."""
    company = _partition(clean, clean_dir, tmp_path, 40)
    shared = company.shared_tables()
    for number in range(len(company.batches)):
        alone = read_partitioned_batch(tmp_path, number, clean.plans)
        known = company.batch_data(number, shared)
        assert alone.given_commission_lines is clean.given_commission_lines
        for table, frame in known.tables.items():
            assert_frame_equal(alone[table], frame)


def test_a_folder_that_is_not_a_partition_is_refused(clean, clean_dir, tmp_path):
    _partition(clean, clean_dir, tmp_path, 40)
    (tmp_path / "partition.json").write_text('{"format": 1, "given_commission_lines": "yes"}')
    with pytest.raises(ValueError, match="not a partitioned company of format 1"):
        read_partitioned_batch(tmp_path, 0, clean.plans)


def test_a_shard_of_batches_scored_from_the_folder_is_its_reps_scored_at_once(clean, clean_dir, tmp_path):
    """A Dagster shard step scores its run of batches from the partition's folder alone, one at a time:
    every frame is the one `score_shard` gives for all the shard's reps at once (referral bonuses on
    other batches' deals included)."""
    company = _partition(clean, clean_dir, tmp_path, 7)
    groups = shard_batch_numbers(len(company.batches), 2)
    assert len(groups) == 2 and all(len(group) > 1 for group in groups)
    for group in groups:
        got = score_batches(tmp_path, group, clean.plans, company.context)
        reps = pl.concat([company.batches[n].rep_ids for n in group])
        expected = score_shard(clean, RepBatch(reps, holds_null=group[0] == 0), company.context)
        for name in ("books", "indicators", "paid_so_far", "attribution", "reconciliation"):
            _assert_same_tables({name: getattr(expected, name)}, {name: getattr(got, name)})
        for name in ("earned", "clawed"):  # sums per plan-period of each batch: summed over the batches
            summed = getattr(got, name).group_by("plan_id", "period_start").agg(pl.all().sum())
            _assert_same_tables({name: getattr(expected, name)}, {name: summed})
