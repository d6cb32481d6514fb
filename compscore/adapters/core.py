"""The steps every file adapter shares: read the exports a mapping names, map them, and finish the
canonical tables (deal types from account history, rows missing required values set aside as rejects,
tables the export lacks derived from the deals, referrals from referral lead sources, plan assignments).
A CSV record the reader set aside for its number of fields (`readers.MisshapenRecord`) is a reject of
every table its file feeds (rule `row_shape`, as the canonical loader's), so received = kept + rejected.

Adapters (`salesforce`, `hubspot`, `maven`) are this pipeline with their shipped mapping and, for Maven,
a few dataset-specific steps. Everything is vectorised over rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from compscore.adapters.errors import SourceError, SourceIssue
from compscore.adapters.incremental import TableSync
from compscore.adapters.mapping import PlanAssignmentRule, SourceMapping
from compscore.adapters.readers import LINE, ExportFile, find_file, read_export
from compscore.adapters.transform import map_table, parse_date, salesforce_id18
from compscore.canonical_io import Format, write_canonical_dir
from compscore.dataset import CanonicalData
from compscore.plans import Plan, read_plans
from compscore.schema import DATA_QUALITY_REJECTS, TABLES_BY_NAME, conform

FILE = "__file"
REFERRING_ACCOUNT = "__referring_account"
REJECTS_SCHEMA = DATA_QUALITY_REJECTS.polars_schema


@dataclass
class ImportResult:
    """What an adapter produced: the canonical data, and every source row it set aside or flagged.

    `rejects` are rows left out of the canonical tables; `findings` are rows kept, with a defect worth
    knowing (a misspelt value, a product missing from the price list). Both have the columns of
    `compscore.schema.DATA_QUALITY_REJECTS`.
    """

    data: CanonicalData
    rejects: pl.DataFrame
    findings: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    syncs: list[TableSync] = field(default_factory=list)
    """Incremental reads only (`compscore.adapters.incremental`): what each table read did."""
    watermarks: dict[str, str] = field(default_factory=dict)
    """Incremental reads only: table -> the watermark to pass to the next read."""


@dataclass
class MappedSource:
    """Canonical-shaped frames straight from the exports, each row still carrying `__file` and `__line`."""

    tables: dict[str, pl.DataFrame]
    exports: dict[str, ExportFile]
    """Export files read, by source object name (for adapter-specific extra columns)."""
    blank_masks: dict[tuple[str, str], pl.Series]
    warnings: list[str]
    rejects: pl.DataFrame = field(default_factory=lambda: empty_rejects())
    """Records of the exports left unread for their shape (`shape_rejects`), by the tables they feed."""


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTS_SCHEMA)


def shape_rejects(export: ExportFile, table: str) -> pl.DataFrame:
    """One reject (rule `row_shape`) per record of `export` set aside for its number of fields, written as
    the canonical loader writes them: the record was never split into cells, so its key is its line."""
    records = export.misshapen
    n = len(records)
    return pl.DataFrame(
        {
            "source_table": [table] * n,
            "source_file": [export.name] * n,
            "source_line": [r.line for r in records],
            "row_key": [f"<unparsed row at line {r.line}>" for r in records],
            "rule": ["row_shape"] * n,
            "columns": [None] * n,
            "offending_values": [r.text for r in records],
            "detail": [r.detail for r in records],
            "run_id": [None] * n,
        },
        schema=REJECTS_SCHEMA,
    )


def issue_rows(
    frame: pl.DataFrame,
    table: str,
    rule: str,
    columns: str,
    offending: pl.Expr,
    detail: pl.Expr | str,
) -> pl.DataFrame:
    """One DATA_QUALITY_REJECTS row per row of `frame` (which carries `__file`, `__line`)."""
    spec = TABLES_BY_NAME[table]
    key_cols = spec.key or tuple(spec.required_columns)
    parts: list[pl.Expr] = []
    for i, name in enumerate(key_cols):
        value = (
            pl.col(name).cast(pl.String).fill_null("<null>") if name in frame.columns else pl.lit("<absent>")
        )
        parts += [pl.lit(f"{', ' if i else ''}{name}="), value]
    return frame.select(
        pl.lit(table).alias("source_table"),
        pl.col(FILE).alias("source_file"),
        pl.col(LINE).cast(pl.Int64).alias("source_line"),
        pl.concat_str(parts).alias("row_key"),
        pl.lit(rule).alias("rule"),
        pl.lit(columns).alias("columns"),
        offending.cast(pl.String).alias("offending_values"),
        (pl.lit(detail) if isinstance(detail, str) else detail).alias("detail"),
        pl.lit(None, dtype=pl.String).alias("run_id"),
    )


def _folder_issue(folder: Path, what: str) -> SourceIssue:
    return SourceIssue(str(folder), None, None, None, what)


def map_exports(
    mapping: SourceMapping, location: str | Path, preloaded: dict[str, ExportFile] | None = None
) -> MappedSource:
    """Read and map every table the mapping names; raise one `SourceError` listing every problem.

    `location` is a folder of export files, or a single file: the deals export (other tables are then
    derived from the deals, where the mapping allows it), or the export of a mapping's only table (a
    commission payout export).

    `preloaded` supplies source objects already read (e.g. tables of a synced Salesforce schema in
    PostgreSQL, as text columns); the others are looked for as files in the folder `location`.
    """
    folder = Path(location)
    exports: dict[str, ExportFile] = dict(preloaded or {})
    if preloaded is None and not folder.exists():
        raise SourceError([_folder_issue(folder, "no such file or folder")])
    main_table = mapping.tables.get("deals") or next(iter(mapping.tables.values()), None)
    main_object = main_table.source_object if main_table is not None else None
    if preloaded is None and folder.is_file() and main_object is not None:
        exports[main_object] = read_export(folder, footer_after_blank_row=mapping.footer_after_blank_row)
        preloaded = dict(exports)
    tables: dict[str, pl.DataFrame] = {}
    masks: dict[tuple[str, str], pl.Series] = {}
    rejects: list[pl.DataFrame] = [empty_rejects()]
    issues: list[SourceIssue] = []
    warnings: list[str] = [w for export in exports.values() for w in export.warnings]
    for name, tm in mapping.tables.items():
        obj = tm.source_object
        if obj is None:
            continue
        if obj not in exports and preloaded is None:
            path = find_file(folder, mapping.files[obj])
            if path is None:
                if tm.if_file_missing == "error":
                    wanted = " or ".join(mapping.files[obj])
                    issues.append(_folder_issue(folder, f"no {obj} export found: expected a file {wanted}"))
                continue
            try:
                exports[obj] = read_export(path, footer_after_blank_row=mapping.footer_after_blank_row)
            except SourceError as exc:
                issues.extend(exc.issues)
                continue
            warnings.extend(exports[obj].warnings)
        if obj not in exports:
            if tm.if_file_missing == "error":
                issues.append(_folder_issue(folder, f"no {obj} table found"))
            continue
        mapped = map_table(exports[obj], tm, mapping)
        issues.extend(mapped.issues)
        frame = mapped.frame.with_columns(pl.lit(mapped.file).alias(FILE))
        if name == "deals":
            frame = frame.with_columns(_referring_account(exports[obj], mapping))
        tables[name] = frame
        rejects.append(shape_rejects(exports[obj], name))
        masks.update({(name, col): mask for col, mask in mapped.blank_derived.items()})
    if issues:
        raise SourceError(issues)
    return MappedSource(tables, exports, masks, warnings, pl.concat(rejects))


def _referring_account(export: ExportFile, mapping: SourceMapping) -> pl.Series:
    column = mapping.referrals.referring_account_column
    by_fold = {c.casefold(): c for c in export.frame.columns}
    if column is None or column.casefold() not in by_fold:
        return pl.Series(REFERRING_ACCOUNT, [None] * export.frame.height, dtype=pl.String)
    expr = pl.col(by_fold[column.casefold()])
    if mapping.id_style == "salesforce":
        expr = salesforce_id18(expr)
    return export.frame.select(expr.alias(REFERRING_ACCOUNT)).to_series()


def derive_deal_types(deals: pl.DataFrame, mask: pl.Series | None) -> pl.DataFrame:
    """Fill `deal_type` from account history where `mask` is true (all rows when None).

    An account's first won deal (earliest close, then lowest deal_id) is new business; its later won deals
    are expansion; a lost or open deal is new business if it closed (or, open, was created) on or before
    the account's first won close, or if the account never won, and expansion otherwise.
    """
    won = deals.filter((pl.col("stage") == "won") & pl.col("close_date").is_not_null())
    first = (
        won.sort("close_date", "deal_id")
        .group_by("account_id", maintain_order=True)
        .agg(pl.col("close_date").first().alias("__first_close"), pl.col("deal_id").first().alias("__first"))
    )
    when = pl.coalesce("close_date", "created_date")
    derived = (
        pl.when(pl.col("deal_id") == pl.col("__first"))
        .then(pl.lit("new_business"))
        .when(pl.col("__first_close").is_null())
        .then(pl.lit("new_business"))
        .when(pl.col("stage") == "won")
        .then(pl.lit("expansion"))
        .when(when <= pl.col("__first_close"))
        .then(pl.lit("new_business"))
        .otherwise(pl.lit("expansion"))
    )
    apply = pl.lit(True) if mask is None else pl.Series("__mask", mask)
    return (
        deals.join(first, on="account_id", how="left", nulls_equal=False)
        .with_columns(pl.when(apply).then(derived).otherwise(pl.col("deal_type")).alias("deal_type"))
        .drop("__first_close", "__first")
    )


def split_missing_required(frame: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows with an empty required canonical value go to rejects (one row per empty column)."""
    spec = TABLES_BY_NAME[table]
    required = [c for c in spec.required_columns if c in frame.columns]
    if not required:
        return frame, empty_rejects()
    rejects = [
        issue_rows(
            frame.filter(pl.col(c).is_null()),
            table,
            f"not_null:{c}",
            c,
            pl.lit(""),
            f"{table}.{c} is required; the source cell is empty",
        )
        for c in required
    ]
    good = frame.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in required))
    return good, pl.concat(rejects)


def derive_accounts(deals: pl.DataFrame) -> pl.DataFrame:
    """Accounts known only by the ids the deals use (no account export)."""
    return deals.select(pl.col("account_id").unique(maintain_order=True)).drop_nulls()


def derive_reps(deals: pl.DataFrame) -> pl.DataFrame:
    """Reps known only by the ids the deals use (no user/owner export)."""
    return deals.select(pl.col("owner_rep_id").unique(maintain_order=True).alias("rep_id")).drop_nulls()


def build_referrals(
    deals: pl.DataFrame, lead_sources: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Referrals from deals whose lead source is a referral source and whose referring account is known.

    The referral is credited to the rep who owned the referring account's latest won deal closed on or
    before the referral date (the referred deal's `created_date`), else the referred deal's owner.
    Returns (referrals, deals with `referral_id` set, warnings).
    """
    for column in ("lead_source", "referral_id"):
        if column not in deals.columns:
            deals = deals.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    sources = [s.casefold() for s in lead_sources]
    is_referral = pl.col("lead_source").str.to_lowercase().is_in(sources).fill_null(False)
    referred = deals.filter(is_referral & pl.col(REFERRING_ACCOUNT).is_not_null())
    unknown = deals.filter(is_referral & pl.col(REFERRING_ACCOUNT).is_null()).height
    warnings = []
    if unknown:
        warnings.append(
            f"{unknown} deal(s) have a referral lead source but no referring account: kept with their "
            "lead_source only (no referral row can credit a referring rep)"
        )
    account_owner = (
        deals.filter((pl.col("stage") == "won") & pl.col("close_date").is_not_null())
        .select(
            pl.col("account_id").alias(REFERRING_ACCOUNT),
            pl.col("close_date").alias("__owned_since"),
            pl.col("owner_rep_id").alias("__account_owner"),
        )
        .sort("__owned_since")
    )
    referrals = (
        referred.sort("created_date")
        .join_asof(
            account_owner,
            left_on="created_date",
            right_on="__owned_since",
            by=REFERRING_ACCOUNT,
            strategy="backward",
            check_sortedness=False,
        )
        .select(
            (pl.lit("ref-") + pl.col("deal_id")).alias("referral_id"),
            pl.col(REFERRING_ACCOUNT).alias("referring_account_id"),
            pl.coalesce("__account_owner", "owner_rep_id").alias("referring_rep_id"),
            pl.col("account_id").alias("referred_account_id"),
            pl.col("created_date").alias("referral_date"),
            pl.when(pl.col("stage") == "won").then(pl.col("deal_id")).alias("converted_deal_id"),
        )
    )
    deals = deals.with_columns(
        pl.when(is_referral & pl.col(REFERRING_ACCOUNT).is_not_null())
        .then(pl.lit("ref-") + pl.col("deal_id"))
        .otherwise(pl.col("referral_id"))
        .alias("referral_id")
    )
    return referrals, deals, warnings


def assign_plans(reps: pl.DataFrame, rule: PlanAssignmentRule, file: str) -> pl.DataFrame:
    """One open-ended assignment per rep, by the value of a reps column (or `all`)."""
    if rule.by != "all" and rule.by not in reps.columns:
        raise SourceError(
            [SourceIssue(file, None, rule.by, None, "plan_assignments.by must be a reps column or `all`")]
        )
    key = pl.lit("all") if rule.by == "all" else pl.col(rule.by)
    plan = key.replace_strict(dict(rule.plans), default=rule.default, return_dtype=pl.String)
    out = reps.select(
        "rep_id", plan.alias("plan_id"), pl.lit(rule.start_date).alias("start_date"), key.alias("__by")
    )
    unassigned = out.filter(pl.col("plan_id").is_null())
    if unassigned.height:
        values = sorted({str(v) for v in unassigned["__by"].to_list()})
        raise SourceError(
            [
                SourceIssue(
                    file,
                    None,
                    "plan_assignments.plans",
                    ", ".join(values),
                    f"no plan for reps with {rule.by} = these values, and no plan_assignments.default",
                )
            ]
        )
    return out.drop("__by")


def read_assignments(path: str | Path, mapping: SourceMapping) -> pl.DataFrame:
    """A rep_plan_assignments CSV (canonical columns; source rep ids, dates in the mapping's formats)."""
    export = read_export(path)
    if export.misshapen:  # a lost assignment would leave a rep unscored: fail, as a bad date does
        raise SourceError(export.shape_issues())
    f = export.frame
    missing = [c for c in ("rep_id", "plan_id", "start_date") if c not in f.columns]
    if missing:
        raise SourceError(
            [
                SourceIssue(str(path), 1, c, None, "required column of rep_plan_assignments is missing")
                for c in missing
            ]
        )
    rep = salesforce_id18(pl.col("rep_id")) if mapping.id_style == "salesforce" else pl.col("rep_id")
    end = pl.col("end_date") if "end_date" in f.columns else pl.lit(None, dtype=pl.String)
    out = f.select(
        LINE,
        rep.alias("rep_id"),
        "plan_id",
        parse_date(pl.col("start_date"), ("%Y-%m-%d", *mapping.date_formats)).alias("start_date"),
        parse_date(end, ("%Y-%m-%d", *mapping.date_formats)).alias("end_date"),
        pl.col("start_date").alias("__start_raw"),
        end.alias("__end_raw"),
    )
    issues = [
        SourceIssue(
            str(path), line, col, raw, f"expected a date in one of {['%Y-%m-%d', *mapping.date_formats]}"
        )
        for col in ("start_date", "end_date")
        for line, raw in out.filter(
            pl.col(f"__{col.split('_')[0]}_raw").is_not_null() & pl.col(col).is_null()
        )
        .select(LINE, f"__{col.split('_')[0]}_raw")
        .iter_rows()
    ]
    if issues:
        raise SourceError(issues)
    return out.select("rep_id", "plan_id", "start_date", "end_date")


def load_plans(plans_dir: str | Path | None) -> dict[str, Plan]:
    return read_plans(plans_dir) if plans_dir is not None else {}


def finish(
    mapping: SourceMapping,
    mapped: MappedSource,
    *,
    plans_dir: str | Path | None = None,
    assignments_csv: str | Path | None = None,
    extra_findings: pl.DataFrame | None = None,
    extra_tables: dict[str, pl.DataFrame] | None = None,
) -> ImportResult:
    """Turn mapped exports into `ImportResult`: derive, reject, build referrals and assignments, conform."""
    warnings = list(mapped.warnings)
    tables = dict(mapped.tables)
    rejects: list[pl.DataFrame] = [empty_rejects(), mapped.rejects]
    deals = tables["deals"]
    deal_rules = mapping.tables["deals"]
    type_rule = deal_rules.rule("deal_type")
    if type_rule is not None and type_rule.derive == "account_history":
        deals = derive_deal_types(deals, None)
    elif ("deals", "deal_type") in mapped.blank_masks:
        mask = mapped.blank_masks[("deals", "deal_type")]
        if mask.any():
            warnings.append(f"{int(mask.sum())} deal(s) had no deal type: derived from account history")
        deals = derive_deal_types(deals, mask)
    if REFERRING_ACCOUNT not in deals.columns:
        deals = deals.with_columns(pl.lit(None, dtype=pl.String).alias(REFERRING_ACCOUNT))
    for name in list(tables):
        frame = deals if name == "deals" else tables[name]
        good, bad = split_missing_required(frame, name)
        tables[name] = good
        rejects.append(bad)
    deals = tables["deals"]
    if "accounts" not in tables:
        tables["accounts"] = derive_accounts(deals)
        warnings.append(
            f"no account export: {tables['accounts'].height} accounts derived from the deals' ids"
        )
    if "reps" not in tables:
        tables["reps"] = derive_reps(deals)
        warnings.append(f"no rep export: {tables['reps'].height} reps derived from the deals' owner ids")
    referrals, deals, ref_warnings = build_referrals(deals, mapping.referrals.lead_sources)
    warnings.extend(ref_warnings)
    tables["deals"], tables["referrals"] = deals, referrals
    tables.update(extra_tables or {})
    if assignments_csv is not None:
        tables["rep_plan_assignments"] = read_assignments(assignments_csv, mapping)
    elif mapping.plan_assignments is not None:
        tables["rep_plan_assignments"] = assign_plans(tables["reps"], mapping.plan_assignments, mapping.file)
    else:
        warnings.append("no plan assignments: pass --assignments CSV or add plan_assignments to the mapping")
    plans = load_plans(plans_dir)
    if not plans:
        warnings.append("no plans: pass --plans DIR (a folder of plan YAML files) before scoring")
    conformed = {
        name: conform(frame, name).collect() for name, frame in tables.items() if name in TABLES_BY_NAME
    }
    findings = extra_findings if extra_findings is not None else empty_rejects()
    return ImportResult(
        data=CanonicalData(tables=conformed, plans=plans, warnings=warnings),
        rejects=pl.concat(rejects),
        findings=findings,
        warnings=warnings,
    )


REPORT_DIR = ".import"
"""Sub-folder of an imported canonical folder with the import's rejects, findings and warnings (hidden,
so the canonical loader does not take it for a table)."""


def write_result(result: ImportResult, out: str | Path, fmt: Format = "csv") -> Path:
    """Write the canonical folder (SPEC "On disk") and `OUT/.import/`; return the report folder."""
    out = Path(out)
    write_canonical_dir(result.data, out, fmt)
    report = out / REPORT_DIR
    report.mkdir(parents=True, exist_ok=True)
    result.rejects.write_csv(report / "rejects.csv")
    result.findings.write_csv(report / "findings.csv")
    (report / "warnings.txt").write_text("".join(f"{w}\n" for w in result.warnings), encoding="utf-8")
    return report
