"""What the Dagster UI shows about a run beyond its assets: run tags, links, failures, per-plan plots.

- A failed asset check tags its run (`compscore/checks_failed` plus one `compscore/check_failed.<asset>.
  <check>` tag naming its severity), so the run list shows it next to the run's status, and the run list
  can be filtered on it; a failed blocking ERROR check also fails its step and so the run.
- The source folder and the as-of date of a run are run tags (`compscore/source`, `compscore/as_of`) and
  metadata of the assets that used them.
- A file that cannot be loaded stops the step with a `dagster.Failure` whose description is the located
  one-line cause (file, line, column), shown on the run page without "View full message".
- Numbers a person wants over time (each plan's SDI) are float metadata, which the UI plots in the
  asset's Plots tab.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from compscore.errors import LoadError

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
    return {k.removeprefix(CHECK_FAILED_PREFIX): v for k, v in tags.items() if k.startswith(CHECK_FAILED_PREFIX)}


def flag_if_failed(context: dg.AssetCheckExecutionContext, result: dg.AssetCheckResult) -> dg.AssetCheckResult:
    """Tag the run when `result` failed; returns `result` unchanged."""
    if not result.passed:
        key = next(s.key for s in context.check_specs if result.check_name in (None, s.name))
        tags = failed_check_tags(key.asset_key.to_user_string(), key.name, result.severity)
        context.instance.add_run_tags(context.run.run_id, tags)
    return result


def add_run_tags(context: dg.OpExecutionContext | dg.AssetExecutionContext, tags: Mapping[str, str]) -> None:
    """Add `tags` to the current run (values already set are replaced)."""
    context.instance.add_run_tags(context.run.run_id, dict(tags))


def file_url(path: str | Path) -> dg.MetadataValue:
    """A clickable `file://` link to a local file (the UI renders URL metadata as a link; the webserver
    does not serve files, so it opens on the machine that holds the warehouse)."""
    return dg.MetadataValue.url(Path(path).resolve().as_uri())


def load_failure(error: LoadError) -> dg.Failure:
    """A step failure whose description is the located cause: `file:line: column 'x': what; expected`.

    The description is one line per located issue (at most MAX_ISSUES_SHOWN), so the run page shows the
    cause itself rather than a stack trace; the full list is in the metadata.
    """
    shown = [str(issue) for issue in error.issues[:MAX_ISSUES_SHOWN]]
    more = len(error.issues) - len(shown)
    if more:
        shown.append(f"... and {more} more problem(s)")
    return dg.Failure(
        description="\n".join(shown),
        metadata={
            "file": dg.MetadataValue.path(error.file),
            "line": dg.MetadataValue.int(error.line) if error.line is not None else dg.MetadataValue.text("-"),
            "column": dg.MetadataValue.text(error.column or "-"),
            "problems": dg.MetadataValue.int(len(error.issues)),
        },
        allow_retries=False,
    )


def check_description(failed_rules: int, blocking: list[str], quarantined: int | None = None) -> str:
    """The one-line text of a data-quality check result, true for passes, warnings and blocks."""
    if blocking:
        return "; ".join(blocking)
    if failed_rules == 0:
        return "all rules passed; no rows quarantined"
    rows = f"{quarantined} row(s)" if quarantined is not None else "the failing rows"
    return f"{failed_rules} rule(s) failed; {rows} quarantined (see failed_expectations)"
