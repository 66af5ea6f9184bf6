"""Ctrl-C stops ``climate-assets dev``: webserver, daemon, code servers and embedded PostgreSQL.

A terminal's Ctrl-C is SIGINT to the foreground process group; the test sends exactly that
to a running ``climate-assets dev`` (its own session, a free port, its own state folder) and
expects every process it started, and the embedded server, to be gone within 15 seconds, the
server after a clean shutdown (it removes ``postmaster.pid`` as its last step).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from climate_assets.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

STARTUP_SECONDS = 240
STOP_SECONDS = 15


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def test_ctrl_c_stops_every_process_of_dev_and_the_embedded_postgres(tmp_path):
    state = tmp_path / "state"
    env = {**os.environ, "CLIMATE_STATE_DIR": str(state)}
    for name in ("CLIMATE_WAREHOUSE_URL", "CLIMATE_LAKE_ROOT", "DAGSTER_HOME"):
        env.pop(name, None)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dev.log"
    with log.open("w") as out:
        dev = subprocess.Popen(
            [sys.executable, "-m", "climate_assets.commands.cli", "dev", "-p", str(port),
             "--host", "127.0.0.1"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    group = os.getpgid(dev.pid)
    pid_file = state / "pgdata" / "postmaster.pid"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (_webserver_up(url) and pid_file.exists()):
            assert dev.poll() is None, f"climate-assets dev exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"dev did not start:\n{log.read_text()}"
            time.sleep(2)
        time.sleep(5)  # let the daemon and the code servers settle
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        processes = [psutil.Process(dev.pid), *psutil.Process(dev.pid).children(recursive=True)]
        processes.append(postmaster)
        names = {p.pid: " ".join(p.cmdline()[:4]) for p in processes}
        assert len(processes) >= 4, names  # dev, dagster dev, webserver, daemon, ...

        os.killpg(group, signal.SIGINT)  # Ctrl-C
        deadline = time.monotonic() + STOP_SECONDS
        while any(_alive(p) for p in processes) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = {p.pid: names[p.pid] for p in processes if _alive(p)}
        assert not left, f"still running {STOP_SECONDS}s after Ctrl-C: {left}\n{log.read_text()}"
        assert dev.wait(timeout=5) == 0, log.read_text()  # Ctrl-C is the normal way to stop
        assert not pid_file.exists(), "the embedded PostgreSQL did not shut down cleanly"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        if pid_file.exists():  # stop a server left behind, fast
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            except (ProcessLookupError, ValueError):
                pass
