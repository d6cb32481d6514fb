"""Scoring partitioned on disk (`compscore.scoring.partitioned`) on tiny hand-built companies: which batch a
rep falls in, which files each batch folder holds and which rows, the foreign deals a batch's lines name,
the manifest, what `remove_partitions` removes, and the batch-by-batch scoring's wiring. The equality of
partitioned and in-memory scoring on generated companies is in tests/test_partitioned_scoring.py; these are
the fast, hand-checked cases that mutation testing runs.

The company (`five_reps`): R1…R5 on plan p (10 % new business, a flat 500 referral bonus), one 10k deal
each (D1…D5, 1–5 February 2026). With batches of 2 reps the batches are {R1, R2}, {R3, R4}, {R5}. R1 and R2
(batch 0) refer D3, owned by R3 (batch 1); R4 (batch 1) refers D3 too, in its own batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scoring_builders import Company, D, Deal, plan
from test_shard_wiring import FLAT_REFERRAL, NB_10, statement

from compscore.dataset import CanonicalData, CanonicalScans
from compscore.schema import empty_frame
from compscore.scoring.batches import RepBatch
from compscore.scoring.partitioned import (
    PartitionedCompany,
    ShardBatches,
    _batch_of,
    _first_rep_ids,
    balanced_batch_reps,
    batch_folder,
    partition_for_scoring,
    partition_scans,
    partitioned_for_scoring,
    read_partitioned_batch,
    remove_partitions,
    score_batches,
    score_partitioned,
    scoring_columns,
    shard_batch_numbers,
)
from compscore.scoring.shards import read_batch

DEAL_COLUMNS = [
    "deal_id",
    "account_id",
    "owner_rep_id",
    "deal_type",
    "stage",
    "amount",
    "discount_pct",
    "created_date",
    "close_date",
    "referral_id",
]
"""The deals' columns scoring reads: the schema's without `lead_source` and `term_months`."""


def five_reps(*, given_lines: bool = False) -> CanonicalData:
    """The module's company; with `given_lines`, R4's statement line G1 names R1's deal D1 (batch 0), R5's
    line G2 R2's deal D2 (batch 0) and R2's line G3 its own D2."""
    data = Company(
        plans=[plan(NB_10 + FLAT_REFERRAL)],
        reps=("R1", "R2", "R3", "R4", "R5"),
        deals=[Deal(f"D{i}", f"R{i}", 10_000, D(2026, 2, i)) for i in range(1, 6)],
        referrals=[("F1", "R1", "D3", "A-D1"), ("F2", "R2", "D3", "A-D2"), ("F3", "R4", "D3", "A-D4")],
    ).data()
    if given_lines:
        data.tables["commission_lines"] = statement(
            ("G1", "R4", "nb", "earning", "D1", 1_000.0, D(2026, 2, 1)),
            ("G2", "R5", "nb", "earning", "D2", 1_000.0, D(2026, 2, 2)),
            ("G3", "R2", "nb", "earning", "D2", 1_000.0, D(2026, 2, 2)),
        )
        data.given_commission_lines = True
    return data


def partition(data: CanonicalData, work_dir: Path, batch_reps: int = 2, **options) -> PartitionedCompany:
    return partition_scans(CanonicalScans.of(data), work_dir, batch_reps=batch_reps, **options)


def batch_rows(work_dir: Path, number: int, data: CanonicalData) -> dict[str, list[str]]:
    """The sorted ids of each rep-keyed table's rows in batch `number`, read back from the folder."""
    batch = read_partitioned_batch(work_dir, number, data.plans)
    ids = {
        "rep_plan_assignments": "rep_id",
        "deals": "deal_id",
        "referrals": "referral_id",
        "commission_lines": "line_id",
    }
    return {table: sorted(batch[table][column]) for table, column in ids.items()}


# --- which batch a rep falls in ----------------------------------------------------------------------


def test_a_rep_is_in_the_last_batch_starting_at_or_before_it_and_a_missing_rep_in_the_first():
    firsts = pl.Series(["R3", "R5"])  # batches {R1, R2}, {R3, R4}, {R5, R6}
    reps = pl.DataFrame({"rep": ["R1", "R2", "R3", "R4", "R5", "R6", None, "R0"]})
    got = reps.select(_batch_of("rep", firsts).alias("batch"))["batch"]
    assert got.dtype == pl.UInt32
    assert got.to_list() == [0, 0, 1, 1, 2, 2, 0, 0]


def test_one_batch_puts_every_rep_in_batch_zero():
    reps = pl.DataFrame({"rep": ["R1", "R9", None]})
    got = reps.select(_batch_of("rep", pl.Series([], dtype=pl.String)))
    assert got.to_series().to_list() == [0, 0, 0]


def test_the_first_rep_ids_are_those_of_every_batch_but_the_first():
    batches = [
        RepBatch(pl.Series(["R1", "R2"]), holds_null=True),
        RepBatch(pl.Series(["R3", "R4"]), holds_null=False),
        RepBatch(pl.Series(["R5"]), holds_null=False),
    ]
    firsts = _first_rep_ids(batches)
    assert (firsts.name, firsts.dtype, firsts.to_list()) == ("rep_id", pl.String, ["R3", "R5"])
    alone = _first_rep_ids(batches[:1])
    assert (alone.name, alone.dtype, alone.len()) == ("rep_id", pl.String, 0)


# --- the batch folders ---------------------------------------------------------------------------------


def test_each_batch_folder_holds_its_reps_rows_and_the_foreign_deals_its_referrals_name(tmp_path):
    data = five_reps()
    company = partition(data, tmp_path)
    assert [b.rep_ids.to_list() for b in company.batches] == [["R1", "R2"], ["R3", "R4"], ["R5"]]
    assert [b.holds_null for b in company.batches] == [True, False, False]
    assert company.batch_folder(2) == batch_folder(tmp_path, 2) == tmp_path / "batch-2"
    # D3 (R3's, batch 1) is copied once to batch 0, which R1 and R2 refer it from; R4 refers it in batch 1.
    assert [batch_rows(tmp_path, n, data) for n in range(3)] == [
        {"rep_plan_assignments": ["R1", "R2"], "deals": ["D1", "D2", "D3"], "referrals": ["F1", "F2"]}
        | {"commission_lines": []},
        {"rep_plan_assignments": ["R3", "R4"], "deals": ["D3", "D4"], "referrals": ["F3"]}
        | {"commission_lines": []},
        {"rep_plan_assignments": ["R5"], "deals": ["D5"], "referrals": [], "commission_lines": []},
    ]
    # Files only for the tables a batch has rows of, and each batch's reps (`write_batch`: its rep ids and
    # whether it holds the rows without a rep); the shared churn events and the manifest at the top.
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [
        "batch-0/batch.json",
        "batch-0/deals.arrow",
        "batch-0/referrals.arrow",
        "batch-0/rep_ids.parquet",
        "batch-0/rep_plan_assignments.arrow",
        "batch-1/batch.json",
        "batch-1/deals.arrow",
        "batch-1/referrals.arrow",
        "batch-1/rep_ids.parquet",
        "batch-1/rep_plan_assignments.arrow",
        "batch-2/batch.json",
        "batch-2/deals.arrow",
        "batch-2/rep_ids.parquet",
        "batch-2/rep_plan_assignments.arrow",
        "churn_events.arrow",
        "partition.json",
    ]
    stored = [read_batch(batch_folder(tmp_path, n)) for n in range(3)]
    assert [(b.rep_ids.to_list(), b.holds_null) for b in stored] == [
        (["R1", "R2"], True),
        (["R3", "R4"], False),
        (["R5"], False),
    ]
    assert json.loads((tmp_path / "partition.json").read_text()) == {
        "format": 1,
        "given_commission_lines": False,
    }


def test_a_foreign_deal_is_copied_whole_with_the_columns_scoring_reads(tmp_path):
    data = five_reps()
    partition(data, tmp_path)
    deals = pl.read_ipc(tmp_path / "batch-0" / "deals.arrow")
    assert deals.columns == DEAL_COLUMNS == scoring_columns("deals")
    expected = data.deals.filter(pl.col("deal_id").is_in(["D1", "D2", "D3"])).select(DEAL_COLUMNS)
    assert_frame_equal(deals.sort("deal_id"), expected)
    assert pl.read_ipc(tmp_path / "churn_events.arrow").columns == ["account_id", "churn_date", "lost_amount"]


def test_given_lines_name_deals_of_other_batches_too(tmp_path):
    data = five_reps(given_lines=True)
    company = partition(data, tmp_path)
    assert company.given_commission_lines is True
    # D1 and D2 are named from batches 1 and 2 only (a deal named from its own batch is no candidate).
    assert [batch_rows(tmp_path, n, data) for n in range(3)] == [
        {"rep_plan_assignments": ["R1", "R2"], "deals": ["D1", "D2", "D3"], "referrals": ["F1", "F2"]}
        | {"commission_lines": ["G3"]},  # G3 names R2's own D2: no copy
        {"rep_plan_assignments": ["R3", "R4"], "deals": ["D1", "D3", "D4"], "referrals": ["F3"]}
        | {"commission_lines": ["G1"]},
        {"rep_plan_assignments": ["R5"], "deals": ["D2", "D5"], "referrals": [], "commission_lines": ["G2"]},
    ]
    assert json.loads((tmp_path / "partition.json").read_text())["given_commission_lines"] is True
    alone = read_partitioned_batch(tmp_path, 2, data.plans)
    assert alone.given_commission_lines is True and alone.plans == data.plans
    assert company.batch_data(2, company.shared_tables()).given_commission_lines is True


def test_statement_lines_that_are_not_given_name_no_deal(tmp_path):
    data = five_reps(given_lines=True)
    data.given_commission_lines = False  # the lines' deals are the reps' own computed lines' deals
    partition(data, tmp_path)
    assert [batch_rows(tmp_path, n, data)["deals"] for n in range(3)] == [
        ["D1", "D2", "D3"],
        ["D3", "D4"],
        ["D5"],
    ]


def test_referrals_without_a_converted_deal_or_of_an_unknown_deal_name_none(tmp_path):
    data = five_reps()
    extra = data.referrals.head(2).with_columns(
        referral_id=pl.Series(["F4", "F5"]),
        referring_rep_id=pl.lit("R5"),
        converted_deal_id=pl.Series(["D9", None], dtype=pl.String),
    )
    data.tables["referrals"] = pl.concat([data.referrals, extra])
    partition(data, tmp_path)
    assert batch_rows(tmp_path, 2, data) == {
        "rep_plan_assignments": ["R5"],
        "deals": ["D5"],
        "referrals": ["F4", "F5"],
        "commission_lines": [],
    }


def test_rows_without_a_rep_go_to_the_first_batch_with_the_deals_they_name(tmp_path):
    """Validation rejects them; partitioning still keeps every row, in batch 0 (as `rep_batches` does)."""
    data = five_reps()
    orphan = data.deals.filter(pl.col("deal_id") == "D5").with_columns(
        deal_id=pl.lit("D0"), owner_rep_id=pl.lit(None, dtype=pl.String)
    )
    data.tables["deals"] = pl.concat([data.deals, orphan])
    no_referrer = data.referrals.head(1).with_columns(
        referral_id=pl.lit("F6"),
        referring_rep_id=pl.lit(None, dtype=pl.String),
        converted_deal_id=pl.lit("D4"),
    )
    data.tables["referrals"] = pl.concat([data.referrals, no_referrer])
    partition(data, tmp_path)
    assert [batch_rows(tmp_path, n, data)["deals"] for n in range(3)] == [
        ["D0", "D1", "D2", "D3", "D4"],  # D4 for F6
        ["D3", "D4"],
        ["D5"],
    ]
    assert batch_rows(tmp_path, 0, data)["referrals"] == ["F1", "F2", "F6"]


def test_one_batch_for_the_whole_company_needs_no_foreign_deal(tmp_path):
    data = five_reps(given_lines=True)
    company = partition(data, tmp_path, batch_reps=5)
    assert len(company.batches) == 1
    assert batch_rows(tmp_path, 0, data) == {
        "rep_plan_assignments": ["R1", "R2", "R3", "R4", "R5"],
        "deals": ["D1", "D2", "D3", "D4", "D5"],
        "referrals": ["F1", "F2", "F3"],
        "commission_lines": ["G1", "G2", "G3"],
    }


def test_a_table_a_batch_has_no_row_of_is_read_empty_with_the_columns_scoring_reads(tmp_path):
    data = five_reps()
    company = partition(data, tmp_path)
    batch = read_partitioned_batch(tmp_path, 2, data.plans)
    for table in ("referrals", "commission_lines"):
        expected = empty_frame(table).select(scoring_columns(table))
        assert_frame_equal(batch[table], expected)
    referral_columns = ["referral_id", "referring_rep_id", "referral_date", "converted_deal_id"]
    assert batch.referrals.columns == referral_columns
    assert batch.given_commission_lines is False
    # The same through the company object, with its shared tables.
    shared = company.shared_tables()
    assert list(shared) == ["churn_events"]
    assert_frame_equal(company.batch_data(2, shared).referrals, batch.referrals)
    assert_frame_equal(company.batch_data(2, shared).deals, batch.deals)


def test_the_clean_folder_is_scanned_table_by_table(tmp_path):
    data = five_reps(given_lines=True)
    clean = tmp_path / "clean"
    clean.mkdir()
    for name, frame in data.tables.items():
        frame.write_parquet(clean / f"{name}.parquet")
    work = tmp_path / "work [1]" / "new"  # not there yet, and a name that is no glob pattern
    company = partition_for_scoring(clean, data.plans, True, work, batch_reps=2)
    assert company.work_dir == work and company.plans == data.plans
    assert batch_rows(work, 2, data)["deals"] == ["D2", "D5"]
    assert company.shared_tables()["churn_events"].height == 0


# --- the context's date --------------------------------------------------------------------------------


def test_the_context_is_as_of_the_data_unless_a_date_is_given(tmp_path):
    data = five_reps()
    assert partition(data, tmp_path / "a").context.as_of == D(2026, 2, 5)  # the last close date
    assert partition(data, tmp_path / "b", as_of=D(2026, 3, 31)).context.as_of == D(2026, 3, 31)


# --- the manifest --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "manifest",
    [
        {"format": 2, "given_commission_lines": False},
        {"given_commission_lines": False},
        {"format": 1, "given_commission_lines": "no"},
        {"format": 1},
    ],
)
def test_a_folder_whose_manifest_is_not_this_format_is_refused(tmp_path, manifest):
    data = five_reps()
    partition(data, tmp_path)
    (tmp_path / "partition.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"partition\.json: not a partitioned company of format 1$"):
        read_partitioned_batch(tmp_path, 0, data.plans)


# --- removing the partition ----------------------------------------------------------------------------


def test_remove_partitions_removes_only_what_partitioning_writes(tmp_path):
    for folder in ("batch-0", "batch-12", "batch-x", "batch-1a", "old-batch-1", "batch-"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "deals.arrow").write_bytes(b"x")
    for name in ("churn_events.arrow", "partition.json", "deals.arrow", "batch-3", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    remove_partitions(tmp_path)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["batch-", "batch-1a", "batch-3", "batch-x", "deals.arrow", "notes.txt", "old-batch-1"]


def test_remove_partitions_of_a_folder_that_is_not_there_does_nothing(tmp_path):
    remove_partitions(tmp_path / "absent")
    assert not (tmp_path / "absent").exists()
    (tmp_path / "a-file").write_text("x")
    remove_partitions(tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "x"


def test_partitioning_again_replaces_the_earlier_batches(tmp_path):
    data = five_reps()
    partition(data, tmp_path, batch_reps=1)
    assert (tmp_path / "batch-4").is_dir()
    company = partition(data, tmp_path, batch_reps=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "batch-0",
        "batch-1",
        "batch-2",
        "churn_events.arrow",
        "partition.json",
    ]
    company.remove()
    assert list(tmp_path.iterdir()) == []


def test_the_context_manager_removes_the_partition_also_on_an_error(tmp_path):
    data = five_reps()
    clean = tmp_path / "clean"
    clean.mkdir()
    for name, frame in data.tables.items():
        frame.write_parquet(clean / f"{name}.parquet")
    work = tmp_path / "work"
    as_of = D(2026, 3, 31)
    with (
        pytest.raises(RuntimeError, match="while scoring"),
        partitioned_for_scoring(clean, data.plans, False, work, as_of=as_of) as company,
    ):
        assert company.context.as_of == as_of
        assert len(company.batches) == 1  # the default batch size holds the 5 reps
        assert (work / "batch-0" / "deals.arrow").is_file()
        raise RuntimeError("while scoring")
    assert list(work.iterdir()) == []


# --- scoring batch by batch ----------------------------------------------------------------------------


def test_scoring_batch_by_batch_pays_every_line_once_with_its_deal_found_in_another_batch(tmp_path):
    company = partition(five_reps(), tmp_path)
    messages: list[str] = []
    scores = score_partitioned(company, progress=messages.append)
    assert messages == [
        "scoring batch 1/3 (2 reps)",
        "scoring batch 2/3 (2 reps)",
        "scoring batch 3/3 (1 reps)",
        "marginal pay, bootstrap intervals and plan scores",
    ]
    assert not scores.attribution_streamed
    lines = scores.pay_attribution.sort("line_id").select(
        "line_id", "rep_id", "deal_id", "amount", "deal_type", "channel"
    )
    # The referral bonuses of R1 and R2 on D3 find its deal type in batch 0's copy of D3.
    assert lines.rows() == [
        ("earning:p:nb:D1", "R1", "D1", 1_000.0, "new_business", "same_day"),
        ("earning:p:nb:D2", "R2", "D2", 1_000.0, "new_business", "same_day"),
        ("earning:p:nb:D3", "R3", "D3", 1_000.0, "new_business", "same_day"),
        ("earning:p:nb:D4", "R4", "D4", 1_000.0, "new_business", "same_day"),
        ("earning:p:nb:D5", "R5", "D5", 1_000.0, "new_business", "same_day"),
        ("earning:p:ref:F1", "R1", "D3", 500.0, "new_business", "referral"),
        ("earning:p:ref:F2", "R2", "D3", 500.0, "new_business", "referral"),
        ("earning:p:ref:F3", "R4", "D3", 500.0, "new_business", "referral"),
    ]
    assert scores.plan_scores.select("plan_id", "period", "data_quality_status").rows() == [
        ("p", "2026-Q1", "not_validated")
    ]
    assert scores.as_of == D(2026, 2, 5)


def test_scoring_batch_by_batch_streams_the_attribution_and_passes_the_quality_status(tmp_path):
    company = partition(five_reps(), tmp_path)
    streamed: list[pl.DataFrame] = []
    status = pl.DataFrame({"plan_id": ["p"], "period": ["2026-Q1"], "data_quality_status": ["warn"]})
    scores = score_partitioned(company, data_quality_status=status, attribution_sink=streamed.append)
    assert scores.attribution_streamed and "pay_attribution" not in scores.outputs()
    assert [sorted(f["line_id"]) for f in streamed] == [
        ["earning:p:nb:D1", "earning:p:nb:D2", "earning:p:ref:F1", "earning:p:ref:F2"],
        ["earning:p:nb:D3", "earning:p:nb:D4", "earning:p:ref:F3"],
        ["earning:p:nb:D5"],
    ]
    assert scores.plan_scores["data_quality_status"].to_list() == ["warn"]


@pytest.mark.parametrize(
    ("batches", "shards", "expected"),
    [
        (9, 2, [[0, 1, 2, 3, 4], [5, 6, 7, 8]]),
        (1, 2, [[0]]),
        (3, 3, [[0], [1], [2]]),
        (4, 3, [[0, 1], [2, 3]]),  # two batches a shard: two shards are enough
        (5, 1, [[0, 1, 2, 3, 4]]),
    ],
)
def test_shards_are_consecutive_runs_of_batches(batches, shards, expected):
    assert shard_batch_numbers(batches, shards) == expected


def test_shard_count_must_be_positive():
    with pytest.raises(ValueError, match="shard_count must be at least 1, got 0"):
        shard_batch_numbers(3, 0)


@pytest.mark.parametrize(
    ("reps", "shards", "most", "batch_reps", "per_shard"),
    [
        (177_708, 2, 20_000, 17_771, [5, 5]),  # the 10M company: 9 batches of 20,000 were 5 and 4
        (18_165, 2, 20_000, 9_083, [1, 1]),  # fewer reps than a batch: a batch a shard
        (40_000, 2, 20_000, 20_000, [1, 1]),  # exactly two full batches
        (40_001, 2, 20_000, 10_001, [2, 2]),  # one rep more: four batches, not three
        (30, 3, 10, 10, [1, 1, 1]),
        (31, 3, 10, 6, [2, 2, 2]),
        (100, 1, 20, 20, [5]),
        (1, 2, 20_000, 1, [1]),  # one rep: one batch, one shard
        (0, 2, 20_000, 1, [1]),
    ],
)
def test_batches_are_balanced_over_the_shards(reps, shards, most, batch_reps, per_shard):
    got = balanced_batch_reps(reps, shards, most)
    assert got == batch_reps and got <= most
    batch_count = max(1, -(-reps // got))
    assert [len(run) for run in shard_batch_numbers(batch_count, shards)] == per_shard


@pytest.mark.parametrize(("shards", "most"), [(0, 10), (2, 0)])
def test_balanced_batches_need_a_shard_and_a_size(shards, most):
    with pytest.raises(ValueError, match=f"must be at least 1, got {shards} and {most}"):
        balanced_batch_reps(10, shards, most)


def test_a_shards_batch_numbers_round_trip_through_a_step_folder(tmp_path):
    folder = tmp_path / "plan_scoring.plan_shards" / "batches" / "1"
    ShardBatches((5, 6, 7)).write(folder)
    assert ShardBatches.read(folder) == ShardBatches((5, 6, 7))
    assert json.loads((folder / "shard_batches.json").read_text()) == {"format": 1, "batches": [5, 6, 7]}


@pytest.mark.parametrize(
    "manifest",
    [
        {"format": 2, "batches": [0]},
        {"format": 1, "batches": []},
        {"format": 1, "batches": [0, -1]},
        {"format": 1, "batches": ["0"]},
        {"format": 1, "batches": [True]},
        {"format": 1},
    ],
)
def test_a_folder_that_is_not_a_shards_batch_numbers_is_refused(tmp_path, manifest):
    (tmp_path / "shard_batches.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError) as error:
        ShardBatches.read(tmp_path)
    assert str(error.value) == f"{tmp_path / 'shard_batches.json'}: not a shard's batch numbers of format 1"


def test_batch_zero_is_a_batch_number_and_a_step_folder_can_be_written_again(tmp_path):
    ShardBatches((0, 1)).write(tmp_path)
    ShardBatches((0,)).write(tmp_path)  # a retried step writes into its folder again
    assert ShardBatches.read(tmp_path) == ShardBatches((0,))


def test_a_shard_without_batches_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError) as error:
        score_batches(tmp_path, [], {}, None)  # type: ignore[arg-type]  # refused before the context is used
    assert str(error.value) == f"{tmp_path}: a shard needs at least one batch"


def test_a_company_cut_balanced_over_shards_has_the_balanced_batches(tmp_path):
    """Five reps in batches of at most 4: R1…R4 and R5 when not balanced; balanced over two shards, two
    batches of three and two reps (`balanced_batch_reps(5, 2, 4)` is 3)."""
    data = five_reps()
    plain = partition(data, tmp_path / "plain", batch_reps=4)
    balanced = partition(data, tmp_path / "balanced", batch_reps=4, balanced_over=2)
    assert [b.rep_ids.to_list() for b in plain.batches] == [["R1", "R2", "R3", "R4"], ["R5"]]
    assert [b.rep_ids.to_list() for b in balanced.batches] == [["R1", "R2", "R3"], ["R4", "R5"]]
