"""``climate-assets dev``: ``dg dev`` (webserver and daemon) on the project's instance, and a
clean stop on Ctrl-C, the embedded PostgreSQL included.

``dg dev`` runs in its own session, so a terminal's Ctrl-C (SIGINT to the foreground process
group) reaches only this process, which passes it on once: ``dg dev`` then stops its
webserver, daemon and code servers itself, without a second interrupt cutting that short. A
second Ctrl-C, or a shutdown longer than ``STOP_GRACE_SECONDS``, kills what is left. Every
process ``dg dev`` starts is remembered while it runs (run workers of sensor runs included,
which outlive their code server when it stops first and leave its process group or parent),
and whatever of them is still alive once ``dg dev`` has exited is killed. Last, the embedded
PostgreSQL that this command started gets a fast shutdown (what ``pg_ctl stop`` does), so the
whole stop fits in 15 seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from climate_assets.instance import dagster_storage_url, instance_environment
from climate_assets.resources.embedded_postgres import embedded_server_pid, stop_embedded_server
from climate_assets.settings import PROJECT_ROOT, Settings

STOP_GRACE_SECONDS = 8.0
POSTGRES_STOP_SECONDS = 5.0


def dev_command(dg_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "dagster_dg_cli.cli", "dev", *dg_args]


def run_dev(settings: Settings, dg_args: list[str], out=sys.stdout) -> int:
    """Run ``dg dev`` until it exits or is stopped; return its exit code."""
    embedded = not settings.warehouse_url
    started_here = embedded and embedded_server_pid(settings.pgdata) is None
    # Start the embedded server (if it is the one in use) and reach the instance's database
    # here, so an unreachable server is one line from the CLI, not a traceback from dg dev.
    dagster_storage_url(settings)
    command = dev_command(dg_args)
    print(
        "Starting the Dagster webserver and daemon on this project's instance: dg dev "
        + " ".join(dg_args),
        file=out,
        flush=True,
    )
    stop_requested: list[float] = []
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        if child is None:  # not started yet
            raise KeyboardInterrupt
        if not stop_requested:
            stop_requested.append(time.monotonic())
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGINT)
        else:  # asked again: do not wait any longer
            _kill_group(child)

    # Handlers first: a signal ignored here (as in a shell's background job) would stay ignored
    # in the child; one handled here is back to its default there, so dg dev can be stopped.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(
            command,
            # The project's virtual environment is the one this runs in (dg checks they match).
            env={**os.environ, **instance_environment(), "VIRTUAL_ENV": sys.prefix},
            cwd=PROJECT_ROOT,
            start_new_session=True,
        )
        started = _Descendants(child.pid)
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                started.look()
                if stop_requested and time.monotonic() - stop_requested[0] > STOP_GRACE_SECONDS:
                    _kill_group(child)
        _kill_group(child)  # anything dg dev left behind in its session
        started.kill()  # and anything that left the session (a run worker)
        code = _exit_code(code, bool(stop_requested), out)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None and child.poll() is None:
            _kill_group(child)
        if started_here:
            stop_embedded_server(settings.pgdata, timeout=POSTGRES_STOP_SECONDS)
    return code


def _exit_code(code: int, stop_requested: bool, out) -> int:
    """0 for a stop asked for (a kill after the grace period is part of it), else dg dev's."""
    if not stop_requested:
        return code
    if code != 0:
        print(
            f"dg dev did not stop within {STOP_GRACE_SECONDS:g}s of Ctrl-C: the rest was killed",
            file=out,
            flush=True,
        )
    return 0


class _Descendants:
    """Every process seen below ``pid`` while it ran, to kill what outlives it."""

    def __init__(self, pid: int):
        import psutil

        self._root = psutil.Process(pid)
        self._seen: dict[int, psutil.Process] = {}

    def look(self) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            for process in self._root.children(recursive=True):
                self._seen.setdefault(process.pid, process)

    def kill(self) -> None:
        import psutil

        for process in self._seen.values():
            with contextlib.suppress(psutil.Error):
                if process.is_running():  # the same process (psutil checks its start time)
                    process.kill()


def _kill_group(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
