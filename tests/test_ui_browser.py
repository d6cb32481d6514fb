"""The Dagster UI in a real browser: what a person sees after a `full_refresh` run.

The fixture runs the `full_refresh` job on the small canonical fixture in a temporary DAGSTER_HOME and
warehouse, then serves that instance with `dagster-webserver` (the UI half of `dagster dev`; no daemon is
needed to look at runs) on a free port of 127.0.0.1. Headless Chromium, driven by Playwright, checks the
asset catalog, the `scores` group's lineage graph, the latest materialisation of `plan_scores` and the
`quality` check of `raw_deals`, against the run's own results.
Screenshots land in tests/artifacts/ (git-ignored), written before each page's assertions so a failure
leaves a picture of what was on screen.

Needs Debian's `chromium` (/usr/bin/chromium) and the `playwright` package, never Playwright's own browser
download; skips when either is absent. Every wait is bounded and the server's process group is killed in
the fixture's teardown.
"""

from __future__ import annotations

import contextlib
import importlib
import os
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

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "canonical_small"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's services, which the closed
# network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# `full_refresh` run in one process, recorded in $DAGSTER_HOME like any run. The CLI
# (`dagster job execute`, tested in test_materialize.py) starts a process per step, each importing Great
# Expectations: 160 s instead of 30 s for this fixture on a busy 2-core machine.
FULL_REFRESH_IN_PROCESS = """
import dagster as dg
from pipelines.definitions import defs
with dg.DagsterInstance.get() as instance:
    result = defs.get_job_def("full_refresh").execute_in_process(instance=instance, raise_on_error=False)
raise SystemExit(0 if result.success else 1)
"""
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
    """A running webserver over an instance holding one successful `full_refresh` run."""

    url: str
    run_id: str
    warehouse: Path


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


def _run_full_refresh(env: dict[str, str], log: Path) -> None:
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", FULL_REFRESH_IN_PROCESS],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=JOB_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"full_refresh did not finish in {JOB_TIMEOUT_S} s:\n{_tail(log)}")
        finally:
            _stop(process)
    if returncode != 0:
        pytest.fail(f"full_refresh exited with {returncode}:\n{_tail(log)}")


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
    _run_full_refresh(env, root / "full_refresh.log")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="full_refresh"))
    assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS]

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
        yield DagsterUI(url=url, run_id=runs[0].run_id, warehouse=warehouse)
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
    assert set(drawn_upstream) == upstream
    assert {"deals", "raw_plans", "data_quality_status"} <= upstream
    assert page.get_by_text("Materialized", exact=True).count() == len(nodes)
    page.set_viewport_size({"width": 1600, "height": 1400})


def _plan_scores(page: sync_api.Page, ui: DagsterUI) -> None:
    """The latest materialisation of `plan_scores` is the fixture's run, with its rows and score preview."""
    scores = pl.read_parquet(ui.warehouse / "plan_scores.parquet")
    page.goto(f"{ui.url}/assets/plan_scores")
    latest = page.get_by_text("Latest materialization", exact=True).locator("xpath=..")
    latest.locator("a[href^='/runs/']").wait_for()
    # The UI puts Markdown of 1,000 characters or more behind a "[Show Markdown]" button.
    show_markdown = page.get_by_text("[Show Markdown]", exact=True)
    page.locator("td", has_text="hunter-2026").or_(show_markdown).first.wait_for()
    if page.locator("td", has_text="hunter-2026").count() == 0:
        show_markdown.first.click()
    page.locator("td", has_text="hunter-2026").first.wait_for()
    _screenshot(page, "ui_plan_scores")
    metadata = page.locator("table", has=page.locator("td", has_text="hunter-2026")).first
    _screenshot(page, "ui_plan_scores_metadata", metadata)

    run_link = latest.locator("a[href^='/runs/']").get_attribute("href")
    assert run_link.startswith(f"/runs/{ui.run_id}?")
    assert latest.get_by_role("img", name="run_success").count() == 1
    row_count = page.get_by_text("Row count", exact=True).locator("xpath=..")
    assert row_count.inner_text().split() == ["Row", "count", str(scores.height)]
    # The `scores` Markdown preview: one table row per plan period, its SDI rounded to 2 decimals.
    header = page.locator("tr:has(> th)", has_text="same_day_index").first
    sdi = [h.strip() for h in header.locator(":scope > th").all_inner_texts()].index("same_day_index")
    shown = {
        tuple(cells[:2]): cells[sdi]
        for cells in (row.locator(":scope > td").all_inner_texts() for row in page.locator("tr").all())
        if len(cells) > sdi and cells[0] in set(scores["plan_id"])
    }
    expected = {
        (row["plan_id"], row["period"]): str(round(row["same_day_index"], 2))
        for row in scores.iter_rows(named=True)
    }
    assert shown == expected
    assert ("hunter-2026", "2026-Q1") in shown


def _raw_deals_check(page: sync_api.Page, ui: DagsterUI) -> None:
    """The `quality` check of `raw_deals` shows a passed evaluation over every fixture deal."""
    deals = pl.read_csv(FIXTURE / "deals.csv", infer_schema=False).height
    page.goto(f"{ui.url}/assets/raw_deals?view=checks")
    page.get_by_text("Evaluation result", exact=True).wait_for()
    _screenshot(page, "ui_raw_deals_checks")

    check_list_entry = page.get_by_text("Succeeded", exact=True)
    assert check_list_entry.count() == 1
    assert "quality" in check_list_entry.locator("xpath=..").inner_text().split()
    result = page.get_by_text("Evaluation result", exact=True).locator("xpath=..")
    assert result.inner_text().split() == ["Evaluation", "result", "Passed"]
    rows = page.locator("tr", has=page.locator("td", has_text="rows")).filter(has_not_text="rules_run")
    assert rows.locator(":scope > td").all_inner_texts() == ["rows", str(deals)]


def test_the_ui_shows_the_assets_the_latest_scores_and_a_passed_check(
    dagster_ui: DagsterUI, page: sync_api.Page
) -> None:
    # One test, so pytest-xdist runs the (slow) fixture once.
    _catalog(page, dagster_ui)
    _scores_lineage(page, dagster_ui)
    _plan_scores(page, dagster_ui)
    _raw_deals_check(page, dagster_ui)
