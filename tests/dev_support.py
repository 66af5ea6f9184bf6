"""``climate-assets dev`` (webserver + daemon) as the UI tests drive it: started on a state
folder, spoken to through the webserver's GraphQL API, stopped with Ctrl-C as in a terminal.
The fixtures that start it are ``start_dev`` and ``dev`` in ``tests/e2e/conftest.py``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
from climate_glue.contract import DAILY_DATASETS
from climate_glue.lake import LocalLake

from climate_assets.resources.warehouse import LocalWarehouse
from climate_assets.settings import PROJECT_ROOT

LOCATION = "climate_assets"
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
STARTUP_SECONDS = 240
POLL_SECONDS = 1  # a GraphQL read of the runs or the workspace: cheap for the webserver
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
# What `climate-assets dev` must not inherit from the shell: it runs on its state folder only.
OWN_STATE_ONLY = ("CLIMATE_WAREHOUSE_URL", "CLIMATE_LAKE_ROOT", "CLIMATE_ALERT_TOPIC_ARN")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dev:
    """A running ``climate-assets dev`` and what the tests need of it."""

    def __init__(self, state: Path, scratch: Path, port: int, log: Path):
        self.state, self.scratch, self.port, self.log = state, scratch, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.env: dict[str, str] = {}  # dev's environment, once started: the CLI's beside it

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as error:  # the webserver answers 500 with the errors
            raise AssertionError(f"GraphQL: HTTP {error.code}: {error.read().decode()}") from None
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    def wait_for(self, what: str, check, seconds: float):
        deadline = time.monotonic() + seconds
        while True:
            assert self.process.poll() is None, f"climate-assets dev exited; see {self.log}"
            try:
                value = check()
            except OSError:
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up after {seconds}s waiting for {what}; see {self.log}")
            time.sleep(POLL_SECONDS)

    def runs(self) -> list[dict]:
        data = self.graphql(
            "{ runsOrError { ... on Runs { results { runId status "
            "assetSelection { path } tags { key value } } } } }"
        )
        return [
            {**run, "tags": {t["key"]: t["value"] for t in run["tags"]}}
            for run in data["runsOrError"]["results"]
        ]

    def drop_day(self, day: str) -> None:
        """Copy one day's three generated files into the landing zone (as an upload would)."""
        lake = LocalLake(self.state / "lake")
        for dataset in DAILY_DATASETS:
            for path in (self.scratch / f"raw/{dataset.name}/date={day}").iterdir():
                lake.write_bytes(str(path.relative_to(self.scratch)), path.read_bytes())

    def warehouse(self) -> psycopg.Connection:
        return LocalWarehouse(embedded_pgdata=str(self.state / "pgdata")).connect()


def start(dev: Dev, env: dict[str, str]) -> None:
    """``climate-assets dev`` on ``dev.state`` in its own session; returns once it has loaded."""
    environment = {**os.environ, "CLIMATE_STATE_DIR": str(dev.state), **env}
    for name in OWN_STATE_ONLY:
        environment.pop(name, None)
    dev.env = environment
    with dev.log.open("w") as log:
        dev.process = subprocess.Popen(
            [sys.executable, "-m", "climate_cli.cli", "dev", "-p", str(dev.port),
             "--host", "127.0.0.1"],
            cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    dev.wait_for("the code location to load", lambda: _loaded(dev), STARTUP_SECONDS)


def stop(dev: Dev) -> None:
    """Ctrl-C for the whole process group, as in a terminal; then make sure nothing is left."""
    if dev.process is None:
        return
    group = os.getpgid(dev.process.pid)
    os.killpg(group, signal.SIGINT)
    try:
        dev.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file = dev.state / "pgdata" / "postmaster.pid"
    if pid_file.exists():  # the embedded PostgreSQL that dev started (fast shutdown)
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        except (ProcessLookupError, ValueError):
            pass


def _loaded(dev: Dev) -> bool:
    data = dev.graphql(
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename } } } } }"
    )
    entries = data["workspaceOrError"]["locationEntries"]
    return any(
        e["name"] == LOCATION
        and e["loadStatus"] == "LOADED"
        and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        for e in entries
    )


def chromium(tmp_path: Path, window: str):
    """Debian's Chromium, headless, in a fresh profile (so the first-visit dialog shows)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--window-size={window}", f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}",
    ):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


# The UI's own GraphQL documents (dagster-webserver 1.13: LAUNCH_PARTITION_BACKFILL_MUTATION in
# BackfillUtils.tsx, REEXECUTE_BACKFILL_MUTATION in useReexecuteBackfill.tsx), trimmed to the
# results these tests read; PythonError's message makes a refusal readable.
LAUNCH_PARTITION_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}"""
REEXECUTE_BACKFILL = """
mutation reexecuteBackfill($reexecutionParams: ReexecutionParams!) {
  reexecutePartitionBackfill(reexecutionParams: $reexecutionParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}"""
BACKFILL_STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status } } }"""
BACKFILL_RUNNING = ("REQUESTED", "CANCELING", "FAILING")


def materialize_dialog_params(asset_paths: list[list[str]], days: list[str]) -> dict:
    """``backfillParams`` as the asset graph's Materialize dialog sends them for a range of days
    (LaunchAssetChoosePartitionsDialog.tsx, onLaunchAsBackfill, the assets' common job being the
    hidden asset job): the UI's tag, the asset keys, every day of the range by name."""
    return {
        "tags": [{"key": "dagster/from_ui", "value": "true"}],
        "assetSelection": [{"path": path} for path in asset_paths],
        "partitionNames": days,
        "fromFailure": False,
    }


def launch_backfill(dev: Dev, params: dict) -> str:
    """The backfill's id; fails with Dagster's own message when the launch is refused."""
    launched = dev.graphql(LAUNCH_PARTITION_BACKFILL, {"backfillParams": params})
    result = launched["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def reexecute_backfill(dev: Dev, backfill_id: str, strategy: str = "FROM_FAILURE") -> str:
    """Re-execute a finished backfill as the backfill page's menu does; the new backfill's id."""
    done = dev.graphql(
        REEXECUTE_BACKFILL,
        {"reexecutionParams": {"parentRunId": backfill_id, "strategy": strategy}},
    )
    result = done["reexecutePartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def backfill_finished(dev: Dev, backfill_id: str) -> str | None:
    """The backfill's final status, or None while the daemon is still working on it."""
    data = dev.graphql(BACKFILL_STATUS, {"id": backfill_id})
    status = data["partitionBackfillOrError"]["status"]
    return None if status in BACKFILL_RUNNING else status


def backfill_runs(dev: Dev, backfill_id: str) -> list[dict]:
    return [r for r in dev.runs() if r["tags"].get("dagster/backfill") == backfill_id]
