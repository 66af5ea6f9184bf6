"""``climate-assets materialize`` through a running ``climate-assets dev``: the run is queued for
the daemon (as a UI launch is), then succeeds; ``status`` shows it like any other run."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time

import pytest

from climate_assets.settings import PROJECT_ROOT
from tests.dev_support import CHROMEDRIVER, CHROMIUM, Dev

pytestmark = pytest.mark.e2e
# The ``dev`` fixture (tests/e2e/conftest.py): its landing zone and environment.
DEV_LANDING = {"locations": 3, "days": 1}
DEV_ENV = {"CLIMATE_SPARK_MASTER": "local[2]", "CLIMATE_SPARK_DRIVER_MEMORY": "1g"}


def _cli(dev: Dev, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "climate_cli.cli", *args],
        cwd=PROJECT_ROOT,
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_materialize_goes_through_the_daemon_queue(dev):
    url = dev.url
    done = _cli(dev, "materialize", "--select", "locations", "--url", url)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    queued = re.search(r"Queued run ([0-9a-f-]{36}) of locations .*: (\w+)", out)
    run_id = queued.group(1)
    assert queued.group(2) == "queued", out
    assert f"{url}/runs/{run_id}" in out
    states = re.findall(rf"run {run_id[:8]} (\w+)", out)
    assert states[-1] == "success", out
    run = next(r for r in dev.runs() if r["runId"] == run_id)
    assert run["status"] == "SUCCESS"
    assert run["assetSelection"] == [{"path": ["locations"]}]

    status = _cli(dev, "status")
    assert status.returncode == 0, status.stderr
    line = next(x for x in status.stdout.splitlines() if "run " + run_id[:8] in x)
    assert line.strip().startswith("last run   succeeded")


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
)
def test_asset_page_shows_the_numeric_metadata(dev, tmp_path):
    """The asset page's Events view shows the job's numbers (after the run above). The plots of
    those numbers (Overview > Metadata > Plots) and their screenshot are in test_daemon_ui."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1600,1800", f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}",
    ):  # fmt: skip
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        browser.get(f"{dev.url}/assets/locations?view=events")
        shot = tmp_path / "asset-plots.png"

        def plotted(b) -> bool:
            for skip in b.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
                skip.click()  # the community dialog of a first visit
            return "rows_rejected" in b.page_source and "seconds_" in b.page_source

        try:
            WebDriverWait(browser, 90).until(plotted)
        finally:
            time.sleep(3)  # let the charts draw
            assert browser.save_screenshot(str(shot)), shot
    finally:
        browser.quit()
