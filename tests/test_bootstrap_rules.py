"""`compscore.scoring.bootstrap` at its edges, by hand (SPEC section 5: 90 % interval, 200 draws over reps,
fixed seed): no reps, one rep, resampled sums, a single defined resample, and undefined resamples dropped
without a warning. The 5th/95th percentile arithmetic is in tests/test_scoring_rules.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from compscore.scoring import bootstrap


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
