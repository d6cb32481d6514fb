"""90 % bootstrap intervals over reps, with a fixed seed per plan and period (SPEC section 5).

Every score here is a function of per-rep sums, so one resample is a vector of rep weights (how often
each rep was drawn) and a resampled figure is a weighted sum: no Python loop over reps or draws.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

DRAWS = 200
LEVEL = 0.90
SEED = 20261126


WeightSource = Callable[[int, str], np.ndarray]
"""Gives `rep_weights(n_reps, key)`: the function itself, or `WeightsAhead` (the same matrices, drawn
earlier)."""

AHEAD_BYTES = 256 * 2**20
"""How much memory `WeightsAhead` may hold in drawn counts (one byte a count: at 10M statement lines the
48 plan-periods of about 22,000 reps take 211 MiB, all drawn ahead); plan-periods beyond it are drawn when
asked for. At 30M lines (66,000 reps a plan-period, 634 MiB in all), with a budget of 512 MiB, the run
with the GX suites peaked at 11.07 GiB while the tables were cut into batches (10.79 GiB before the draws
ahead): the budget was halved to keep the 30M run's margin under 12 GiB."""


AHEAD_NICENESS = 19
"""The nice value of the thread that draws ahead: the lowest priority, so that it runs on idle cores."""


def key_of(plan_id: str, period: str) -> str:
    """The key a plan-period's draws are seeded with."""
    return f"{plan_id}|{period}"


def rep_weights(n_reps: int, key: str, draws: int = DRAWS, seed: int = SEED) -> np.ndarray:
    """A (draws × n_reps) matrix of resample counts; deterministic for (seed, key)."""
    return _counts(n_reps, key, draws, seed).astype(np.float64)


def _counts(n_reps: int, key: str, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    if n_reps == 0:
        return np.zeros((draws, 0), dtype=np.int64)
    return rng.multinomial(n_reps, np.full(n_reps, 1.0 / n_reps), size=draws)


def _compact_counts(n_reps: int, key: str, draws: int, seed: int) -> np.ndarray:
    """`_counts`, one byte a count when every count fits (a rep drawn 255 times or more out of
    `n_reps` draws is not seen in practice, but then the counts stay as drawn)."""
    counts = _counts(n_reps, key, draws, seed)
    return counts.astype(np.uint8) if counts.size and counts.max() <= np.iinfo(np.uint8).max else counts


def _yield_to_other_threads() -> None:
    """Lower the calling thread's scheduling priority (Linux, where a thread has its own nice value), so
    that it takes only the CPU time the other threads leave (the drawing ahead must not slow the work it
    runs beside); elsewhere, or when not allowed, nothing changes."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), AHEAD_NICENESS)


class WeightsAhead:
    """`rep_weights` of plan-periods known in advance, drawn on a worker thread while other work goes on.

    A plan-period's resamples depend only on its number of reps and its key, and the scoring context's
    rep-period grid gives both before any batch is scored: `draw` hands them to one thread (NumPy's draws
    release the interpreter lock), whose time then falls where Polars leaves a core idle (the cutting
    into batches, the batches) instead of on the reduce, which waits for it. Asked for `(n_reps, key)`,
    it gives the drawn matrix, or draws it then when it was not drawn ahead (another size, past
    `budget_bytes`, or not started yet): the same matrix either way. The thread runs at the lowest
    priority (`AHEAD_NICENESS`): without it, it slowed the cutting into batches by as much as it saved.
    Use as a context manager: leaving cancels the draws not started."""

    def __init__(self, draws: int = DRAWS, seed: int = SEED, budget_bytes: int = AHEAD_BYTES):
        self._draws, self._seed, self._budget = draws, seed, budget_bytes
        self._pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="bootstrap-ahead", initializer=_yield_to_other_threads
        )
        self._ahead: dict[tuple[int, str], Future[np.ndarray]] = {}

    def draw(self, sizes: Iterable[tuple[str, int]]) -> None:
        """Start drawing the counts of each (key, n_reps), in order, while they fit the budget."""
        for key, n_reps in sizes:
            self._budget -= self._draws * n_reps
            if self._budget < 0:
                break
            self._ahead[(n_reps, key)] = self._pool.submit(
                _compact_counts, n_reps, key, self._draws, self._seed
            )

    def __call__(self, n_reps: int, key: str) -> np.ndarray:
        ahead = self._ahead.pop((n_reps, key), None)
        if ahead is None or ahead.cancel():  # not drawn ahead, or not started: drawn here and now
            return rep_weights(n_reps, key, self._draws, self._seed)
        return ahead.result().astype(np.float64)

    def __enter__(self) -> WeightsAhead:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._ahead.clear()


def resampled_sums(weights: np.ndarray, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each column's sum in every resample (a vector of `draws` sums per column).

    One matrix product for all columns: the (draws × n_reps) weights are read once, not once per column
    (that re-reading was most of the bootstrap's time with a dozen columns and tens of thousands of reps).
    """
    names = list(columns)
    if not names:
        return {}
    stacked = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in names])
    products = weights @ stacked
    return {name: products[:, i] for i, name in enumerate(names)}


def interval_of_sums(
    sums: Mapping[str, np.ndarray], statistic: Callable[[Mapping[str, np.ndarray]], np.ndarray]
) -> tuple[float | None, float | None]:
    """The (5th, 95th) percentiles of `statistic` over resampled sums (from `resampled_sums`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = statistic(sums)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None
    tail = (1.0 - LEVEL) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def interval(
    weights: np.ndarray,
    columns: Mapping[str, np.ndarray],
    statistic: Callable[[Mapping[str, np.ndarray]], np.ndarray],
) -> tuple[float | None, float | None]:
    """The (5th, 95th) percentiles of `statistic` (resampled sums -> values) over resamples."""
    if weights.shape[1] == 0:
        return None, None
    return interval_of_sums(resampled_sums(weights, columns), statistic)
