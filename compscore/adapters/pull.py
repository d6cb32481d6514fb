"""One source setting for every adapter kind: what the Dagster source resource (and any other caller) hands
over to pull a source system's data, and what comes back, ready to become raw tables.

`pull_source` runs the import for the kind and returns the canonical data with the rows it set aside
(rejects, in the columns of `data_quality_rejects`, with their source file and line), the rows kept with a
finding, rows received per table (received = kept + rejected), and for PostgreSQL the incremental-read
watermarks. A password is never part of a message: `redact` takes it (and the full connection string) out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import polars as pl

from compscore.adapters import SOURCE_KINDS, import_source
from compscore.adapters.core import ImportResult
from compscore.adapters.errors import MappingError, SourceError, SourceIssue
from compscore.adapters.incremental import SyncOptions, TableSync
from compscore.dataset import CanonicalData
from compscore.schema import TABLES

SOURCE_SETTING_KINDS: tuple[str, ...] = ("canonical", *SOURCE_KINDS)
"""`canonical` is a canonical folder, read by `compscore.loaders`; the others go through the adapters."""


@dataclass(frozen=True)
class SourceSettings:
    """Where a source is and how to map it. `location`: a folder or file (file kinds), a connection
    string without password (`postgres`). `password` goes into the connection string only when connecting."""

    kind: str
    location: str
    mapping: str | None = None
    plans: str | None = None
    assignments: str | None = None
    commissions: str | None = None
    commission_mapping: str | None = None
    schema: str = "public"
    layout: str = "canonical"
    password: str | None = field(default=None, repr=False)


@dataclass
class PulledSource:
    data: CanonicalData
    rejects: pl.DataFrame
    findings: pl.DataFrame
    received: dict[str, int]
    warnings: list[str]
    syncs: list[TableSync] = field(default_factory=list)
    watermarks: dict[str, str] = field(default_factory=dict)


def connection_string(location: str, password: str | None) -> str:
    """`location` with `password` set in its user-info part (URL-quoted)."""
    if not password:
        return location
    parts = urlsplit(location)
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(text: str, secrets: list[str | None]) -> str:
    """`text` with every secret (and its URL-quoted form) replaced by `<secret>`."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe="")}:
                text = text.replace(form, "<secret>")
    return text


def safe_location(settings: SourceSettings) -> str:
    """The location as it may be shown: a connection string loses any password it carries."""
    if settings.kind != "postgres":
        return settings.location
    parts = urlsplit(settings.location)
    host = f"{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}", parts.path, "", ""))


def rows_received(data: CanonicalData, rejects: pl.DataFrame) -> dict[str, int]:
    """Per table: rows kept plus distinct source rows rejected (a row can carry several problems)."""
    rows = rejects.unique(["source_table", "source_file", "source_line", "row_key"])
    rejected = dict(rows.group_by("source_table").len().iter_rows()) if rows.height else {}
    return {spec.name: data.tables[spec.name].height + rejected.get(spec.name, 0) for spec in TABLES}


def pull_source(settings: SourceSettings, sync: SyncOptions | None = None) -> PulledSource:
    """Import `settings`' source; raise `SourceError` / `MappingError` with secrets redacted."""
    if settings.kind not in SOURCE_KINDS:
        raise ValueError(f"source kind {settings.kind!r} is not an adapter kind {list(SOURCE_KINDS)}")
    url = connection_string(settings.location, settings.password) if settings.kind == "postgres" else None
    secrets = [settings.password, url, *(_url_password(settings.location) if url else [])]
    try:
        result: ImportResult = import_source(
            settings.kind,
            url or settings.location,
            settings.mapping,
            commissions=settings.commissions,
            commission_mapping=settings.commission_mapping,
            plans_dir=settings.plans,
            assignments_csv=settings.assignments,
            **({"schema": settings.schema, "layout": settings.layout, "sync": sync} if url else {}),
        )
    except SourceError as exc:
        raise SourceError([_redacted(issue, secrets) for issue in exc.issues]) from None
    except MappingError as exc:
        raise MappingError(redact(str(exc), secrets)) from None
    return PulledSource(
        data=result.data,
        rejects=result.rejects,
        findings=result.findings,
        received=rows_received(result.data, result.rejects),
        warnings=[redact(w, secrets) for w in result.warnings],
        syncs=result.syncs,
        watermarks=result.watermarks,
    )


def _url_password(location: str) -> list[str | None]:
    try:
        return [urlsplit(location).password]
    except ValueError:
        return []


def _redacted(issue: SourceIssue, secrets: list[str | None]) -> SourceIssue:
    value = redact(issue.value, secrets) if issue.value is not None else None
    return SourceIssue(
        redact(issue.file, secrets), issue.line, issue.column, value, redact(issue.expected, secrets)
    )
