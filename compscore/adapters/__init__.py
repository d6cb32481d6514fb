"""Source adapters: real exports (Salesforce, HubSpot, the Maven CRM dataset) and PostgreSQL, mapped to the
canonical tables of `compscore.schema` through a declarative mapping (`compscore.adapters.mapping`).

`import_source` returns everything an import found (data, rejects, findings, warnings); `read_source` is
the plain function the Dagster source resource calls and returns the `CanonicalData` alone.
"""

from __future__ import annotations

from pathlib import Path

from compscore.adapters.core import ImportResult
from compscore.adapters.errors import MappingError, SourceError, SourceIssue
from compscore.adapters.incremental import SyncOptions
from compscore.dataset import CanonicalData

SOURCE_KINDS: tuple[str, ...] = ("salesforce", "hubspot", "maven", "postgres")


def import_source(
    kind: str,
    location: str | Path,
    mapping_path: str | Path | None = None,
    *,
    commissions: str | Path | None = None,
    commission_mapping: str | Path | None = None,
    **options,
) -> ImportResult:
    """Import one source (`_import_crm`); with `commissions` (a payout export: file or folder), its
    `commission_lines` come from that export, mapped by `commission_mapping` (default: the generic one)."""
    result = _import_crm(kind, location, mapping_path, **options)
    if commissions is None:
        return result
    from compscore.adapters.commission import add_commission_lines

    return add_commission_lines(result, commissions, commission_mapping)


def _import_crm(
    kind: str,
    location: str | Path,
    mapping_path: str | Path | None = None,
    *,
    plans_dir: str | Path | None = None,
    assignments_csv: str | Path | None = None,
    schema: str = "public",
    layout: str = "canonical",
    sync: SyncOptions | None = None,
) -> ImportResult:
    """Import one source. `location` is a folder or file for the file sources, and a PostgreSQL
    connection string for `postgres` (`schema` and `layout` = `canonical` | `salesforce` apply there)."""
    if kind == "salesforce":
        from compscore.adapters.salesforce import import_salesforce

        return import_salesforce(
            location, mapping_path=mapping_path, plans_dir=plans_dir, assignments_csv=assignments_csv
        )
    if kind == "hubspot":
        from compscore.adapters.hubspot import import_hubspot

        return import_hubspot(
            location, mapping_path=mapping_path, plans_dir=plans_dir, assignments_csv=assignments_csv
        )
    if kind == "maven":
        from compscore.adapters.maven import import_maven

        return import_maven(
            location, mapping_path=mapping_path, plans_dir=plans_dir, assignments_csv=assignments_csv
        )
    if kind == "postgres":
        from compscore.adapters.postgres import import_postgres

        return import_postgres(
            str(location),
            schema=schema,
            layout=layout,
            sync=sync,
            mapping_path=mapping_path,
            plans_dir=plans_dir,
            assignments_csv=assignments_csv,
        )
    raise ValueError(f"unknown source kind {kind!r}; expected one of {list(SOURCE_KINDS)}")


def read_source(
    kind: str, location: str | Path, mapping_path: str | Path | None = None, **options
) -> CanonicalData:
    """The canonical data of one source; rejects and findings are summarised in `.warnings`."""
    result = import_source(kind, location, mapping_path, **options)
    data = result.data
    if result.rejects.height:
        data.warnings.append(
            f"{result.rejects.height} source row problem(s) left rows out of the canonical tables"
        )
    if result.findings.height:
        data.warnings.append(f"{result.findings.height} source row(s) kept with a data-quality finding")
    return data


__all__ = [
    "SOURCE_KINDS",
    "ImportResult",
    "MappingError",
    "SourceError",
    "SourceIssue",
    "SyncOptions",
    "import_source",
    "read_source",
]
