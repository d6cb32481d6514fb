"""HubSpot deal exports (with optional companies / owners exports) -> canonical tables, through the
shipped mapping `mappings/hubspot.yaml` (or the portal's own copy of it)."""

from __future__ import annotations

from pathlib import Path

from compscore.adapters.core import ImportResult, finish, map_exports, write_result
from compscore.adapters.mapping import default_mapping_path, load_mapping


def import_hubspot(
    location: str | Path,
    out: str | Path | None = None,
    *,
    mapping_path: str | Path | None = None,
    plans_dir: str | Path | None = None,
    assignments_csv: str | Path | None = None,
) -> ImportResult:
    """Map a HubSpot deals export (a file, or a folder holding deals.csv and optionally companies.csv,
    owners.csv) to canonical data;
    with `out`, also write the canonical folder there (`core.write_result`)."""
    mapping = load_mapping(mapping_path or default_mapping_path("hubspot"))
    mapped = map_exports(mapping, location)
    result = finish(mapping, mapped, plans_dir=plans_dir, assignments_csv=assignments_csv)
    if out is not None:
        write_result(result, out)
    return result
