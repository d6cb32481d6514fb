"""90 % bootstrap intervals over reps, with a fixed seed per plan and period (SPEC section 5).

Every score here is a function of per-rep sums, so one resample is a vector of rep weights (how often
each rep was drawn) and a resampled figure is a weighted sum: no Python loop over reps or draws.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping

import numpy as np

DRAWS = 200
LEVEL = 0.90
SEED = 20261126


def rep_weights(n_reps: int, key: str, draws: int = DRAWS, seed: int = SEED) -> np.ndarray:
    """A (draws × n_reps) matrix of resample counts; deterministic for (seed, key)."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    if n_reps == 0:
        return np.zeros((draws, 0))
    return rng.multinomial(n_reps, np.full(n_reps, 1.0 / n_reps), size=draws).astype(np.float64)


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
