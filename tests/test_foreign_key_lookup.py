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


@pytest.mark.parametrize("rows_per_pass", [1, 2, 3, 6, 7])
@pytest.mark.parametrize("hash_of", [pl.Expr.hash, by_length], ids=["hash", "colliding"])
def test_known_values_joined_in_passes_find_the_same_rows(hash_of, rows_per_pass):
    # KNOWN has 7 values (one null): 7 passes of one value, 3 of up to three, one pass at 7. Each pass
    # joins one residue class of the hashes; a value and its known copy share a class, so none is lost.
    found = _absent_positions(VALUES, KNOWN, hash_of, known_rows_per_pass=rows_per_pass)
    assert sorted(found.to_list()) == ABSENT


def test_a_known_value_in_a_later_pass_is_found_there():
    # Five passes over 40 known ids: whichever residue class "K39" hashes to, its one referring row meets
    # it, and the two ids nobody knows are absent.
    known = pl.Series("k", [f"K{i}" for i in range(40)])
    values = pl.Series("k", ["K39", "Z1", "K0", "Z2"])
    assert sorted(_absent_positions(values, known, known_rows_per_pass=8).to_list()) == [1, 3]
