"""Incremental reads of a replica (a CRM synced into PostgreSQL): merge the rows changed since a watermark.

A table's first read loads every row; later reads fetch only rows whose modified column is at or after
the stored watermark (`>=`, so rows committed with the watermark's own timestamp are never missed; the
merge is idempotent) and merge them by key: the latest version of a key wins, rows the replica marks
deleted (`IsDeleted` true, `deleted_at` set) leave the table. Rows removed from the replica outright are
only seen by a full reload. The functions here are pure Polars; `compscore.adapters.postgres` does the I/O.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from compscore.adapters.errors import MappingError
from compscore.yaml_lines import line_of

SAFE_NAME = re.compile(r"[A-Za-z0-9_]{1,63}")
"""Schema and table names that may name a snapshot file."""
_RANK = "__sync_rank"


@dataclass(frozen=True)
class SyncRule:
    """How one replica table changes: its key, its last-modified column and its deletion marker.

    Column names are matched case-insensitively; the first of `modified` present is used. A table with
    none of them is read in full every run.
    """

    key: tuple[str, ...]
    modified: tuple[str, ...] = ()
    deleted_flag: tuple[str, ...] = ()
    """Boolean columns: true = the row is deleted (Salesforce `IsDeleted`)."""
    deleted_at: tuple[str, ...] = ()
    """Timestamp columns: set = the row is deleted (a soft-delete `deleted_at`)."""


SALESFORCE_RULE = SyncRule(
    key=("Id",), modified=("SystemModstamp", "LastModifiedDate"), deleted_flag=("IsDeleted",)
)
"""A synced Salesforce object (syncs that lower-case the names are matched anyway; one keyed by another
column, e.g. Heroku Connect's `sfid`, needs a sync config)."""


def canonical_rule(key: tuple[str, ...]) -> SyncRule:
    """A canonical table kept with an `updated_at` and a soft-delete `deleted_at` column."""
    return SyncRule(key=key, modified=("updated_at",), deleted_at=("deleted_at",))


@dataclass
class SyncOptions:
    """Read a PostgreSQL source incrementally.

    `state_dir` holds a Parquet snapshot of each replica table as last merged; `watermarks` (table ->
    ISO timestamp) say up to when each snapshot is complete; None reads them from
    `state_dir/watermarks.json`. A table without a snapshot or a watermark, or `full_reload`, is read in
    full. `rules` override the default rule per table name (case-insensitive).
    """

    state_dir: Path
    watermarks: Mapping[str, str] | None = None
    full_reload: bool = False
    rules: Mapping[str, SyncRule] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSync:
    """What one read did: `mode` full or incremental, rows fetched, rows deleted, rows after the merge."""

    table: str
    mode: str
    rows_read: int
    rows_deleted: int
    rows: int
    watermark: str | None


def find_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    by_fold = {c.casefold(): c for c in columns}
    return next((by_fold[c.casefold()] for c in candidates if c.casefold() in by_fold), None)


def key_columns(columns: list[str], rule: SyncRule) -> list[str]:
    """The key columns as stored (matched case-insensitively); raise ValueError naming a missing one."""
    found = [find_column(columns, (k,)) for k in rule.key]
    missing = [k for k, f in zip(rule.key, found, strict=True) if f is None]
    if missing:
        raise ValueError(f"key column {', '.join(missing)} is missing; the table has {', '.join(columns)}")
    return [f for f in found if f is not None]


def deleted(frame: pl.DataFrame, rule: SyncRule) -> pl.Expr:
    """True for rows the replica marks deleted."""
    marks: list[pl.Expr] = []
    flag = find_column(frame.columns, rule.deleted_flag)
    if flag is not None:
        value = pl.col(flag)
        if frame.schema[flag] != pl.Boolean:
            value = value.cast(pl.String).str.to_lowercase().is_in(["true", "t", "1", "yes"])
        marks.append(value.fill_null(False))
    stamp = find_column(frame.columns, rule.deleted_at)
    if stamp is not None:
        marks.append(pl.col(stamp).is_not_null())
    return pl.any_horizontal(marks) if marks else pl.lit(False)


def merge_changes(previous: pl.DataFrame, changes: pl.DataFrame, rule: SyncRule) -> pl.DataFrame:
    """`previous` with `changes` applied: per key the latest version wins (a change over the snapshot; among
    changes, the latest modified time), deleted rows are dropped. Sorted by key."""
    key = key_columns(changes.columns if changes.width else previous.columns, rule)
    modified = find_column(changes.columns, rule.modified)
    ranked = pl.concat(
        [previous.with_columns(pl.lit(0).alias(_RANK)), changes.with_columns(pl.lit(1).alias(_RANK))],
        how="diagonal_relaxed",
    )
    order = [_RANK, modified] if modified else [_RANK]
    latest = ranked.sort(order, nulls_last=False, maintain_order=True).unique(key, keep="last")
    return latest.filter(~deleted(latest, rule)).drop(_RANK).sort(key)


def full_table(frame: pl.DataFrame, rule: SyncRule) -> pl.DataFrame:
    """A full read as a merge result: deleted rows dropped, sorted by key."""
    return frame.filter(~deleted(frame, rule)).sort(key_columns(frame.columns, rule))


def watermark_of(changes: pl.DataFrame, rule: SyncRule, previous: str | None) -> str | None:
    """The latest modified time among `changes` (ISO text), or `previous` when there is none."""
    modified = find_column(changes.columns, rule.modified)
    if modified is None or changes.is_empty():
        return previous
    latest = changes[modified].max()
    if latest is None:
        return previous
    text = latest.isoformat() if isinstance(latest, dt.date) else checked_watermark(str(latest))
    return text if previous is None or _instant(text) >= _instant(previous) else previous


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def checked_watermark(text: str) -> str:
    """`text` as ISO 8601 (it goes into a SQL literal): raise ValueError for anything else."""
    return dt.datetime.fromisoformat(text.strip()).isoformat()


_RULE_KEYS = {"key", "modified", "deleted_flag", "deleted_at"}


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return ()


def parse_sync_rules(text: str, file: str = "<sync config>") -> dict[str, SyncRule]:
    """`tables: {<table>: {key: [..], modified: col, deleted_flag: col, deleted_at: col}}` -> rules by
    lower-case table name. YAML aliases are refused (a small file must not expand to gigabytes)."""
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text)):
            raise MappingError(f"{file}: YAML aliases (*name) are not allowed in a sync config")
        root, doc = yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{file}: invalid YAML: {exc}") from exc
    problems: list[str] = []
    tables = doc.get("tables") if isinstance(doc, dict) else None
    if not isinstance(tables, dict):
        raise MappingError(f"{file}:{line_of(root, [])}: expected `tables:` mapping table names to rules")
    rules: dict[str, SyncRule] = {}
    for name, raw in tables.items():
        where = f"{file}:{line_of(root, ['tables', str(name)])}: tables.{name}"
        if not isinstance(raw, dict) or set(raw) - _RULE_KEYS or not _names(raw.get("key")):
            problems.append(f"{where}: expected {{key: [columns], modified, deleted_flag, deleted_at}}")
            continue
        rules[str(name).casefold()] = SyncRule(**{k: _names(raw.get(k)) for k in _RULE_KEYS})
    if problems:
        raise MappingError("\n".join(problems))
    return rules


def load_sync_rules(path: str | Path) -> dict[str, SyncRule]:
    path = Path(path)
    try:
        return parse_sync_rules(path.read_text(encoding="utf-8-sig"), str(path))
    except OSError as exc:
        raise MappingError(f"{path}: cannot read sync config: {exc}") from exc
