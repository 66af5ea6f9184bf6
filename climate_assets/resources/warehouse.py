"""The PostgreSQL warehouse: an existing server (as RDS would be), or an embedded one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
import warnings
from pathlib import Path

import dagster as dg
import psycopg
from climate_glue.warehouse import EMBEDDED_DATABASE, resolve_dsn, secret_reference
from pydantic import PrivateAttr

from climate_assets.settings import DEFAULT_LEASE_TIMEOUT_SECONDS


class WarehouseResource(dg.ConfigurableResource):
    """Where the jobs load tables. Jobs get a reference to it, never a credential."""

    # How long a run waits for another run's write lease on an asset (climate_assets.steps.lease).
    lease_timeout_seconds: float = DEFAULT_LEASE_TIMEOUT_SECONDS
    # Most COPY streams a job opens into it at once (``--copy-streams``); None: the job takes a
    # share of the server's free connections.
    copy_streams: int | None = None

    def job_reference(self) -> str:
        """The ``--warehouse`` job argument: names where the connection comes from."""
        raise NotImplementedError

    def dsn(self) -> str:
        return resolve_dsn(self.job_reference())

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn())


class LocalWarehouse(WarehouseResource):
    """The server whose URL is in environment variable ``url_env_var`` (``CLIMATE_WAREHOUSE_URL``,
    given when settings found it set), else an embedded PostgreSQL (pgserver) in
    ``embedded_pgdata``.

    The URL stays in the environment: jobs get ``env:CLIMATE_WAREHOUSE_URL`` and read it
    themselves, so no password is ever in a job argument, the resource's config or a log line.
    """

    url_env_var: str | None = None
    embedded_pgdata: str

    _server: object = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Start the embedded server for this run (if it is the one in use) with its database."""
        if not self.url_env_var:
            self._server = embedded_server(self.embedded_pgdata)
            ensure_database(self._server.get_uri("postgres"), EMBEDDED_DATABASE)

    def job_reference(self) -> str:
        if self.url_env_var:
            return f"env:{self.url_env_var}"
        return f"pgserver:{self.embedded_pgdata}"


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
            return PostgresServer(path)
        return pgserver.get_server(pgdata)


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


def ensure_database(admin_dsn: str, name: str) -> None:
    """Create database ``name`` on the server of ``admin_dsn`` if it does not exist (two
    processes starting together may both try: the second finds it made)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            try:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
                )
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another process (a second run starting at once) created it first


__all__ = [
    "EMBEDDED_DATABASE",
    "LocalWarehouse",
    "SecretsManagerWarehouse",
    "WarehouseResource",
    "embedded_server",
    "embedded_server_pid",
    "ensure_database",
    "stop_embedded_server",
]


class SecretsManagerWarehouse(WarehouseResource):
    """RDS PostgreSQL whose connection is an AWS Secrets Manager secret (AWS).

    Jobs get ``secretsmanager:<secret id>`` and read the secret themselves inside Glue, so the
    password stays in Secrets Manager: never in job arguments, Dagster's config or logs. Where
    the secret does not say where the database is (one that RDS manages holds only the username
    and password), ``host``, ``port``, ``dbname`` and ``sslmode`` go with the reference.
    """

    secret_id: str
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    sslmode: str | None = None

    def job_reference(self) -> str:
        return secret_reference(
            self.secret_id, host=self.host, port=self.port, dbname=self.dbname, sslmode=self.sslmode
        )
