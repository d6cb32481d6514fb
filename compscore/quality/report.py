"""The human-readable validation report: one static HTML page per run, for finance and ops.

Written next to the warehouse as `<dir>/data_quality/<run_id>/index.html` (the run page), and in Dagster
`<dir>/data_quality/<run_id>/<table>.html` (one per table, the Polars rules, by the `quality` checks) and
`<dir>/data_quality/<run_id>/expectations.html` (every table's GX suite, by the `expectations` checks);
the run page is copied to `<dir>/data_quality_report.html` (the latest run). Plain HTML, no scripts, opens
from disk.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import polars as pl

from compscore.quality import BlockingFailure, RuleResult
from compscore.quality.suites import ExpectationOutcome

REPORT_DIR = "data_quality"
LATEST = "data_quality_report.html"
EXPECTATIONS_PAGE = "expectations.html"
RUN_PAGE = "index.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; font-size: 14px; }
th { background: #f3f3f3; }
.fail { color: #b00020; font-weight: 600; } .ok { color: #1b7f3b; } .warn { color: #a86400; }
code { font-size: 13px; }
"""


class ReportedValidation(Protocol):
    """What the run page reads of a validation: `ValidationResult` is one, and so is the table-by-table
    `compscore.quality.by_table.TableByTableValidation`, which holds no table whole."""

    @property
    def run_id(self) -> str: ...

    @property
    def blocking(self) -> Sequence[BlockingFailure]: ...

    @property
    def counts(self) -> pl.DataFrame: ...

    @property
    def rule_results(self) -> Sequence[RuleResult]: ...

    @property
    def rejects(self) -> pl.DataFrame: ...


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def run_dir(root: str | Path, run_id: str) -> Path:
    return Path(root) / REPORT_DIR / run_id


def _blocking_html(blocking: Sequence[BlockingFailure]) -> str:
    if not blocking:
        return "<p class='ok'>No blocking failure: scoring may use the rows that passed.</p>"
    rows = [[_e(f.table), f"<code>{_e(f.rule)}</code>", _e(f.message)] for f in blocking]
    return "<p class='fail'>Scoring was stopped by:</p>" + _table(["table", "rule", "why"], rows)


def _rules_html(
    results: Sequence[RuleResult], outcomes: Sequence[ExpectationOutcome] | None, only_failed: bool
) -> str:
    """The rules as a table; with a GX column when `outcomes` is given (None: GX did not run here)."""
    by_rule = {(o.table, o.rule): o for o in outcomes or ()}
    rows = []
    for r in results:
        if only_failed and r.success:
            continue
        row = [
            _e(r.table),
            f"<code>{_e(r.rule)}</code>",
            _e(r.detail),
            _pass_fail(r.success),
            f"{r.unexpected_count} of {r.rows} ({r.unexpected_share:.2%})",
            "<br>".join(_e(k) for k in r.sample_keys),
            "<br>".join(_e(v) for v in r.sample_values),
        ]
        if outcomes is not None:
            o = by_rule.get((r.table, r.rule))
            gx = "" if o is None else f"<code>{_e(o.expectation_type)}</code>: {o.unexpected_count}"
            if o is not None and o.exception:
                gx += f" <span class='fail'>error: {_e(o.exception)}</span>"
            row.append(gx)
        rows.append(row)
    if not rows:
        return "<p class='ok'>Every rule passed.</p>"
    headers = ["table", "rule", "expected", "result", "failing rows", "e.g. keys", "e.g. values"]
    return _table([*headers, "GX"] if outcomes is not None else headers, rows)


def _pass_fail(success: bool) -> str:
    return "<span class='ok'>pass</span>" if success else "<span class='fail'>fail</span>"


def _counts_html(counts: pl.DataFrame) -> str:
    rows = []
    for row in counts.iter_rows(named=True):
        balanced = row["received"] == row["passed"] + row["rejected"]
        rows.append(
            [_e(row["table"]), *(_e(row[c]) for c in counts.columns[1:]), "yes" if balanced else "<b>NO</b>"]
        )
    return _table([*counts.columns, "received = passed + rejected"], rows)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>"
    )


def render_run_report(
    result: ReportedValidation,
    outcomes: Mapping[str, Sequence[ExpectationOutcome]] | None = None,
    status: pl.DataFrame | None = None,
) -> str:
    """The run page: blocking failures, counts per table, failed rules with examples, plan statuses."""
    flat = [o for table in (outcomes or {}).values() for o in table]
    parts = [
        f"<p>Run <code>{_e(result.run_id)}</code>. Rules and thresholds: docs/data_quality.md. "
        "Every rejected row is in the <code>data_quality_rejects</code> table.</p>",
        "<h2>Blocking failures</h2>",
        _blocking_html(result.blocking),
        "<h2>Rows received, passed and rejected</h2>",
        _counts_html(result.counts),
        "<h2>Rules that failed</h2>",
        _rules_html(result.rule_results, flat if outcomes else None, only_failed=True),
    ]
    if status is not None and status.height:
        rows = [[_e(v) for v in row] for row in status.iter_rows()]
        parts += ["<h2>Data quality status per plan and period</h2>", _table(status.columns, rows)]
    by_rule = result.rejects.group_by("source_table", "rule").len().sort("source_table", "rule")
    if by_rule.height:
        rows = [[_e(t), f"<code>{_e(r)}</code>", _e(n)] for t, r, n in by_rule.iter_rows()]
        parts += ["<h2>Rejected rows by rule</h2>", _table(["table", "rule", "rows"], rows)]
    parts += ["<h2>All rules</h2>", _rules_html(result.rule_results, flat if outcomes else None, False)]
    return _page("Data quality report", "".join(parts))


def render_table_report(
    table: str,
    run_id: str,
    results: Sequence[RuleResult],
    blocking: Sequence[BlockingFailure],
    outcomes: Sequence[ExpectationOutcome] | None = None,
) -> str:
    """One table's page: its blocking failures and every rule (with GX's counts when `outcomes` is given)."""
    gx = (
        ""
        if outcomes is not None
        else f" GX's counts (a separate check): <a href='{EXPECTATIONS_PAGE}#{_e(table)}'>expectations</a>."
    )
    body = (
        f"<p>Run <code>{_e(run_id)}</code>, table <code>{_e(table)}</code>.{gx}</p>"
        + "<h2>Blocking failures</h2>"
        + _blocking_html(blocking)
        + "<h2>Rules</h2>"
        + _rules_html(results, outcomes, only_failed=False)
    )
    return _page(f"Data quality: {table}", body)


def write_run_report(
    root: str | Path,
    result: ReportedValidation,
    outcomes: Mapping[str, Sequence[ExpectationOutcome]] | None = None,
    status: pl.DataFrame | None = None,
) -> Path:
    """Write the run page and refresh the latest-run copy; return the run page's path.

    A blocked run keeps its own page only: the latest-run copy stays that of the last run that scored.
    """
    folder = run_dir(root, result.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_PAGE
    page = render_run_report(result, outcomes, status)
    pages = sorted(p.name for p in folder.glob("*.html") if p.name not in (RUN_PAGE, EXPECTATIONS_PAGE))
    gx_page = (folder / EXPECTATIONS_PAGE).is_file()

    def with_links(prefix: str) -> str:
        def link(name: str) -> str:
            return f"<a href='{_e(prefix + name)}'>{_e(name.removesuffix('.html'))}</a>"

        parts = [f"Per-table check pages: {' · '.join(link(n) for n in pages)}."] if pages else []
        if gx_page:
            parts.append(f"GX results: {link(EXPECTATIONS_PAGE)}.")
        return page.replace("</h1>", f"</h1><p>{' '.join(parts)}</p>", 1) if parts else page

    path.write_text(with_links(""), encoding="utf-8")
    if not result.blocking:
        (Path(root) / LATEST).write_text(with_links(f"{REPORT_DIR}/{result.run_id}/"), encoding="utf-8")
    return path


def write_table_report(
    root: str | Path,
    run_id: str,
    table: str,
    results: Sequence[RuleResult],
    blocking: Sequence[BlockingFailure],
    outcomes: Sequence[ExpectationOutcome] | None = None,
) -> Path:
    folder = run_dir(root, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.html"
    path.write_text(render_table_report(table, run_id, results, blocking, outcomes), encoding="utf-8")
    return path


def _expectations_html(outcomes: Sequence[ExpectationOutcome]) -> str:
    if not outcomes:
        return "<p class='ok'>The table has no rule to run.</p>"
    rows = [
        [
            f"<code>{_e(o.rule)}</code>",
            f"<code>{_e(o.expectation_type)}</code>",
            _pass_fail(o.success),
            f"{o.unexpected_count} of {o.rows} ({o.unexpected_share:.2%})",
            "<br>".join(_e(v) for v in o.partial_unexpected),
            f"<span class='fail'>{_e(o.exception)}</span>" if o.exception else "",
        ]
        for o in outcomes
    ]
    return _table(["rule", "GX expectation", "result", "unexpected rows", "e.g. values", "error"], rows)


def render_expectations_report(run_id: str, tables: Mapping[str, Sequence[ExpectationOutcome] | str]) -> str:
    """The GX page: one section per table, in the order given (anchor `#<table>`), with each expectation's
    unexpected count, or why the table's suite did not run (a text instead of outcomes)."""
    parts = [
        f"<p>Run <code>{_e(run_id)}</code>. The Great Expectations suite of every raw table: the same rules "
        "as the per-table pages, counted by GX (in chunks). Which rows were quarantined is decided by the "
        f"Polars rules: see the per-table pages and the run page (<a href='{RUN_PAGE}'>index</a>).</p>"
    ]
    for table, found in tables.items():
        parts.append(f"<h2 id='{_e(table)}'>{_e(table)}</h2>")
        if isinstance(found, str):
            parts.append(f"<p class='fail'>GX suite not run: {_e(found)}</p>")
        else:
            parts.append(_expectations_html(found))
    return _page("Data quality: GX expectations", "".join(parts))


def write_expectations_report(
    root: str | Path, run_id: str, tables: Mapping[str, Sequence[ExpectationOutcome] | str]
) -> Path:
    """Write the run's GX page (`<root>/data_quality/<run_id>/expectations.html`); return its path."""
    folder = run_dir(root, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EXPECTATIONS_PAGE
    path.write_text(render_expectations_report(run_id, tables), encoding="utf-8")
    return path
