"""`compscore score`: the scoring engine without Dagster, from a canonical folder to output files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from test_quality import load_small

from compscore.cli import main
from compscore.outputs import OutputSet
from compscore.provenance import PERIOD_COMPLETE, PROVENANCE_COLUMNS
from compscore.quality import suites
from compscore.quality.background import BackgroundSuites
from compscore.quality.by_table import validate_by_table
from compscore.quality.corrupt import corrupt
from compscore.quality.validate import validate
from compscore.run import score_folder
from compscore.schema import TABLES
from compscore.scoring.scores import PLAN_SCORE_COLUMNS

TABLES_BY_NAME = {t.name: t for t in TABLES}


def test_scores_a_folder_and_writes_every_output(canonical_small_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["score", "--input", str(canonical_small_dir), "--out", str(out), "--run-id", "t1"]) == 0
    for name in (
        "plan_scores",
        "pay_attribution",
        "rep_period_books",
        "plan_incentive_curves",
        "plan_outcomes",
        "plan_component_marginals",
        "pay_reconciliation",
        "data_quality_rejects",
        "data_quality_counts",
    ):
        assert (out / f"{name}.parquet").is_file(), name
        assert (out / f"{name}.csv").is_file(), name
    scores = pl.read_csv(out / "plan_scores.csv")
    assert scores.columns == [*PLAN_SCORE_COLUMNS, PERIOD_COMPLETE, *PROVENANCE_COLUMNS]
    assert set(scores["run_id"]) == {"t1"}
    assert set(scores["source"]) == {str(canonical_small_dir.resolve())}
    assert pl.read_parquet(out / "plan_scores_runs" / "t1.parquet").equals(
        pl.read_parquet(out / "plan_scores.parquet")
    )
    assert set(scores["plan_id"]) == {"hunter-2026", "farmer-2026"}
    captured = capsys.readouterr()
    printed = captured.out
    assert "hunter-2026" in printed and "2026-Q1" in printed
    assert "scoring batch 1/1" in captured.err  # progress goes to stderr, the table to stdout
    assert (out / "data_quality" / "t1" / "index.html").is_file()
    assert "Validation report:" in printed
    reconciliation = pl.read_parquet(out / "pay_reconciliation.parquet")
    assert reconciliation["given_line_id"].to_list() == ["L0006"]  # the manual adjustment only


def test_missing_table_fails_with_a_message_naming_it(canonical_small_copy: Path, tmp_path: Path, capsys):
    (canonical_small_copy / "deals.csv").unlink()
    assert main(["score", "--input", str(canonical_small_copy), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "deals" in err
    assert not (tmp_path / "out").exists()


def test_broken_plan_fails_with_file_and_line(canonical_small_copy: Path, tmp_path: Path, capsys):
    plan_file = next((canonical_small_copy / "plans").glob("*.yaml"))
    plan_file.write_text(plan_file.read_text().replace("period: quarter", "period: fortnight"))
    assert main(["score", "--input", str(canonical_small_copy), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert plan_file.name in err and "period" in err and "fortnight" in err


def test_rejected_rows_are_left_out_and_written(canonical_small_copy: Path, tmp_path: Path):
    deals = pl.read_csv(canonical_small_copy / "deals.csv", infer_schema=False)
    deals.with_columns(
        amount=pl.when(pl.col("deal_id") == "D001").then(pl.lit("-5")).otherwise("amount")
    ).write_csv(canonical_small_copy / "deals.csv")
    out = tmp_path / "out"
    assert main(["score", "--input", str(canonical_small_copy), "--out", str(out)]) == 0
    rejects = pl.read_parquet(out / "data_quality_rejects.parquet")
    assert "deal_id=D001" in rejects.filter(pl.col("source_table") == "deals")["row_key"].to_list()
    attribution = pl.read_parquet(out / "pay_attribution.parquet")
    assert "D001" not in attribution.filter(pl.col("origin") == "computed")["deal_id"].to_list()


def test_blocked_run_names_table_and_rule_and_writes_only_the_report(
    canonical_small_copy: Path, tmp_path: Path, capsys
):
    deals = pl.read_csv(canonical_small_copy / "deals.csv", infer_schema=False)
    deals.head(0).write_csv(canonical_small_copy / "deals.csv")
    out = tmp_path / "out"
    assert main(["score", "--input", str(canonical_small_copy), "--out", str(out), "--run-id", "b1"]) == 2
    err = capsys.readouterr().err
    assert "deals" in err and "row_count" in err
    assert (out / "data_quality" / "b1" / "index.html").is_file()
    assert not (out / "plan_scores.parquet").exists()


def test_no_gx_skips_the_report(canonical_small_dir: Path, tmp_path: Path):
    out = tmp_path / "out"
    assert main(["score", "--input", str(canonical_small_dir), "--out", str(out), "--no-gx"]) == 0
    assert (out / "plan_scores.parquet").is_file()
    assert not (out / "data_quality").exists()


def test_no_gx_validates_without_a_callback(canonical_small_dir: Path, tmp_path: Path, monkeypatch):
    """Without GX, validation gets no `on_table_checked`, so it reads each table a few columns at a time
    (`check_scan`), the lower peak, instead of whole for a suite that will not run."""
    import compscore.run

    seen = []
    real = compscore.run.validate_by_table

    def spy(*args, **kwargs):
        seen.append(kwargs.get("on_table_checked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(compscore.run, "validate_by_table", spy)
    score_folder(canonical_small_dir, tmp_path / "off", great_expectations=False)
    score_folder(canonical_small_dir, tmp_path / "on", great_expectations=True)
    assert seen[0] is None and callable(seen[1])


def test_attribution_is_written_batch_by_batch_and_equals_the_whole_table(
    canonical_small_dir: Path, tmp_path: Path
):
    """The CLI streams `pay_attribution` into its output files one batch of reps at a time; one rep per
    batch and every rep in one batch give the same rows, and the CSV copy has one header and every row."""
    one_batch = score_folder(canonical_small_dir, tmp_path / "whole", run_id="r", great_expectations=False)
    score_folder(
        canonical_small_dir, tmp_path / "streamed", run_id="r", great_expectations=False, batch_reps=1
    )
    assert "pay_attribution" in one_batch.written and "pay_attribution" not in one_batch.tables
    whole, streamed = (
        pl.read_parquet(tmp_path / folder / "pay_attribution.parquet").drop("scored_at")
        for folder in ("whole", "streamed")
    )
    whole, streamed = (
        whole.sort(whole.columns, nulls_last=True),
        streamed.sort(whole.columns, nulls_last=True),
    )
    assert whole.height > 5 and whole["rep_id"].n_unique() > 1
    assert streamed.equals(whole)
    csv_lines = (tmp_path / "streamed" / "pay_attribution.csv").read_text().splitlines()
    assert len(csv_lines) == whole.height + 1 and csv_lines.count(csv_lines[0]) == 1


def test_a_failed_background_write_is_raised_and_nothing_is_committed(tmp_path: Path):
    """The streamed table is written on a background thread: a batch that cannot be written (here a
    column whose type differs from the first batch's) must still fail the run at `close`, not vanish."""
    out = tmp_path / "out"
    first = pl.DataFrame({"line_id": ["L1"], "amount": [1.0]})
    wrong = pl.DataFrame({"line_id": ["L2"], "amount": ["not a number"]})
    with pytest.raises(pa.ArrowInvalid), OutputSet(out) as outputs:
        stream = outputs.stream("pay_attribution")
        stream.append(first)
        stream.append(wrong)
        stream.close(first)
        outputs.commit()
    assert not (out / "pay_attribution.parquet").exists()
    assert [p.name for p in out.iterdir()] == []


def test_a_subcommand_imports_only_its_own_module():
    """`compscore score` does not import the other subcommands (the generator's import alone is most of a
    second); with no subcommand named, every one is listed."""
    probe = (
        "import sys; from compscore.cli import build_parser; "
        "build_parser('score'); print('compscore.commands.generate' in sys.modules); "
        "print(sorted(build_parser(None)._subparsers._group_actions[0].choices))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    only_score, every = out.splitlines()
    assert only_score == "False"
    assert every == str(sorted(["generate", "score", "import", "summary", "whatif", "rebalance", "report"]))


def test_the_cli_report_shows_gx_counts_computed_beside_validation(
    canonical_small_copy: Path, tmp_path: Path
):
    """The suites run on a worker thread; the report still shows GX's count of every rule that failed."""
    deals = pl.read_csv(canonical_small_copy / "deals.csv", infer_schema=False)
    deals.with_columns(
        amount=pl.when(pl.col("deal_id") == "D001").then(pl.lit("-5")).otherwise("amount")
    ).write_csv(canonical_small_copy / "deals.csv")
    out = tmp_path / "out"
    assert main(["score", "--input", str(canonical_small_copy), "--out", str(out), "--run-id", "g1"]) == 0
    page = (out / "data_quality" / "g1" / "index.html").read_text()
    assert "<code>ExpectColumnValuesToBeBetween</code>: 1" in page


class _Recorder:
    """A stand-in for `suites.run_rules_from_file`: records the thread, and reads the file it is given only
    once `release` is set (after validation has moved or removed its own files)."""

    def __init__(self):
        self.release = threading.Event()
        self.threads: set[str] = set()
        self.read: dict[str, int] = {}

    def __call__(self, table, rules, source, flags):
        self.threads.add(threading.current_thread().name)
        assert all(r.flag is None or r.flag.__closure__ is None for r in rules)  # detached: no reference data
        assert self.release.wait(timeout=30)
        self.read[table] = pl.read_parquet(source).height
        assert self.read[table] == flags.height
        if table == "referrals":
            raise RuntimeError("GX broke on referrals")
        return [table, source.parent.name]


def test_background_suites_read_their_own_link_of_each_file_off_the_main_thread(
    canonical_small_copy: Path, tmp_path: Path, monkeypatch
):
    recorder = _Recorder()
    monkeypatch.setattr(suites, "run_rules_from_file", recorder)
    with BackgroundSuites(enabled=True, folder=tmp_path / "gx") as background:
        got = validate_by_table(
            canonical_small_copy, "run-bg", tmp_path / "clean", on_table_checked=background.submit
        )
        shutil.rmtree(tmp_path / "clean")  # what the CLI does with the clean tables after batching
        assert not background.done()  # nothing read yet: every suite waits for `release`
        recorder.release.set()
        with pytest.raises(RuntimeError, match="GX broke on referrals"):
            background.outcomes()
    assert recorder.threads and "MainThread" not in recorder.threads
    assert recorder.read == got.received  # every table's rows, read after its spill file was gone
    assert [t.name for t in TABLES if t.name in background._running] == list(background._running)
    assert background._running["deals"].result() == ["deals", "gx"]


def test_background_suites_skip_broken_schemas_run_whole_tables_at_once_and_do_nothing_when_off(
    tmp_path: Path, monkeypatch
):
    checks = validate(corrupt(load_small()).data, "run-bg").checks  # whole tables: no file, no flags
    ran_on: list[str] = []
    monkeypatch.setattr(
        suites, "run_suite", lambda check: ran_on.append(threading.current_thread().name) or [check.table]
    )
    with BackgroundSuites(enabled=True, folder=tmp_path / "gx") as background:
        background.submit(TABLES_BY_NAME["deals"], replace(checks["deals"], schema_ok=False))
        background.submit(TABLES_BY_NAME["reps"], checks["reps"])
        assert background.done() and background.outcomes() == {"reps": ["reps"]}
    assert ran_on == ["MainThread"]  # a whole table is never queued
    with BackgroundSuites(enabled=False, folder=tmp_path / "off") as off:
        off.submit(TABLES_BY_NAME["reps"], checks["reps"])
        assert off.outcomes() == {} and off.done()
    assert not (tmp_path / "off").exists()
