"""Joins on text ids by their hashes (`compscore.text_keys`): the text join's rows, whatever the hash."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compscore.text_keys import left_join_on_unique_text


def first_letter(text: pl.Expr) -> pl.Expr:
    """A hash that collides on purpose: ids of the same first letter hash alike."""
    return text.str.slice(0, 1).hash()


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(pl.all(), nulls_last=True)


def _text_join(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    return left.join(right, on="deal_id", how="left")


LEFT = pl.DataFrame(
    {
        "line_id": ["L1", "L2", "L3", "L4", "L5"],
        "deal_id": ["a1", "a2", None, "d1", "b1"],
    }
)
RIGHT = pl.DataFrame(
    {
        "deal_id": ["a1", "b1", "c1"],
        "deal_type": ["renewal", "new_business", "expansion"],
        "amount": [1.0, 2.0, 3.0],
    }
)


@pytest.mark.parametrize("hash_of", [pl.Expr.hash, first_letter], ids=["hash", "colliding"])
def test_each_line_meets_its_own_deal_and_no_other(hash_of):
    joined = left_join_on_unique_text(LEFT.lazy(), RIGHT, "deal_id", hash_of).collect()
    assert joined.columns == ["line_id", "deal_id", "deal_type", "amount"]
    by_line = {row["line_id"]: (row["deal_type"], row["amount"]) for row in joined.iter_rows(named=True)}
    # a2 hashes as a1 under `first_letter` but is not a1: no deal, as in the text join; a null id meets
    # nothing; d1 is absent.
    assert by_line == {
        "L1": ("renewal", 1.0),
        "L2": (None, None),
        "L3": (None, None),
        "L4": (None, None),
        "L5": ("new_business", 2.0),
    }


def test_ids_that_hash_alike_on_the_right_are_joined_on_the_text():
    right = pl.DataFrame({"deal_id": ["a1", "a2"], "deal_type": ["renewal", "expansion"]})
    joined = left_join_on_unique_text(LEFT.lazy(), right, "deal_id", first_letter).collect()
    assert _sorted(joined).equals(_sorted(_text_join(LEFT, right)))
    assert joined.filter(pl.col("line_id") == "L2").get_column("deal_type").to_list() == ["expansion"]


def test_a_repeated_right_id_gives_each_of_its_rows_as_the_text_join_does():
    right = pl.DataFrame({"deal_id": ["a1", "a1"], "deal_type": ["renewal", "expansion"]})
    joined = left_join_on_unique_text(LEFT.lazy(), right, "deal_id").collect()
    assert joined.height == LEFT.height + 1
    assert _sorted(joined).equals(_sorted(_text_join(LEFT, right)))


_IDS = st.sampled_from(["a1", "a2", "a3", "b1", "b2", "c1", "z9"])


@settings(max_examples=60, deadline=None)
@given(
    left_ids=st.lists(st.one_of(st.none(), _IDS), max_size=12),
    right_ids=st.lists(_IDS, max_size=7, unique=True),
    colliding=st.booleans(),
)
def test_the_same_rows_as_the_text_join(left_ids, right_ids, colliding):
    left = pl.DataFrame(
        {"pos": range(len(left_ids)), "deal_id": left_ids}, schema_overrides={"deal_id": pl.String}
    )
    right = pl.DataFrame(
        {"deal_id": right_ids, "value": [float(i) for i in range(len(right_ids))]},
        schema_overrides={"deal_id": pl.String},
    )
    hash_of = first_letter if colliding else pl.Expr.hash
    joined = left_join_on_unique_text(left.lazy(), right, "deal_id", hash_of).collect()
    assert _sorted(joined).equals(_sorted(_text_join(left, right)))
