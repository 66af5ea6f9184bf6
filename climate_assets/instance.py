"""The project's Dagster instance: dagster.yaml at the project root, storage in PostgreSQL.

The instance lives on the same PostgreSQL server as the warehouse, in its own database
(``dagster``): the embedded server by default, the server of CLIMATE_WAREHOUSE_URL when set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg

from .resources.warehouse import EMBEDDED_DATABASE, embedded_server, ensure_database
from .settings import ENV_DAGSTER_DIR, ENV_DAGSTER_PG_URL, ENV_WAREHOUSE_URL, PROJECT_ROOT, Settings

DAGSTER_DATABASE = "dagster"


@dataclass
class InstanceEnvironment:
    """What a process needs in its environment to use the project's instance."""

    variables: dict[str, str]
    server: object | None  # the embedded server handle, kept alive while this process runs

    def apply(self) -> None:
        os.environ.update(self.variables)


def _with_database(url: str, database: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**params)


def _sqlalchemy_url(dsn: str) -> str:
    """A psycopg2 SQLAlchemy URL for dagster-postgres (SQLAlchemy 2.1 needs the driver named)."""
    from sqlalchemy.engine import URL

    params = psycopg.conninfo.conninfo_to_dict(dsn)
    query = {
        k: v for k, v in params.items() if k not in ("user", "password", "host", "port", "dbname")
    }
    host = params.get("host")
    if host and host.startswith("/"):  # a Unix socket folder goes in the query string
        query["host"] = host
        host = None
    url = URL.create(
        "postgresql+psycopg2",
        username=params.get("user"),
        password=params.get("password"),
        host=host,
        port=int(params["port"]) if params.get("port") else None,
        database=params.get("dbname"),
        query=query,
    )
    return url.render_as_string(hide_password=False)


def prepare_instance(settings: Settings) -> InstanceEnvironment:
    """Make sure the server and its databases exist; return the instance's environment."""
    external = os.environ.get(ENV_WAREHOUSE_URL)
    server = None
    if external:
        admin = external.replace("postgresql+psycopg2://", "postgresql://")
    else:
        server = embedded_server(str(settings.pgdata))
        admin = server.get_uri("postgres")
        ensure_database(admin, EMBEDDED_DATABASE)
    ensure_database(admin, DAGSTER_DATABASE)
    settings.dagster_dir.mkdir(parents=True, exist_ok=True)
    variables = {
        "DAGSTER_HOME": str(PROJECT_ROOT),
        ENV_DAGSTER_PG_URL: _sqlalchemy_url(_with_database(admin, DAGSTER_DATABASE)),
        ENV_DAGSTER_DIR: str(settings.dagster_dir),
    }
    return InstanceEnvironment(variables=variables, server=server)
