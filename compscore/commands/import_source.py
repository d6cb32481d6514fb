"""Import a real source (Salesforce, HubSpot, the Maven CRM dataset, PostgreSQL) into a canonical folder.

The folder is the SPEC "On disk" layout that `compscore score --input DIR` and the Dagster assets read.
What the import set aside or flagged is written beside it, in `DIR/.import/` (`rejects.csv`: rows left
out; `findings.csv`: rows kept with a data-quality defect; `warnings.txt`), in the columns of
`data_quality_rejects`. See docs/sources.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from compscore.adapters import SOURCE_KINDS, MappingError, SourceError, SyncOptions, import_source
from compscore.adapters.core import write_result
from compscore.adapters.incremental import load_sync_rules
from compscore.canonical_io import FORMATS
from compscore.plans import PlanError

DEFAULT_URL_ENV = "COMPSCORE_POSTGRES_URL"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="kind", required=True, choices=SOURCE_KINDS, help="source kind")
    parser.add_argument(
        "--input",
        help="export folder or file (salesforce, hubspot, maven); not used with --from postgres",
    )
    parser.add_argument("--out", required=True, help="canonical folder to write")
    parser.add_argument("--mapping", help="your copy of a mapping YAML (default: the shipped one)")
    parser.add_argument("--plans", help="folder of plan YAML files to copy into OUT/plans")
    parser.add_argument(
        "--assignments", help="rep_plan_assignments CSV (rep_id, plan_id, start_date, end_date)"
    )
    parser.add_argument(
        "--commissions",
        help="a commission tool's payout export (CSV, or a JSON page of its payouts API): commission_lines",
    )
    parser.add_argument(
        "--commission-mapping",
        help="mapping YAML for --commissions (default: the shipped commission_generic.yaml)",
    )
    parser.add_argument(
        "--sync-state",
        help="PostgreSQL only: folder of table snapshots and watermarks; later runs read changed rows only",
    )
    parser.add_argument(
        "--sync-config", help="PostgreSQL only: YAML of per-table key, modified and deletion columns"
    )
    parser.add_argument(
        "--full-reload", action="store_true", help="with --sync-state: read every table in full again"
    )
    parser.add_argument("--format", choices=FORMATS, default="csv", help="table file format (default csv)")
    parser.add_argument(
        "--url-env",
        default=DEFAULT_URL_ENV,
        help=f"environment variable holding the PostgreSQL connection string (default {DEFAULT_URL_ENV})",
    )
    parser.add_argument("--schema", default="public", help="PostgreSQL schema to read (default public)")
    parser.add_argument(
        "--layout",
        choices=("canonical", "salesforce"),
        default="canonical",
        help="PostgreSQL tables: canonical, or a synced Salesforce schema (Opportunity, Account, User)",
    )


def _location(args: argparse.Namespace) -> str | None:
    if args.kind == "postgres":
        url = os.environ.get(args.url_env)
        if not url:
            print(f"compscore import: set {args.url_env} to a PostgreSQL connection string", file=sys.stderr)
        return url
    if not args.input:
        print(f"compscore import: --from {args.kind} needs --input PATH", file=sys.stderr)
        return None
    return args.input


def _sync(args: argparse.Namespace) -> SyncOptions | None:
    if args.sync_state is None:
        return None
    rules = load_sync_rules(args.sync_config) if args.sync_config else {}
    return SyncOptions(Path(args.sync_state), full_reload=args.full_reload, rules=rules)


def run(args: argparse.Namespace) -> int:
    location = _location(args)
    if location is None:
        return 2
    if args.kind != "postgres" and (args.sync_state or args.sync_config or args.full_reload):
        print(
            "compscore import: --sync-state, --sync-config, --full-reload need --from postgres",
            file=sys.stderr,
        )
        return 2
    try:
        result = import_source(
            args.kind,
            location,
            args.mapping,
            commissions=args.commissions,
            commission_mapping=args.commission_mapping,
            plans_dir=args.plans,
            assignments_csv=args.assignments,
            schema=args.schema,
            layout=args.layout,
            sync=_sync(args),
        )
    except (SourceError, MappingError, PlanError) as exc:
        print(f"compscore import: cannot import {args.kind} source:\n{exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    report = write_result(result, out, args.format)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for sync in result.syncs:
        print(
            f"{sync.table}: {sync.mode} read, {sync.rows_read:,} row(s) read, {sync.rows_deleted:,} deleted, "
            f"{sync.rows:,} kept; watermark {sync.watermark or 'none (no modified column)'}"
        )
    counts = ", ".join(f"{name} {frame.height:,}" for name, frame in result.data.tables.items())
    print(f"Imported {args.kind} into {out}: {counts}; plans {len(result.data.plans)}.")
    print(
        f"{result.rejects.height:,} source row problem(s) left rows out, "
        f"{result.findings.height:,} finding(s) on kept rows: see {report}."
    )
    if result.findings.height:
        summary = result.findings.group_by("rule", "columns", "offending_values").len().sort("rule")
        for rule, column, value, n in summary.iter_rows():
            print(f"  finding {rule}: {column} = {value!r} on {n:,} row(s)")
    return 0
