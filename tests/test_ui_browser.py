"""The Dagster UI in a real browser: what a person sees after the documented runs.

The fixture starts three runs the way `scripts/run-sample.sh` does (`python -m pipelines.launch`, in the
`compscore` code location of workspace.yaml), in a temporary DAGSTER_HOME, each step in the run's own
process (`execution: {config: {in_process: true}}`) to keep the test short:

* `full_refresh` on the small canonical fixture (succeeds);
* `full_refresh` on a copy whose churn events all name an unknown account (the ERROR `quality` check of
  `raw_churn_events` fails and `validated` stops the run: the run fails and is tagged
  `compscore/checks_failed`);
* `validation_only` on a copy whose deals file has no `amount` column (a load `Failure` naming the file
  and column);

and the documented backfill command (`dagster job backfill -w workspace.yaml -l compscore ...`, checked
through the instance: without a daemon its runs are not started). Then it serves that instance with
`dagster-webserver` (the UI half of `dagster dev`) on a free port of 127.0.0.1. Headless Chromium, driven
by Playwright, checks the asset catalog, the `scores` group's lineage graph, the latest materialisation
of `plan_scores` with its per-plan plots, the `quality` check of `raw_deals` with its text and report
link, the job page listing the run, the run list flagging the failed check and the load failure's cause,
against the runs' own results.
Screenshots land in tests/artifacts/ (git-ignored), written before each page's assertions so a failure
leaves a picture of what was on screen.

Needs Debian's `chromium` (/usr/bin/chromium) and the `playwright` package, never Playwright's own browser
download; skips when either is absent. Every wait is bounded and the server's process group is killed in
the fixture's teardown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS

from common.ui_metadata import CHECKS_FAILED_TAG, failed_checks
from compscore import warehouse as wh
from compscore.scoring.display import headline_per_plan

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "canonical_small"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
LAUNCH = [sys.executable, "-m", "pipelines.launch"]
IN_PROCESS = "execution:\n  config:\n    in_process: true\n"
BACKFILL = [
    *(sys.executable, "-m", "dagster", "job", "backfill", "-w", "workspace.yaml", "-l", "compscore"),
    *("-j", "incoming_monthly", "--from", "2026-01-01", "--to", "2026-02-01", "--noprompt"),
]
"""The backfill command of docs/operations.md."""
JOB_TIMEOUT_S = 300
SERVER_READY_TIMEOUT_S = 90
PAGE_TIMEOUT_MS = 45_000

if not CHROMIUM.is_file():
    pytest.skip(
        f"{CHROMIUM} is absent: install Debian's chromium (`apt-get install chromium`; .ci/run does)",
        allow_module_level=True,
    )
# Imported after the chromium check: playwright (a dev dependency) is needed only with a browser.
sync_api = importlib.import_module("playwright.sync_api")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class DagsterUI:
    """A running webserver over an instance holding the fixture's runs (ids by name)."""

    url: str
    run_id: str
    warehouse: Path
    failed_check_run_id: str
    load_failure_run_id: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Terminate the process group started with `start_new_session` (the server or a run's workers)."""
    for sig, grace_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
            return


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _broken_sources(root: Path) -> tuple[Path, Path]:
    """Two copies of the fixture: churn events all of an unknown account; deals without `amount`."""
    ghost, no_amount = root / "ghost_accounts", root / "no_amount"
    for folder in (ghost, no_amount):
        shutil.copytree(FIXTURE, folder)
    churn = pl.read_csv(FIXTURE / "churn_events.csv", infer_schema=False)
    churn.with_columns(account_id=pl.lit("GHOST")).write_csv(ghost / "churn_events.csv")
    pl.read_csv(FIXTURE / "deals.csv", infer_schema=False).drop("amount").write_csv(no_amount / "deals.csv")
    return ghost, no_amount


def _run_config(root: Path, name: str, source: Path | None = None, warehouse: Path | None = None) -> str:
    text = IN_PROCESS
    if source is not None:
        text += f"resources:\n  source: {{config: {{path: '{source}'}}}}\n"
        text += f"  warehouse: {{config: {{path: '{warehouse}'}}}}\n"
    path = root / f"{name}.yaml"
    path.write_text(text)
    return str(path)


def _run_launches(env: dict[str, str], root: Path) -> dict[str, int]:
    """The two broken launches at once, then the good one (each waits for its run); name -> exit code.

    The good run goes last: the asset catalog shows each asset's latest run, and a broken run that ended
    after the good one would show the assets it skipped as not materialised."""
    ghost, no_amount = _broken_sources(root)
    broken = {
        "ghost": [*LAUNCH, "full_refresh", "-c", _run_config(root, "ghost", ghost, root / "wh_ghost")],
        "no_amount": [
            *LAUNCH,
            "validation_only",
            "-c",
            _run_config(root, "no_amount", no_amount, root / "wh_no_amount"),
        ],
    }
    deadline = time.monotonic() + JOB_TIMEOUT_S
    codes = _wait_for_all(_start_all(broken, env, root), root, deadline)
    good = {"good": [*LAUNCH, "full_refresh", "-c", _run_config(root, "good")]}
    return {**codes, **_wait_for_all(_start_all(good, env, root), root, deadline)}


def _start_all(
    commands: dict[str, list[str]], env: dict[str, str], root: Path
) -> dict[str, subprocess.Popen]:
    processes = {}
    for name, command in commands.items():
        with (root / f"{name}.log").open("w") as out:
            processes[name] = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
    return processes


def _wait_for_all(processes: dict[str, subprocess.Popen], root: Path, deadline: float) -> dict[str, int]:
    codes = {}
    for name, process in processes.items():
        try:
            codes[name] = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"launch {name} did not finish in {JOB_TIMEOUT_S} s:\n{_tail(root / f'{name}.log')}")
        finally:
            _stop(process)
    return codes


def _wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {server.returncode}:\n{_tail(log)}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{url}/server_info", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver did not answer in {SERVER_READY_TIMEOUT_S} s:\n{_tail(log)}")


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    root = tmp_path_factory.mktemp("ui")
    home, warehouse = root / "dagster_home", root / "warehouse"
    home.mkdir()
    # The project's instance settings, with the UI's "Join the Dagster community" pop-up off: on a new
    # instance it covers the page until someone clicks it away.
    instance_yaml = (REPO_ROOT / ".dagster_home" / "dagster.yaml").read_text()
    (home / "dagster.yaml").write_text(f"{instance_yaml}\nnux:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "COMPSCORE_SOURCE": str(FIXTURE),
        "COMPSCORE_WAREHOUSE": str(warehouse),
    }
    with dg.DagsterInstance.from_config(str(home)):
        pass  # create the instance's databases once, before three processes open them at the same time
    codes = _run_launches(env, root)
    assert codes == {"good": 0, "ghost": 1, "no_amount": 1}, {n: _tail(root / f"{n}.log") for n in codes}
    backfill = subprocess.run(BACKFILL, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        every_run = instance.get_runs()
    runs = {(r.job_name, r.status): r for r in every_run if r.job_name != "incoming_monthly"}
    good = runs[("full_refresh", dg.DagsterRunStatus.SUCCESS)]
    ghost = runs[("full_refresh", dg.DagsterRunStatus.FAILURE)]
    no_amount = runs[("validation_only", dg.DagsterRunStatus.FAILURE)]
    assert len(runs) == 3
    # The backfill queued one run per month for the daemon (none runs here), like every run above in the
    # workspace's `compscore` location: with `-m pipelines.definitions` the daemon could not find it.
    backfilled = [r for r in every_run if r.job_name == "incoming_monthly"]
    assert sorted(r.tags["dagster/partition"] for r in backfilled) == ["2026-01-01", "2026-02-01"]
    assert {r.status for r in backfilled} == {dg.DagsterRunStatus.QUEUED}
    for run in (good, ghost, no_amount, *backfilled):
        assert run.remote_job_origin.repository_origin.code_location_origin.location_name == "compscore"
    assert ghost.tags[CHECKS_FAILED_TAG] == "true"
    assert failed_checks(ghost.tags)["raw_churn_events.quality"] == "ERROR"

    url = f"http://127.0.0.1:{_free_port()}"
    log = root / "webserver.log"
    host, port = url.removeprefix("http://").split(":")
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", host, "-p", port],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(url, server, log)
        yield DagsterUI(
            url=url,
            run_id=good.run_id,
            warehouse=warehouse,
            failed_check_run_id=ghost.run_id,
            load_failure_run_id=no_amount.run_id,
        )
    finally:
        _stop(server)


@pytest.fixture
def page(dagster_ui: DagsterUI) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=PAGE_TIMEOUT_MS
        )
        try:
            browser_page = browser.new_page(viewport={"width": 1600, "height": 1400})
            browser_page.set_default_timeout(PAGE_TIMEOUT_MS)
            browser_page.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
            yield browser_page
        finally:
            browser.close()


def _screenshot(page: sync_api.Page, name: str, part: sync_api.Locator | None = None) -> None:
    """The whole page, or one part of it scrolled into view (the UI scrolls inside its own panes)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = str(ARTIFACTS / f"{name}.png")
    if part is None:
        page.screenshot(path=path, full_page=True)
    else:
        part.screenshot(path=path)


def _asset_names(group: str | None = None) -> set[str]:
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if group is None or graph.get(key).group_name == group
    }


def _catalog(page: sync_api.Page, ui: DagsterUI) -> None:
    """Every asset of the Definitions is listed; each one `full_refresh` ran shows as materialised."""
    every_asset = _asset_names()
    materialised = every_asset - _asset_names("incoming")  # full_refresh runs all but the drop partitions
    page.set_viewport_size({"width": 1600, "height": 2600})  # the table renders only the rows on screen
    page.goto(f"{ui.url}/assets")
    page.locator("a[href='/assets/plan_scores']").first.wait_for()
    page.get_by_text("Materialized", exact=True).nth(len(materialised) - 1).wait_for()
    _screenshot(page, "ui_catalog")

    hrefs = page.locator("a[href^='/assets/']").evaluate_all("links => links.map(a => a.pathname)")
    assert {href.removeprefix("/assets/") for href in hrefs} == every_asset
    assert page.get_by_text("Materialized", exact=True).count() == len(materialised)
    page.set_viewport_size({"width": 1600, "height": 1400})


def _scores_lineage(page: sync_api.Page, ui: DagsterUI) -> None:
    """The `scores` group's graph draws its assets as materialised nodes fed by their upstream assets."""
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    nodes = _asset_names("scores")
    upstream = {
        parent.to_user_string()
        for key in graph.get_all_asset_keys()
        if key.to_user_string() in nodes
        for parent in graph.get(key).parent_keys
    } - nodes
    downstream = {
        child.to_user_string()
        for key in graph.get_all_asset_keys()
        if key.to_user_string() in nodes
        for child in graph.get(key).child_keys
    } - nodes
    page.set_viewport_size({"width": 1600, "height": 2600})  # the graph draws only the nodes on screen
    page.goto(f"{ui.url}/locations/compscore/asset-groups/scores")
    page.locator("[data-tooltip='plan_scores']").wait_for()
    page.get_by_text("Materialized", exact=True).nth(len(nodes) - 1).wait_for()
    _screenshot(page, "ui_scores_lineage")

    assert nodes == {
        "plan_scores",
        "plan_incentive_curves",
        "plan_component_marginals",
        "plan_review_report",
        "plan_scenarios",
    }
    for node in nodes:
        assert page.locator(f"[data-tooltip='{node}']").count() == 1, node
    drawn_upstream = page.locator("span.label[title]").evaluate_all("spans => spans.map(s => s.title)")
    # the neighbours drawn are the group's inputs and `warehouse_database` after it; the graph draws only the
    # nodes inside the viewport, so a wide input layer may be cut: the key inputs must be there
    assert downstream == {"warehouse_database"}
    assert set(drawn_upstream) <= upstream | downstream
    assert {"deals", "raw_plans", "data_quality_status"} <= set(drawn_upstream)
    assert page.get_by_text("Materialized", exact=True).count() == len(nodes)
    page.set_viewport_size({"width": 1600, "height": 1400})


def _metadata_rows(page: sync_api.Page) -> dict[str, str]:
    """Key -> value text of the metadata table rows on screen (key, timestamp, value)."""
    rows = (row.locator(":scope > td").all_inner_texts() for row in page.locator("tr").all())
    return {cells[0].strip(): cells[-1].strip() for cells in rows if len(cells) == 3}


def _plan_scores(page: sync_api.Page, ui: DagsterUI) -> None:
    """The latest materialisation of `plan_scores` is the fixture's run, with its rows, each plan's
    headline SDI and multiple in plain sight, and the score preview."""
    scores = pl.read_parquet(ui.warehouse / "plan_scores.parquet")
    plans = wh.read_object("raw_plans", ui.warehouse)
    page.goto(f"{ui.url}/assets/plan_scores")
    latest = page.get_by_text("Latest materialization", exact=True).locator("xpath=..")
    latest.locator("a[href^='/runs/']").wait_for()
    page.locator("td", has_text="sdi/hunter-2026").first.wait_for()
    _screenshot(page, "ui_plan_scores")
    metadata = page.locator("table", has=page.locator("td", has_text="sdi/hunter-2026")).first
    _screenshot(page, "ui_plan_scores_metadata", metadata)

    run_link = latest.locator("a[href^='/runs/']").get_attribute("href")
    assert run_link.startswith(f"/runs/{ui.run_id}?")
    assert latest.get_by_role("img", name="run_success").count() == 1
    row_count = page.get_by_text("Row count", exact=True).locator("xpath=..")
    assert row_count.inner_text().split() == ["Row", "count", str(scores.height)]
    shown = _metadata_rows(page)
    as_of = dt.date.fromisoformat(shown["as_of"])
    assert shown["source_folder"] == str(FIXTURE)
    headline = headline_per_plan(scores, {p: plan.period for p, plan in plans.items()}, as_of)
    assert headline.height == len(plans) == 2
    for row in headline.iter_rows(named=True):
        plan = row["plan_id"]
        assert float(shown[f"sdi/{plan}"]) == pytest.approx(row["same_day_index"], abs=1e-9)
        assert float(shown[f"multiple/{plan}"]) == pytest.approx(row["same_day_multiple"], abs=1e-9)
        assert shown[f"period/{plan}"] == f"{row['period']} (complete)"

    # The `scores` Markdown preview: one row per plan period, its SDI (5th column) to 2 decimals. The UI
    # shows Markdown under 1,000 characters inline and puts longer Markdown in a dialog behind a button.
    show_markdown = page.get_by_text("[Show Markdown]")
    preview = page
    if show_markdown.count():
        show_markdown.first.click()
        preview = page.get_by_role("dialog")
    preview.locator("tr", has_text="hunter-2026").first.wait_for()
    _screenshot(page, "ui_plan_scores_markdown")
    previewed = {
        tuple(cells[:2]): cells[4]
        for cells in (row.locator(":scope > td").all_inner_texts() for row in preview.locator("tr").all())
        if len(cells) >= 5 and cells[0] in set(scores["plan_id"])
    }
    expected = {
        (row["plan_id"], row["period"]): str(round(row["same_day_index"], 2))
        for row in scores.iter_rows(named=True)
    }
    assert previewed == expected
    assert ("hunter-2026", "2026-Q1") in previewed
    page.keyboard.press("Escape")


def _raw_deals_check(page: sync_api.Page, ui: DagsterUI) -> None:
    """The `quality` check of `raw_deals` shows a passed evaluation over every fixture deal; its GX check
    `expectations` passed too."""
    deals = pl.read_csv(FIXTURE / "deals.csv", infer_schema=False).height
    page.goto(f"{ui.url}/assets/raw_deals?view=checks&checkDetail=quality")
    page.get_by_text("Evaluation result", exact=True).wait_for()
    _screenshot(page, "ui_raw_deals_checks")

    check_list_entries = page.get_by_text("Succeeded", exact=True)
    assert check_list_entries.count() == 2
    names = {w for entry in check_list_entries.all() for w in entry.locator("xpath=..").inner_text().split()}
    assert {"quality", "expectations"} <= names
    result = page.get_by_text("Evaluation result", exact=True).locator("xpath=..")
    assert result.inner_text().split() == ["Evaluation", "result", "Passed"]
    rows = page.locator("tr", has=page.locator("td", has_text="rows")).filter(has_not_text="rules_run")
    assert rows.locator(":scope > td").all_inner_texts() == ["rows", str(deals)]
    # A pass reads as one, and the report is a link (file://, opened on the machine with the warehouse).
    assert page.get_by_text("all rules passed; no rows quarantined").count() >= 1
    assert page.get_by_text("rows quarantined", exact=False).filter(has_text="0 rule(s)").count() == 0
    report = page.locator("a[href^='file:///']").filter(has_text="data_quality")
    assert report.count() == 1
    assert report.get_attribute("href").endswith("/deals.html")


def _job_page(page: sync_api.Page, ui: DagsterUI) -> None:
    """The run started the documented way is listed on its job's page in the `compscore` location."""
    page.goto(f"{ui.url}/locations/compscore/jobs/full_refresh/runs")
    page.locator(f"a[href^='/runs/{ui.run_id}']").first.wait_for()
    _screenshot(page, "ui_job_runs")
    assert page.get_by_text("No runs found").count() == 0
    assert page.locator(f"a[href^='/runs/{ui.failed_check_run_id}']").count() >= 1


def _run_row(page: sync_api.Page, run_id: str) -> sync_api.Locator:
    """The run list's row of `run_id`: the innermost element holding its link and its status."""
    link = page.locator(f"a[href^='/runs/{run_id}']")
    return page.locator("div, tr", has=link).filter(has_text="Manually launched").last


def _run_list(page: sync_api.Page, ui: DagsterUI) -> None:
    """The run whose ERROR check failed (and `validated` with it) shows as failed, tagged with the failed
    check; the good run shows its source folder and as-of date."""
    page.goto(f"{ui.url}/runs")
    page.locator(f"a[href^='/runs/{ui.failed_check_run_id}']").first.wait_for()
    _screenshot(page, "ui_run_list")
    failed = _run_row(page, ui.failed_check_run_id).inner_text()
    assert "Failure" in failed and "Success" not in failed
    assert f"{CHECKS_FAILED_TAG}: true" in failed
    assert "compscore/check_failed.raw_churn_events.quality" in failed
    good = _run_row(page, ui.run_id).inner_text()
    assert "Success" in good and "Failure" not in good
    assert f"compscore/source: {FIXTURE}" in good
    assert "compscore/as_of: " in good


def _load_failure(page: sync_api.Page, ui: DagsterUI) -> None:
    """A load failure's one-line cause (file, line, column) is on the run page, not behind a click."""
    page.goto(f"{ui.url}/runs/{ui.load_failure_run_id}")
    cause = page.get_by_text("column 'amount'", exact=False).first
    cause.wait_for()
    _screenshot(page, "ui_load_failure")
    assert "deals.csv:1" in cause.inner_text()
    assert "required column is missing" in cause.inner_text()


def _plan_score_events(page: sync_api.Page, ui: DagsterUI) -> None:
    """Each plan's SDI and same-day multiple are numeric metadata of every materialisation (Events tab:
    one value per run, the series Dagster plots)."""
    plans = sorted(set(pl.read_parquet(ui.warehouse / "plan_scores.parquet")["plan_id"]))
    page.goto(f"{ui.url}/assets/plan_scores?view=events")
    page.locator("td", has_text=f"sdi/{plans[0]}").first.wait_for()
    _screenshot(page, "ui_plan_scores_events")
    shown = {
        cells[0].strip(): cells[1].strip()
        for cells in (row.locator(":scope > td").all_inner_texts() for row in page.locator("tr").all())
        if len(cells) >= 2
    }
    for plan in plans:
        float(shown[f"sdi/{plan}"])  # a number, not text or Markdown
        float(shown[f"multiple/{plan}"])


def test_the_ui_shows_runs_checks_scores_and_failures_as_they_are(
    dagster_ui: DagsterUI, page: sync_api.Page
) -> None:
    # One test, so pytest-xdist runs the (slow) fixture once.
    _catalog(page, dagster_ui)
    _scores_lineage(page, dagster_ui)
    _plan_scores(page, dagster_ui)
    _raw_deals_check(page, dagster_ui)
    _plan_score_events(page, dagster_ui)
    _job_page(page, dagster_ui)
    _run_list(page, dagster_ui)
    _load_failure(page, dagster_ui)
