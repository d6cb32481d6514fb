"""`compscore.scoring.bootstrap` at its edges, by hand (SPEC section 5: 90 % interval, 200 draws over reps,
fixed seed): no reps, one rep, resampled sums, a single defined resample, and undefined resamples dropped
without a warning. The 5th/95th percentile arithmetic is in tests/test_scoring_rules.py.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time

import numpy as np
import polars as pl
import pytest

from compscore.scoring import bootstrap
from compscore.scoring.scores import bootstrap_sizes


def test_no_reps_give_an_empty_weight_matrix_and_no_interval():
    weights = bootstrap.rep_weights(0, "p|2026-Q1")
    assert weights.shape == (200, 0)
    assert bootstrap.interval(weights, {"x": np.array([])}, lambda s: s["x"]) == (None, None)


def test_one_rep_is_drawn_once_in_every_resample():
    weights = bootstrap.rep_weights(1, "p|2026-Q1")
    assert np.array_equal(weights, np.ones((200, 1)))
    # Every resample is that rep: the interval is its own value.
    assert bootstrap.interval(weights, {"x": np.array([2.5])}, lambda s: s["x"]) == (2.5, 2.5)


def test_resampled_sums_are_weighted_sums_of_each_column():
    weights = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]])  # rep A twice; A and B; B twice
    sums = bootstrap.resampled_sums(weights, {"x": np.array([3.0, 5.0]), "y": np.array([1, 10])})
    assert list(sums) == ["x", "y"]
    assert sums["x"].tolist() == [6.0, 8.0, 10.0]  # 2·3, 3 + 5, 2·5
    assert sums["y"].tolist() == [2.0, 11.0, 20.0]  # 2·1, 1 + 10, 2·10
    assert bootstrap.resampled_sums(weights, {}) == {}


def test_a_single_defined_resample_is_the_interval():
    # 1 / 1 = 1 and 1 / 0 = inf: only the first resample is defined.
    sums = {"x": np.array([1.0, 0.0])}
    assert bootstrap.interval_of_sums(sums, lambda s: 1.0 / s["x"]) == (1.0, 1.0)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_undefined_resamples_are_dropped_without_a_warning():
    """A resample without deals (0 / 0) or with a zero denominator (x / 0) is left out silently: it must
    not print numpy's divide warnings into every scoring run's log."""
    sums = {"num": np.array([1.0, 0.0, 2.0, 3.0]), "den": np.array([2.0, 0.0, 0.0, 4.0])}
    low, high = bootstrap.interval_of_sums(sums, lambda s: s["num"] / s["den"])  # 0.5, nan, inf, 0.75
    # Linear percentiles of (0.5, 0.75): 0.5 + 0.05 · 0.25 and 0.5 + 0.95 · 0.25.
    assert (low, high) == pytest.approx((0.5125, 0.7375), rel=1e-12)


# --- drawn ahead (`WeightsAhead`) ------------------------------------------------------------------------

_COUNTS = bootstrap._counts


def _direct(n_reps: int, key: str) -> np.ndarray:
    """`rep_weights` as drawn before any test replaced `bootstrap._counts`."""
    return _COUNTS(n_reps, key, bootstrap.DRAWS, bootstrap.SEED).astype(np.float64)


def test_direct_is_rep_weights():
    assert np.array_equal(_direct(30, "p|2026-Q1"), bootstrap.rep_weights(30, "p|2026-Q1"))


SIZES = [("p|2026-Q1", 7), ("p|2026-Q2", 300), ("q|2026-Q1", 0), ("q|2026-Q2", 1)]


class _RecordedDraws:
    """`bootstrap._counts` that records who drew what, and can hold a draw until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hold: str | None = None):
        self.draws: list[tuple[int, str, str]] = []
        self.release = threading.Event()
        self._hold, self._counts = hold, bootstrap._counts
        monkeypatch.setattr(bootstrap, "_counts", self)

    def __call__(self, n_reps: int, key: str, draws: int, seed: int) -> np.ndarray:
        if key == self._hold:
            assert self.release.wait(timeout=30)
        self.draws.append((n_reps, key, threading.current_thread().name))
        return self._counts(n_reps, key, draws, seed)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.draws) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.draws) >= count


def test_weights_drawn_ahead_are_the_weights_drawn_when_asked(monkeypatch):
    expected = {(n, key): _direct(n, key) for key, n in SIZES}
    recorded = _RecordedDraws(monkeypatch)
    with bootstrap.WeightsAhead() as weights:
        weights.draw(SIZES)
        recorded.wait_for(len(SIZES))
        for key, n in SIZES:
            got = weights(n, key)
            assert got.dtype == np.float64 and np.array_equal(got, expected[(n, key)]), key
    assert sorted((n, key) for n, key, _thread in recorded.draws) == sorted(expected)  # each drawn once
    assert {thread for *_size, thread in recorded.draws} == {"bootstrap-ahead_0"}


def test_a_draw_not_started_is_drawn_by_the_caller_and_not_again(monkeypatch):
    recorded = _RecordedDraws(monkeypatch, hold="p|2026-Q1")
    with bootstrap.WeightsAhead() as weights:
        weights.draw(SIZES[:2])  # the worker is held on the first: the second has not started
        assert np.array_equal(weights(300, "p|2026-Q2"), _direct(300, "p|2026-Q2"))
        recorded.release.set()
        assert np.array_equal(weights(7, "p|2026-Q1"), _direct(7, "p|2026-Q1"))
    by_thread = {key: thread for _n, key, thread in recorded.draws}
    assert by_thread == {"p|2026-Q2": "MainThread", "p|2026-Q1": "bootstrap-ahead_0"}
    assert len(recorded.draws) == 2


def test_another_size_or_key_is_drawn_when_asked(monkeypatch):
    recorded = _RecordedDraws(monkeypatch)
    with bootstrap.WeightsAhead() as weights:
        weights.draw([("k", 5)])
        recorded.wait_for(1)
        assert np.array_equal(weights(6, "k"), _direct(6, "k"))
        assert np.array_equal(weights(5, "other"), _direct(5, "other"))
        assert np.array_equal(weights(5, "k"), _direct(5, "k"))
    assert [(n, key) for n, key, _thread in recorded.draws] == [(5, "k"), (6, "k"), (5, "other")]


@pytest.mark.parametrize(("budget", "ahead"), [(200 * 10, ["a"]), (200 * 10 - 1, []), (200 * 20, ["a", "b"])])
def test_only_what_fits_the_budget_is_drawn_ahead(monkeypatch, budget, ahead):
    """One byte a count, 200 draws: a plan-period of 10 reps takes 2,000 bytes."""
    recorded = _RecordedDraws(monkeypatch)
    with bootstrap.WeightsAhead(budget_bytes=budget) as weights:
        weights.draw([("a", 10), ("b", 10)])
        recorded.wait_for(len(ahead))
        time.sleep(0.05)
        assert [key for _n, key, _thread in recorded.draws] == ahead
        for key in ("a", "b"):
            assert np.array_equal(weights(10, key), _direct(10, key))


@pytest.mark.parametrize(("largest", "dtype"), [(255, np.uint8), (256, np.int64)])
def test_counts_are_kept_in_one_byte_only_when_they_fit(monkeypatch, largest, dtype):
    monkeypatch.setattr(bootstrap, "_counts", lambda *_args: np.array([[largest, 0], [1, 2]], dtype=np.int64))
    counts = bootstrap._compact_counts(2, "k", 2, 1)
    assert counts.dtype == dtype and counts.tolist() == [[largest, 0], [1, 2]]


def test_bootstrap_sizes_count_the_grid_by_plan_and_period():
    """Plans and periods given out of order come back in plan, then period order (the order they are
    drawn in, so that the budget keeps the first)."""
    quarters = [dt.date(2026, month, 1) for month in (10, 7, 4, 1)]
    rows = [("r1", "b", start) for start in quarters] + [("r2", "b", quarters[2]), ("r3", "a", quarters[3])]
    grid = pl.DataFrame(rows, schema=["rep_id", "plan_id", "period_start"], orient="row").with_columns(
        period=pl.format("2026-Q{}", pl.col("period_start").dt.quarter())
    )
    assert bootstrap_sizes(grid) == [
        ("a|2026-Q1", 1),
        ("b|2026-Q1", 1),
        ("b|2026-Q2", 2),
        ("b|2026-Q3", 1),
        ("b|2026-Q4", 1),
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="a thread has its own nice value on Linux only")
def test_the_thread_drawing_ahead_yields_to_the_others():
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = niceness()
    with bootstrap.WeightsAhead() as weights:
        found = weights._pool.submit(niceness).result()
    assert found == max(before, bootstrap.AHEAD_NICENESS) and niceness() == before


def test_draws_and_seed_are_the_ones_given(monkeypatch):
    recorded = _RecordedDraws(monkeypatch)
    expected = {n: _COUNTS(n, "k", 50, 7).astype(np.float64) for n in (4, 9)}
    with bootstrap.WeightsAhead(draws=50, seed=7) as weights:
        weights.draw([("k", 4)])
        recorded.wait_for(1)
        assert np.array_equal(weights(4, "k"), expected[4])  # drawn ahead
        assert np.array_equal(weights(9, "k"), expected[9])  # drawn when asked
    assert not np.array_equal(expected[4], _direct(4, "k")[:50])


def test_leaving_waits_for_the_draw_under_way_and_cancels_the_rest(monkeypatch):
    recorded = _RecordedDraws(monkeypatch, hold="p|2026-Q1")
    releasing = threading.Timer(0.2, recorded.release.set)
    with bootstrap.WeightsAhead() as weights:
        weights.draw(SIZES)
        releasing.start()
    assert [key for _n, key, _thread in recorded.draws] == ["p|2026-Q1"]
    time.sleep(0.1)
    assert len(recorded.draws) == 1
