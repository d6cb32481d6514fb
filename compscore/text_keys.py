"""Joins on text ids by their 64-bit hashes, checked against the text so that the result is exact.

Polars joins on text keys several times slower than on whole numbers: at 10M statement lines, a batch's
1.13M lines joined on `deal_id` to its 2.07M deals took 0.51 s, the same join on a hash of the ids 0.20 s,
hashing both sides included (docs/performance.md, "Issue 9, session 13"). A hash alone could pair a line
with another deal whose id hashes the same, so the join keeps the matched row's own id and compares texts.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

HashOf = Callable[[pl.Expr], pl.Expr]
_HASH = "__text_key_hash"
_MATCHED = "__text_key_matched"


def text_hash(column: str, hash_of: HashOf = pl.Expr.hash) -> pl.Expr:
    """`hash_of` of the text in `column`, null where the text is: a null id must meet nothing, and a
    hash of null is a number that could meet a hashed id."""
    return pl.when(pl.col(column).is_not_null()).then(hash_of(pl.col(column)))


def left_join_on_unique_text(
    left: pl.LazyFrame, right: pl.DataFrame, on: str, hash_of: HashOf = pl.Expr.hash
) -> pl.LazyFrame:
    """`left.join(right, on=on, how="left")` for a `right` in which every `on` value is unique.

    Joined on `hash_of` of the text. When two of `right`'s ids hash alike (or an id repeats), the join is
    on the text instead. Otherwise each left row meets at most one right row, and it is its own row
    exactly when the texts are equal: where they differ (a collision with an id `right` does not hold) the
    right row's columns are set to null, as the text join leaves them. A null id meets nothing. Rows come
    in no particular order, as with Polars' join. (`hash_of` is for tests, which pass one that collides.)
    """
    hashed = right.with_columns(hash_of(pl.col(on)).alias(_HASH))
    if hashed.get_column(_HASH).n_unique() < right.height:
        return left.join(right.lazy(), on=on, how="left")
    carried = [c for c in right.columns if c != on]
    same_text = (pl.col(on) == pl.col(_MATCHED)).fill_null(False)
    return (
        left.with_columns(text_hash(on, hash_of).alias(_HASH))
        .join(hashed.lazy().rename({on: _MATCHED}), on=_HASH, how="left")
        .with_columns(pl.when(same_text).then(pl.col(c)).alias(c) for c in carried)
        .drop(_HASH, _MATCHED)
    )
