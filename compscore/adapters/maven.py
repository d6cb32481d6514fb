"""The Maven Analytics CRM dataset -> canonical tables (shipped mapping `mappings/maven.yaml`).

The dataset has no deal types, churn, referrals or commission data. What this adapter derives, and why:

- **Deal types** from each account's history (`core.derive_deal_types`): the first won deal is new
  business, later won deals are expansion (the dataset's repeat purchases of other products grow the
  account; nothing in it is a contract renewal, so no deal is typed `renewal`).
- **Amounts**: a won deal's `close_value`. Lost deals carry 0 and open ones nothing, so their amount is
  the product's list price from products.csv: the value that was at stake.
- **Churn**: an account whose last won deal closed more than `churn_silent_days` (90) before the last
  close in the data has churned, on the day the silence reached that length, losing its won amount of
  the 365 days before its last deal. With the shipped data no account qualifies: every account wins a
  deal in the last 90 days.
- **Referrals**: none can be derived (no lead sources).

Known defects are kept visible as findings (rows kept, defect described): the pipeline's product `GTXPro`
is `GTX Pro` in the price list (matched ignoring spaces and case), and the misspelt sector `technolgy`
(corrected to `technology` by the mapping's `value_fixes`). Open rows without an account or an engage
date cannot be canonical deals and become rejects.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from compscore.adapters.core import (
    ImportResult,
    MappedSource,
    empty_rejects,
    finish,
    issue_rows,
    map_exports,
    write_result,
)
from compscore.adapters.errors import SourceError, SourceIssue
from compscore.adapters.mapping import SourceMapping, default_mapping_path, load_mapping
from compscore.adapters.readers import LINE, find_file, read_export
from compscore.adapters.transform import parse_money

YEAR_DAYS = 365


def _normalised(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all(r"\s+", "").str.to_lowercase()


def _price_list(
    folder: Path, mapping: SourceMapping, price_cols: dict[str, str]
) -> tuple[Path, pl.DataFrame]:
    """The products price list: its path and rows. A record with the wrong number of fields fails the
    import, as a missing column does: a product left out would misprice every deal of it."""
    path = find_file(folder, mapping.files["products"])
    if path is None:
        raise SourceError([SourceIssue(str(folder), None, None, None, "no products.csv price list found")])
    price_list = read_export(path)
    missing = [c for c in price_cols.values() if c not in price_list.frame.columns]
    if missing or price_list.misshapen:
        raise SourceError(
            [SourceIssue(str(path), 1, c, None, "required price-list column is missing") for c in missing]
            + price_list.shape_issues()
        )
    return path, price_list.frame


def price_deals(
    mapped: MappedSource, mapping: SourceMapping, folder: Path
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give open and lost deals their product's list price; report products the price list lacks.

    Returns (deals, findings). A product found in the price list only when spaces and case are ignored
    (`GTXPro` for `GTX Pro`) is priced and reported as `product_not_in_price_list`; one not found at all
    keeps its `close_value` (null for open deals, so the row is rejected later) and is reported too.
    """
    opts: dict[str, Any] = dict(mapping.options)
    price_cols = opts.get("price_list", {"product": "product", "price": "sales_price"})
    pipeline = mapped.exports[mapping.tables["deals"].source_object]
    products_path, products = _price_list(folder, mapping, price_cols)
    prices = products.select(
        _normalised(pl.col(price_cols["product"])).alias("__norm"),
        pl.col(price_cols["product"]).alias("__listed"),
        parse_money(pl.col(price_cols["price"])).alias("__price"),
    )
    product = opts.get("product_column", "product")
    deals = (
        mapped.tables["deals"]
        .join(pipeline.frame.select(LINE, pl.col(product).alias("__product")), on=LINE, how="left")
        .with_columns(_normalised(pl.col("__product")).alias("__norm"))
        .join(prices, on="__norm", how="left")
    )
    mismatch = pl.col("__product").is_not_null() & (
        pl.col("__listed").is_null() | (pl.col("__listed") != pl.col("__product"))
    )
    detail = (
        pl.when(pl.col("__listed").is_null())
        .then(
            pl.lit("product is not in the price list ")
            + pl.lit(products_path.name)
            + pl.lit("; no list price")
        )
        .otherwise(
            pl.lit("product is not in the price list as written; matched '")
            + pl.col("__listed")
            + pl.lit("' ignoring spaces and case")
        )
    )
    findings = issue_rows(
        deals.filter(mismatch), "deals", "product_not_in_price_list", product, pl.col("__product"), detail
    )
    priced = deals.with_columns(
        pl.when(pl.col("stage") != "won")
        .then(pl.coalesce("__price", "amount"))
        .otherwise(pl.col("amount"))
        .alias("amount")
    ).drop("__product", "__norm", "__listed", "__price")
    return priced, findings


def fix_values(mapped: MappedSource, mapping: SourceMapping) -> pl.DataFrame:
    """Apply the mapping's `value_fixes` (`table.column: {wrong: right}`); one finding per fixed row."""
    findings = [empty_rejects()]
    for target, fixes in dict(mapping.options.get("value_fixes") or {}).items():
        table, column = str(target).split(".", 1)
        frame = mapped.tables[table]
        wrong = pl.col(column).is_in(list(fixes))
        fixed = pl.col(column).replace(dict(fixes))
        findings.append(
            issue_rows(
                frame.filter(wrong),
                table,
                "misspelt_value",
                column,
                pl.col(column),
                pl.lit("known misspelling; corrected to '") + fixed + pl.lit("'"),
            )
        )
        mapped.tables[table] = frame.with_columns(fixed.alias(column))
    return pl.concat(findings)


def derive_churn(deals: pl.DataFrame, silent_days: int) -> pl.DataFrame:
    """Accounts whose won deals stop more than `silent_days` before the data's last close (see module)."""
    won = deals.filter((pl.col("stage") == "won") & pl.col("close_date").is_not_null())
    if won.is_empty():
        return won.select("account_id", pl.col("close_date").alias("churn_date"))
    as_of = won["close_date"].max()
    assert isinstance(as_of, dt.date)
    last = won.group_by("account_id").agg(pl.col("close_date").max().alias("__last"))
    recent = (
        won.join(last, on="account_id")
        .filter(pl.col("close_date") > pl.col("__last") - pl.duration(days=YEAR_DAYS))
        .group_by("account_id")
        .agg(pl.col("amount").sum().alias("lost_amount"), pl.col("__last").first())
    )
    return recent.filter(pl.col("__last") < pl.lit(as_of) - pl.duration(days=silent_days)).select(
        "account_id",
        (pl.col("__last") + pl.duration(days=silent_days)).alias("churn_date"),
        "lost_amount",
        pl.lit(f"no won deal for {silent_days} days (derived by the Maven adapter)").alias("reason"),
    )


def import_maven(
    location: str | Path,
    out: str | Path | None = None,
    *,
    mapping_path: str | Path | None = None,
    plans_dir: str | Path | None = None,
    assignments_csv: str | Path | None = None,
) -> ImportResult:
    """Map the Maven CRM folder (sales_pipeline, accounts, products, sales_teams) to canonical data.

    With `out`, also write the canonical folder there (`core.write_result`). Without `plans_dir`, the
    mapping's `options.plans_dir` (the example plans in examples/maven/plans, relative to the mapping
    file) is used.
    """
    path = Path(mapping_path or default_mapping_path("maven"))
    mapping = load_mapping(path)
    folder = Path(location)
    mapped = map_exports(mapping, folder)
    deals, product_findings = price_deals(mapped, mapping, folder)
    mapped.tables["deals"] = deals
    value_findings = fix_values(mapped, mapping)
    silent_days = int(mapping.options.get("churn_silent_days", 90))
    churn = derive_churn(deals, silent_days)
    if plans_dir is None and mapping.options.get("plans_dir"):
        plans_dir = (path.parent / str(mapping.options["plans_dir"])).resolve()
    result = finish(
        mapping,
        mapped,
        plans_dir=plans_dir,
        assignments_csv=assignments_csv,
        extra_findings=pl.concat([value_findings, product_findings]),
        extra_tables={"churn_events": churn},
    )
    result.warnings.append(
        f"{churn.height} account(s) derived as churned (no won deal in the data's last {silent_days} days)"
    )
    if out is not None:
        write_result(result, out)
    return result
