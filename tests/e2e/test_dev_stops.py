"""Ctrl-C stops ``climate-assets dev``: webserver, daemon, code servers and embedded PostgreSQL.

A terminal's Ctrl-C is SIGINT to the foreground process group; the test sends exactly that
to a running ``climate-assets dev`` (its own session, a free port, its own state folder) and
expects every process it started, and the embedded server, to be gone within 15 seconds, the
server after a clean shutdown (it removes ``postmaster.pid`` as its last step): right after
start, and after the arrival sensors' runs executed (run workers included).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from climate_assets.settings import PROJECT_ROOT
from tests.dev_support import STARTUP_SECONDS, free_port

pytestmark = pytest.mark.e2e

STOP_SECONDS = 15


def _webserver_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _runs(url: str) -> list[str]:
    """Statuses of the instance's runs, through the webserver's GraphQL API."""
    body = json.dumps({"query": "{ runsOrError { ... on Runs { results { status } } } }"}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            data = json.load(response)["data"]["runsOrError"]
    except (OSError, KeyError, TypeError, ValueError):
        return []
    return [run["status"] for run in data.get("results", [])]


def _ctrl_c_stops_everything(tmp_path, env_extra: dict[str, str], before_stop=None):
    """Start dev, wait for it (and ``before_stop``), Ctrl-C, and expect every process it
    started, seen at any time, and the embedded server gone within STOP_SECONDS."""
    state = tmp_path / "state"
    env = {**os.environ, "CLIMATE_STATE_DIR": str(state), **env_extra}
    for name in ("CLIMATE_WAREHOUSE_URL", "CLIMATE_LAKE_ROOT", "DAGSTER_HOME"):
        env.pop(name, None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dev.log"
    with log.open("w") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "climate_cli.cli", "dev", "-p", str(port),
             "--host", "127.0.0.1"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    group = os.getpgid(dev.pid)
    pid_file = state / "pgdata" / "postmaster.pid"
    seen: dict[int, psutil.Process] = {}

    def look() -> None:
        with contextlib.suppress(psutil.Error):
            for process in [psutil.Process(dev.pid), *psutil.Process(dev.pid).children(True)]:
                seen.setdefault(process.pid, process)

    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (_webserver_up(url) and pid_file.exists()):
            assert dev.poll() is None, f"climate-assets dev exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"dev did not start:\n{log.read_text()}"
            time.sleep(2)
        time.sleep(5)  # let the daemon and the code servers settle
        look()
        while before_stop is not None and not before_stop(url):
            assert time.monotonic() < deadline, f"never ready to stop:\n{log.read_text()}"
            look()
            time.sleep(1)
        look()
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        processes = [*seen.values(), postmaster]
        names = {}
        for p in processes:
            with contextlib.suppress(psutil.Error):
                names[p.pid] = " ".join(p.cmdline()[:4])
        assert len(processes) >= 4, names  # dev, dagster dev, webserver, daemon, ...

        os.killpg(group, signal.SIGINT)  # Ctrl-C
        deadline = time.monotonic() + STOP_SECONDS
        while any(_alive(p) for p in processes) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = {p.pid: names.get(p.pid) for p in processes if _alive(p)}
        assert not left, f"still running {STOP_SECONDS}s after Ctrl-C: {left}\n{log.read_text()}"
        assert dev.wait(timeout=5) == 0, log.read_text()  # Ctrl-C is the normal way to stop
        assert not pid_file.exists(), "the embedded PostgreSQL did not shut down cleanly"
    finally:
        _clean_up(group, seen.values(), pid_file)


def _clean_up(group: int, processes, pid_file) -> None:
    """Whatever a failed test left: the session, every process seen, the server (fast)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        except (ProcessLookupError, ValueError):
            pass


def test_ctrl_c_stops_every_process_of_dev_and_the_embedded_postgres(tmp_path):
    _ctrl_c_stops_everything(tmp_path, {})


def test_ctrl_c_stops_dev_after_sensor_runs_with_run_workers_included(tmp_path):
    """The arrival sensors launch real runs on a small landing zone; once one has ended and
    others are queued or running, Ctrl-C still stops everything within STOP_SECONDS."""
    from datetime import date

    from climate_cli.generate import generate_landing_zone

    generate_landing_zone(
        tmp_path / "state/lake", locations=3, days=2, start=date(2024, 7, 1), seed=5
    )

    def runs_executed(url: str) -> bool:
        statuses = _runs(url)
        return any(s in ("SUCCESS", "FAILURE") for s in statuses) and len(statuses) >= 2

    _ctrl_c_stops_everything(tmp_path, {"CLIMATE_SENSOR_INTERVAL": "5"}, runs_executed)
