"""The foreign-key lookup on hashes (`_absent_positions`): exact whatever the hash, collisions included."""

from __future__ import annotations

import polars as pl
import pytest

from compscore.quality.rules import _absent_positions

VALUES = pl.Series("account_id", ["A1", None, "A9", "A2", "A9", "B22", "a1", "A10"])
KNOWN = pl.Series("account_id", ["A1", "A2", "A2", None, "B23", "A10", "C7"])
# Absent: A9 (twice, at 2 and 4), B22 (5: B23 is known, same length), a1 (6: case matters); the null at 1
# is not a foreign-key failure (not-null is another rule).
ABSENT = [2, 4, 5, 6]


def by_length(text: pl.Expr) -> pl.Expr:
    """A hash that collides all the time: every id of the same length meets every known one."""
    return text.str.len_bytes().cast(pl.UInt64)


@pytest.mark.parametrize("hash_of", [pl.Expr.hash, by_length], ids=["hash", "colliding"])
def test_absent_values_are_found_exactly(hash_of):
    assert sorted(_absent_positions(VALUES, KNOWN, hash_of).to_list()) == ABSENT


def test_every_value_colliding_with_an_unequal_known_one_is_still_absent():
    values = pl.Series("deal_id", ["D1", "D2", "D3"])
    known = pl.Series("deal_id", ["X1", "D2"])  # all of length 2: every value collides with X1
    assert sorted(_absent_positions(values, known, by_length).to_list()) == [0, 2]


def test_nothing_absent_and_nothing_known():
    assert _absent_positions(pl.Series("r", ["R1", "R1"]), pl.Series("r", ["R1"])).to_list() == []
    assert sorted(_absent_positions(pl.Series("r", ["R1", None]), pl.Series("r", [], pl.String))) == [0]


def test_a_single_candidate_that_collides_but_is_known_is_not_absent():
    # A1 meets A2 (same length, so the same colliding hash) as well as A1: the one candidate row is
    # checked on its text, and A1 is known.
    assert _absent_positions(pl.Series("a", ["A1"]), pl.Series("a", ["A2", "A1"]), by_length).to_list() == []
