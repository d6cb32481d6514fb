"""Compare two folders of `compscore score` output tables: same tables, schemas, rows and values.

    python benchmarks/compare_outputs.py REF_DIR NEW_DIR

Every `<table>.parquet` of REF_DIR must be in NEW_DIR with the same columns and dtypes and the same number
of rows. Both sides are sorted by their non-float columns (strings, integers, dates, booleans) and then by
their floats, so that row order does not matter. Non-float columns must be equal exactly (nulls in the same
places); float columns must have nulls in the same places and values equal, or within 1e-9 relative
(differences under 1e-12 pass: float noise around zero). For every float column the largest absolute and
relative difference and the difference of the column sums are printed. Exit code 0 when every table
matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_FLOOR = 1e-12
"""Differences below this are float noise around zero (e.g. 3.9e-16 against 0), where the relative
difference means nothing."""
IGNORED = ("run_id", "scored_at")
"""Columns that differ from run to run by design: the run id of a CLI run is random, and the provenance
column `scored_at` is the time of scoring (`source` and `as_of` are compared)."""


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    exact = [c for c, t in df.schema.items() if not t.is_float()]
    floats = [c for c, t in df.schema.items() if t.is_float()]
    return df.sort([*exact, *floats], nulls_last=True, maintain_order=True)


def _float_report(name: str, ref: pl.Series, new: pl.Series) -> tuple[bool, str]:
    if not ref.is_null().equals(new.is_null()):
        return False, f"{name}: nulls in different rows"
    both = pl.DataFrame({"a": ref, "b": new}).drop_nulls()
    stats = both.select(
        same=((pl.col("a") == pl.col("b")) | (pl.col("a").is_nan() & pl.col("b").is_nan())).all(),
        abs_diff=(pl.col("a") - pl.col("b")).abs().max(),
        rel_diff=(
            (pl.col("a") - pl.col("b")).abs()
            / pl.max_horizontal(
                pl.col("a").abs(), pl.col("b").abs(), pl.lit(ABSOLUTE_FLOOR / RELATIVE_TOLERANCE)
            )
        )
        .fill_nan(0.0)
        .max(),
        sum_diff=pl.col("a").sum() - pl.col("b").sum(),
    ).row(0, named=True)
    if stats["same"] or both.height == 0:
        return True, f"{name}: identical"
    ok = (stats["rel_diff"] or 0.0) <= RELATIVE_TOLERANCE
    return ok, (
        f"{name}: max |diff| {stats['abs_diff']:.3g}, max relative {stats['rel_diff']:.3g}, "
        f"sum diff {stats['sum_diff']:.3g}{'' if ok else '  <-- over 1e-9'}"
    )


def compare_table(name: str, ref: pl.DataFrame, new: pl.DataFrame) -> tuple[bool, list[str]]:
    """Whether `new` equals `ref` as described in the module notes, and one line per finding."""
    ref, new = ref.drop(IGNORED, strict=False), new.drop(IGNORED, strict=False)
    if ref.schema != new.schema:
        return False, [f"schema differs:\n    ref {dict(ref.schema)}\n    new {dict(new.schema)}"]
    if ref.height != new.height:
        return False, [f"rows differ: ref {ref.height:,}, new {new.height:,}"]
    ref, new = _sorted(ref), _sorted(new)
    ok, lines = True, []
    for column, dtype in ref.schema.items():
        if dtype.is_float():
            same, line = _float_report(column, ref[column], new[column])
        else:
            same = ref[column].equals(new[column], check_names=True)
            line = f"{column}: {'equal' if same else 'DIFFERENT'}"
        ok &= same
        if not same or dtype.is_float():
            lines.append(line)
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ref", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    all_ok = True
    for ref_file in sorted(args.ref.glob("*.parquet")):
        new_file = args.new / ref_file.name
        if not new_file.exists():
            print(f"{ref_file.stem}: MISSING in {args.new}")
            all_ok = False
            continue
        ok, lines = compare_table(ref_file.stem, pl.read_parquet(ref_file), pl.read_parquet(new_file))
        all_ok &= ok
        print(f"{ref_file.stem}: {'OK' if ok else 'DIFFERS'}")
        for line in lines:
            print(f"  {line}")
    extra = sorted(
        {p.name for p in args.new.glob("*.parquet")} - {p.name for p in args.ref.glob("*.parquet")}
    )
    for name in extra:
        print(f"{name}: only in {args.new}")
    print("ALL EQUAL" if all_ok and not extra else "DIFFERENCES FOUND")
    return 0 if all_ok and not extra else 1


if __name__ == "__main__":
    sys.exit(main())
