"""The embedded PostgreSQL server (pgserver) of a state folder: start or attach, stop, and what a
killed one leaves behind.

It imports no Dagster, so a command can start the server on a thread before it imports Dagster
(``start_embedded_server_early``) and the two overlap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time
import warnings
from pathlib import Path

from climate_assets.settings import Settings

DAGSTER_DATABASE = "dagster"  # the Dagster instance's database on the embedded server


def embedded_server(pgdata: str):
    """Start (or attach to) the embedded server; it stops when the last process using it exits.

    A server killed outright (SIGKILL, with or without the process that started it) is started
    again: its stale ``postmaster.pid`` is removed first (see ``clear_stale_server``)."""
    with warnings.catch_warnings():
        # pgserver finds its lock folder at import; without XDG_RUNTIME_DIR (containers, CI)
        # platformdirs warns that it falls back to /tmp/runtime-<uid>, which works the same.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver
        from pgserver.postgres_server import PostgresServer

    os.makedirs(os.path.dirname(pgdata), exist_ok=True)
    # Two processes starting on a new folder at once (two demos, a demo and `dev`) would both
    # run initdb on it, and one fails: the first to take this lock creates and starts the
    # server, the other then attaches to it.
    with open(f"{pgdata}.start-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stale = clear_stale_server(pgdata)
        if stale or not os.path.exists(os.path.join(pgdata, "postmaster.pid")):
            # ``get_server`` hands back the handle this process already has for the folder,
            # the dead server's in a long-lived process (the daemon); a new handle starts the
            # server and becomes the one ``get_server`` hands back.
            path = Path(pgdata).expanduser().resolve()
            path.mkdir(exist_ok=True)
            new = not (path / "PG_VERSION").exists()  # initdb has not run on it yet
            server = PostgresServer(path)
            if new:
                _create_databases(server)
            return server
        return pgserver.get_server(pgdata)


def _create_databases(server) -> None:
    """The warehouse's and the Dagster instance's databases on a new server, their files copied
    and synced as they are created (FILE_COPY) instead of written through the server's buffers.

    Copied through the buffers (WAL_LOG, the default) their 600 files would be written and
    synced by the checkpoint at the server's stop, at the end of the command; this way it is
    done here, where the start overlaps the command's imports. A server whose first start ended
    before this creates them the usual way (``ensure_database``)."""
    import psycopg
    from climate_glue.warehouse import EMBEDDED_DATABASE
    from psycopg import sql

    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        for name in (EMBEDDED_DATABASE, DAGSTER_DATABASE):
            create = sql.SQL("CREATE DATABASE {} STRATEGY FILE_COPY")
            conn.execute(create.format(sql.Identifier(name)))


def start_embedded_server_early(settings: Settings) -> None:
    """Start the embedded server of ``settings`` on a thread and return at once (nothing when
    CLIMATE_WAREHOUSE_URL names the server to use).

    A command that will use the server calls this first and imports Dagster meanwhile: about a
    second each, initdb included on a new state folder. Its own ``embedded_server`` call then
    waits for this start (the start lock) and attaches to the server. A failure is left to that
    call, which reports it as the command reports any. The thread is not a daemon: the process
    never ends in the middle of an initdb.
    """
    if settings.warehouse_url:
        return
    pgdata = str(settings.pgdata)
    threading.Thread(target=_start_quietly, args=(pgdata,), name="embedded-postgres").start()


def _start_quietly(pgdata: str) -> None:
    with contextlib.suppress(Exception):
        embedded_server(pgdata)


def embedded_server_pid(pgdata: str | Path) -> int | None:
    """The embedded server's postmaster, if one is running on ``pgdata``."""
    try:
        pid = int(Path(pgdata, "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError):
        return None
    return pid


def stop_embedded_server(pgdata: str | Path, timeout: float = 10.0) -> bool:
    """Fast shutdown of the embedded server (SIGINT to the postmaster, as ``pg_ctl stop -m
    fast``): sessions end, the server checkpoints and removes ``postmaster.pid``. True once it
    has stopped within ``timeout`` seconds."""
    pid = embedded_server_pid(pgdata)
    if pid is None:
        return True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while embedded_server_pid(pgdata) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _postgres_in(pgdata: str) -> list:
    """The postgres processes (postmaster and backends) whose working folder is ``pgdata``."""
    import psutil

    found = []
    for proc in psutil.process_iter(attrs=["name"]):
        if proc.info["name"] != "postgres":
            continue
        try:
            if os.path.realpath(proc.cwd()) == os.path.realpath(pgdata):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def clear_stale_server(pgdata: str) -> bool:
    """Remove what a killed embedded server left behind; True when there was something.

    ``postmaster.pid`` names the server's process. When that process is gone, or its pid now
    belongs to another program (pids are reused after a restart, and pgserver would take it for
    a running server), the file is stale: backends orphaned by the killed postmaster are killed
    (a new server cannot start while they hold its shared memory) and the file is removed.
    """
    import psutil

    pid_file = os.path.join(pgdata, "postmaster.pid")
    try:
        with open(pid_file) as handle:
            pid = int(handle.readline().strip() or 0)
    except (FileNotFoundError, ValueError):
        return False
    postgres = _postgres_in(pgdata)
    if any(proc.pid == pid for proc in postgres):
        return False  # the server is running
    for proc in postgres:  # orphaned backends of the dead postmaster
        proc.kill()
    psutil.wait_procs(postgres, timeout=10)
    try:
        os.remove(pid_file)
    except FileNotFoundError:
        pass
    return True
