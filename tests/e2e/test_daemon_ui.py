"""The product as a user runs it: ``climate-assets dev`` (webserver + daemon) on a fresh state.

One ``climate-assets dev`` serves every test here, in order:
- the sensors and the nightly schedule show as running (GraphQL, as the UI reads them);
- headless Chromium opens the asset lineage page and finds every asset (screenshot kept in
  ``docs/asset-graph.png`` when CLIMATE_UPDATE_DOCS=1);
- headless Chromium opens the asset page of resilience_scores and finds the contract's columns
  with their types and key, and the upstream columns of resilience_score (screenshot kept in
  ``docs/images/asset-columns.png`` when CLIMATE_UPDATE_DOCS=1);
- a day's climate, health and hospital files dropped into the landing zone become that day's
  derived metrics in PostgreSQL with nobody launching anything (arrival sensors, then
  declarative automation, in the daemon's run subprocesses);
- a second day the same way, then a backfill of both days launched as the UI launches it
  (``launchPartitionBackfill`` with the Materialize dialog's variables) runs each asset's job
  once for the range and writes the same rows as the day-by-day runs;
- headless Chromium backfills the curated metrics as a user does (the curated group's asset
  graph -> Materialize all -> the two days -> Launch backfill) and the backfill completes;
- headless Chromium opens the Plots of the asset page's Metadata section for climate_data (four
  materializations by then) and finds one drawn chart per numeric metadata key, ``rows`` among
  them (screenshot kept in ``docs/images/asset-plots.png`` when CLIMATE_UPDATE_DOCS=1).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter

import psycopg
import pytest
from climate_glue.contract import (
    DAILY_DATASETS,
    DERIVED,
    LINEAGE_COLUMNS,
    RESILIENCE_SCORES,
    WAREHOUSE_SCHEMA,
)
from psycopg import sql

from climate_assets.constants import DERIVED_ASSETS, GROUP_CURATED, PROCESSED_ASSETS
from climate_assets.settings import PROJECT_ROOT
from tests.dev_support import (
    CHROMEDRIVER,
    CHROMIUM,
    LOCATION,
    REPOSITORY,
    Dev,
    backfill_finished,
    backfill_runs,
    chromium,
    launch_backfill,
    materialize_dialog_params,
)

pytestmark = pytest.mark.e2e

DAYS = ["2024-07-01", "2024-07-02"]
PIPELINE_SECONDS = 480  # bound on waiting for the daemon (runs start their own Spark)
SCREENSHOT = PROJECT_ROOT / "docs" / "asset-graph.png"
PLOTS_SCREENSHOT = PROJECT_ROOT / "docs" / "images" / "asset-plots.png"
COLUMNS_SCREENSHOT = PROJECT_ROOT / "docs" / "images" / "asset-columns.png"
PLOTTED_ASSET = "climate_data"
TABLES = [d.asset for d in DAILY_DATASETS] + [d.asset for d in DERIVED]
# The ``dev`` fixture (tests/e2e/conftest.py): its landing zone and environment.
DEV_LANDING = {"locations": 4, "days": len(DAYS)}
DEV_ENV = {
    "CLIMATE_SENSOR_INTERVAL": "5",
    "CLIMATE_SPARK_MASTER": "local[2]",  # two runs at a time, each with a small session
    "CLIMATE_SPARK_DRIVER_MEMORY": "1g",
}


def test_sensors_and_schedule_show_as_running(dev):
    data = dev.graphql(
        "query($r: RepositorySelector!) {"
        " sensorsOrError(repositorySelector: $r) { ... on Sensors { results { name sensorState { status } } } }"
        " schedulesOrError(repositorySelector: $r) { ... on Schedules { results { name scheduleState { status } } } } }",
        {"r": REPOSITORY},
    )
    sensors = {s["name"]: s["sensorState"]["status"] for s in data["sensorsOrError"]["results"]}
    schedules = {
        s["name"]: s["scheduleState"]["status"] for s in data["schedulesOrError"]["results"]
    }
    assert sensors == {
        name: "RUNNING"
        for name in (
            "landing_arrival_sensor",
            "climate_automation_sensor",
            "climate_run_failure_alerts",
            "climate_derived_around_held_days",
        )
    }
    assert schedules == {"nightly_climate_graph": "RUNNING"}


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
)
def test_browser_finds_every_asset_in_the_lineage_graph(dev, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chromium(tmp_path, "1800,2400")
    try:
        browser.get(f"{dev.url}/asset-groups")
        # The page re-renders while it loads: an element found a moment ago may be gone.
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))

        def graph_controls(b) -> list:  # zoom in, zoom out, settings, ... at the bottom right
            found = [
                e for e in b.find_elements(By.TAG_NAME, "button")
                if e.rect["x"] > 1700 and e.rect["y"] > 600
            ]  # fmt: skip
            return found if len(found) >= 3 else []

        def dismiss_sign_up_dialog() -> None:  # shown once by a fresh instance, a bit later
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                for skip in browser.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
                    skip.click()
                    return
                time.sleep(0.5)

        controls = wait.until(graph_controls)
        dismiss_sign_up_dialog()
        # Groups start collapsed: graph settings (a control) -> "Expand all groups".
        for index in range(len(controls)):
            wait.until(graph_controls)[index].click()
            expand = browser.find_elements(
                By.XPATH, "//*[normalize-space(text())='Expand all groups']"
            )
            if expand:
                expand[0].click()
                break
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
        else:
            raise AssertionError("no 'Expand all groups' in the graph's settings menu")
        browser.refresh()  # lays the expanded graph out again
        dismiss_sign_up_dialog()

        names = [k.path[-1] for k in (*PROCESSED_ASSETS, *DERIVED_ASSETS)]

        def node_names(b) -> Counter | None:
            nodes = b.find_elements(By.XPATH, "//div[contains(@class, 'AssetNode_assetName')]")
            texts = Counter(e.text.strip() for e in nodes if e.is_displayed())
            return texts if all(texts[n] >= expected[n] for n in names) else None

        # Every processed asset once in its group and once as its Athena table; every curated
        # one also as its shared (suppressed) Athena table in group athena_shared; nothing else.
        expected = Counter({k.path[-1]: 2 for k in PROCESSED_ASSETS})
        expected.update({k.path[-1]: 3 for k in DERIVED_ASSETS})
        found = wait.until(node_names)
        assert found == expected
        for _ in range(2):  # zoom out so that the four groups fit the screenshot
            wait.until(graph_controls)[1].click()
        time.sleep(2)
        shot = tmp_path / "asset-graph.png"
        assert browser.save_screenshot(str(shot))
        if os.environ.get("CLIMATE_UPDATE_DOCS"):
            SCREENSHOT.parent.mkdir(exist_ok=True)
            shutil.copy(shot, SCREENSHOT)
    finally:
        browser.quit()


# Each row of the asset page's Columns table: name, type (the first tag), the other tags, and
# the description as shown (Markdown rendered).
COLUMN_ROWS = """
const header = [...document.querySelectorAll('table td')].find(
  td => td.innerText.trim() === 'Column name');
if (!header) return null;
return [...header.closest('table').querySelectorAll('tbody tr')].map(tr => {
  const cells = [...tr.children].map(td => td.innerText.trim());
  const tags = cells[1].split('\\n').map(t => t.trim()).filter(Boolean);
  return {name: cells[0].split('\\n')[0], type: tags[0], tags: tags.slice(1),
          description: cells[2]};
});
"""
# Contract: resilience_score = round(clip(0.45*capacity_score + 0.45*(100 - health_risk_index)
#                                         + 10*(1 - flood_exposed_share), 0, 100), 2)
RESILIENCE_INPUTS = {
    "health_risks.health_risk_index",
    "hospital_resources.capacity_score",
    "hospital_resources.flood_exposed_share",
}


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
)
def test_asset_page_shows_the_columns_and_where_resilience_score_comes_from(dev, tmp_path):
    """Asset page of resilience_scores -> Columns: the contract's columns with their types, the
    key marked, and resilience_score's upstream columns (the OSS UI draws no column lineage:
    each description names them). The definition's column lineage, which Dagster+ draws, says
    the same."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chromium(tmp_path, "1600,2200")
    try:
        browser.get(f"{dev.url}/assets/{RESILIENCE_SCORES.asset}")
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))
        rows = wait.until(lambda b: len(found := b.execute_script(COLUMN_ROWS) or []) > 1 and found)
        shot = tmp_path / "asset-columns.png"
        assert browser.save_screenshot(str(shot))
        if os.environ.get("CLIMATE_UPDATE_DOCS"):
            COLUMNS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, COLUMNS_SCREENSHOT)
    finally:
        browser.quit()
    shown = {row["name"]: row for row in rows}
    assert [(r["name"], r["type"]) for r in rows] == list(RESILIENCE_SCORES.output_types.items())
    assert {name for name, row in shown.items() if "primary key" in row["tags"]} == set(
        RESILIENCE_SCORES.key
    )
    score = shown["resilience_score"]["description"]
    assert "0.45*capacity_score" in score  # the formula, as the contract writes it
    upstream = score.rpartition("Upstream:")[2]
    assert {name.strip() for name in upstream.split(",")} == RESILIENCE_INPUTS

    data = dev.graphql(
        "query($k: [AssetKeyInput!]) { assetNodes(assetKeys: $k) { metadataEntries {"
        " label ... on TableColumnLineageMetadataEntry { lineage { columnName"
        " columnDeps { assetKey { path } columnName } } } } } }",
        {"k": [{"path": [RESILIENCE_SCORES.asset]}]},
    )
    [node] = data["assetNodes"]
    [lineage] = [e for e in node["metadataEntries"] if e["label"] == "dagster/column_lineage"]
    [column] = [c for c in lineage["lineage"] if c["columnName"] == "resilience_score"]
    deps = {f"{'/'.join(d['assetKey']['path'])}.{d['columnName']}" for d in column["columnDeps"]}
    assert deps == RESILIENCE_INPUTS


def _derived_rows(dev: Dev, day: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}.{} WHERE date = %s").format(
        sql.Identifier(WAREHOUSE_SCHEMA), sql.Identifier("resilience_scores")
    )
    try:
        with dev.warehouse() as conn:
            return conn.execute(query, (day,)).fetchone()[0]
    except psycopg.errors.UndefinedTable:
        return 0


def _automation_ticked(dev: Dev) -> bool:
    data = dev.graphql(
        "query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {"
        " ... on Sensor { sensorState { ticks(limit: 1) { status } } } } }",
        {"s": {**REPOSITORY, "sensorName": "climate_automation_sensor"}},
    )
    return bool(data["sensorOrError"]["sensorState"]["ticks"])


def _succeeded(dev: Dev, asset: str, day: str | None = None) -> bool:
    return any(
        run["status"] == "SUCCESS"
        and [asset] in [a["path"] for a in run["assetSelection"] or []]
        and (day is None or day in run["tags"].values())
        for run in dev.runs()
    )


def _days_of(run: dict) -> tuple[str, str] | None:
    """The (first, last) day a run targets: a partition, or a range (as the arrival sensor's)."""
    tags = run["tags"]
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    if "dagster/asset_partition_range_start" in tags:
        return tags["dagster/asset_partition_range_start"], tags[
            "dagster/asset_partition_range_end"
        ]
    return None


def _derived_done(dev: Dev, day: str) -> bool:
    """The day's derived metrics succeeded and its rows are in PostgreSQL; fails on a failed run."""
    runs = [
        r for r in dev.runs()
        if ["resilience_scores"] in [a["path"] for a in r["assetSelection"] or []]
        and _days_of(r) == (day, day)
    ]  # fmt: skip
    assert not any(r["status"] == "FAILURE" for r in runs), f"derived run failed; see {dev.log}"
    return any(r["status"] == "SUCCESS" for r in runs) and _derived_rows(dev, day) > 0


def test_a_days_files_become_derived_metrics_without_anyone_launching_a_run(dev):
    # Locations were in place before the daemon started: its sensor picks them up first.
    dev.wait_for("the locations run", lambda: _succeeded(dev, "locations"), PIPELINE_SECONDS)
    dev.wait_for("a first automation tick", lambda: _automation_ticked(dev), PIPELINE_SECONDS)
    for day in DAYS:
        dev.drop_day(day)
        dev.wait_for(
            f"derived metrics of {day}", lambda d=day: _derived_done(dev, d), PIPELINE_SECONDS
        )
    runs = dev.runs()
    assert all(run["tags"].get("dagster/sensor_name") for run in runs), "a run nobody's sensor made"
    # A day's three files make one run: the three datasets and, with locations in place, the
    # day's derived metrics in the same run; nothing else runs for it.
    whole_day = sorted(
        [*(dataset.asset for dataset in DAILY_DATASETS), *(k.path[-1] for k in DERIVED_ASSETS)]
    )
    day_runs = [r for r in runs if _days_of(r)]
    assert sorted(_days_of(r)[0] for r in day_runs) == sorted(DAYS)
    for run in day_runs:
        assert run["tags"]["dagster/sensor_name"] == "landing_arrival_sensor"
        assert sorted(a["path"][-1] for a in run["assetSelection"]) == whole_day
        assert run["status"] == "SUCCESS"


def _table_rows(dev: Dev) -> dict[str, tuple[list, set[str]]]:
    """Data columns of every dated table for DAYS (lineage columns aside), and the run ids."""
    out = {}
    with dev.warehouse() as conn:
        for table in TABLES:
            columns = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                    (WAREHOUSE_SCHEMA, table),
                )
            ]
            data = [c for c in columns if c not in LINEAGE_COLUMNS]
            query = sql.SQL("SELECT {}, _run_id FROM {}.{} WHERE date BETWEEN %s AND %s").format(
                sql.SQL(", ").join(map(sql.Identifier, data)),
                sql.Identifier(WAREHOUSE_SCHEMA),
                sql.Identifier(table),
            )
            rows = conn.execute(query, (DAYS[0], DAYS[-1])).fetchall()
            out[table] = (sorted(map(repr, (r[:-1] for r in rows))), {r[-1] for r in rows})
    return out


def test_backfill_from_the_ui_runs_once_per_asset_for_the_range_with_the_same_rows(dev):
    if not all(_derived_rows(dev, day) for day in DAYS):
        pytest.skip("needs the day-by-day runs of the previous test")
    day_by_day = _table_rows(dev)
    selection = [{"path": k.path} for k in (*PROCESSED_ASSETS[1:], *DERIVED_ASSETS)]
    # The asset graph's Materialize dialog over the two days (the six daily assets).
    params = materialize_dialog_params([key["path"] for key in selection], DAYS)
    backfill = launch_backfill(dev, params)
    finished = dev.wait_for(
        "the backfill", lambda: backfill_finished(dev, backfill), PIPELINE_SECONDS
    )
    assert finished == "COMPLETED_SUCCESS", f"{finished}; see {dev.log}"
    runs = backfill_runs(dev, backfill)
    per_asset = Counter(a["path"][-1] for r in runs for a in r["assetSelection"])
    assert per_asset == Counter(k["path"][-1] for k in selection)  # each asset in one run
    for run in runs:  # ... and that run covers the whole range
        assert run["tags"]["dagster/asset_partition_range_start"] == DAYS[0]
        assert run["tags"]["dagster/asset_partition_range_end"] == DAYS[-1]
    ranged = _table_rows(dev)
    run_ids = {r["runId"] for r in runs}
    for table in TABLES:
        assert ranged[table][0] == day_by_day[table][0], table
        assert ranged[table][1] <= run_ids, f"{table} was not rewritten by the backfill"


def _backfill_ids(dev: Dev) -> set[str]:
    data = dev.graphql(
        "{ partitionBackfillsOrError { ... on PartitionBackfills { results { id } } } }"
    )
    return {b["id"] for b in data["partitionBackfillsOrError"]["results"]}


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
)
def test_browser_backfills_the_curated_metrics_from_the_asset_graph(dev, tmp_path):
    """The curated group's asset graph -> Materialize all -> the two days -> Launch backfill:
    the daemon runs the derived metrics job once for the range and the backfill succeeds."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    if not all(_derived_rows(dev, day) for day in DAYS):
        pytest.skip("needs the day-by-day runs of the earlier test")
    before = _backfill_ids(dev)
    browser = chromium(tmp_path, "1600,1200")
    try:
        browser.get(f"{dev.url}/locations/{LOCATION}/asset-groups/{GROUP_CURATED}")
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))

        def shown(xpath: str):
            def find(b):
                for skip in b.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
                    skip.click()  # the first-visit dialog, shown a little after the page
                found = [e for e in b.find_elements(By.XPATH, xpath) if e.is_displayed()]
                return found[0] if found and found[0].is_enabled() else None

            return find

        wait.until(shown("//button[starts-with(normalize-space(), 'Materialize all')]")).click()
        # The dialog shows the last days only: the test's days are older.
        wait.until(shown("//*[normalize-space(text())='Show all partitions']")).click()
        days = wait.until(shown("//div[contains(@class, 'dialog')]//input[@placeholder]"))
        days.send_keys(Keys.CONTROL, "a")
        days.send_keys(f"[{DAYS[0]}...{DAYS[-1]}]", Keys.ENTER)
        wait.until(shown(f"//*[normalize-space(text())='{len(DAYS)} partitions']"))
        wait.until(shown("//button[normalize-space()='Launch backfill']")).click()
        [backfill] = dev.wait_for("the backfill", lambda: _backfill_ids(dev) - before, 60)
    finally:
        browser.quit()
    status = dev.wait_for(
        "the backfill to finish", lambda: backfill_finished(dev, backfill), PIPELINE_SECONDS
    )
    assert status == "COMPLETED_SUCCESS", f"{status}; see {dev.log}"
    [run] = backfill_runs(dev, backfill)  # the three curated metrics, one job for the range
    assert sorted(a["path"] for a in run["assetSelection"]) == sorted(
        k.path for k in DERIVED_ASSETS
    )
    assert run["tags"]["dagster/asset_partition_range_start"] == DAYS[0]
    assert run["tags"]["dagster/asset_partition_range_end"] == DAYS[-1]
    assert _derived_rows(dev, DAYS[0]) and _derived_rows(dev, DAYS[-1])


def _numeric_metadata_keys(dev: Dev, asset: str) -> tuple[int, set[str]]:
    """How many materializations the asset has, and every integer or float metadata key."""
    data = dev.graphql(
        "query($k: AssetKeyInput!) { assetOrError(assetKey: $k) { ... on Asset {"
        " assetMaterializations(limit: 100) { metadataEntries { __typename label } } } } }",
        {"k": {"path": [asset]}},
    )
    events = data["assetOrError"]["assetMaterializations"]
    numeric = {"IntMetadataEntry", "FloatMetadataEntry"}
    keys = {e["label"] for m in events for e in m["metadataEntries"] if e["__typename"] in numeric}
    return len(events), keys


# Each drawn chart of the Plots view, by the title of its card (the closest enclosing element
# with text: the chart itself is a canvas), and whether anything was drawn on it.
PLOTTED_CHARTS = """
return [...document.querySelectorAll('canvas')].map(canvas => {
  let card = canvas.parentElement;
  while (card && !card.innerText.trim()) card = card.parentElement;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = false;
  for (let i = 3; i < pixels.length && !drawn; i += 4) drawn = pixels[i] > 0;
  return {title: card ? card.innerText.trim() : '', width: canvas.width, drawn: drawn};
});
"""


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
)
def test_asset_page_plots_each_numeric_metadata_key_over_time(dev, tmp_path):
    """Asset page -> Overview -> Metadata -> Plots -> Events: a chart per numeric key over the
    materializations' times. (The default "Partitions" axis plots the latest 120 partitions of
    the definition, up to yesterday: empty for the test's days of 2024.)"""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    materializations, keys = _numeric_metadata_keys(dev, PLOTTED_ASSET)
    if materializations < 2:
        pytest.skip("needs the runs of the previous tests (two materializations or more)")
    assert {"rows", "rows_rejected"} <= keys and any(k.startswith("seconds_") for k in keys)

    browser = chromium(tmp_path, "1600,1500")
    try:
        browser.get(f"{dev.url}/assets/{PLOTTED_ASSET}")
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))

        def button(label: str):
            def find(b):
                for skip in b.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
                    skip.click()  # the first-visit dialog, shown a little after the page
                found = b.find_elements(By.XPATH, f"//button[normalize-space()='{label}']")
                return found[0] if found and found[0].is_displayed() else None

            return find

        wait.until(button("Plots")).click()  # the Metadata section's Table | Plots
        wait.until(button("Events")).click()  # its x axis: Partitions | Events (time)

        def charts(b) -> dict | None:
            drawn = {c["title"]: c for c in b.execute_script(PLOTTED_CHARTS)}
            ready = keys <= drawn.keys() and all(c["drawn"] for c in drawn.values())
            return drawn if ready else None

        plotted = wait.until(charts)
        assert set(plotted) == keys  # one chart per numeric key, nothing else
        assert plotted["rows"]["width"] > 100

        heading = browser.find_element(By.XPATH, "//*[normalize-space(text())='Metadata']")
        browser.execute_script("arguments[0].scrollIntoView()", heading)
        time.sleep(1)
        shot = tmp_path / "asset-plots.png"
        assert browser.save_screenshot(str(shot))
        if os.environ.get("CLIMATE_UPDATE_DOCS"):
            PLOTS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, PLOTS_SCREENSHOT)
    finally:
        browser.quit()
