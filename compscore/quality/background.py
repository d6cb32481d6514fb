"""GX suites on a worker thread, beside validation and scoring: what `compscore score` runs (`compscore.run`).

The Dagster pipeline runs its suites in their own step (`checks/asset_checks.py`); this is the one-process
path's way to overlap them with the rest of the run.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from compscore.quality.by_table import link_or_copy
from compscore.quality.evaluate import TableCheck
from compscore.safe_ids import checked_id
from compscore.schema import TABLES, Table

if TYPE_CHECKING:
    from compscore.quality.suites import ExpectationOutcome


class BackgroundSuites:
    """Each checked table's GX suite, run on one worker thread while validation, batching and scoring go on;
    a no-op when `enabled` is false (`--no-gx`).

    GX is Python and pandas and holds the interpreter lock most of its time; the rules and the scoring are
    Polars, which releases it. Run between tables, the suites added their whole time to the run; beside
    them, they take what the core Polars leaves (docs/performance.md, session 10). Memory: a check handed
    over is every row's flag columns (booleans) and the file the table was read from (`check_scan` with a
    callback); the worker reads that file a chunk at a time (`suites.run_rules_from_file`) through its own
    hard link in `folder` (a copy where the file system has no links), since validation moves or removes
    the file once the callback returns; the rules go with their flag functions `detached` (those hold the
    key columns of the tables they refer to). A check without a file (a whole `flagged` table) is run at
    once, on the caller's thread, so no whole table is queued.

    GX is imported on the worker's first table, not at module level: it costs about 340 MB and seconds to
    import (STACK.md), and `--no-gx` runs should not pay for it. A suite that raises fails the run when its
    outcomes are asked for (as it did when the suites ran between tables)."""

    def __init__(self, enabled: bool, folder: Path):
        self.enabled = enabled
        self._folder = folder
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gx-suites") if enabled else None
        self._running: dict[str, Future[list[ExpectationOutcome]]] = {}

    def submit(self, spec: Table, check: TableCheck) -> None:
        """Queue `check`'s suite, when its schema let its rules run."""
        if self._pool is None or not check.schema_ok:
            return
        from compscore.quality.suites import detached, run_rules_from_file, run_suite

        if check.flags is None or check.source is None:
            done: Future[list[ExpectationOutcome]] = Future()
            done.set_result(run_suite(check))
            self._running[spec.name] = done
            return
        kept = self._keep(check.source, checked_id("table", spec.name))
        self._running[spec.name] = self._pool.submit(
            run_rules_from_file, check.table, detached(check.rules), kept, check.flags
        )

    def _keep(self, source: Path, name: str) -> Path:
        """The worker's own link to `source`, which stays readable when validation moves or removes it."""
        self._folder.mkdir(parents=True, exist_ok=True)
        kept = self._folder / f"{name}.parquet"
        kept.unlink(missing_ok=True)
        link_or_copy(source, kept)
        return kept

    def done(self) -> bool:
        return all(future.done() for future in self._running.values())

    def outcomes(self) -> dict[str, list[ExpectationOutcome]]:
        """Every suite's outcomes by table, in `TABLES` order, once all have run."""
        return {t.name: self._running[t.name].result() for t in TABLES if t.name in self._running}

    def __enter__(self) -> BackgroundSuites:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Drop the suites not started; wait for the one running (a thread cannot be stopped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
