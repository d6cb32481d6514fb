"""What the Dagster UI shows about a run beyond its assets: run tags, links, failures, per-plan plots.

- A failed asset check tags its run (`compscore/checks_failed` plus one `compscore/check_failed.<asset>.
  <check>` tag naming its severity), so the run list shows it next to the run's status, and the run list
  can be filtered on it; a failed blocking ERROR check also fails its step and so the run.
- The source folder and the as-of date of a run are run tags (`compscore/source`, `compscore/as_of`) and
  metadata of the assets that used them.
- A file that cannot be loaded stops the step with a `dagster.Failure` whose description is the located
  one-line cause (file, line, column), shown on the run page without "View full message".
- Numbers a person wants over time (each plan's SDI) are float metadata: one value per run in the
  asset's Events tab, the series Dagster plots.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl

from compscore.errors import LoadError
from compscore.plans import PlanError

TAG_PREFIX = "compscore/"
CHECKS_FAILED_TAG = f"{TAG_PREFIX}checks_failed"
"""Set to `true` on a run in which at least one asset check failed (any severity)."""
CHECK_FAILED_PREFIX = f"{TAG_PREFIX}check_failed."
"""`compscore/check_failed.<asset>.<check>` = `ERROR` or `WARN`, one per failed check of the run."""
SOURCE_TAG = f"{TAG_PREFIX}source"
AS_OF_TAG = f"{TAG_PREFIX}as_of"
MAX_ISSUES_SHOWN = 5


def failed_check_tags(asset: str, check: str, severity: dg.AssetCheckSeverity) -> dict[str, str]:
    """The run tags that flag one failed check (one key per check, so parallel checks never clash)."""
    return {CHECKS_FAILED_TAG: "true", f"{CHECK_FAILED_PREFIX}{asset}.{check}": severity.value}


def failed_checks(tags: Mapping[str, str]) -> dict[str, str]:
    """`<asset>.<check>` -> severity, for every failed check a run's tags name."""
    return {
        k.removeprefix(CHECK_FAILED_PREFIX): v for k, v in tags.items() if k.startswith(CHECK_FAILED_PREFIX)
    }


def flag_if_failed(
    context: dg.AssetCheckExecutionContext, result: dg.AssetCheckResult
) -> dg.AssetCheckResult:
    """Tag the run when `result` failed; returns `result` unchanged. The check is the result's own spec:
    its name and asset (a multi-asset check has one check of the same name on each of several assets)."""
    if not result.passed:
        key = next(
            s.key
            for s in context.check_specs
            if result.check_name in (None, s.name) and result.asset_key in (None, s.asset_key)
        )
        tags = failed_check_tags(key.asset_key.to_user_string(), key.name, result.severity)
        context.instance.add_run_tags(context.run.run_id, tags)
    return result


def add_run_tags(context: dg.OpExecutionContext | dg.AssetExecutionContext, tags: Mapping[str, str]) -> None:
    """Add `tags` to the current run (values already set are replaced)."""
    context.instance.add_run_tags(context.run.run_id, dict(tags))


def file_url(path: str | Path, anchor: str | None = None) -> dg.MetadataValue:
    """A clickable `file://` link to a local file, to `#anchor` in it if given (the UI renders URL metadata
    as a link; the webserver does not serve files, so it opens on the machine that holds the warehouse)."""
    url = Path(path).resolve().as_uri()
    return dg.MetadataValue.url(f"{url}#{anchor}" if anchor else url)


def load_failure(error: LoadError | PlanError) -> dg.Failure:
    """A step failure whose description is the located cause: `file:line: column 'x': what; expected`
    (`file:line: key: what` for a plan file), one line per issue, at most MAX_ISSUES_SHOWN.

    The run page shows a `Failure`'s description as the step's error, not a stack trace; the first
    issue's file, line and column (or plan key) are also metadata.
    """
    shown = [str(issue) for issue in error.issues[:MAX_ISSUES_SHOWN]]
    more = len(error.issues) - len(shown)
    if more:
        shown.append(f"... and {more} more problem(s)")
    first = error.issues[0]
    where = getattr(first, "column", None) or getattr(first, "key", None)
    return dg.Failure(
        description="\n".join(shown),
        metadata={
            "file": dg.MetadataValue.path(first.file),
            "line": dg.MetadataValue.text("-" if first.line is None else str(first.line)),
            "column_or_key": dg.MetadataValue.text(where or "-"),
            "problems": dg.MetadataValue.int(len(error.issues)),
        },
        allow_retries=False,
    )


@contextmanager
def failure_on_load_error() -> Iterator[None]:
    """Turn a `LoadError` or `PlanError` raised in the block into `load_failure(...)`."""
    try:
        yield
    except (LoadError, PlanError) as error:
        raise load_failure(error) from None  # the description is the whole story: no chained traceback


def check_description(failed_rules: int, blocking: list[str], quarantined: int | None = None) -> str:
    """The one-line text of a data-quality check result, true for passes, warnings and blocks."""
    if blocking:
        return "; ".join(blocking)
    if failed_rules == 0:
        return "all rules passed; no rows quarantined"
    rows = f"{quarantined} row(s)" if quarantined is not None else "the failing rows"
    return f"{failed_rules} rule(s) failed; {rows} quarantined (see failed_expectations)"


def plan_score_metadata(headline: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """`sdi/<plan_id>` and `multiple/<plan_id>` floats (plotted by the UI over runs) and
    `period/<plan_id>`, from `compscore.scoring.display.headline_per_plan`; null figures are left out."""
    metadata: dict[str, dg.MetadataValue] = {}
    for row in headline.iter_rows(named=True):  # one row per plan
        plan = row["plan_id"]
        state = "complete" if row["complete"] else "in progress"
        metadata[f"period/{plan}"] = dg.MetadataValue.text(f"{row['period']} ({state})")
        for prefix, column in (("sdi", "same_day_index"), ("multiple", "same_day_multiple")):
            if row[column] is not None and math.isfinite(row[column]):
                metadata[f"{prefix}/{plan}"] = dg.MetadataValue.float(float(row[column]))
    return metadata


SOURCE_METADATA = "source_folder"
"""Metadata key of `raw_plans` naming the folder the raw layer read."""


def latest_source_folder(
    instance: dg.DagsterInstance, asset: str, run_id: str, lookback: int = 20
) -> str | None:
    """The source folder recorded on `asset` (the raw layer's plans) by this run, else by its latest
    materialisation (a scoring-only run scores what the last raw run read)."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=lookback).records
    chosen = next((r for r in records if r.run_id == run_id), records[0] if records else None)
    if chosen is None or chosen.asset_materialization is None:
        return None
    value = chosen.asset_materialization.metadata.get(SOURCE_METADATA)
    return None if value is None else str(value.value)
