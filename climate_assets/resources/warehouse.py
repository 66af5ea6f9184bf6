"""The PostgreSQL warehouse: an existing server (as RDS would be), or an embedded one."""

from __future__ import annotations

import dagster as dg
import psycopg
from climate_glue.warehouse import EMBEDDED_DATABASE, resolve_dsn, secret_reference
from pydantic import PrivateAttr

from climate_assets.resources.embedded_postgres import embedded_server
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
